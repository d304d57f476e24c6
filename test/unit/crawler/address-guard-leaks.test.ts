import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigError, loadConfig } from "../../../src/config.js";
import { createAddressGuard, parseAllowList } from "../../../src/crawler/address-guard.js";
import { closeHttpAgents, crawlPage, isBlockedAddress, type CrawlOutcome } from "../../../src/crawler/index.js";
import { expectedPage, startFixtureSite, type FixtureSite } from "../../../testkit/fixture-site.js";
import { TEST_ENV } from "../../helpers/service.js";
import { testPolicy } from "./policy.js";

// Safety net: no name but localhost ever reaches a real resolver (a packet off this machine).
vi.mock("node:dns", async (importOriginal) =>
  (await import("./dns-safety-net.js")).localhostOnlyDns(await importOriginal<typeof import("node:dns")>()),
);

const closed = { allowPrivate: false, allowList: [] };

describe("the guard's ranges", () => {
  it.each([
    ["198.18.0.1", "reserved"], // benchmarking, 198.18.0.0/15
    ["198.19.255.254", "reserved"],
    ["192.0.0.8", "reserved"], // IETF protocol assignments, 192.0.0.0/24
    ["192.0.0.170", "reserved"],
    ["fec0::1", "deprecatedSiteLocal"], // fec0::/10
    ["feff:ffff::1", "deprecatedSiteLocal"],
    ["::ffff:0:127.0.0.1", "loopback"], // RFC 6145
    ["::ffff:0:10.1.2.3", "private"],
    ["2002:7f00:1::", "loopback"], // 6to4 carrying 127.0.0.1
    ["2002:7f00:1::1", "loopback"],
  ])("blocks %s (%s)", (ip, range) => {
    expect(isBlockedAddress(ip, closed)).toEqual({ blocked: true, range });
  });

  it("blocks a cloud platform's internal endpoint, 168.63.129.16, in every form", () => {
    for (const ip of ["168.63.129.16", "::ffff:168.63.129.16", "64:ff9b::a83f:8110", "2002:a83f:8110::1"]) {
      expect(isBlockedAddress(ip, closed), ip).toEqual({ blocked: true, range: "platformEndpoint" });
    }
    expect(isBlockedAddress("168.63.129.17", closed).blocked).toBe(false);
  });

  it.each([
    ["::5efe:127.0.0.1", "loopback"],
    ["::5efe:7f00:1", "loopback"],
    ["::200:5efe:10.0.0.1", "private"],
    ["2001:4860:1:2:0:5efe:169.254.169.254", "linkLocal"],
    ["2001:4860:1:2:200:5efe:192.168.0.1", "private"],
    ["2001:4860::5efe:168.63.129.16", "platformEndpoint"],
  ])("judges the ISATAP address %s by the IPv4 address it carries (%s)", (ip, range) => {
    expect(isBlockedAddress(ip, closed)).toEqual({ blocked: true, range });
  });

  it("keeps an ISATAP address blocked when its own prefix is (link-local), and allows a public one", () => {
    expect(isBlockedAddress("fe80::5efe:8.8.8.8", closed)).toEqual({ blocked: true, range: "linkLocal" });
    expect(isBlockedAddress("2001:4860::5efe:8.8.8.8", closed)).toEqual({ blocked: false, range: "unicast" });
  });
});

