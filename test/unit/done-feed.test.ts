import { describe, expect, it } from "vitest";
import { DoneFeed } from "../../src/tasks/done-feed.js";
import type { Task } from "../../src/tasks/task.js";
import { InProcessCompletionBus } from "../../src/tasks/bus/in-process-bus.js";

function task(id: number, finishedAt: number, submissionId = 1): Task {
  return {
    id, submissionId, ownerKeyId: null, url: `http://a.example/${id}`, host: "a.example", status: "SUCCEEDED", attempts: 1,
    worker: 1, result: null, error: null, createdAt: new Date(0), startedAt: new Date(0), finishedAt: new Date(finishedAt),
  };
}

async function drain(feed: DoneFeed): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of feed) ids.push((t as Task).id);
  return ids;
}

describe("DoneFeed", () => {
  it("emits seeded (already done) tasks first, then live ones, each once, and ends after the expected set", async () => {
    const events = new InProcessCompletionBus();
    const feed = await DoneFeed.open(events, { kind: "submission", submissionId: 1 });
    events.publish([task(3, 30)]); // completed between listen and read: also in the read
    feed.seed([task(2, 20), task(1, 10), task(3, 30)]);
    feed.expect([1, 2, 3, 4, 5]);
    events.publish([task(4, 40), task(3, 30), task(9, 90, 2)]);
    events.publish([task(5, 50)]);
    expect(await drain(feed)).toEqual([1, 2, 3, 4, 5]);
  });

  it("delivers each selected id once, for large and small id selections", async () => {
    const events = new InProcessCompletionBus();
    const big = new Set(Array.from({ length: 100 }, (_, i) => i + 1));
    const feeds = [await DoneFeed.open(events, { kind: "ids", ids: big }), await DoneFeed.open(events, { kind: "ids", ids: new Set([7, 150]) })];
    feeds[0]!.expect(big);
    feeds[1]!.expect([7, 150]);
    events.publish([task(150, 1)]);
    events.publish(Array.from({ length: 100 }, (_, i) => task(i + 1, i)));
    expect(await drain(feeds[0]!)).toHaveLength(100);
    expect(await drain(feeds[1]!)).toEqual([150, 7]);
  });

  it("nextBefore returns null at the deadline and after close", async () => {
    const feed = await DoneFeed.open(new InProcessCompletionBus(), { kind: "all" });
    expect(await feed.nextBefore(Date.now() + 20)).toBeNull();
    setImmediate(() => feed.close());
    expect(await feed.nextBefore(Date.now() + 10_000)).toBeNull();
  });
});
