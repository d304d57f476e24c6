/** A byte count as people read it: 912 B, 31.2 kB, 4.0 MB. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes == null) return "";
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${(bytes / 1000).toFixed(1)} kB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/** Milliseconds, whole below 100 s. */
export function formatMs(ms: number | null | undefined): string {
  if (ms == null) return "";
  return ms < 10 ? ms.toFixed(1) : Math.round(ms).toLocaleString("en");
}

/** A count with thousands separators. */
export function formatCount(n: number): string {
  return n.toLocaleString("en");
}
