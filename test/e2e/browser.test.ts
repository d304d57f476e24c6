import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteKeyStore } from "../../src/auth/sqlite-key-store.js";
import { migrateSqlite } from "../../src/tasks/store/sqlite/migrate.js";
import { expectedPage, startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { gqlData } from "../../testkit/graphql-client.js";
import { launchChromium, offlinePage, percentiles, TEST_OUTPUT } from "../helpers/browser.js";
import { startService, tempDatabase, type RunningService } from "../helpers/service.js";

// The dashboard and GraphiQL in a real browser (Debian's chromium driven by playwright-core), against the
// real service and the fixture site, with every request that leaves 127.0.0.1 aborted.

const SERVICE_ENV = { CRAWLQ_PER_HOST_CONCURRENCY: "64", CRAWLQ_CONCURRENCY_PER_THREAD: "32" };
const BENCH_TASKS = 10_000;

let browser: Browser;
let site: FixtureSite;

beforeAll(async () => {
  [browser, site] = await Promise.all([launchChromium(), startFixtureSite()]);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

const origin = (service: RunningService) => service.url.replace(/\/graphql$/, "");
/** Monaco renders spaces as no-break spaces. */
const text = async (page: Page, selector: string) => (await page.locator(selector).innerText()).replace(/\u00a0/g, " ");
const statValue = (page: Page, stat: string) => page.locator(`[data-stat="${stat}"]`);

/** Pastes text into a field through the clipboard, as a user would (typing 10,000 lines takes minutes). */
async function paste(page: Page, selector: string, value: string): Promise<void> {
  await page.evaluate((text) => navigator.clipboard.writeText(text), value);
  await page.locator(selector).focus();
  await page.keyboard.press("Control+V");
  await expect.poll(() => page.locator(selector).inputValue().then((v) => v.length)).toBe(value.length);
}

describe("without API keys", () => {
  const db = tempDatabase();
  let service: RunningService;
  let context: BrowserContext;

  beforeAll(async () => {
    service = await startService(db.url, SERVICE_ENV);
    context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, permissions: ["clipboard-read", "clipboard-write"] });
  });

  afterAll(async () => {
    await context?.close();
    await service?.stop();
    db.remove();
  });

  it("dashboard: URLs submitted through the page stream in as rows, with the pool's counts; a row opens its details", { timeout: 60_000 }, async () => {
    const { page, blocked, errors } = await offlinePage(context);
    await page.goto(`${origin(service)}/`);
    await page.locator(".connection.live").waitFor();
    const pages = Array.from({ length: 20 }, (_, i) => i + 1);
    const urls = [
      ...pages.map((n) => site.url(`/page/${n}`)),
      site.url("/status/404"),
      site.url("/status/410"),
      site.url("/slow?ms=400"),
      site.url("/file.bin"),
    ];
    await page.fill("#urls", urls.join("\n"));
    await page.click("#submit");

    const submission = page.locator(".submission").first();
    await expect.poll(() => submission.innerText(), { timeout: 20_000 }).toMatch(/24 \/ 24 done, 2 failed — complete in/);
    const rows = page.locator("#completions tbody tr");
    await expect.poll(() => rows.count()).toBe(urls.length);
    const shown = await rows.evaluateAll((trs) =>
      trs.map((tr) => Array.from((tr as HTMLTableRowElement).cells, (cell) => cell.textContent ?? "")),
    );
    expect(new Set(shown.map((cells) => cells[1]))).toEqual(new Set(urls));
    for (const n of pages) {
      const row = shown.find((cells) => cells[1] === site.url(`/page/${n}`))!;
      const page = expectedPage(n);
      expect(row[0]).toBe("SUCCEEDED");
      expect(row[2]).toBe(page.title);
      expect(row[3]).toBe("200");
      expect(row[4]).toMatch(/^\d+(\.\d)? (B|kB)$/);
      expect(Number(row[5])).toBeGreaterThanOrEqual(0);
      expect(["1", "2"]).toContain(row[6]);
    }
    const failed = shown.find((cells) => cells[1] === site.url("/status/404"))!;
    expect(failed.slice(0, 4)).toEqual(["FAILED · HTTP_STATUS", site.url("/status/404"), "HTTP 404 Not Found", "404"]);
    await expect.poll(() => statValue(page, "done").innerText()).toBe("24");
    await expect.poll(() => statValue(page, "failed").innerText()).toBe("2");
    expect(await statValue(page, "threads").innerText()).toBe("2");
    expect(await statValue(page, "pending").innerText()).toBe("0");
    expect(await statValue(page, "inFlight").innerText()).toBe("0");
    expect(await page.locator("#completions-note").innerText()).toContain("24 streamed");
    await expect(page.locator(".status-failed").count()).resolves.toBe(2);

    await rows.filter({ hasText: site.url("/page/7") }).click();
    const details = page.locator("#details");
    await expect.poll(() => details.isVisible()).toBe(true);
    await expect.poll(() => page.locator("#details-raw").innerText()).toContain('"linkCount"');
    const fields = await text(page, "#details-fields");
    expect(fields).toContain(`title\n${expectedPage(7).title}`);
    expect(fields).toContain(`links\n${expectedPage(7).linkCount}`);
    expect(fields).toContain(`final URL\n${site.url("/page/7")}`);
    await page.waitForTimeout(1_100); // one more sparkline tick
    await page.screenshot({ path: path.join(TEST_OUTPUT, "dashboard.png") });

    await page.keyboard.press("Escape");
    await expect.poll(() => details.isVisible()).toBe(false);
    await rows.filter({ hasText: site.url("/status/410") }).click();
    await expect.poll(() => text(page, "#details-fields")).toContain("error\nHTTP 410 Gone");

    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("GraphiQL offline: its own code from the service, the example operations in the editor; Submit then Watch streams results", { timeout: 60_000 }, async () => {
    const { page, blocked, errors } = await offlinePage(context);
    await page.goto(`${origin(service)}/graphql`);
    const editor = ".graphiql-query-editor .view-lines";
    await page.locator(editor).waitFor({ timeout: 30_000 });
    const examples = await text(page, editor);
    for (const operation of ["mutation Submit", "query Collect($submissionId: ID!)", "subscription Watch($submissionId: ID!)", "query Pool"]) {
      expect(examples).toContain(operation);
    }
    expect(examples).not.toContain("Welcome to");

    // The examples crawl public sites; here the same operations name fixture pages (GraphiQL reads ?query=).
    const slow = [site.url("/slow?ms=300"), site.url("/slow?ms=2500")];
    const operations = `mutation Submit {
  submitCrawl(urls: ${JSON.stringify(slow)}) { id tasks { id url status } }
}

subscription Watch($submissionId: ID!) {
  taskDone(submissionId: $submissionId) { id url status result { title httpStatus } }
}
`;
    await page.goto(`${origin(service)}/graphql?query=${encodeURIComponent(operations)}`);
    await page.locator(editor).waitFor({ timeout: 30_000 });
    const response = ".graphiql-response";
    await page.locator(".graphiql-query-editor .view-line", { hasText: "mutation Submit" }).click();
    await page.keyboard.press("Control+Enter");
    await expect.poll(() => text(page, response), { timeout: 10_000 }).toContain('"submitCrawl"');
    const submissionId = /"submitCrawl": \{\s*"id": "(\d+)"/.exec(await text(page, response))![1]!;

    await page.getByText("Variables", { exact: true }).click();
    await page.locator(".graphiql-editor-tool .view-lines").first().click();
    await page.keyboard.insertText(JSON.stringify({ submissionId }));
    await page.locator(".graphiql-query-editor .view-line", { hasText: "subscription Watch" }).click();
    await page.keyboard.press("Control+Enter");
    // Each completion replaces the last in the result pane: the quick page first, then the slow one.
    await expect.poll(() => text(page, response), { timeout: 10_000 }).toContain('"title": "Slow 300 ms"');
    await expect.poll(() => text(page, response), { timeout: 10_000 }).toContain('"title": "Slow 2500 ms"');
    expect(await text(page, response)).toContain('"status": "SUCCEEDED"');
    await page.screenshot({ path: path.join(TEST_OUTPUT, "graphiql.png") });

    expect(blocked).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it(`dashboard stays responsive while ${BENCH_TASKS.toLocaleString("en")} completions stream in (frame times printed)`, { timeout: 180_000 }, async () => {
    // The page's own WebSocket goes to 127.0.0.1 anyway; relaying it through Playwright would be measured too.
    const { page } = await offlinePage(context, { webSockets: false });
    await page.goto(`${origin(service)}/`);
    await page.locator(".connection.live").waitFor();
    const urls = Array.from({ length: BENCH_TASKS }, (_, i) => site.url(`/bench/${i + 1}`));
    await paste(page, "#urls", urls.join("\n"));
    // requestAnimationFrame deltas, from the click to the last completion drawn.
    await page.evaluate(() => {
      const state = { frames: [] as number[], last: 0, running: true };
      (window as unknown as { frameProbe: typeof state }).frameProbe = state;
      const tick = (now: number) => {
        if (state.last > 0) state.frames.push(now - state.last);
        state.last = now;
        if (state.running) requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    const started = Date.now();
    await page.click("#submit");
    const submission = page.locator(".submission").first();
    await expect
      .poll(() => submission.innerText(), { timeout: 120_000, interval: 250 })
      .toMatch(new RegExp(`${BENCH_TASKS.toLocaleString("en")} / ${BENCH_TASKS.toLocaleString("en")} done — complete in`));
    const elapsedMs = Date.now() - started;
    const frames = await page.evaluate(() => {
      const state = (window as unknown as { frameProbe: { frames: number[]; running: boolean } }).frameProbe;
      state.running = false;
      return state.frames;
    });
    await expect.poll(() => page.locator("#completions-note").innerText()).toContain(`${BENCH_TASKS.toLocaleString("en")} streamed`);
    expect(await page.locator("#completions tbody tr").count()).toBe(100);

    const [p50, p95, p99] = percentiles(frames, 50, 95, 99);
    const max = Math.max(...frames);
    console.log(
      `dashboard frame time while ${BENCH_TASKS} completions streamed (${(elapsedMs / 1000).toFixed(1)} s, ${frames.length} frames): ` +
        `p50 ${p50!.toFixed(1)} ms, p95 ${p95!.toFixed(1)} ms, p99 ${p99!.toFixed(1)} ms, max ${max.toFixed(1)} ms`,
    );
    // Responsive: most frames on time, and no long freeze. Generous bounds: two shared cores run the service,
    // its pool, the fixture site and the browser at once.
    expect(p50!).toBeLessThan(50);
    expect(max).toBeLessThan(1_000);
    await page.close();
  });

  it("dashboard reconnects by itself after the service restarts", { timeout: 60_000 }, async () => {
    const { page } = await offlinePage(context);
    await page.goto(`${origin(service)}/`);
    await page.locator(".connection.live").waitFor();
    const port = new URL(service.url).port;
    expect(await service.stop()).toBe(0);
    await page.locator(".connection.reconnecting").waitFor();
    service = await startService(db.url, { ...SERVICE_ENV, PORT: port });
    await page.locator(".connection.live").waitFor({ timeout: 15_000 });

    // The live table follows again: a completion submitted outside the page shows up in it.
    const url = site.url("/page/99?after=restart");
    await gqlData(service.url, `mutation($urls: [String!]!) { submitCrawl(urls: $urls) { id } }`, { urls: [url] });
    await page.locator("#completions tbody tr", { hasText: url }).waitFor({ timeout: 10_000 });
    await page.close();
  });
});

describe("with API keys", () => {
  const db = tempDatabase();
  let service: RunningService;
  let key: string;
  let context: BrowserContext;

  beforeAll(async () => {
    migrateSqlite(db.url);
    const keys = new SqliteKeyStore(db.url);
    key = (await keys.create("browser", true)).key;
    await keys.close();
    service = await startService(db.url, SERVICE_ENV);
    context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  });

  afterAll(async () => {
    await context?.close();
    await service?.stop();
    db.remove();
  });

  const enterKey = async (page: Page, value: string) => {
    const dialog = page.locator("dialog.crawlq-key");
    await dialog.waitFor();
    await dialog.locator("input").fill(value);
    await dialog.locator("button").click();
  };

  it("the dashboard asks for a key on 401, asks again for a refused one, and keeps it in sessionStorage only", { timeout: 60_000 }, async () => {
    const { page, errors } = await offlinePage(context);
    await page.goto(`${origin(service)}/`);
    await enterKey(page, "cq_not-a-key");
    await expect.poll(() => page.locator("dialog.crawlq-key").innerText()).toContain("refused that key");
    await enterKey(page, key);
    await page.locator(".connection.live").waitFor({ timeout: 10_000 });
    await expect.poll(() => statValue(page, "threads").innerText()).toBe("2");

    const url = site.url("/page/3?keyed=1");
    await page.fill("#urls", url);
    await page.click("#submit");
    await page.locator("#completions tbody tr", { hasText: url }).waitFor({ timeout: 10_000 });
    const storage = await page.evaluate(() => ({
      session: sessionStorage.getItem("crawlq.apiKey"),
      local: Object.values(localStorage).join("\n"),
    }));
    expect(storage.session).toBe(key);
    expect(storage.local).not.toContain(key);
    expect(await page.locator("#forget-key").isVisible()).toBe(true);

    // The same tab keeps its session: GraphiQL asks for nothing and its requests carry the key.
    await page.goto(`${origin(service)}/graphql?query=${encodeURIComponent("query Pool { pool { threads } }")}`);
    await page.locator(".graphiql-query-editor .view-lines").waitFor({ timeout: 30_000 });
    expect(await page.locator("dialog.crawlq-key").count()).toBe(0);
    await page.locator(".graphiql-query-editor .view-line", { hasText: "query Pool" }).click();
    await page.keyboard.press("Control+Enter");
    await expect.poll(() => text(page, ".graphiql-response")).toContain('"threads": 2');
    expect(errors).toEqual([]);
    await page.close();
  });

  it("GraphiQL in a new tab asks for the key, then subscribes over the WebSocket with it", { timeout: 60_000 }, async () => {
    const { page, errors } = await offlinePage(context);
    await page.goto(`${origin(service)}/graphql?query=${encodeURIComponent("subscription Watch { taskDone { url status } }")}`);
    await enterKey(page, key);
    await page.locator(".graphiql-query-editor .view-lines").waitFor({ timeout: 30_000 });
    // A task that finishes a little later, after the subscription (unfiltered: new completions only) is open.
    const url = site.url("/slow?ms=2000&keyed=graphiql");
    const submitted = await fetch(service.url, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: `mutation($urls: [String!]!) { submitCrawl(urls: $urls) { id } }`, variables: { urls: [url] } }),
    });
    expect(submitted.status).toBe(200);
    await page.locator(".graphiql-query-editor .view-line", { hasText: "subscription Watch" }).click();
    await page.keyboard.press("Control+Enter");
    await expect.poll(() => text(page, ".graphiql-response"), { timeout: 10_000 }).toContain(url);
    expect(await page.evaluate(() => sessionStorage.getItem("crawlq.apiKey"))).toBe(key);
    expect(errors).toEqual([]);
    await page.close();
  });
});
