#!/usr/bin/env node
// Bundles the GraphiQL 5 browser IDE (src/ide/ide-entry.tsx) into build/ide/ with esbuild:
// graphiql.js + graphiql.css, and the three Monaco web workers as separate classic
// scripts. Fonts are inlined as data: URLs; nothing references another host.
import { build } from "esbuild";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build", "ide");
const started = performance.now();
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const common = {
  absWorkingDir: root,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2022"],
  platform: "browser",
  legalComments: "none",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
};

// graphiql/style.css already holds Monaco's CSS, so skip the .css files that
// monaco-editor's ESM modules import one by one (they would double the stylesheet).
const dropMonacoCss = {
  name: "drop-monaco-css",
  setup(b) {
    b.onResolve({ filter: /\.css$/ }, (args) =>
      /[\\/]monaco-editor[\\/]/.test(args.importer) ? { path: args.path, namespace: "empty-css" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "empty-css" }, () => ({ contents: "", loader: "css" }));
  },
};

await Promise.all([
  build({
    ...common,
    entryPoints: { graphiql: "src/ide/ide-entry.tsx" },
    outdir: out,
    jsx: "automatic",
    loader: { ".ttf": "dataurl", ".woff": "dataurl", ".woff2": "dataurl", ".svg": "dataurl", ".png": "dataurl" },
    plugins: [dropMonacoCss],
  }),
  build({
    ...common,
    entryPoints: {
      "editor.worker": "monaco-editor/esm/vs/editor/editor.worker.js",
      "json.worker": "monaco-editor/esm/vs/language/json/json.worker.js",
      "graphql.worker": "monaco-graphql/esm/graphql.worker.js",
    },
    outdir: out,
  }),
]);

// No file may point at another host (CDNs, Google Fonts): fail the build if one does.
const forbidden = /(unpkg\.com|jsdelivr|esm\.sh|cdnjs|fonts\.googleapis|fonts\.gstatic|googleapis\.com)/;
let total = 0;
for (const name of readdirSync(out).sort()) {
  const size = statSync(join(out, name)).size;
  total += size;
  console.log(`  build/ide/${name.padEnd(20)} ${(size / 1024).toFixed(1).padStart(8)} KiB`);
  const hit = readFileSync(join(out, name), "utf8").match(forbidden);
  if (hit) throw new Error(`build/ide/${name} references an outside host: ${hit[0]}`);
}
console.log(`  total ${(total / 1024).toFixed(1)} KiB, built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
