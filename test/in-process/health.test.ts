import { describe, expect, it } from "vitest";
import { startInProcessApp } from "../helpers/in-process-app.js";

describe("health endpoints", () => {
  it("/healthz answers while the process runs; /readyz is 200 until shutdown starts, then 503 with the reason", async () => {
    const app = await startInProcessApp();
    const get = (path: string) => app.yoga.fetch(`http://127.0.0.1${path}`);
    try {
      expect((await get("/healthz")).status).toBe(200);
      expect((await get("/health")).status).toBe(200);
      const ready = await get("/readyz");
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready" });

      const stopped = app.stop();
      const during = await get("/readyz");
      expect(during.status).toBe(503);
      expect(await during.json()).toEqual({ status: "not ready", reason: "shutting down" });
      expect((await get("/healthz")).status).toBe(200);
      await stopped;
    } finally {
      await app.close();
    }
  });
});
