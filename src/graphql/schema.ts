import type { GraphQLSchema } from "graphql";
import type { ApiLimits } from "../tasks/task-service.js";
import { builder } from "./builder.js";
import { withDocumentedLimits } from "./documented-limits.js";
import "./scalars.js";
import "./task.js";
import "./submission.js";
import "./batch.js";
import "./task-done.js";
import "./pool-stats.js";

/** The whole schema, its descriptions printing `limits`; schema.graphql is its sorted print with the defaults. */
export function buildSchema(limits: ApiLimits): GraphQLSchema {
  return withDocumentedLimits(limits, () => builder.toSchema({ sortSchema: true }));
}
