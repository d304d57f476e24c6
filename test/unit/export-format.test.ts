import { describe, expect, it } from "vitest";
import { EXPORT_COLUMNS, exportFormatOf, exportHeader, formatTasks, toExportRecord, type ExportableTask } from "../../src/client/export-format.js";
import { parseCsv } from "../helpers/cli.js";

const base = {
  submissionId: "7",
  attempts: 1,
  createdAt: "2026-11-26T12:00:00.000Z",
  startedAt: "2026-11-26T12:00:01.000Z",
  finishedAt: "2026-11-26T12:00:02.500Z",
  result: null,
  error: null,
} as const;

const succeeded: ExportableTask = {
  ...base,
  id: "1",
  url: "https://example.com/",
  status: "SUCCEEDED",
  result: { httpStatus: 200, finalUrl: "https://example.com/", contentType: "text/html", contentLength: 1256, title: 'A, "b"\nc\r\nd', linkCount: 1, fetchMs: 12.5, parseMs: 0.25 },
};
const failed: ExportableTask = { ...base, id: "2", url: "https://example.com/x", status: "FAILED", attempts: 3, error: { code: "HTTP_STATUS", message: "HTTP 503, twice" } };
const cancelled: ExportableTask = { ...base, id: "3", url: "https://example.com/y", status: "CANCELLED", attempts: 0, startedAt: null };

describe("the export format", () => {
  it("flattens a task into one record, null where a field does not apply, keys in column order", () => {
    expect(toExportRecord(failed)).toEqual({
      id: "2", submissionId: "7", url: "https://example.com/x", status: "FAILED", attempts: 3,
      httpStatus: null, finalUrl: null, contentType: null, contentLength: null, title: null, linkCount: null, fetchMs: null, parseMs: null,
      errorCode: "HTTP_STATUS", errorMessage: "HTTP 503, twice",
      createdAt: "2026-11-26T12:00:00.000Z", startedAt: "2026-11-26T12:00:01.000Z", finishedAt: "2026-11-26T12:00:02.500Z",
    });
    expect(Object.keys(toExportRecord(succeeded))).toEqual(EXPORT_COLUMNS);
    expect(toExportRecord(succeeded)).toMatchObject({ httpStatus: 200, title: 'A, "b"\nc\r\nd', fetchMs: 12.5, errorCode: null });
  });

  it("writes JSON Lines: one object per line, line breaks inside values escaped", () => {
    const text = formatTasks("jsonl", [succeeded, failed, cancelled]);
    const lines = text.split("\n");
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe("");
    expect(lines.slice(0, 3).map((line) => JSON.parse(line))).toEqual([succeeded, failed, cancelled].map(toExportRecord));
    expect(exportHeader("jsonl")).toBe("");
  });

  it("writes RFC 4180 CSV: a header, CRLF, quotes around commas, quotes, CR and LF (quotes doubled), null empty", () => {
    const text = exportHeader("csv") + formatTasks("csv", [succeeded, failed, cancelled]);
    expect(text.split("\r\n")[0]).toBe(EXPORT_COLUMNS.join(","));
    expect(text).toContain(',"A, ""b""\nc\r\nd",');
    expect(text).toContain(',HTTP_STATUS,"HTTP 503, twice",');
    expect(text).toContain("\r\n3,7,https://example.com/y,CANCELLED,0,,,,,,,,,,,2026-11-26T12:00:00.000Z,,2026-11-26T12:00:02.500Z\r\n");
    expect(parseCsv(text)).toEqual([
      EXPORT_COLUMNS,
      ...[succeeded, failed, cancelled].map((t) => Object.values(toExportRecord(t)).map((v) => (v === null ? "" : String(v)))),
    ]);
    expect(formatTasks("csv", [])).toBe("");
  });

  it("tells the format from a file name", () => {
    expect(exportFormatOf("out.jsonl")).toBe("jsonl");
    expect(exportFormatOf("out.NDJSON")).toBe("jsonl");
    expect(exportFormatOf("/tmp/x.csv")).toBe("csv");
    expect(exportFormatOf("out.json")).toBeNull();
    expect(exportFormatOf("out")).toBeNull();
  });
});
