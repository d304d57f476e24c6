/** Plain-text tables for the runners' reports. */

/** Columns padded to their widest cell, a header row and a dashed rule under it. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: readonly string[]) => widths.map((w, i) => (cells[i] ?? "").padEnd(w)).join(" | ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)].join("\n");
}
