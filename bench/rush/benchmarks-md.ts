// The rush's figures in BENCHMARKS.md: only the block between its markers is
// rewritten, so the other sections and the analysis around the block stay.
import { readFileSync, writeFileSync } from "node:fs";

const SECTION = "## On-sale rush (npm run bench:rush)";
const BEGIN = "<!-- rush:figures:begin (written by npm run bench:rush; edit outside these markers) -->";
const END = "<!-- rush:figures:end -->";

/**
 * Puts the figures of this run into BENCHMARKS.md, between the markers of the
 * rush's own section (added at the end of the file the first time). Nothing
 * outside the markers is touched: the other sections, and the analysis
 * written around the figures, stay as they are.
 */
export function updateBenchmarksMd(file: string, figures: string): void {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    text = "# Benchmarks\n";
  }
  const block = `${BEGIN}\n\n${figures.trim()}\n\n${END}`;
  const a = text.indexOf(BEGIN);
  const b = text.indexOf(END);
  if (a >= 0 && b > a) text = text.slice(0, a) + block + text.slice(b + END.length);
  else if (text.includes(SECTION)) text = text.replace(SECTION, `${SECTION}\n\n${block}\n`);
  else text = `${text.trimEnd()}\n\n${SECTION}\n\n${block}\n`;
  writeFileSync(file, text);
}
