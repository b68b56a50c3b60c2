#!/usr/bin/env node
// Bundles the operator's console (src/console/console-entry.tsx: React, the graphql-ws
// client, uPlot) into build/console/console.js + console.css with esbuild. Nothing in it
// may reference another host: the build fails if a file does.
import { build } from "esbuild";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "build", "console");
const started = performance.now();
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  absWorkingDir: root,
  entryPoints: { console: "src/console/console-entry.tsx" },
  outdir: out,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2022"],
  platform: "browser",
  jsx: "automatic",
  legalComments: "none",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
});

const forbidden = /(https?:)?\/\/(unpkg\.com|cdn\.jsdelivr|esm\.sh|cdnjs|fonts\.googleapis|fonts\.gstatic)/;
let total = 0;
for (const name of readdirSync(out).sort()) {
  const size = statSync(join(out, name)).size;
  total += size;
  console.log(`  build/console/${name.padEnd(16)} ${(size / 1024).toFixed(1).padStart(8)} KiB`);
  const hit = readFileSync(join(out, name), "utf8").match(forbidden);
  if (hit) throw new Error(`build/console/${name} references an outside host: ${hit[0]}`);
}
console.log(`  total ${(total / 1024).toFixed(1)} KiB, built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
