/**
 * Fuzzing with fast-check: random and hostile input against every root field (through `yoga.fetch`), random
 * HTTP requests, random graphql-ws traffic, random WebSocket frames and raw bytes (through a real socket), and
 * hostile URLs that reach the pool.
 *
 * Properties, checked after every run:
 * - the server never crashes: no 'uncaughtException' / 'unhandledRejection' in this process (nor a
 *   MaxListenersExceededWarning, nor graphql-ws reporting an exception of its own), and the app still answers
 *   `{ pool { threads } }` (and, after socket runs, over a fresh graphql-ws connection and plain HTTP);
 * - no wait or subscription is left behind (the bus's live subscriptions and the service's open feeds are 0);
 * - every answer is a coded error (`extensions.code` present, never the masked INTERNAL_SERVER_ERROR or a
 *   stack trace) or a result whose `data` has exactly the shape the query selects;
 * - a submission is stored whole or not at all (the task count moves by its URL count or by 0).
 *
 * Safety: nothing here may send a packet off loopback, whatever the generators produce.
 * - App "held" (every HTTP and WebSocket property): one pool thread, CRAWLQ_MAX_IN_FLIGHT=1, and that one
 *   slot is held by a task whose fixture page never answers, so the dispatcher never hands a fuzzed task
 *   to the pool: fuzzed URLs are stored and never fetched (the file checks at the end that they are all still
 *   PENDING). The held page is on an allow-listed `.test` name that CRAWLQ_RESOLVE maps to the loopback site.
 * - App "live" (hostile URLs through the pool): every URL is built from `.test`/`.invalid`/IDN-test names
 *   that CRAWLQ_RESOLVE maps to 127.0.0.1 (so no DNS query either) or from loopback IP literals, and is
 *   checked by `assertThisMachineOnly` before it is sent; CRAWLQ_ALLOW_PRIVATE=0 then refuses all of them
 *   before any connection, which is itself a property.
 */
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import fc from "fast-check";
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  type GraphQLArgument,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from "graphql";
import { createClient } from "graphql-ws";
import ipaddr from "ipaddr.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startFixtureSite, type FixtureSite } from "../../testkit/fixture-site.js";
import { ALL_TASKS } from "../../src/tasks/task-store.js";
import { startInProcessApp, type GraphQLBody, type InProcessApp } from "../helpers/in-process-app.js";
import { committedSchema, shapeProblems } from "../helpers/response-shape.js";

/** FUZZ_SCALE=10 runs ten times as many cases (for a long local session); FUZZ_SEED replays a failure. */
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const runs = (n: number) => ({ numRuns: Math.max(1, Math.round(n * SCALE)), seed: SEED });
/** FUZZ_STATS=1 prints, per property, how the runs were answered (to see what the generators reach). */
const stats = new Map<string, Map<string, number>>();
function tally(property: string, outcome: string): void {
  const counts = stats.get(property) ?? new Map<string, number>();
  counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  stats.set(property, counts);
}
/** "data" or the sorted error codes of one GraphQL result. */
const outcomeOf = (result: { data?: unknown; errors?: Array<{ extensions?: { code?: unknown } }> } | null | undefined) =>
  result?.errors ? [...new Set(result.errors.map((e) => String(e.extensions?.code)))].sort().join("+") : result?.data ? "data" : "nothing";

// ---------------------------------------------------------------------------------------------------------
// Hosts that can only mean this machine

/** Names CRAWLQ_RESOLVE maps to 127.0.0.1, as they may be written in a URL (IDN, full-width, percent-encoded). */
const NAME_SPELLINGS = [
  "fuzz.test",
  "a.test",
  "UPPER.Case.TEST",
  "a-b.c-d.test",
  "very.deep.sub.domain.fuzz.test",
  "fuzz.test.",
  "bücher.test",
  "xn--bcher-kva.test",
  "☃.test",
  "例え.テスト",
  "ｆｕｚｚ.test",
  "ex%61mple.test",
  "münchen.invalid",
  "fuzz.invalid",
];
/** Loopback (and this-host) IP literals, in the notations WHATWG URLs accept. */
const IP_SPELLINGS = [
  "127.0.0.1",
  "127.1",
  "127.0.1",
  "2130706433",
  "0x7f000001",
  "0x7F.0.0.1",
  "0177.0.0.01",
  "127.255.255.254",
  "127.0.0.1.",
  "0.0.0.0",
  "0",
  "[::1]",
  "[0:0:0:0:0:0:0:1]",
  "[::0:1]",
  "[::ffff:127.0.0.1]",
  "[::FFFF:7f00:1]",
  "[::]",
  "%31%32%37.0.0.1",
  "１２７.０.０.１",
];
const RESOLVED_HOSTNAMES = new Set(NAME_SPELLINGS.map((name) => new URL(`http://${name}/`).hostname));
/** The one host of the held app's busy task: allow-listed, so the guard lets it reach the fixture site. */
const HOLD_HOST = "hold.crawlq-fuzz.test";
const RESOLVE = [...RESOLVED_HOSTNAMES, HOLD_HOST].map((host) => `${host}=127.0.0.1`).join(",");

/** True when a connection to this URL's host could only reach this machine (or the URL would be refused). */
function thisMachineOnly(url: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return true; // refused at submission
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return true; // refused at submission
  if (RESOLVED_HOSTNAMES.has(parsed.hostname)) return true;
  const bare = parsed.hostname.startsWith("[") ? parsed.hostname.slice(1, -1) : parsed.hostname;
  if (!ipaddr.isValid(bare)) return false;
  const address = ipaddr.process(bare); // an IPv4-mapped IPv6 address as its IPv4 address
  return address.range() === "loopback" || address.toString() === "0.0.0.0" || address.toString() === "::";
}

function assertThisMachineOnly(urls: readonly string[]): void {
  for (const url of urls) if (!thisMachineOnly(url)) throw new Error(`refusing to send a URL that could leave this machine: ${url}`);
}

/** What the service accepts (validate-urls.ts, restated): absolute http(s) with a host, at most `maxLength` characters. */
function acceptable(url: string, maxLength = 2048): boolean {
  if (url.length > maxLength) return false;
  try {
    const parsed = new URL(url);
    return (parsed.protocol === "http:" || parsed.protocol === "https:") && parsed.hostname !== "";
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Generators

const anyJson = fc.jsonValue({ maxDepth: 3 });
const controlChars = fc.array(fc.integer({ min: 0, max: 0x1f }), { maxLength: 6 }).map((codes) => String.fromCharCode(...codes));
const pathSegment = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 8 }),
  controlChars,
  fc.constantFrom("..", "%2e%2e", "%00", "%ZZ", "%", "😀", "a b", "\\", "@", "?x=1", "#frag", "%F0%9F%98%80", "\ud800", "\u200b", "ÿ"),
);

/** A URL naming this machine: odd schemes' case, userinfo, ports, paths, queries and fragments. */
const thisMachineUrl = fc
  .record({
    scheme: fc.constantFrom("http", "https", "HTTP", "hTtPs"),
    userinfo: fc.oneof(
      { weight: 3, arbitrary: fc.constant("") },
      { weight: 1, arbitrary: fc.constantFrom("user:pass@", ":@", "%00:%ff@", "u%40x:p@", "a:b:c@", "用户:密码@") },
      { weight: 1, arbitrary: fc.string({ maxLength: 10 }).map((s) => `${encodeURIComponent(s)}@`) },
    ),
    host: fc.constantFrom(...NAME_SPELLINGS, ...IP_SPELLINGS),
    port: fc.oneof(
      { weight: 3, arbitrary: fc.constant("") },
      { weight: 1, arbitrary: fc.constantFrom(":", ":0", ":1", ":80", ":443", ":00080", ":65535", ":8080") },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 65535 }).map((p) => `:${p}`) },
    ),
    path: fc.array(pathSegment, { maxLength: 4 }).map((parts) => `/${parts.join("/")}`),
    query: fc.option(fc.array(fc.tuple(pathSegment, pathSegment), { maxLength: 3 }), { nil: undefined }),
    fragment: fc.option(pathSegment, { nil: undefined }),
  })
  .map(({ scheme, userinfo, host, port, path, query, fragment }) => {
    const search = query === undefined ? "" : `?${query.map(([k, v]) => `${k}=${v}`).join("&")}`;
    return `${scheme}://${userinfo}${host}${port}${path}${search}${fragment === undefined ? "" : `#${fragment}`}`;
  })
  // A character in the userinfo or host part can move the authority (e.g. "/" ends it early): keep only
  // URLs that still name this machine, and only ones the service will take.
  .filter((url) => acceptable(url) && thisMachineOnly(url));

