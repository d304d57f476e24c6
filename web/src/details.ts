import type { CrawlqClient } from "../../src/client/client.ts";
import { TaskByIdDocument, type TaskFieldsFragment } from "../../src/client/generated/graphql.ts";
import type { Completion } from "./completion.ts";
import { formatBytes, formatMs } from "./format.ts";

const panel = document.getElementById("details") as HTMLElement;
const heading = document.getElementById("details-title") as HTMLElement;
const fields = document.getElementById("details-fields") as HTMLDListElement;
const raw = document.getElementById("details-raw") as HTMLPreElement;
let showing = "";

const close = () => {
  panel.hidden = true;
  showing = "";
  document.querySelector("tr.selected")?.classList.remove("selected");
};
document.getElementById("details-close")!.addEventListener("click", close);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !panel.hidden) close();
});

function fill(rows: Array<[string, string | number | null | undefined]>): void {
  fields.replaceChildren();
  for (const [name, value] of rows) {
    if (value == null || value === "") continue;
    const term = document.createElement("dt");
    term.textContent = name;
    const description = document.createElement("dd");
    description.textContent = String(value);
    fields.append(term, description);
  }
}

/**
 * Opens the panel for one completion: what the table row knows at once, then the task's full result or
 * error as the service has it.
 */
export async function showDetails(client: CrawlqClient, completion: Completion): Promise<void> {
  showing = completion.id;
  panel.hidden = false;
  panel.className = `details status-${completion.status.toLowerCase()}`;
  heading.textContent = `Task ${completion.id} · ${completion.status}`;
  fill([["url", completion.url]]);
  raw.textContent = "Loading…";
  let task: TaskFieldsFragment | null;
  try {
    task = (await client.request(TaskByIdDocument, { id: completion.id })).task;
  } catch (error) {
    if (showing === completion.id) raw.textContent = `Could not load the task: ${error instanceof Error ? error.message : String(error)}`;
    return;
  }
  if (showing !== completion.id) return;
  if (task === null) {
    raw.textContent = "This task is no longer visible to this key.";
    return;
  }
  fill([
    ["url", task.url],
    ["status", task.status],
    ["error code", task.error?.code],
    ["error", task.error?.message],
    ["HTTP status", task.result?.httpStatus],
    ["final URL", task.result?.finalUrl],
    ["title", task.result?.title],
    ["content type", task.result?.contentType],
    ["bytes", task.result ? `${formatBytes(task.result.contentLength)} (${task.result.contentLength})` : null],
    ["links", task.result?.linkCount],
    ["fetch ms", formatMs(task.result?.fetchMs)],
    ["parse ms", formatMs(task.result?.parseMs)],
    ["attempts", task.attempts],
    ["worker", task.worker],
    ["submission", task.submissionId],
    ["created", task.createdAt],
    ["started", task.startedAt],
    ["finished", task.finishedAt],
  ]);
  raw.textContent = JSON.stringify(task, null, 2);
}
