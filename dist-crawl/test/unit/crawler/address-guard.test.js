import { describe, expect, it } from "vitest";
import { isBlockedAddress } from "../../../src/crawler/index.js";
// Decision-function tests only: nothing here opens a socket.
const closed = { allowPrivate: false, allowList: [] };
describe("isBlockedAddress", () => {
    it.each([
        ["10.0.0.1", "private"],
        ["172.16.0.1", "private"],
        ["172.31.255.254", "private"],
        ["192.168.1.1", "private"],
        ["127.0.0.1", "loopback"],
        ["127.8.9.10", "loopback"],
        ["169.254.169.254", "linkLocal"],
        ["100.64.0.1", "carrierGradeNat"],
        ["0.0.0.0", "unspecified"],
        ["224.0.0.1", "multicast"],
        ["255.255.255.255", "broadcast"],
        ["240.0.0.1", "reserved"],
        ["192.0.2.10", "reserved"],
        ["::1", "loopback"],
        ["::", "unspecified"],
        ["fc00::1", "uniqueLocal"],
        ["fd12:3456::1", "uniqueLocal"],
        ["fe80::1", "linkLocal"],
        ["fe80::1%eth0", "linkLocal"],
        ["ff02::1", "multicast"],
        ["::ffff:127.0.0.1", "loopback"],
        ["::ffff:7f00:1", "loopback"],
        ["::ffff:10.0.0.1", "private"],
        ["::ffff:169.254.169.254", "linkLocal"],
        ["64:ff9b::10.0.0.1", "private"],
        ["2002:a9fe:a9fe::1", "linkLocal"],
        ["::7f00:1", "ipv4Compatible"],
        ["2001::1", "teredo"],
    ])("blocks %s (%s)", (ip, range) => {
        expect(isBlockedAddress(ip, closed)).toEqual({ blocked: true, range });
    });
    it.each(["93.184.216.34", "8.8.8.8", "2606:4700::1", "2a00:1450:4001::200e", "::ffff:93.184.216.34", "64:ff9b::8.8.8.8"])("allows the global unicast address %s", (ip) => {
        expect(isBlockedAddress(ip, closed)).toEqual({ blocked: false, range: "unicast" });
    });
    it("blocks strings that are not IP addresses", () => {
        expect(isBlockedAddress("localhost", closed)).toEqual({ blocked: true, range: "invalid" });
        expect(isBlockedAddress("", closed).blocked).toBe(true);
    });
    it("allows everything when allowPrivate is set", () => {
        const open = { allowPrivate: true, allowList: [] };
        for (const ip of ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "fc00::1"]) {
            expect(isBlockedAddress(ip, open).blocked).toBe(false);
        }
    });
    it("allows addresses covered by an allow-list CIDR, and only those", () => {
        const policy = { allowPrivate: false, allowList: ["10.1.0.0/16", "fd00::/8", "192.168.7.7"] };
        expect(isBlockedAddress("10.1.2.3", policy)).toEqual({ blocked: false, range: "private" });
        expect(isBlockedAddress("10.2.0.1", policy).blocked).toBe(true);
        expect(isBlockedAddress("::ffff:10.1.2.3", policy).blocked).toBe(false);
        expect(isBlockedAddress("fd00::5", policy).blocked).toBe(false);
        expect(isBlockedAddress("fc00::5", policy).blocked).toBe(true);
        expect(isBlockedAddress("192.168.7.7", policy).blocked).toBe(false);
        expect(isBlockedAddress("192.168.7.8", policy).blocked).toBe(true);
        expect(isBlockedAddress("127.0.0.1", policy).blocked).toBe(true);
    });
    it("does not let an allow-listed host name allow addresses", () => {
        const policy = { allowPrivate: false, allowList: ["intranet.example"] };
        expect(isBlockedAddress("10.0.0.1", policy).blocked).toBe(true);
    });
});
//# sourceMappingURL=address-guard.test.js.map