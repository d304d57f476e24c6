import { Option, type Command } from "commander";
import { CrawlqClientError } from "../../client/errors.js";
import { EXPORT_FORMATS, type ExportFormat } from "../../client/export-format.js";
import { followSubmission } from "../../client/follow.js";
import type { CrawlOptions } from "../../client/generated/graphql.js";
import { SubmitCrawl } from "../../client/operations.js";
import { connect, integer, withConnectionOptions, type ConnectionOptions } from "../connection.js";
import { oneLine, outcomeExitCode, UsageError } from "../errors.js";
import { createProgress } from "../progress.js";
import { count } from "../render.js";
import { openResultSink, outputFormat } from "../result-sink.js";
import { readUrlList, type ListedUrl } from "../url-list.js";

interface SubmitOptions extends ConnectionOptions {
  chunkSize: number;
  maxRetries?: number;
  perHostConcurrency?: number;
  hostDelayMs?: number;
  respectRobots?: boolean;
  wait: boolean;
  output?: string;
  format?: ExportFormat;
  allowFailures: boolean;
  progress: boolean;
  progressInterval: number;
}

/** The server's default CRAWLQ_MAX_URLS_PER_SUBMISSION. */
const DEFAULT_CHUNK_SIZE = 10_000;
// taskDone subscriptions one run keeps open at once: the server allows 100 per connection by default.
const MAX_FOLLOWED_AT_ONCE = 50;
// Bad URLs named in the one-line message; the rest are counted.
const INVALID_SHOWN = 5;

/** `crawlq submit FILE|-`: submit a URL list in chunks; with --wait or --output, follow it to the end. */
export function registerSubmit(program: Command): void {
  withConnectionOptions(
    program
      .command("submit")
      .description(
        "submit the URLs of FILE (one per line; blank lines and # comments skipped; - reads stdin) and print each " +
          "submission's id; with --wait or --output, follow every task to the end",
      )
      .argument("<file>", "the URL list, or - for stdin")
      .addOption(
        new Option("--chunk-size <n>", "URLs per submitCrawl call, at most the server's CRAWLQ_MAX_URLS_PER_SUBMISSION")
          .default(DEFAULT_CHUNK_SIZE)
          .argParser(integer(1)),
      )
      .option("--max-retries <n>", "retries after the first attempt (the server's default if not given)", integer(0))
      .option("--per-host-concurrency <n>", "requests in flight per host, at most the server's limit", integer(1))
      .option("--host-delay-ms <ms>", "minimum time between two requests to one host", integer(0))
      .option("--respect-robots", "obey robots.txt (the server's default unless its operator turned it off)")
      .option("--no-respect-robots", "ignore robots.txt (only where the operator set CRAWLQ_ALLOW_ROBOTS_OVERRIDE=1)")
      .option("--wait", "follow the tasks until every one is done, with live progress on stderr", false)
      .option("--output <path>", "write every result as it arrives to PATH.jsonl or PATH.csv, or - for stdout (implies --wait)")
      .addOption(new Option("--format <format>", "format of --output (default: from its extension; jsonl for -)").choices(EXPORT_FORMATS))
      .option("--allow-failures", "exit 0 even when tasks failed or were cancelled", false)
      .option("--no-progress", "no progress bar or progress lines")
      .addOption(
        new Option("--progress-interval <s>", "seconds between progress lines when stderr is not a terminal").default(5).argParser(integer(1)),
      ),
  ).action(submit);
}

