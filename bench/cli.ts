/** Flag parsing the runners share (node:util parseArgs gives strings). */
import { parseArgs } from "node:util";

/** The flag's value as a non-negative integer; throws naming the flag otherwise. */
export function nonNegativeInt(name: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value.trim() === "" || !Number.isInteger(n) || n < 0) {
    throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  }
  return n;
}

/** The flag's value as a positive number (fractions allowed); throws naming the flag otherwise. */
export function positiveNumber(name: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || value.trim() === "" || !Number.isFinite(n) || n <= 0) {
    throw new Error(`--${name} must be a positive number, got ${value}`);
  }
  return n;
}

/**
 * Parses `--name value` flags, each a string with its default (undefined: none), plus `--help`, which
 * prints `help` and exits. Unknown flags throw.
 */
export function parseFlags(help: string, defaults: Record<string, string | undefined>): Record<string, string | undefined> {
  const options = Object.fromEntries(
    Object.entries(defaults).map(([name, value]) => [name, { type: "string" as const, ...(value === undefined ? {} : { default: value }) }]),
  );
  const { values } = parseArgs({ options: { ...options, help: { type: "boolean", default: false } }, strict: true });
  const { help: wanted, ...flags } = values as Record<string, string | boolean | undefined>;
  if (wanted) {
    console.log(help);
    process.exit(0);
  }
  return flags as Record<string, string | undefined>;
}

/**
 * Runs a runner's `main` and ends the process: exit 0 when it resolves true, 1 when false, 2 (with the
 * stack) when it throws.
 */
export function runMain(name: string, main: () => Promise<boolean>): void {
  main().then(
    (ok) => process.exit(ok ? 0 : 1),
    (error: Error) => {
      console.error(`${name} failed: ${error.stack ?? error}`);
      process.exit(2);
    },
  );
}
