import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

// In a child process: the schema code loads graphql the way the service does (one module realm).
const printed = execFileSync(process.execPath, [fileURLToPath(new URL("../../scripts/print-schema.js", import.meta.url)), "--stdout"], {
  encoding: "utf8",
});

it("schema.graphql is the printed Pothos schema (run npm run schema:print)", () => {
  const committed = readFileSync(new URL("../../../schema.graphql", import.meta.url), "utf8");
  expect(committed).toBe(printed);
});

it("keeps every name and type the contract binds", () => {
  for (const line of [
    "task(id: ID!): Task",
    "submitCrawl(options: CrawlOptions, urls: [String!]!): Submission!",
    "crawl(options: CrawlOptions, timeoutMs: Int, url: String!): Task!",
    "cancelTask(id: ID!): Task!",
    "taskDone(ids: [ID!], submissionId: ID): Task!",
    "returnWhen: ReturnWhen = ALL_COMPLETED",
    "enum TaskStatus",
    "scalar DateTime",
    "pool: PoolStats!",
  ]) {
    expect(printed).toContain(line);
  }
});