describe("allow-list entries with a port", () => {
  it("match only that port; a CIDR or a bare address matches every port", () => {
    const policy = { allowPrivate: false, allowList: ["10.0.0.5:8080", "[fd00::1]:8443", "10.9.0.0/16", "192.168.7.7"] };
    expect(isBlockedAddress("10.0.0.5", policy, 8080).blocked).toBe(false);
    expect(isBlockedAddress("10.0.0.5", policy, 80).blocked).toBe(true);
    expect(isBlockedAddress("10.0.0.5", policy).blocked).toBe(true);
    expect(isBlockedAddress("::ffff:10.0.0.5", policy, 8080).blocked).toBe(false);
    expect(isBlockedAddress("fd00::1", policy, 8443).blocked).toBe(false);
    expect(isBlockedAddress("fd00::1", policy, 443).blocked).toBe(true);
    expect(isBlockedAddress("10.9.1.1", policy, 1234).blocked).toBe(false);
    expect(isBlockedAddress("192.168.7.7", policy, 5432).blocked).toBe(false);
  });

  it("a host name with a port is allowed on that port only", () => {
    const guard = createAddressGuard({ allowPrivate: false, allowList: ["Intranet.Example:8443", "wiki.example"] });
    expect(guard.allowsHost("intranet.example", 8443)).toBe(true);
    expect(guard.allowsHost("intranet.example", 443)).toBe(false);
    expect(guard.allowsHost("intranet.example")).toBe(false);
    expect(guard.allowsHost("wiki.example", 8080)).toBe(true);
  });

  it.each(["10.0.0.0/8:80", "[::1]:99999", "host:0", "[nope]:80", "a:b:c", "has space"])("refuses the entry %s", (entry) => {
    expect(() => parseAllowList([entry])).toThrow();
    expect(() => loadConfig({ ...TEST_ENV, CRAWLQ_ALLOW_LIST: entry })).toThrow(ConfigError);
  });
});

describe("end to end through the crawler's fetch path", () => {
  let site: FixtureSite;
  let other: FixtureSite;
  const guarded = testPolicy({ allowPrivate: false });

  beforeAll(async () => {
    site = await startFixtureSite();
    other = await startFixtureSite();
  });

  afterAll(async () => {
    await closeHttpAgents();
    await site.close();
    await other.close();
  });

  beforeEach(() => {
    site.resetStats();
    other.resetStats();
  });

  const failureOf = (outcome: CrawlOutcome) => {
    if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.page)}`);
    return outcome.error;
  };

  it.each(["127.1", "0x7f000001", "2130706433", "0177.0.0.1", "127.0.1"])(
    "refuses the numeric host form http://%s (the URL parser makes it 127.0.0.1)",
    async (host) => {
      const error = failureOf(await crawlPage(`http://${host}:${site.port}/page/1`, guarded));
      expect(error.code).toBe("BLOCKED_ADDRESS");
      expect(site.requestCount()).toBe(0);
    },
  );

  it("says a name resolves to a non-public address, not which address", async () => {
    const policy = testPolicy({ allowPrivate: false, resolve: { "www.public-site.test": "127.0.0.1" } });
    const error = failureOf(await crawlPage(`http://www.public-site.test:${site.port}/page/1`, policy));
    expect(error.code).toBe("BLOCKED_ADDRESS");
    expect(error.message).toBe("blocked address for www.public-site.test: the name resolves to a non-public address");
    expect(site.requestCount()).toBe(0);
  });

  it("an allow-listed host:port reaches that port, and no other", async () => {
    const policy = testPolicy({
      allowPrivate: false,
      allowList: [`fixture.test:${site.port}`],
      resolve: { "fixture.test": "127.0.0.1" },
    });
    const outcome = await crawlPage(`http://fixture.test:${site.port}/page/2`, policy);
    expect(outcome).toMatchObject({ ok: true, page: expectedPage(2) });
    expect(failureOf(await crawlPage(`http://fixture.test:${other.port}/page/2`, policy)).code).toBe("BLOCKED_ADDRESS");
    expect(other.requestCount()).toBe(0);
  });

  it("an allow-listed ip:port reaches that port, and no other", async () => {
    const policy = testPolicy({ allowPrivate: false, allowList: [`127.0.0.1:${site.port}`] });
    expect(await crawlPage(site.url("/page/3"), policy)).toMatchObject({ ok: true, page: expectedPage(3) });
    expect(failureOf(await crawlPage(other.url("/page/3"), policy)).code).toBe("BLOCKED_ADDRESS");
    expect(other.requestCount()).toBe(0);
  });

  it("an allow-listed host name without a port still reaches every port", async () => {
    const policy = testPolicy({ allowPrivate: false, allowList: ["fixture.test"], resolve: { "fixture.test": "127.0.0.1" } });
    expect(await crawlPage(`http://fixture.test:${site.port}/page/4`, policy)).toMatchObject({ ok: true });
    expect(await crawlPage(`http://fixture.test:${other.port}/page/4`, policy)).toMatchObject({ ok: true });
  });
});
