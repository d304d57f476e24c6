/**
 * Checks that a GraphQL response's `data` has exactly the shape its query asks for: every selected key (by
 * alias) and no other, each value of its field's type (non-null, lists, Int in 32 bits, enums, DateTime as an
 * ISO string). The schema is the committed schema.graphql, built with this process's own graphql module.
 */
import { readFileSync } from "node:fs";
import {
  buildSchema,
  isEnumType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  Kind,
  parse,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from "graphql";

/** The API's schema as committed (test/unit/schema.test.ts keeps it equal to the Pothos one). */
export function committedSchema(): GraphQLSchema {
  return buildSchema(readFileSync(new URL("../../../schema.graphql", import.meta.url), "utf8"));
}

/**
 * Every way `data` departs from the shape `query` selects (empty when it matches). With `partial` (the response
 * also carried errors), a null may stand anywhere an error nulled it and selected keys may be missing.
 */
export function shapeProblems(
  schema: GraphQLSchema,
  query: string | DocumentNode,
  operationName: string | null | undefined,
  data: unknown,
  partial: boolean,
): string[] {
  const document = typeof query === "string" ? parse(query) : query;
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  if (!operation) return [`no operation ${operationName ?? ""} in the document`];
  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((f) => [f.name.value, f]),
  );
  const root =
    operation.operation === "query"
      ? schema.getQueryType()
      : operation.operation === "mutation"
        ? schema.getMutationType()
        : schema.getSubscriptionType();
  if (!root) return [`no root type for ${operation.operation}`];
  const problems: string[] = [];
  checkObject(data, root, [operation.selectionSet], "data", { fragments, partial, problems });
  return problems;
}

interface Walk {
  fragments: Map<string, FragmentDefinitionNode>;
  partial: boolean;
  problems: string[];
}

/** The fields selected on `type`, grouped by response key, through inline fragments and spreads. */
function collectFields(type: GraphQLObjectType, sets: SelectionSetNode[], walk: Walk): Map<string, FieldNode[]> {
  const byKey = new Map<string, FieldNode[]>();
  const visit = (set: SelectionSetNode, seen: Set<string>) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value;
        byKey.set(key, [...(byKey.get(key) ?? []), selection]);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        if (!selection.typeCondition || selection.typeCondition.name.value === type.name) visit(selection.selectionSet, seen);
      } else {
        const fragment = walk.fragments.get(selection.name.value);
        if (fragment && !seen.has(fragment.name.value) && fragment.typeCondition.name.value === type.name) {
          visit(fragment.selectionSet, new Set([...seen, fragment.name.value]));
        }
      }
    }
  };
  for (const set of sets) visit(set, new Set());
  return byKey;
}

function checkObject(value: unknown, type: GraphQLObjectType, sets: SelectionSetNode[], path: string, walk: Walk): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    walk.problems.push(`${path}: expected a ${type.name} object, got ${JSON.stringify(value)?.slice(0, 100)}`);
    return;
  }
  const record = value as Record<string, unknown>;
  const selected = collectFields(type, sets, walk);
  for (const key of Object.keys(record)) if (!selected.has(key)) walk.problems.push(`${path}.${key}: not selected`);
  for (const [key, nodes] of selected) {
    if (!(key in record)) {
      if (!walk.partial) walk.problems.push(`${path}.${key}: missing`);
      continue;
    }
    const name = nodes[0]!.name.value;
    if (name === "__typename") {
      if (record[key] !== type.name) walk.problems.push(`${path}.${key}: __typename ${JSON.stringify(record[key])} is not ${type.name}`);
      continue;
    }
    const field = type.getFields()[name];
    if (!field) {
      walk.problems.push(`${path}.${key}: ${type.name} has no field ${name}`);
      continue;
    }
    const subSets = nodes.map((n) => n.selectionSet).filter((s): s is SelectionSetNode => s !== undefined);
    checkValue(record[key], field.type, subSets, `${path}.${key}`, walk);
  }
}

function checkValue(value: unknown, type: GraphQLOutputType, sets: SelectionSetNode[], path: string, walk: Walk): void {
  if (isNonNullType(type)) {
    if (value === null || value === undefined) {
      if (!walk.partial) walk.problems.push(`${path}: null for non-null ${String(type)}`);
      return;
    }
    return checkValue(value, type.ofType, sets, path, walk);
  }
  if (value === null) return;
  if (isListType(type)) {
    if (!Array.isArray(value)) {
      walk.problems.push(`${path}: expected a list`);
      return;
    }
    value.forEach((item, i) => checkValue(item, type.ofType, sets, `${path}[${i}]`, walk));
    return;
  }
  if (isObjectType(type)) return checkObject(value, type, sets, path, walk);
  if (isEnumType(type)) {
    if (typeof value !== "string" || !type.getValue(value)) walk.problems.push(`${path}: ${JSON.stringify(value)} is not a ${type.name}`);
    return;
  }
  if (isScalarType(type) && !scalarFits(type.name, value)) {
    walk.problems.push(`${path}: ${JSON.stringify(value)?.slice(0, 100)} is not a ${type.name}`);
  }
}

function scalarFits(name: string, value: unknown): boolean {
  switch (name) {
    case "Int":
      return Number.isInteger(value) && (value as number) >= -(2 ** 31) && (value as number) < 2 ** 31;
    case "Float":
      return typeof value === "number" && Number.isFinite(value);
    case "String":
    case "ID":
      return typeof value === "string";
    case "Boolean":
      return typeof value === "boolean";
    case "DateTime":
      return typeof value === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(value) && !Number.isNaN(Date.parse(value));
    default:
      return false;
  }
}
