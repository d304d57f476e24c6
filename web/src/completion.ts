import type { CompletionFieldsFragment } from "../../src/client/generated/graphql.ts";

/** A completed task as the dashboard's table shows it (one taskDone event of the Completions subscription). */
export type Completion = CompletionFieldsFragment;

/** The HTTP status of a completion: the result's, or the one a failed task's HTTP_STATUS message names. */
export function httpStatusOf(completion: Completion): number | null {
  if (completion.result) return completion.result.httpStatus;
  const named = completion.error?.code === "HTTP_STATUS" ? /^HTTP (\d{3})\b/.exec(completion.error.message) : null;
  return named ? Number(named[1]) : null;
}