/** Anything a client might send where a URL belongs. */
const hostileString = fc.oneof(
  { weight: 6, arbitrary: thisMachineUrl },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: controlChars.map((c) => `http://fuzz.test/${c}`) },
  { weight: 1, arbitrary: controlChars.map((c) => `http://fu${c}zz.test/`) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "",
      " ",
      "http://",
      "https://",
      "http:///",
      "http://:80/",
      "http://[::1",
      "http://[]/",
      "http://[::1]:99999/",
      "http://fuzz.test:-1/",
      "http://fuzz.test:8o/",
      "javascript:alert(1)",
      "file:///etc/passwd",
      "ftp://fuzz.test/",
      "data:text/html,hi",
      "ws://fuzz.test/",
      "//fuzz.test/",
      "fuzz.test",
      "/relative",
      "http://exa mple.test/",
      "http://%zz.test/",
      "http://a\u0000b.test/",
      "http://xn--.test/",
      "http://xn--a.test/",
      "http://\u200b.test/",
      "http://ß.test/",
      "http://\ud800.test/",
      "http://fuzz.test/\ud800",
      "\ufeffhttp://fuzz.test/",
      "http://fuzz.test\\@127.0.0.1/",
      "http://127.0.0.1%00.test/",
      "http://0x100000000/",
      "http://256.256.256.256/",
      "http://[::ffff:999.0.0.1]/",
      "http://[fe80::1%25eth0]/",
    ),
  },
  // Around the length limit, and far past it.
  { weight: 1, arbitrary: fc.integer({ min: 2040, max: 2056 }).map((n) => `http://fuzz.test/${"a".repeat(n - 17)}`) },
  { weight: 1, arbitrary: fc.integer({ min: 10_000, max: 300_000 }).map((n) => `http://fuzz.test/${"%".repeat(n)}`) },
);

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
/** Where an Int belongs: mostly meaningful values and bounds, sometimes not an Int at all. */
const intLike = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -3, max: 25 }) },
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 4, 5, 20, 21, 99, 100, 101, 1000, 1001, 3_600_000, 3_600_001, 2 ** 31 - 1, -(2 ** 31)) },
  { weight: 1, arbitrary: int32 },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(2 ** 31, -(2 ** 31) - 1, 1.5, -0.5, 1e21, Number.MAX_SAFE_INTEGER, "5", true, null, [], {}, [1]) },
);
/** Where an ID belongs: ids that exist, ids that cannot, and other JSON. */
const idLike = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: 400 }).map(String) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>("0", "-1", "01", "1.0", "1e3", " 1", "1 ", "+1", "0x1", "9007199254740993", "99999999999999999999", "", "abc", "\u0000", "１", "٣"),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.oneof(fc.integer({ min: -5, max: 400 }), fc.constantFrom<unknown>(1.5, true, null, [], {}, 2 ** 53 + 1)) },
);

/** A value for an argument of `type`: mostly of that type (random contents), sometimes of another JSON type. */
function valueFor(type: GraphQLInputType, name: string): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return fc.oneof({ weight: 12, arbitrary: valueFor(type.ofType, name) }, { weight: 1, arbitrary: fc.constant(null) });
  if (isListType(type)) {
    const item = valueFor(type.ofType, name);
    return fc.oneof(
      { weight: 8, arbitrary: fc.array(item, { maxLength: 8 }) },
      { weight: 2, arbitrary: item }, // one value where a list belongs: GraphQL makes it a list of one
      { weight: 1, arbitrary: anyJson },
    );
  }
  if (isEnumType(type)) {
    return fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...type.getValues().map((v) => v.name)) },
      { weight: 1, arbitrary: fc.constantFrom<unknown>("NOPE", "all_completed", "", 0) },
    );
  }
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    return fc.oneof(
      { weight: 6, arbitrary: fc.record(Object.fromEntries(fields.map((f) => [f.name, valueFor(f.type, f.name)])), { requiredKeys: [] }) },
      { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), anyJson, { maxKeys: 3 }) },
      { weight: 1, arbitrary: anyJson },
    );
  }
  const scalar = getNamedType(type).name;
  const wrong = { weight: 1, arbitrary: anyJson };
  switch (scalar) {
    case "Int":
      return intLike;
    case "ID":
      return idLike;
    case "String":
      return fc.oneof({ weight: 10, arbitrary: hostileString }, wrong);
    case "Boolean":
      return fc.oneof({ weight: 6, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom<unknown>("true", 1, null) }, wrong);
    default:
      throw new Error(`no generator for ${scalar} (argument ${name})`);
  }
}

/** A GraphQL literal for `value` (enum names bare when the type is an enum). */
function literal(value: unknown, type: GraphQLInputType | null): string {
  const named = type === null ? null : getNamedType(type);
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") {
    return named !== null && isEnumType(named) && /^[_A-Za-z][_0-9A-Za-z]*$/.test(value) ? value : JSON.stringify(value);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  const inner = type !== null && isNonNullType(type) ? type.ofType : type;
  if (Array.isArray(value)) return `[${value.map((v) => literal(v, inner !== null && isListType(inner) ? inner.ofType : null)).join(", ")}]`;
  const fields = named !== null && isInputObjectType(named) ? named.getFields() : {};
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${/^[_A-Za-z][_0-9A-Za-z]*$/.test(k) ? k : JSON.stringify(k)}: ${literal(v, fields[k]?.type ?? null)}`)
    .join(", ")}}`;
}

/** A selection set on `type`: random fields (nested ones too), sometimes aliased, repeated or in fragments. */
function selectionOn(type: GraphQLObjectType, depth = 0): fc.Arbitrary<string> {
  const fields = Object.values(type.getFields());
  const field = fc.constantFrom(...fields).chain((f) => {
    const named = getNamedType(f.type);
    const sub = isObjectType(named) ? (depth >= 3 ? fc.constant("{ __typename }") : selectionOn(named, depth + 1)) : fc.constant("");
    const alias = fc.oneof({ weight: 5, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.constantFrom("a: ", "b_2: ", "id: ", "__typename: ") });
    return fc.tuple(alias, sub).map(([a, s]) => `${a}${f.name} ${s}`.trim());
  });
  const extra = fc.constantFrom("__typename", `... on ${type.name} { __typename }`, `...{ __typename }`);
  return fc
    .array(fc.oneof({ weight: 6, arbitrary: field }, { weight: 1, arbitrary: extra }), { minLength: 1, maxLength: 6 })
    .map((parts) => `{ ${parts.join(" ")} }`);
}

interface ArgChoice {
  arg: GraphQLArgument;
  include: boolean;
  how: "variable" | "inline" | "undeclared-variable";
  declared: string;
  value: unknown;
  supplied: boolean;
}

