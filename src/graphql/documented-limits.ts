import type { ApiLimits } from "../tasks/task-service.js";

// The limits the schema being built documents. Pothos runs the `fields` callbacks inside toSchema(), so
// descriptions read them there: buildSchema sets them for exactly that call.
let building: ApiLimits | null = null;

/** Runs `build` (a toSchema call) with `limits` as the values the field descriptions print. */
export function withDocumentedLimits<T>(limits: ApiLimits, build: () => T): T {
  building = limits;
  try {
    return build();
  } finally {
    building = null;
  }
}

/** The limits of the schema being built; only callable from a field definition. */
export function documentedLimits(): ApiLimits {
  if (building === null) throw new Error("documentedLimits() is only available while buildSchema runs");
  return building;
}

/** 30000 → "30,000", as the descriptions write numbers. */
export const formatCount = (n: number): string => n.toLocaleString("en-US");

/** The description of every `timeoutMs` argument. */
export function waitDescription(): string {
  const { defaultWaitMs, maxWaitMs } = documentedLimits();
  return `Default ${formatCount(defaultWaitMs)}, at most ${formatCount(maxWaitMs)}.`;
}
