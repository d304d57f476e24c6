/**
 * Prints the Pothos schema with the default limits, sorted, to schema.graphql (committed; a test fails
 * when it is stale). `--stdout` prints it instead of writing the file.
 */
import { writeFileSync } from "node:fs";
import { lexicographicSortSchema, printSchema } from "graphql";
import { loadConfig } from "../src/config.js";
import { buildSchema } from "../src/graphql/schema.js";

const schema = buildSchema(loadConfig({}).limits);
const printed = `${printSchema(lexicographicSortSchema(schema))}\n`;
if (process.argv.includes("--stdout")) {
  process.stdout.write(printed);
} else {
  writeFileSync(new URL("../../schema.graphql", import.meta.url), printed);
  process.stdout.write("wrote schema.graphql\n");
}
