import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseEnv } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { environment, loadConfig, SETTING_NAMES } from "../../src/config.js";

// .env.example is the list of settings an operator copies from: it must name every one, with its real default.
const example = readFileSync(new URL("../../../.env.example", import.meta.url), "utf8").split("\n");
const ASSIGNMENT = /^# ([A-Z][A-Z0-9_]*)=(.*)$/;
const assignments = example.filter((line) => ASSIGNMENT.test(line));

describe(".env.example", () => {
  it("lists every setting of config.ts, and nothing else, once", () => {
    const listed = assignments.map((line) => ASSIGNMENT.exec(line)![1]!);
    expect(listed.filter((name) => !SETTING_NAMES.includes(name)), "listed but not a setting").toEqual([]);
    expect(SETTING_NAMES.filter((name) => !listed.includes(name)), "settings missing from .env.example").toEqual([]);
    expect(new Set(listed).size).toBe(listed.length);
  });

  it("gives each one a one-line comment above it", () => {
    for (const line of assignments) {
      const above = example[example.indexOf(line) - 1] ?? "";
      expect(above, line).toMatch(/^# [a-z0-9]/i);
      expect(ASSIGNMENT.test(above), line).toBe(false);
    }
  });

  it("shows the defaults: uncommented, it configures exactly what no setting does", () => {
    const uncommented = parseEnv(assignments.map((line) => line.slice(2)).join("\n"));
    expect(loadConfig(uncommented)).toEqual(loadConfig({}));
  });
});

describe("environment(): the real environment, then .env", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "crawlq-dotenv-"));
  const file = path.join(dir, ".env");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("adds what .env sets and the environment does not; never overrides a real variable", () => {
    writeFileSync(file, 'PORT=5000\nLOG_LEVEL=debug\n# a comment\nCRAWLQ_USER_AGENT="bot/1 (+x)"\nHOST=0.0.0.0\n');
    const env = environment(file, { PORT: "6000", HOST: "" });
    expect(env).toMatchObject({ PORT: "6000", LOG_LEVEL: "debug", CRAWLQ_USER_AGENT: "bot/1 (+x)", HOST: "" });
    const config = loadConfig(env);
    expect(config.port).toBe(6000);
    expect(config.logLevel).toBe("debug");
    // Set, though empty, in the real environment: the default, not .env's value.
    expect(config.host).toBe("127.0.0.1");
  });

  it("without a .env file, the environment as it is", () => {
    const env = { PORT: "1" };
    expect(environment(path.join(dir, "missing.env"), env)).toBe(env);
  });
});
