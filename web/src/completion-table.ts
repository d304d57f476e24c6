import { httpStatusOf, type Completion } from "./completion.ts";
import { formatBytes, formatMs } from "./format.ts";

/**
 * The live table of completions, newest first. Completions are queued as they arrive and drawn in one
 * batch in an animation frame, at most every `minIntervalMs`, and only the newest `maxRows` stay in the
 * page: thousands of completions a second cost a few small DOM updates (and repaints) a second. While the
 * pointer is over the rows they hold still (so the row under it can be clicked); the queue is drawn after.
 */
export class CompletionTable {
  readonly #body: HTMLTableSectionElement;
  readonly #maxRows: number;
  readonly #template: HTMLTableRowElement;
  readonly #rows = new WeakMap<HTMLTableRowElement, Completion>();
  readonly #minIntervalMs: number;
  #queue: Completion[] = [];
  #frame = 0;
  #timer = 0;
  #drawnAt = 0;
  #paused = false;
  #selected: HTMLTableRowElement | null = null;

  /** Called after each frame's batch is drawn. */
  onDrawn: (() => void) | undefined;

  constructor(table: HTMLTableElement, options: { maxRows: number; minIntervalMs: number }, onSelect: (completion: Completion) => void) {
    this.#body = table.tBodies[0] ?? table.createTBody();
    this.#maxRows = options.maxRows;
    this.#minIntervalMs = options.minIntervalMs;
    this.#template = document.createElement("tr");
    for (const name of ["status", "url", "title", "http", "bytes", "fetch", "worker"]) {
      const cell = document.createElement("td");
      cell.className = `col-${name}`;
      this.#template.append(cell);
    }
    this.#template.firstElementChild!.append(document.createElement("span"), document.createTextNode(""));
    (this.#template.firstElementChild!.firstChild as HTMLElement).className = "dot";
    this.#template.tabIndex = 0;
    const select = (event: Event) => {
      const row = (event.target as Element).closest("tr");
      const completion = row ? this.#rows.get(row) : undefined;
      if (!row || !completion) return;
      this.#selected?.classList.remove("selected");
      row.classList.add("selected");
      this.#selected = row;
      onSelect(completion);
    };
    this.#body.addEventListener("click", select);
    this.#body.addEventListener("pointerenter", () => this.#pause(true));
    this.#body.addEventListener("pointerleave", () => this.#pause(false));
    this.#body.addEventListener("keydown", (event) => {
      if (event.key === "Enter") select(event);
    });
  }

  /** Rows in the page now. */
  get shown(): number {
    return this.#body.rows.length;
  }

  /** True while the rows hold still under the pointer. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Queues a completion for the next frame. */
  add(completion: Completion): void {
    this.#queue.push(completion);
    // A hidden tab gets no frames: keep only what could still be shown.
    if (this.#queue.length > 4 * this.#maxRows) this.#queue = this.#queue.slice(-this.#maxRows);
    this.#schedule();
  }

  #pause(paused: boolean): void {
    this.#paused = paused;
    this.onDrawn?.();
    if (!paused && this.#queue.length > 0) this.#schedule();
  }

  #schedule(): void {
    if (this.#paused || this.#frame !== 0 || this.#timer !== 0) return;
    // Repainting the table costs the same for one new row as for a hundred: batch them.
    const wait = this.#drawnAt + this.#minIntervalMs - performance.now();
    if (wait <= 0) this.#frame = requestAnimationFrame(this.#draw);
    else
      this.#timer = window.setTimeout(() => {
        this.#timer = 0;
        this.#frame = requestAnimationFrame(this.#draw);
      }, wait);
  }

  readonly #draw = (now: number) => {
    this.#frame = 0;
    if (this.#paused) return;
    this.#drawnAt = now;
    const batch = this.#queue.length > this.#maxRows ? this.#queue.slice(-this.#maxRows) : this.#queue;
    this.#queue = [];
    const fragment = document.createDocumentFragment();
    for (let i = batch.length - 1; i >= 0; i--) fragment.append(this.#row(batch[i]!));
    this.#body.prepend(fragment);
    for (let extra = this.#body.rows.length - this.#maxRows; extra > 0; extra--) this.#body.lastElementChild!.remove();
    this.onDrawn?.();
  };

  #row(completion: Completion): HTMLTableRowElement {
    const row = this.#template.cloneNode(true) as HTMLTableRowElement;
    const [status, url, title, http, bytes, fetch, worker] = row.cells as unknown as HTMLTableCellElement[];
    row.className = `status-${completion.status.toLowerCase()}`;
    row.dataset["id"] = completion.id;
    status!.lastChild!.textContent = completion.error ? `${completion.status} · ${completion.error.code}` : completion.status;
    url!.textContent = completion.url;
    url!.title = completion.url;
    title!.textContent = completion.result?.title ?? completion.error?.message ?? "";
    http!.textContent = String(httpStatusOf(completion) ?? "");
    bytes!.textContent = formatBytes(completion.result?.contentLength);
    fetch!.textContent = formatMs(completion.result?.fetchMs);
    worker!.textContent = completion.worker == null ? "" : String(completion.worker);
    this.#rows.set(row, completion);
    return row;
  }
}
