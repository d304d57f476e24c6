import SchemaBuilder from "@pothos/core";
import type { GraphQLContext } from "./context.js";

/** Configures the schema builder; the type files register themselves on it. */
export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  Scalars: { DateTime: { Input: Date; Output: Date } };
  DefaultFieldNullability: false;
}>({ defaultFieldNullability: false });

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
