import { GraphQLError, Kind } from "graphql";
import { builder } from "./builder.js";
function toDate(value) {
    const date = typeof value === "string" || typeof value === "number" ? new Date(value) : null;
    if (!date || Number.isNaN(date.getTime()))
        throw new GraphQLError("DateTime must be an ISO-8601 string");
    return date;
}
builder.scalarType("DateTime", {
    description: "An instant, as an ISO-8601 string in UTC with milliseconds.",
    serialize: (value) => (value instanceof Date ? value : toDate(value)).toISOString(),
    parseValue: toDate,
    parseLiteral: (ast) => {
        if (ast.kind !== Kind.STRING)
            throw new GraphQLError("DateTime must be an ISO-8601 string");
        return toDate(ast.value);
    },
});
//# sourceMappingURL=scalars.js.map