async function submit(file: string, options: SubmitOptions): Promise<void> {
  if (options.format !== undefined && options.output === undefined) throw new UsageError("--format applies to --output");
  const format = options.output === undefined ? undefined : outputFormat(options.output, options.format);
  const urls = await readUrlList(file);
  if (urls.length === 0) throw new UsageError(`no URLs in ${file === "-" ? "stdin" : file}`);
  const sink = options.output === undefined ? null : await openResultSink(options.output, format!);
  const wait = options.wait || sink !== null;
  // With the results on stdout, submission ids go to stderr.
  const idsOut = options.output === "-" ? process.stderr : process.stdout;
  const progress = wait
    ? createProgress({ stream: process.stderr, enabled: options.progress, intervalMs: options.progressInterval * 1000 })
    : null;
  const note = (message: string) => {
    if (progress) progress.note(`crawlq: ${message}`);
    else process.stderr.write(`crawlq: ${message}\n`);
  };
  const client = connect(options, note);
  const crawlOptions: CrawlOptions = {
    maxRetries: options.maxRetries,
    perHostConcurrency: options.perHostConcurrency,
    hostDelayMs: options.hostDelayMs,
    respectRobots: options.respectRobots,
  };
  const stored: string[] = [];
  const following: Promise<void>[] = [];
  const limit = limiter(MAX_FOLLOWED_AT_ONCE);
  try {
    for (let start = 0; start < urls.length; start += options.chunkSize) {
      const chunk = urls.slice(start, start + options.chunkSize);
      const { submitCrawl } = await client
        .request(SubmitCrawl, { urls: chunk.map((u) => u.url), options: crawlOptions })
        .catch((error: unknown) => {
          if (stored.length > 0) note(`${stored.length} submission(s) were stored before this error: ${stored.join(", ")}`);
          throw explainRefusal(error, chunk, options.chunkSize);
        });
      const { id, tasks } = submitCrawl;
      stored.push(id);
      const idLine = options.output === "-" ? `crawlq: submission ${id}\n` : `${id}\n`;
      if (progress) progress.print(idsOut, idLine);
      else idsOut.write(idLine);
      if (!progress) continue;
      progress.add(tasks.length);
      const followed = limit(() =>
        followSubmission(client, id, {
          total: tasks.length,
          onTask: (task) => {
            sink?.write(task);
            progress.done(task.status);
          },
          onResubscribe: (why) => note(`following submission ${id} again (${oneLine(why)})`),
        }),
      );
      // Awaited below; a rejection after an earlier failure must not surface as unhandled.
      followed.catch(() => {});
      following.push(followed);
    }
    if (!progress) return;
    await Promise.all(following);
    const counts = progress.stop();
    await sink?.close();
    const seconds = counts.elapsedMs / 1000;
    process.stderr.write(
      `crawlq: ${count(counts.total)} tasks done in ${seconds.toFixed(1)} s (${count(Math.round(counts.total / seconds))} pages/s): ` +
        `${count(counts.succeeded)} succeeded, ${count(counts.failed)} failed, ${count(counts.cancelled)} cancelled\n`,
    );
    process.exitCode = outcomeExitCode(counts.failed + counts.cancelled, options.allowFailures);
  } finally {
    progress?.stop();
    await sink?.close().catch(() => {});
    await client.close();
  }
}

/**
 * A refused submitCrawl in the terms of the file: bad entries by line number, a count over the server's
 * limit as the --chunk-size to use.
 */
function explainRefusal(error: unknown, chunk: readonly ListedUrl[], chunkSize: number): unknown {
  if (!(error instanceof CrawlqClientError) || error.code !== "BAD_USER_INPUT") return error;
  const { invalid } = error;
  const max = error.extensions["max"];
  let message = error.message;
  if (invalid && invalid.length > 0) {
    const shown = invalid
      .slice(0, INVALID_SHOWN)
      .map((entry) => `line ${chunk[entry.index]?.line ?? "?"}: ${entry.reason} (${JSON.stringify(entry.value)})`);
    const more = invalid.length > INVALID_SHOWN ? `; and ${count(invalid.length - INVALID_SHOWN)} more` : "";
    message = `${count(invalid.length)} invalid URL${invalid.length === 1 ? "" : "s"}: ${shown.join("; ")}${more}`;
  } else if (typeof max === "number" && max < chunkSize) {
    message = `the server takes at most ${count(max)} URLs per submission; run again with --chunk-size ${max}`;
  }
  return new CrawlqClientError(error.code, message, { extensions: error.extensions, errors: error.errors, status: error.status });
}

/** Runs at most `n` of the functions given at once, the rest in turn. */
function limiter(n: number): <T>(work: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return (work) =>
    new Promise((resolve, reject) => {
      const run = () => {
        active++;
        work()
          .then(resolve, reject)
          .finally(() => {
            active--;
            waiting.shift()?.();
          });
      };
      if (active < n) run();
      else waiting.push(run);
    });
}
