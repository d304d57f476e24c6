import type { CodegenConfig } from "@graphql-codegen/cli";

/**
 * Typed operations for src/client: `npm run codegen` reads the committed schema.graphql and the documents in
 * src/client/operations.ts (offline) and writes src/client/generated/, which is committed too, so a fresh
 * clone builds without running it. test/unit/codegen.test.ts fails when the generated code is stale.
 */
const config: CodegenConfig = {
  schema: "schema.graphql",
  documents: ["src/client/operations.ts"],
  ignoreNoDocuments: false,
  emitLegacyCommonJSImports: false,
  generates: {
    "src/client/generated/": {
      preset: "client",
      presetConfig: { gqlTagName: "graphql", fragmentMasking: false },
      config: {
        // Documents are their query text (TypedDocumentString): sent as is over fetch and graphql-ws, no
        // graphql-js at run time.
        documentMode: "string",
        // Erasable TypeScript: string unions, not enums; `import type` for types.
        enumType: "string-literal",
        useTypeImports: true,
        scalars: { DateTime: "string", ID: "string" },
        strictScalars: true,
      },
    },
  },
};

export default config;
