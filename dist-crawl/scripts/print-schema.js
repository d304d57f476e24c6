/** Writes the Pothos schema, sorted, to schema.graphql (committed; a test fails when it is stale). */
import { writeFileSync } from "node:fs";
import { lexicographicSortSchema, printSchema } from "graphql";
import { schema } from "../src/graphql/schema.js";
export function printedSchema() {
    return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
    writeFileSync(new URL("../../schema.graphql", import.meta.url), printedSchema());
    process.stdout.write("wrote schema.graphql\n");
}
//# sourceMappingURL=print-schema.js.map