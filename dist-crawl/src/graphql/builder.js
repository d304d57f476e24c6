import SchemaBuilder from "@pothos/core";
/** Configures the schema builder; the type files register themselves on it. */
export const builder = new SchemaBuilder({ defaultFieldNullability: false });
builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
//# sourceMappingURL=builder.js.map