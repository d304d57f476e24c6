import { CrawlqClientError } from "../../src/client/errors.ts";
// The documents of src/client/operations.ts, from generated/graphql.ts rather than operations.ts: that one
// goes through generated/gql.ts, whose lookup table would put every operation's text in the bundle again.
import {
  CompletionsDocument,
  PoolDocument,
  SubmissionProgressDocument,
  SubmitCrawlDocument,
  type PoolQuery,
} from "../../src/client/generated/graphql.ts";
import { forgetKey, storedKey } from "./api-key.ts";
import { CompletionTable } from "./completion-table.ts";
import type { Completion } from "./completion.ts";
import { formatCount } from "./format.ts";
import { dashboardClient, follow, type ConnectionState } from "./graphql.ts";
import { Throughput } from "./throughput.ts";
import { showDetails } from "./details.ts";

/** Rows kept in the page: enough to read, few enough that a frame stays cheap. */
const MAX_ROWS = 100;
/** Table redraws at most ten times a second: nobody reads faster, and each one repaints the table. */
const TABLE_INTERVAL_MS = 100;
const POOL_POLL_MS = 1_000;

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const connection = byId<HTMLElement>("connection");
const forgetButton = byId<HTMLButtonElement>("forget-key");
const note = byId<HTMLElement>("completions-note");
const throughput = new Throughput(byId<HTMLCanvasElement>("sparkline"), byId<HTMLElement>("rate"));

const LABELS: Record<ConnectionState, string> = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" };
const showState = (state: ConnectionState) => {
  connection.className = `connection ${state}`;
  connection.textContent = LABELS[state];
  forgetButton.hidden = storedKey() === null;
};
const client = dashboardClient(showState);
const table = new CompletionTable(byId<HTMLTableElement>("completions"), { maxRows: MAX_ROWS, minIntervalMs: TABLE_INTERVAL_MS }, (completion) => void showDetails(client, completion));
forgetButton.addEventListener("click", () => {
  forgetKey();
  location.reload();
});

let streamed = 0;
const receive = (completion: Completion) => {
  streamed++;
  throughput.record();
  table.add(completion);
};
table.onDrawn = () => {
  note.textContent =
    `${formatCount(streamed)} streamed since this page opened · newest ${Math.min(table.shown, MAX_ROWS)} shown` +
    (table.paused ? " · held still while the pointer is over the table" : "");
};

follow(client, CompletionsDocument, {}, { next: ({ taskDone }) => receive(taskDone) });

const stats = document.querySelectorAll<HTMLElement>("[data-stat]");
const showStats = (pool: PoolQuery["pool"]) => {
  const values: Record<string, number> = {
    threads: pool.threads,
    inFlight: pool.inFlight,
    pending: pool.pending,
    done: pool.succeeded + pool.failed + pool.cancelled,
    failed: pool.failed,
  };
  for (const element of stats) {
    const value = values[element.dataset["stat"]!];
    element.textContent = value === undefined ? "–" : formatCount(value);
  }
};
let pollNow: () => void = () => {};
void (async () => {
  for (;;) {
    try {
      showStats((await client.request(PoolDocument)).pool);
      forgetButton.hidden = storedKey() === null;
    } catch {
      // The service is restarting or unreachable: the connection indicator says so; try again.
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, POOL_POLL_MS);
      pollNow = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
})();

const form = byId<HTMLFormElement>("submit-form");
const textarea = byId<HTMLTextAreaElement>("urls");
const submitButton = byId<HTMLButtonElement>("submit");
const message = byId<HTMLElement>("submit-message");
const submissions = byId<HTMLOListElement>("submissions");

form.addEventListener("submit", (event) => {
  event.preventDefault();
  void submit();
});

async function submit(): Promise<void> {
  const urls = textarea.value.split(/\s+/).filter((url) => url !== "");
  if (urls.length === 0) {
    message.textContent = "Paste at least one URL.";
    return;
  }
  submitButton.disabled = true;
  message.textContent = `Submitting ${formatCount(urls.length)} URL${urls.length === 1 ? "" : "s"}…`;
  try {
    const { submitCrawl } = await client.request(SubmitCrawlDocument, { urls });
    message.textContent = "";
    textarea.value = "";
    watch(submitCrawl.id, submitCrawl.tasks.length);
    pollNow();
  } catch (error) {
    message.textContent = describe(error);
  } finally {
    submitButton.disabled = false;
  }
}

/** A refused submission, readably: BAD_USER_INPUT lists the bad entries. */
function describe(error: unknown): string {
  const invalid = error instanceof CrawlqClientError ? error.invalid : undefined;
  if (!invalid?.length) return `Not submitted: ${error instanceof Error ? error.message : String(error)}`;
  const shown = invalid.slice(0, 3).map((entry) => `line ${entry.index + 1} (${entry.value}): ${entry.reason}`);
  return `Not submitted: ${shown.join("; ")}${invalid.length > 3 ? `; and ${invalid.length - 3} more` : ""}`;
}

/** Follows one submission to its end: a progress line, its completions in the table. */
function watch(submissionId: string, total: number): void {
  const item = document.createElement("li");
  item.className = "submission";
  item.dataset["submissionId"] = submissionId;
  const label = document.createElement("span");
  const progress = document.createElement("progress");
  progress.max = total;
  progress.value = 0;
  item.append(label, progress);
  submissions.prepend(item);
  while (submissions.children.length > 5) submissions.lastElementChild!.remove();

  const started = performance.now();
  const seen = new Set<string>();
  let failed = 0;
  let pending = 0;
  const show = () => {
    pending = 0;
    const done = seen.size === total;
    const elapsed = ((performance.now() - started) / 1000).toFixed(1);
    label.textContent =
      `Submission ${submissionId}: ${formatCount(seen.size)} / ${formatCount(total)} done` +
      (failed > 0 ? `, ${formatCount(failed)} failed` : "") +
      (done ? ` — complete in ${elapsed} s` : "");
    progress.value = seen.size;
    item.classList.toggle("complete", done);
  };
  // Like the table: at most ten repaints a second, the last one as soon as the submission is done.
  const schedule = () => {
    if (seen.size === total) {
      window.clearTimeout(pending);
      show();
    } else pending ||= window.setTimeout(() => requestAnimationFrame(show), TABLE_INTERVAL_MS);
  };
  show();
  // Progress only: the rows come from the live stream, so each completion's fields cross the wire once.
  follow(client, SubmissionProgressDocument, { submissionId }, {
    next: ({ taskDone }) => {
      if (seen.has(taskDone.id)) return;
      seen.add(taskDone.id);
      if (taskDone.status === "FAILED") failed++;
      schedule();
    },
    // The server ends every stream when it stops: an unfinished submission is followed again.
    complete: () => seen.size < total,
    error: (error) => {
      label.textContent = `Submission ${submissionId}: ${error.message}; retrying…`;
    },
  });
}