function argChoice(arg: GraphQLArgument): fc.Arbitrary<ArgChoice> {
  return fc.record({
    arg: fc.constant(arg),
    include: isNonNullType(arg.type) ? fc.oneof({ weight: 15, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) : fc.boolean(),
    how: fc.oneof(
      { weight: 6, arbitrary: fc.constant<ArgChoice["how"]>("variable") },
      { weight: 4, arbitrary: fc.constant<ArgChoice["how"]>("inline") },
      { weight: 1, arbitrary: fc.constant<ArgChoice["how"]>("undeclared-variable") },
    ),
    declared: fc.oneof(
      { weight: 12, arbitrary: fc.constant(String(arg.type)) },
      { weight: 1, arbitrary: fc.constantFrom("Int", "String!", "[ID!]!", "ID", "Boolean", "CrawlOptions", "ReturnWhen", "Nope", "[[String]]", "String") },
    ),
    value: valueFor(arg.type, arg.name),
    supplied: fc.oneof({ weight: 15, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  });
}

/** One operation on one root field, as a client would send it. */
interface FuzzOp {
  query: string;
  variables: Record<string, unknown>;
  operationName?: string;
  field: string;
  /** The response key of the root field. */
  key: string;
  kind: "query" | "mutation" | "subscription";
  /** submitCrawl: how many URLs the call carries once GraphQL has coerced them (null: unknown). */
  urlCount: number | null;
}

function operationOn(schema: GraphQLSchema, kinds: Array<FuzzOp["kind"]>): fc.Arbitrary<FuzzOp> {
  const roots = kinds.flatMap((kind) => {
    const type = kind === "query" ? schema.getQueryType() : kind === "mutation" ? schema.getMutationType() : schema.getSubscriptionType();
    return Object.values(type!.getFields()).map((field) => ({ kind, field }));
  });
  return fc.constantFrom(...roots).chain(({ kind, field }) =>
    fc
      .record({
        args: fc.tuple(...field.args.map(argChoice)),
        selection: selectionOn(getNamedType(field.type) as GraphQLObjectType),
        alias: fc.oneof({ weight: 4, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.constantFrom("x", "_a", "pool") }),
        name: fc.oneof({ weight: 3, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.constantFrom("Op", "Fuzz_1") }),
        sendName: fc.oneof(
          { weight: 4, arbitrary: fc.constant<boolean | string>(true) },
          { weight: 4, arbitrary: fc.constant<boolean | string>(false) },
          { weight: 1, arbitrary: fc.constantFrom<boolean | string>("Nope", "") },
        ),
      })
      .map(({ args, selection, alias, name, sendName }): FuzzOp => {
        const declarations: string[] = [];
        const passed: string[] = [];
        const variables: Record<string, unknown> = {};
        let urlCount: number | null = null;
        for (const choice of args) {
          if (!choice.include) continue;
          const { arg } = choice;
          if (choice.how === "inline") passed.push(`${arg.name}: ${literal(choice.value, arg.type)}`);
          else {
            if (choice.how === "variable") declarations.push(`$${arg.name}: ${choice.declared}`);
            passed.push(`${arg.name}: $${arg.name}`);
            if (choice.supplied) variables[arg.name] = choice.value;
          }
          if (arg.name === "urls") urlCount = Array.isArray(choice.value) ? choice.value.length : typeof choice.value === "string" ? 1 : null;
        }
        const head = `${kind}${name ? ` ${name}` : ""}${declarations.length ? `(${declarations.join(", ")})` : ""}`;
        const call = `${alias ? `${alias}: ` : ""}${field.name}${passed.length ? `(${passed.join(", ")})` : ""}`;
        return {
          query: `${head} { ${call} ${selection} }`,
          variables,
          operationName: typeof sendName === "string" ? sendName : sendName && name ? name : undefined,
          field: field.name,
          key: alias || field.name,
          kind,
          urlCount,
        };
      }),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Answers

interface Answer {
  status: number;
  contentType: string;
  text: string;
  body: GraphQLBody<Record<string, unknown>> | null;
}

const FORBIDDEN_CODES = new Set(["INTERNAL_SERVER_ERROR"]);

/** Problems with the errors of one GraphQL result (HTTP body, WebSocket payload). */
function errorProblems(errors: unknown): string[] {
  if (!Array.isArray(errors) || errors.length === 0) return [`errors is not a non-empty list: ${JSON.stringify(errors)?.slice(0, 200)}`];
  const problems: string[] = [];
  for (const error of errors as Array<{ message?: unknown; extensions?: { code?: unknown } }>) {
    const code = error?.extensions?.code;
    const shown = JSON.stringify(error).slice(0, 300);
    if (typeof code !== "string" || code === "") problems.push(`an error without extensions.code: ${shown}`);
    else if (FORBIDDEN_CODES.has(code) || error.message === "Unexpected error.") problems.push(`an unexpected (masked) error: ${shown}`);
    if (typeof error?.message !== "string") problems.push(`an error without a message: ${shown}`);
    else if (/\n\s+at /.test(error.message)) problems.push(`a stack trace in a message: ${shown}`);
  }
  return problems;
}

/** Problems with one GraphQL result: coded errors, or data shaped as the query selects (if the query is known). */
function resultProblems(schema: GraphQLSchema, result: unknown, op?: { query: string; operationName?: string }): string[] {
  if (typeof result !== "object" || result === null || Array.isArray(result)) return [`not a result object: ${JSON.stringify(result)?.slice(0, 200)}`];
  const { data, errors } = result as { data?: unknown; errors?: unknown };
  const problems = errors === undefined ? [] : errorProblems(errors);
  if (errors === undefined && (data === undefined || data === null)) problems.push("neither data nor errors");
  if (data !== undefined && data !== null && op) problems.push(...shapeProblems(schema, op.query, op.operationName, data, errors !== undefined));
  return problems;
}

// ---------------------------------------------------------------------------------------------------------

let schema: GraphQLSchema;
let site: FixtureSite;
let held: InProcessApp;
let heldUrl: string;
let holdTaskId: string;
/** Uncaught exceptions, unhandled rejections and listener-leak warnings in this process (the server runs in it). */
const faults: unknown[] = [];
const onFault = (error: unknown) => faults.push(error);
// graphql-ws reports an exception thrown while it handles a client's message on console.error (and closes
// the socket with 4500, which a client closing at the same moment never sees): each one is a server fault.
// Not counted: its reports of WebSocket frames that break the protocol (RangeError from ws), and of a
// well-formed message of a server-to-client type ("next", "error", "connection_ack") sent by a client, which
// graphql-ws 6 itself treats as an internal error (close 4500) rather than a bad message (4400).
const internalErrors: string[] = [];
const CLIENT_FAULT = /Invalid WebSocket frame|Max payload size exceeded|Unexpected message of type (next|error|connection_ack) received/;
const consoleError = console.error;
function watchConsoleError(...args: unknown[]) {
  const text = args.map((a) => (a instanceof Error ? `${a.name}: ${a.message}` : String(a))).join(" ");
  if (/Internal error/.test(text)) {
    if (CLIENT_FAULT.test(text)) return tally("graphql-ws console.error (client faults, not shown)", text.replace(/.*(RangeError|Error): /, ""));
    internalErrors.push(text);
  }
  consoleError(...args);
}
// A wait listens to its request's (or socket's) abort signal: many at once must not look like a leak.
const onWarning = (warning: Error) => {
  if (warning.name === "MaxListenersExceededWarning") faults.push(warning);
};

beforeAll(async () => {
  process.on("uncaughtException", onFault);
  process.on("unhandledRejection", onFault);
  process.on("warning", onWarning);
  console.error = watchConsoleError;
  schema = committedSchema();
  site = await startFixtureSite();
  held = await startInProcessApp({
    CRAWLQ_ALLOW_PRIVATE: "0",
    CRAWLQ_ALLOW_LIST: HOLD_HOST,
    CRAWLQ_RESOLVE: RESOLVE,
    CRAWLQ_THREADS: "1",
    CRAWLQ_CONCURRENCY_PER_THREAD: "1",
    CRAWLQ_MAX_IN_FLIGHT: "1",
    CRAWLQ_TASK_TIMEOUT_MS: "600000",
    CRAWLQ_SHUTDOWN_GRACE_MS: "0",
    CRAWLQ_MAX_RETRIES: "0",
    // Every wait a fuzzed call can ask for is short.
    CRAWLQ_DEFAULT_WAIT_MS: "20",
    CRAWLQ_MAX_WAIT_MS: "100",
  });
  const hold = await held.graphql<{ submitCrawl: { tasks: Array<{ id: string }> } }>(
    `mutation($u: [String!]!) { submitCrawl(urls: $u) { tasks { id } } }`,
    { u: [`http://${HOLD_HOST}:${site.port}/hang?hold`] },
  );
  holdTaskId = hold.data!.submitCrawl.tasks[0]!.id;
  // From here on the pool's only slot is taken: nothing submitted later is handed to the pool.
  await site.waitForRequests("/hang?hold", 1);
  heldUrl = await held.listen();
});

afterAll(async () => {
  process.off("uncaughtException", onFault);
  process.off("unhandledRejection", onFault);
  process.off("warning", onWarning);
  console.error = consoleError;
  if (process.env.FUZZ_STATS) for (const [property, counts] of stats) console.log(property, Object.fromEntries([...counts].sort((a, b) => b[1] - a[1])));
  // The app first: while it runs, the held page must stay held (closing the site would free the slot).
  await held?.close();
  await site?.close();
  expect(faults).toEqual([]);
  expect(internalErrors).toEqual([]);
});

async function taskCount(app: InProcessApp): Promise<number> {
  return Object.values(await app.store.countByStatus(ALL_TASKS)).reduce((a, b) => a + b, 0);
}

/** Resolves once `condition` holds, checked every few ms (bounded); for server state that has no event. */
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** After every run: no crash, no wait or subscription left, and the app still answers. */
async function stillServing(app: InProcessApp): Promise<void> {
  // Taken out, so that a failing run's faults are not blamed on the runs fast-check tries after it.
  expect(faults.splice(0)).toEqual([]);
  expect(internalErrors.splice(0)).toEqual([]);
  await until(() => app.bus.subscriptionCount() === 0 && app.service.openFeeds === 0, "every wait and subscription to end");
  const { data, errors } = await app.graphql("{ pool { threads } }");
  expect(errors).toBeUndefined();
  expect(data).toEqual({ pool: { threads: 1 } });
}

async function post(app: InProcessApp, body: string | Uint8Array, headers: Record<string, string> = {}, method = "POST", query = ""): Promise<Answer> {
  const response = await app.yoga.fetch(`http://crawlq.test/graphql${query}`, {
    method,
    headers: { "content-type": "application/json", accept: "application/graphql-response+json, application/json", ...headers },
    body: method === "GET" || method === "HEAD" ? undefined : (body as string), // bytes are a body too
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  let parsed: Answer["body"] = null;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: response.status, contentType: response.headers.get("content-type") ?? "", text, body: parsed };
}

const postOp = (app: InProcessApp, op: { query: string; variables?: unknown; operationName?: string }) =>
  post(app, JSON.stringify({ query: op.query, variables: op.variables, operationName: op.operationName }));

function expectAnswer(answer: Answer, op?: { query: string; operationName?: string }): void {
  const problems = answer.status >= 500 ? [`HTTP ${answer.status}`] : [];
  if (answer.body === null) problems.push(`no JSON body (HTTP ${answer.status}): ${answer.text.slice(0, 200)}`);
  else problems.push(...resultProblems(schema, answer.body, op));
  expect(problems, `${JSON.stringify(op)?.slice(0, 500)}\n→ HTTP ${answer.status} ${answer.text.slice(0, 500)}`).toEqual([]);
}

// ---------------------------------------------------------------------------------------------------------

describe("HTTP (yoga.fetch), the pool held busy: nothing submitted here is ever fetched", () => {
  const SUBMIT_VARS = `mutation Submit($urls: [String!]!, $options: CrawlOptions) {
    submitCrawl(urls: $urls, options: $options) { id tasks { id url status submissionId } }
  }`;

  /** What the service must answer for a submitCrawl with these variables: stored (how many) or refused. */
  function expectedSubmit(urls: unknown, options: unknown): { stored: number; invalid: number[] | null } | null {
    const list = Array.isArray(urls) ? urls : [urls];
    if (urls === null || list.some((u) => typeof u !== "string")) return null; // not a [String!]!
    if (options !== undefined && options !== null) {
      if (typeof options !== "object" || Array.isArray(options)) return null;
      const known = ["maxRetries", "perHostConcurrency", "hostDelayMs", "respectRobots"];
      const o = options as Record<string, unknown>;
      if (Object.keys(o).some((k) => !known.includes(k))) return null;
      for (const k of ["maxRetries", "perHostConcurrency", "hostDelayMs"]) {
        const v = o[k];
        if (v !== null && v !== undefined && !(Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < 2 ** 31)) return null;
      }
      if (o.respectRobots !== null && o.respectRobots !== undefined && typeof o.respectRobots !== "boolean") return null;
    }
    const { limits, politeness } = held.config;
    const strings = list as string[];
    if (strings.length === 0 || strings.length > limits.maxUrlsPerSubmission) return null;
    const invalid = strings.flatMap((u, i) => (acceptable(u, limits.maxUrlLength) ? [] : [i]));
    if (invalid.length > 0) return { stored: 0, invalid };
    const o = (options ?? {}) as Record<string, number | boolean | null | undefined>;
    const within = (v: unknown, min: number, max: number) => v === null || v === undefined || ((v as number) >= min && (v as number) <= max);
    if (
      !within(o.maxRetries, 0, limits.maxRetriesCeiling) ||
      !within(o.perHostConcurrency, 1, politeness.perHostConcurrency) ||
      !within(o.hostDelayMs, 0, limits.maxHostDelayMs)
    ) {
      return null;
    }
    if (o.respectRobots === false && politeness.respectRobots && !politeness.allowRobotsOverride) return null;
    return { stored: strings.length, invalid: null };
  }

  // Fails if a submission stored some of its URLs (the count would move by neither 0 nor its size), if the
  // service took or refused a call against its documented rules, if an error came without a code (e.g. a
  // variable of the wrong JSON type), or if a fuzzed task left PENDING (it would have been handed to the pool).
  it("submitCrawl: stored whole (normalized, in order, PENDING) or refused whole with BAD_USER_INPUT naming every bad index", async () => {
    const urls = fc.oneof(
      { weight: 4, arbitrary: fc.array(thisMachineUrl, { minLength: 1, maxLength: 25 }) },
      { weight: 4, arbitrary: fc.array(hostileString, { maxLength: 25 }) },
      { weight: 1, arbitrary: hostileString },
      { weight: 1, arbitrary: anyJson },
    );
    const options = fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      {
        weight: 3,
        arbitrary: fc.record(
          {
            maxRetries: fc.option(fc.integer({ min: 0, max: 20 })),
            perHostConcurrency: fc.option(fc.integer({ min: 1, max: 4 })),
            hostDelayMs: fc.option(fc.integer({ min: 0, max: 3_600_000 })),
            respectRobots: fc.option(fc.constant(true)),
          },
          { requiredKeys: [] },
        ),
      },
      { weight: 3, arbitrary: valueFor(schema.getType("CrawlOptions") as GraphQLInputType, "options") },
    );
    await fc.assert(
      fc.asyncProperty(urls, options, async (urlsValue, optionsValue) => {
        const before = await taskCount(held);
        const answer = await postOp(held, { query: SUBMIT_VARS, variables: { urls: urlsValue, options: optionsValue } });
        const stored = (await taskCount(held)) - before;
        tally("submitCrawl", outcomeOf(answer.body));
        expectAnswer(answer, { query: SUBMIT_VARS });
        const expected = expectedSubmit(urlsValue, optionsValue);
        const submission = answer.body?.data?.submitCrawl as { tasks: Array<{ url: string; status: string }> } | undefined;
        if (expected !== null && expected.invalid === null) {
          expect(answer.body?.errors).toBeUndefined();
          const list = (Array.isArray(urlsValue) ? urlsValue : [urlsValue]) as string[];
          expect(submission!.tasks.map((t) => t.url)).toEqual(list.map((u) => new URL(u).href));
          expect(new Set(submission!.tasks.map((t) => t.status))).toEqual(new Set(["PENDING"]));
          expect(stored).toBe(list.length);
        } else {
          expect(answer.body?.data ?? null).toBeNull();
          expect(new Set(answer.body?.errors?.map((e) => e.extensions?.code))).toEqual(new Set(["BAD_USER_INPUT"]));
          if (expected?.invalid) expect(answer.body!.errors![0]!.extensions!.invalid.map((e: { index: number }) => e.index)).toEqual(expected.invalid);
          expect(stored).toBe(0);
        }
        await stillServing(held);
      }),
      runs(100),
    );
  });

  // Fails if a submission or an id list at or past a limit is cut, partly stored or answered with an
  // uncoded/unexpected error.
  it("thousands: submissions and id lists around their limits (10,000 by default)", async () => {
    const { maxUrlsPerSubmission: max, maxBatchIds } = held.config.limits;
    const sizes = fc.oneof(fc.constantFrom(max - 1, max, max + 1), fc.integer({ min: Math.min(1_000, max), max: max + 1 }));
    await fc.assert(
      fc.asyncProperty(sizes, fc.oneof(fc.constant(undefined), fc.nat()), fc.nat(), fc.array(idLike, { maxLength: 5 }), async (n, badAt, seed, junkIds) => {
        const urls = Array.from({ length: n }, (_, i) => `http://fuzz.test/${seed}/${i}`);
        if (badAt !== undefined) urls[badAt % n] = "not a url";
        const before = await taskCount(held);
        const query = `mutation($urls: [String!]!) { submitCrawl(urls: $urls) { id tasks { id } } }`;
        const answer = await postOp(held, { query, variables: { urls } });
        const stored = (await taskCount(held)) - before;
        tally("thousands", `${n > max ? "over" : "within"} ${badAt === undefined ? "" : "one bad "}→ ${outcomeOf(answer.body)}`);
        expectAnswer(answer, { query });
        if (n <= max && badAt === undefined) {
          expect((answer.body!.data!.submitCrawl as { tasks: unknown[] }).tasks).toHaveLength(n);
          expect(stored).toBe(n);
        } else {
          expect(answer.body!.errors![0]!.extensions!.code).toBe("BAD_USER_INPUT");
          expect(stored).toBe(0);
        }

        const ids = [...Array.from({ length: n }, (_, i) => String(i + 1)), ...junkIds];
        const batchQuery = `query($ids: [ID!]) { batch(ids: $ids, timeoutMs: 0) { done notDone complete tasks { id } } }`;
        const batch = await postOp(held, { query: batchQuery, variables: { ids } });
        tally("thousands", `batch of ${ids.length > maxBatchIds ? "over" : "within"} → ${outcomeOf(batch.body)}`);
        expectAnswer(batch, { query: batchQuery });
        if (ids.length > maxBatchIds) expect(new Set(batch.body!.errors!.map((e) => e.extensions?.code))).toEqual(new Set(["BAD_USER_INPUT"]));
        await stillServing(held);
      }),
      runs(6),
    );
  });

  // Fails on any uncoded or masked error, any data not shaped as selected, a store change by a call that must
  // not store (or a partial one), or a wait left open.
  it("every root field, with random, wrong-typed, missing and inline arguments", async () => {
    await fc.assert(
      fc.asyncProperty(operationOn(schema, ["query", "mutation"]), async (op) => {
        const before = await taskCount(held);
        const answer = await postOp(held, op);
        const stored = (await taskCount(held)) - before;
        tally("fields", `${op.field}: ${outcomeOf(answer.body)}`);
        expectAnswer(answer, op);
        const data = answer.body?.data as Record<string, unknown> | null | undefined;
        const codes = (answer.body?.errors ?? []).map((e) => e.extensions?.code);
        const answered = data !== null && data !== undefined && data[op.key] !== null && data[op.key] !== undefined;
        if (op.field === "submitCrawl") {
          if (answered) {
            expect(stored).toBeGreaterThan(0);
            if (op.urlCount !== null) expect(stored).toBe(op.urlCount);
          } else expect(stored).toBe(0);
        } else if (op.field === "crawl") {
          // crawl stores its task, then waits (at most 100 ms here) for a result that cannot come: TIMEOUT.
          expect(stored).toBe(answered || codes.includes("TIMEOUT") ? 1 : 0);
        } else {
          expect(stored).toBe(0);
        }
        await stillServing(held);
      }),
      runs(200),
    );
  });

  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const nestList = (d: number, leaf: unknown): unknown => (d === 0 ? leaf : [nestList(d - 1, leaf)]);
  const nestObject = (d: number): unknown => (d === 0 ? 1 : { maxRetries: nestObject(d - 1) });
  const deepOrWide = fc.oneof(
    fc.integer({ min: 1, max: 1_500 }).map((d) => ({ query: `{ ${"... on Query { ".repeat(d)}pool { threads }${" }".repeat(d)} }` })),
    fc.integer({ min: 1, max: 1_500 }).map((d) => ({ query: `{ ${"...{ ".repeat(d)}__typename${" }".repeat(d)} }` })),
    fc.integer({ min: 1, max: 1_000 }).map((d) => ({
      query: `mutation { submitCrawl(urls: ${"[".repeat(d)}"http://fuzz.test/"${"]".repeat(d)}) { id } }`,
    })),
    fc.integer({ min: 1, max: 1_000 }).map((d) => ({
      query: `mutation { submitCrawl(urls: ["http://fuzz.test/"], options: ${"{maxRetries: ".repeat(d)}1${"}".repeat(d)}) { id } }`,
    })),
    fc.integer({ min: 1, max: 1_500 }).map((d) => ({
      query: `mutation($u: [String!]!) { submitCrawl(urls: $u) { id } }`,
      variables: { u: nestList(d, "http://fuzz.test/") },
    })),
    fc.integer({ min: 1, max: 1_500 }).map((d) => ({
      query: `mutation($o: CrawlOptions) { submitCrawl(urls: ["http://fuzz.test/"], options: $o) { id } }`,
      variables: { o: nestObject(d) },
    })),
    fc.integer({ min: 1, max: 3_000 }).map((n) => ({ query: `{ ${range(n).map((i) => `a${i}: __typename`).join(" ")} }` })),
    fc.integer({ min: 1, max: 200 }).map((n) => ({ query: `{ ${range(n).map((i) => `p${i}: pool { threads pending }`).join(" ")} }` })),
    fc.integer({ min: 1, max: 1_000 }).map((n) => ({ query: `{ ${range(n).map((i) => `t${i}: task(id: "${i + 1}") { id status url }`).join(" ")} }` })),
    fc.integer({ min: 1, max: 200 }).map((n) => ({ query: `{ ${range(n).map((i) => `r${i}: result(id: "${i + 1}", timeoutMs: 0) { id }`).join(" ")} }` })),
    fc.integer({ min: 1, max: 500 }).map((n) => ({ query: `{ ${range(n).map(() => `pool { threads }`).join(" ")} }` })),
    fc.tuple(fc.integer({ min: 1, max: 500 }), fc.nat()).map(([n, pick]) => ({
      query: range(n).map((i) => `query Q${i} { pool { threads } }`).join("\n"),
      operationName: `Q${pick % (n + 1)}`,
    })),
    fc.integer({ min: 1, max: 500 }).map((n) => ({
      query: `{ ...F0 } ${range(n).map((i) => `fragment F${i} on Query { ${i + 1 < n ? `...F${i + 1}` : "pool { threads }"} }`).join(" ")}`,
    })),
    fc.integer({ min: 1, max: 200 }).map((n) => ({
      query: `{ ...F0 } ${range(n).map((i) => `fragment F${i} on Query { ...F${(i + 1) % n} }`).join(" ")}`,
    })),
    fc.integer({ min: 1_000, max: 100_000 }).map((n) => ({ query: `{ ${"a".repeat(n)} }` })),
    fc.integer({ min: 1, max: 1_000 }).map((n) => ({ query: `query(${range(n).map((i) => `$v${i}: Int`).join(", ")}) { pool { threads } }` })),
    fc.integer({ min: 1, max: 2_000 }).map((n) => ({ query: `{ pool { threads } }`, variables: Object.fromEntries(range(n).map((i) => [`v${i}`, i])) })),
    fc.integer({ min: 1, max: 1_000 }).map((n) => ({ query: `{ pool { threads } }${" ".repeat(n)}${"#".repeat(n)}` })),
    fc.integer({ min: 1, max: 500 }).map((n) => ({ query: `{ tasks(first: 1) { id ${"url ".repeat(n)} } }` })),
  );

  // Fails on a masked error (e.g. a stack overflow while parsing or validating), an uncoded error, a data shape
  // that does not match, or an app that stops answering.
  it("deep and wide documents and variables", async () => {
    await fc.assert(
      fc.asyncProperty(deepOrWide, async (op: { query: string; variables?: unknown; operationName?: string }) => {
        const before = await taskCount(held);
        const answer = await postOp(held, op);
        tally("deep and wide", outcomeOf(answer.body));
        expectAnswer(answer, op);
        const stored = (await taskCount(held)) - before;
        expect(stored).toBe(answer.body?.data?.submitCrawl ? 1 : 0);
        await stillServing(held);
      }),
      runs(40),
    );
  });

  const tooDeep = `{ ${"... on Query { ".repeat(20_000)}pool { threads }${" }".repeat(20_000)} }`;

  it("a document nested 20,000 deep does not take the server down", async () => {
    const answer = await postOp(held, { query: tooDeep });
    expect(answer.status).toBeGreaterThan(0);
    await stillServing(held);
  });

  // graphql-js parses recursively, so a document nested ~2,000 deep would overflow the stack while it is parsed;
  // the token limit (graphql-armor) refuses it first.
  it("a document nested 20,000 deep is refused with a coded client error, not a masked 500", async () => {
    expectAnswer(await postOp(held, { query: tooDeep }));
  });

  const contentTypes = fc.constantFrom(
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=utf-16",
    "application/json; charset=x-nope",
    "application/graphql-response+json",
    "application/graphql",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=XyZ",
    "multipart/form-data",
    "application/octet-stream",
    "",
  );
  const accepts = fc.constantFrom(
    "application/graphql-response+json, application/json",
    "application/json",
    "application/graphql-response+json",
    "*/*",
    "text/event-stream",
    "multipart/mixed",
    "text/html",
    "application/xml",
    "",
  );
  const multipart = fc
    .tuple(fc.oneof(anyJson.map((v) => JSON.stringify(v)), fc.string()), fc.oneof(anyJson.map((v) => JSON.stringify(v)), fc.string()), fc.uint8Array({ maxLength: 100 }))
    .map(
      ([operations, map, file]) =>
        `--XyZ\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${operations}\r\n` +
        `--XyZ\r\nContent-Disposition: form-data; name="map"\r\n\r\n${map}\r\n` +
        `--XyZ\r\nContent-Disposition: form-data; name="0"; filename="f"\r\nContent-Type: application/octet-stream\r\n\r\n${Buffer.from(file).toString("latin1")}\r\n--XyZ--\r\n`,
    );
  const bodies = fc.oneof(
    fc.uint8Array({ maxLength: 2_000 }),
    anyJson.map((v) => JSON.stringify(v)),
    fc.string({ unit: "binary", maxLength: 200 }),
    fc
      .record(
        {
          query: fc.oneof(fc.string(), anyJson, fc.constantFrom("{ pool { threads } }", "mutation { submitCrawl(urls: []) { id } }", "{ __schema { types { name } } }")),
          variables: anyJson,
          operationName: anyJson,
          extensions: anyJson,
        },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v)),
    multipart,
  );

  // Fails on a 5xx, a masked or uncoded error in any JSON or event-stream answer, or a response that never ends.
  it("random bodies, methods, content types, accept headers and query strings", async () => {
    const ops = operationOn(schema, ["query", "mutation"]);
    const request = fc.record({
      method: fc.constantFrom("POST", "POST", "POST", "GET", "PUT", "PATCH", "DELETE", "OPTIONS"),
      contentType: contentTypes,
      accept: accepts,
      body: fc.oneof({ weight: 4, arbitrary: bodies }, { weight: 2, arbitrary: ops.map((op) => JSON.stringify(op)) }),
      search: fc.oneof(
        { weight: 2, arbitrary: fc.constant("") },
        { weight: 1, arbitrary: ops.map((op) => `?${new URLSearchParams({ query: op.query, variables: JSON.stringify(op.variables) })}`) },
        { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom("query", "variables", "operationName", "extensions", "x"), fc.string()), { maxLength: 4 }).map((p) => `?${new URLSearchParams(p)}`) },
      ),
    });
    await fc.assert(
      fc.asyncProperty(request, async ({ method, contentType, accept, body, search }) => {
        const before = await taskCount(held);
        const headers: Record<string, string> = { "content-type": contentType, accept };
        const answer = await post(held, body, headers, method, search);
        tally("http", `${answer.status} ${answer.body ? outcomeOf(answer.body) : ""}`);
        const problems = answer.status >= 500 ? [`HTTP ${answer.status}`] : [];
        if (/INTERNAL_SERVER_ERROR|Unexpected error\./.test(answer.text)) problems.push("a masked error");
        if (answer.contentType.includes("json") && answer.text !== "") {
          if (answer.body === null) problems.push("a JSON content type with a body that is not JSON");
          else problems.push(...resultProblems(schema, answer.body));
        }
        if (answer.contentType.includes("event-stream")) {
          for (const line of answer.text.split("\n").filter((l) => l.startsWith("data:"))) {
            const payload = line.slice(5).trim();
            if (payload !== "") problems.push(...resultProblems(schema, JSON.parse(payload)));
          }
        }
        expect(problems, `${method} ${search.slice(0, 200)} ${contentType} / ${accept}: ${String(body).slice(0, 300)}\n→ ${answer.status} ${answer.text.slice(0, 300)}`).toEqual([]);
        // Only a mutation can store, and only whole (a submission here carries at most 8 URLs).
        expect((await taskCount(held)) - before).toBeLessThanOrEqual(8);
        await stillServing(held);
      }),
      runs(80),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("WebSocket (real socket), the pool held busy", () => {
  /** A fresh graphql-ws connection still gets `{ pool { threads } }` answered. */
  async function answersOverWebSocket(): Promise<void> {
    const client = createClient({ url: heldUrl.replace(/^http/, "ws"), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true });
    try {
      const result = await new Promise<unknown>((resolve, reject) => {
        let value: unknown;
        client.subscribe({ query: "{ pool { threads } }" }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
      });
      expect(result).toEqual({ data: { pool: { threads: 1 } } });
    } finally {
      await client.dispose();
    }
  }

  const ALLOWED_CLOSE_CODES = new Set([1000, 1001, 1002, 1005, 1006, 1007, 1009, 4400, 4401, 4403, 4406, 4408, 4409, 4429]);
  const SERVER_MESSAGE_TYPES = new Set(["connection_ack", "next", "error", "complete", "ping", "pong"]);

  const wsId = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom<unknown>("1", "2", "3") },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(1, null, "", "x".repeat(10_000), { id: 1 }) },
  );

  // Fails if a message makes the server throw (graphql-ws logs it and closes with 4500), if an error goes out
  // uncoded or masked, if a result's data is not shaped as its query, if the server sends something that is not
  // a graphql-transport-ws message, closes with an unexpected code, or keeps a subscription or wait of the
  // closed socket alive, or if a new connection is no longer served.
  it("random frames, random JSON and hostile graphql-ws messages (graphql-transport-ws)", async () => {
    const ops = operationOn(schema, ["query", "mutation", "subscription"]);
    const message = fc.oneof(
      { weight: 2, arbitrary: fc.record({ type: fc.constantFrom("connection_init", "ping", "pong"), payload: fc.option(anyJson, { nil: undefined }) }) },
      {
        weight: 6,
        arbitrary: fc.record({
          id: wsId,
          type: fc.constant("subscribe"),
          payload: fc.oneof(
            { weight: 6, arbitrary: ops.map(({ query, variables, operationName }) => ({ query, variables, operationName })) },
            { weight: 1, arbitrary: anyJson },
            { weight: 1, arbitrary: fc.record({ query: fc.string(), variables: anyJson }, { requiredKeys: [] }) },
          ),
        }),
      },
      { weight: 2, arbitrary: fc.record({ id: wsId, type: fc.constant("complete") }) },
      {
        weight: 1,
        arbitrary: fc.record(
          {
            type: fc.oneof(fc.constantFrom<unknown>("next", "error", "connection_ack", "start", "stop", "connection_terminate", "ka", 1, null), fc.string()),
            id: wsId,
            payload: anyJson,
          },
          { requiredKeys: ["type"] },
        ),
      },
    );
    const frame = fc.oneof(
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ binary: true, data: Buffer.from(b) as Buffer | string })) },
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map((s) => ({ binary: false, data: s as Buffer | string })) },
      { weight: 1, arbitrary: anyJson.map((v) => ({ binary: false, data: JSON.stringify(v) as Buffer | string })) },
      { weight: 6, arbitrary: message.map((m) => ({ binary: false, data: JSON.stringify(m) as Buffer | string })) },
    );
    // Mostly well-formed operations (so that they run), with at most one hostile frame among them.
    // Subscribe ids are the step's index, except when a step deliberately reuses an earlier one (4409).
    const step = fc.oneof(
      {
        weight: 8,
        arbitrary: fc
          .tuple(fc.oneof({ weight: 12, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(7) }), ops)
          .map(([reuse, { query, variables, operationName }]) => (index: number) => ({
            id: String(reuse >= 0 && reuse < index ? reuse : index),
            type: "subscribe",
            payload: { query, variables, operationName },
          })),
      },
      { weight: 2, arbitrary: fc.nat(9).map((id) => () => ({ id: String(id), type: "complete" })) },
      { weight: 1, arbitrary: fc.constantFrom<object>({ type: "ping" }, { type: "pong" }, { type: "ping", payload: { a: 1 } }).map((m) => () => m) },
    );
    const session = fc.record({
      protocol: fc.oneof(
        { weight: 8, arbitrary: fc.constant<string | string[] | undefined>("graphql-transport-ws") },
        { weight: 1, arbitrary: fc.constantFrom<string | string[] | undefined>(undefined, "graphql-ws", "nope", ["graphql-transport-ws", "graphql-ws"]) },
      ),
      init: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      initPayload: fc.oneof(
        { weight: 4, arbitrary: fc.constant(undefined) },
        { weight: 2, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 3 }) },
        { weight: 1, arbitrary: anyJson },
      ),
      steps: fc
        .array(step, { maxLength: 8 })
        .map((made) => made.map((m, index) => ({ binary: false, data: JSON.stringify(m(index)) as Buffer | string }))),
      hostile: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.tuple(frame, fc.nat()) }),
      end: fc.constantFrom("close", "terminate"),
    });

    await fc.assert(
      fc.asyncProperty(session, async ({ protocol, init, initPayload, steps, hostile, end }) => {
        const frames = [...steps];
        if (hostile) frames.splice(hostile[1] % (frames.length + 1), 0, hostile[0]);
        const socket = new WebSocket(heldUrl.replace(/^http/, "ws"), protocol);
        const received: Array<{ data: string; binary: boolean }> = [];
        const clientErrors: Error[] = [];
        let closed: { code: number; reason: string } | null = null;
        const onMessage: Array<() => void> = [];
        const wake = () => {
          for (const f of onMessage.splice(0)) f();
        };
        socket.on("message", (data, binary) => {
          received.push({ data: String(data), binary });
          wake();
        });
        socket.on("error", (error) => clientErrors.push(error));
        const closing = new Promise<void>((resolve) =>
          socket.on("close", (code, reason) => {
            closed = { code, reason: String(reason) };
            wake();
            resolve();
          }),
        );
        /** Waits (bounded) for a message of this type, or for the close. */
        const messageOrClose = (type: string) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 3_000);
            const check = () => {
              if (closed || received.some((m) => m.data.includes(`"type":"${type}"`))) {
                clearTimeout(timer);
                resolve();
              } else onMessage.push(check);
            };
            check();
          });
        await new Promise<void>((resolve) => {
          socket.once("open", () => resolve());
          socket.once("close", () => resolve());
        });
        const send = (data: Buffer | string, binary: boolean) => {
          if (socket.readyState === WebSocket.OPEN) socket.send(data, { binary });
        };
        if (init) {
          send(JSON.stringify({ type: "connection_init", payload: initPayload }), false);
          await messageOrClose("connection_ack");
        }
        const queries = new Map<string, string[]>();
        for (const f of frames) {
          if (typeof f.data === "string") {
            try {
              const m = JSON.parse(f.data);
              if (m?.type === "subscribe" && typeof m.id === "string" && typeof m.payload?.query === "string") {
                queries.set(m.id, [...(queries.get(m.id) ?? []), m.payload.query]);
              }
            } catch {
              // not JSON: the server must refuse it
            }
          }
          send(f.data, f.binary);
        }
        // A ping answered means every frame before it was read; a few more turns of the event loop let the
        // server finish what those frames started (it runs in this process), so a fault shows in this run.
        send(JSON.stringify({ type: "ping" }), false);
        await messageOrClose("pong");
        for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
        if (end === "close") socket.close();
        else socket.terminate();
        await closing;

        const problems: string[] = [];
        tally("ws close", String((closed as { code: number } | null)?.code));
        for (const { data, binary } of received) {
          if (binary) problems.push("a binary frame from the server");
          let m: { type?: unknown; id?: unknown; payload?: unknown };
          try {
            m = JSON.parse(data);
          } catch {
            problems.push(`a message that is not JSON: ${data.slice(0, 200)}`);
            continue;
          }
          if (!SERVER_MESSAGE_TYPES.has(String(m.type))) problems.push(`an unknown message type: ${data.slice(0, 200)}`);
          tally("ws messages", m.type === "next" ? `next ${outcomeOf(m.payload as never)}` : String(m.type));
          if (m.type === "error") problems.push(...errorProblems(m.payload));
          if (m.type === "next") {
            const sent = typeof m.id === "string" ? queries.get(m.id) : undefined;
            problems.push(...resultProblems(schema, m.payload, sent?.length === 1 ? { query: sent[0]! } : undefined));
          }
        }
        const code = (closed as { code: number } | null)?.code;
        const sentServerType = frames.some((f) => typeof f.data === "string" && /"type":"(next|error|connection_ack)"/.test(f.data));
        if (code !== undefined && !ALLOWED_CLOSE_CODES.has(code) && !(code === 4500 && sentServerType)) problems.push(`closed with ${code} ${(closed as { reason: string } | null)?.reason}`);
        expect(problems, JSON.stringify({ protocol, init, frames: frames.map((f) => String(f.data).slice(0, 300)), closed, clientErrors: clientErrors.map(String) })).toEqual([]);
        await stillServing(held);
        await answersOverWebSocket();
      }),
      runs(50),
    );
  });

  /** A WebSocket frame as a client would write it (masked unless told otherwise), any opcode and bits. */
  const wsFrame = fc
    .record({
      fin: fc.boolean(),
      rsv: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }) }),
      opcode: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(0, 1, 2, 8, 9, 10) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 15 }) }),
      masked: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
      payload: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v)))),
    })
    .map(({ fin, rsv, opcode, masked, payload }) => {
      const length = payload.length;
      const header = length < 126 ? Buffer.from([0, length]) : Buffer.from([0, 126, length >> 8, length & 0xff]);
      header[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode;
      if (masked) header[1]! |= 0x80;
      const mask = masked ? randomBytes(4) : Buffer.alloc(0);
      const body = Buffer.from(payload.map((b, i) => (masked ? b ^ mask[i % 4]! : b)));
      return Buffer.concat([header, mask, body]);
    });

  // Fails if bytes on the wire crash the process (the ws frame parser and Node's HTTP parser run in it), get a
  // 5xx, or leave the server unable to serve HTTP or WebSocket clients afterwards.
  it("random bytes on the raw TCP connection: instead of HTTP, in the upgrade request, and as WebSocket frames", async () => {
    const { port } = new URL(heldUrl);
    const upgrade = (headers: Record<string, string>) =>
      `GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("") +
      "\r\n";
    const validUpgrade = { "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": randomBytes(16).toString("base64"), "Sec-WebSocket-Protocol": "graphql-transport-ws" };
    const script = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 2_000 }).map((b) => ({ kind: "not-http", first: Buffer.from(b), then: [] as Buffer[] })),
      fc
        .record({
          version: fc.constantFrom("13", "8", "", "x"),
          key: fc.oneof(fc.constant(validUpgrade["Sec-WebSocket-Key"]), fc.stringMatching(/^[A-Za-z0-9+/=]{0,30}$/)),
          protocol: fc.constantFrom("graphql-transport-ws", "graphql-ws", "", "a, b, c"),
          extensions: fc.constantFrom("", "permessage-deflate", "permessage-deflate; client_max_window_bits=99", "x-nope"),
        })
        .map((h) => ({
          kind: "odd-upgrade",
          first: Buffer.from(
            upgrade({
              "Sec-WebSocket-Version": h.version,
              "Sec-WebSocket-Key": h.key,
              "Sec-WebSocket-Protocol": h.protocol,
              "Sec-WebSocket-Extensions": h.extensions,
            }),
          ),
          then: [] as Buffer[],
        })),
      fc
        .array(fc.oneof({ weight: 3, arbitrary: wsFrame }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)) }), {
          minLength: 1,
          maxLength: 6,
        })
        .map((then) => ({ kind: "after-upgrade", first: Buffer.from(upgrade(validUpgrade)), then })),
    );
    await fc.assert(
      fc.asyncProperty(script, async ({ first, then }) => {
        const socket = connect(Number(port), "127.0.0.1");
        socket.on("error", () => {});
        let response = "";
        const upgraded = new Promise<boolean>((resolve) => {
          socket.on("data", (chunk) => {
            response += chunk.toString("latin1");
            if (response.includes("\r\n\r\n")) resolve(response.startsWith("HTTP/1.1 101"));
          });
          socket.on("close", () => resolve(false));
        });
        const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
        await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
        socket.write(first);
        if (then.length > 0 && (await upgraded)) for (const bytes of then) if (!socket.destroyed) socket.write(bytes);
        socket.end();
        // The server ends the connection once it has read our end (or refused what came before it).
        const timer = setTimeout(() => socket.destroy(), 5_000);
        await closed;
        clearTimeout(timer);
        expect(response.startsWith("HTTP/1.1 5"), response.slice(0, 200)).toBe(false);
        await stillServing(held);
        await answersOverWebSocket();
        const over = await fetch(heldUrl, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ pool { threads } }" }) });
        expect(await over.json()).toEqual({ data: { pool: { threads: 1 } } });
      }),
      runs(30),
    );
  });

  // The safety net held: every fuzzed task is still PENDING, only the held page runs. Fails if the held slot
  // was ever freed (a fuzzed task would then have been claimed and would be RUNNING or done).
  it("no fuzzed task was ever handed to the pool", async () => {
    const counts = await held.store.countByStatus(ALL_TASKS);
    expect(counts.RUNNING).toBe(1);
    expect(counts.SUCCEEDED + counts.FAILED).toBe(0);
    const { data } = await held.graphql(`query($id: ID!) { task(id: $id) { status } }`, { id: holdTaskId });
    expect(data).toEqual({ task: { status: "RUNNING" } });
  });
});

// ---------------------------------------------------------------------------------------------------------

describe("hostile URLs naming this machine, through the live pool (CRAWLQ_ALLOW_PRIVATE=0)", () => {
  let live: InProcessApp;

  beforeAll(async () => {
    live = await startInProcessApp({
      CRAWLQ_ALLOW_PRIVATE: "0",
      CRAWLQ_RESOLVE: RESOLVE,
      CRAWLQ_THREADS: "1",
      CRAWLQ_MAX_RETRIES: "0",
      CRAWLQ_SHUTDOWN_GRACE_MS: "0",
      CRAWLQ_TASK_TIMEOUT_MS: "5000",
      CRAWLQ_CONNECT_TIMEOUT_MS: "1000",
    });
  });

  afterAll(async () => {
    await live?.close();
  });

  // Fails if a URL is stored other than as its WHATWG normalization, if any spelling of a loopback address or
  // a name resolving to one gets past the guard (the task would end CONNECT/HTTP_STATUS, or count an attempt),
  // or if a hostile URL makes a pool thread or the app fail.
  it("each is stored normalized and ends FAILED with BLOCKED_ADDRESS, with no request made", async () => {
    const options = fc.record(
      {
        maxRetries: fc.integer({ min: 0, max: 3 }),
        perHostConcurrency: fc.integer({ min: 1, max: 4 }),
        hostDelayMs: fc.integer({ min: 0, max: 5 }),
        respectRobots: fc.constant(true),
      },
      { requiredKeys: [] },
    );
    const SUBMIT = `mutation($urls: [String!]!, $options: CrawlOptions) { submitCrawl(urls: $urls, options: $options) { id tasks { url } } }`;
    const COLLECT = `query($sid: ID!) { batch(submissionId: $sid, timeoutMs: 10000) { complete tasks { url status attempts error { code message } } } }`;
    await fc.assert(
      fc.asyncProperty(fc.array(thisMachineUrl, { minLength: 1, maxLength: 6 }), options, async (urls, opts) => {
        assertThisMachineOnly(urls);
        const submitted = await postOp(live, { query: SUBMIT, variables: { urls, options: opts } });
        expectAnswer(submitted, { query: SUBMIT });
        const submission = submitted.body!.data!.submitCrawl as { id: string; tasks: Array<{ url: string }> };
        expect(submission.tasks.map((t) => t.url)).toEqual(urls.map((u) => new URL(u).href));
        const collected = await postOp(live, { query: COLLECT, variables: { sid: submission.id } });
        expectAnswer(collected, { query: COLLECT });
        const batch = collected.body!.data!.batch as { complete: boolean; tasks: Array<{ status: string; attempts: number; error: { code: string } | null }> };
        expect(batch.complete).toBe(true);
        for (const task of batch.tasks) expect(task).toMatchObject({ status: "FAILED", attempts: 0, error: { code: "BLOCKED_ADDRESS" } });
        expect(faults.splice(0)).toEqual([]);
        await until(() => live.bus.subscriptionCount() === 0 && live.service.openFeeds === 0, "every wait to end");
      }),
      runs(20),
    );
  });
});
