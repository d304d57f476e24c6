import { builder } from "./builder.js";
import "./scalars.js";
import "./task.js";
import "./submission.js";
import "./batch.js";
import "./task-done.js";
import "./pool-stats.js";
/** The whole schema; schema.graphql is its sorted print (npm run schema:print). */
export const schema = builder.toSchema({ sortSchema: true });
//# sourceMappingURL=schema.js.map