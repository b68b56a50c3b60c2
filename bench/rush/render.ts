// Renders the Markdown, the chart and (with --publish) the BENCHMARKS.md block
// again from a saved run, e.g. after a change to the report's format:
//   node dist/bench/rush/render.js [bench/results/rush-latest.json] [--publish]
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { renderChart } from "./chart";
import { renderReport } from "./report";
import { updateBenchmarksMd } from "./benchmarks-md";

const ROOT = resolve(__dirname, "../../..");
const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith("--")) ?? join(ROOT, "bench/results/rush-latest.json");
const out = JSON.parse(readFileSync(file, "utf8"));
const md = renderReport(out);
const svg = renderChart(out.topologies, out.options);
const base = file.replace(/\.json$/, "");
writeFileSync(`${base}.md`, md);
writeFileSync(`${base}.svg`, svg);
if (args.includes("--publish")) {
  writeFileSync(join(ROOT, "docs/rush.svg"), svg);
  updateBenchmarksMd(join(ROOT, "BENCHMARKS.md"), md);
}
process.stdout.write(`wrote ${base}.md and ${base}.svg${args.includes("--publish") ? ", docs/rush.svg and BENCHMARKS.md's block" : ""}\n`);
