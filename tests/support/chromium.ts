// Debian's Chromium for the browser tests (playwright-core downloads no browser). CI installs
// it (.ci/run): there a missing browser fails the test. On a machine without one (a fresh
// clone) a browser test does not run, and the run says so at its end (tests/support/stores.ts).
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { notRun } from "./stores";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const HAS_CHROMIUM = existsSync(CHROMIUM);
const IN_CI = ["true", "1"].includes(process.env.CI ?? "");

/**
 * Whether the browser test `file` (what it tests: `what`) runs here; when it does not, says so
 * and how to run it. The error a test throws when it runs without Chromium (in CI) is `missing`.
 */
export function browserTest(what: string, file: string): { runs: boolean; missing: string } {
  const runs = HAS_CHROMIUM || IN_CI;
  if (!runs) {
    notRun(
      `the ${what} browser test`,
      `${CHROMIUM} is missing. To run it: apt-get install -y chromium (or set CHROMIUM_PATH to a Chromium), then npx vitest run ${file}`,
    );
  }
  return { runs, missing: `${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium) to run the ${what} browser test` };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
