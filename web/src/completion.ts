/** The fields of a completed task the dashboard shows in its table (one taskDone event). */
export interface Completion {
  id: string;
  submissionId: string;
  url: string;
  status: "PENDING" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED";
  worker: number | null;
  finishedAt: string | null;
  result: { httpStatus: number; title: string | null; contentLength: number; fetchMs: number } | null;
  error: { code: string; message: string } | null;
}

/** The selection that fills a {@link Completion}. */
export const COMPLETION_FIELDS = `id submissionId url status worker finishedAt
  result { httpStatus title contentLength fetchMs } error { code message }`;

/** The HTTP status of a completion: the result's, or the one a failed task's HTTP_STATUS message names. */
export function httpStatusOf(completion: Completion): number | null {
  if (completion.result) return completion.result.httpStatus;
  const named = completion.error?.code === "HTTP_STATUS" ? /^HTTP (\d{3})\b/.exec(completion.error.message) : null;
  return named ? Number(named[1]) : null;
}
