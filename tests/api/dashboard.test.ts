// The Grafana dashboard in observability/grafana-dashboard.json: well formed
// for import (panels with ids, places, a Prometheus datasource and queries),
// and every metric its queries and variables name is one a real server's
// /metrics exposes.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../src/http/ide";
import { startDeployment } from "../support/server";

const dashboard = JSON.parse(readFileSync(join(projectRoot(__dirname), "observability/grafana-dashboard.json"), "utf8"));

const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"]);

/** The metric names a PromQL expression reads. */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings (label values, regexes)
    .replace(/\{[^}]*\}/g, "") // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "") // label lists
    .replace(/\[[^\]]*\]/g, "") // ranges
    .replace(/\$\w+/g, ""); // dashboard variables
  const names = new Set<string>();
  for (const m of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice(m.index! + m[0].length).trimStart();
    if (after.startsWith("(")) continue; // a function
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    if (/^\d/.test(m[0])) continue;
    names.add(m[0]);
  }
  return [...names];
}

function queries(): string[] {
  const exprs: string[] = [];
  for (const panel of dashboard.panels) for (const t of panel.targets ?? []) exprs.push(t.expr);
  for (const v of dashboard.templating.list) {
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    const m = /^label_values\(([^,)]+)/.exec(q ?? "");
    if (m) exprs.push(m[1].trim());
  }
  return exprs;
}

let deployment: Awaited<ReturnType<typeof startDeployment>>;
beforeAll(async () => {
  deployment = await startDeployment();
});
afterAll(() => deployment.close());

describe("Grafana dashboard", () => {
  it("reads metric names out of PromQL", () => {
    expect(metricNames(`histogram_quantile(0.99, sum by (le, pool) (rate(db_pool_wait_seconds_bucket{instance=~"$instance"}[5m])))`)).toEqual([
      "db_pool_wait_seconds_bucket",
    ]);
    expect(metricNames(`max by (concert) (queue_waiting) / clamp_min(sum by (concert) (rate(queue_admissions_total[5m])), 0.001) / 60`)).toEqual([
      "queue_waiting",
      "queue_admissions_total",
    ]);
  });

  it("is well formed for import: rows and panels with ids and places, each query on the Prometheus datasource", () => {
    expect(dashboard).toMatchObject({ title: expect.any(String), uid: expect.any(String), schemaVersion: expect.any(Number) });
    const ids = dashboard.panels.map((p: { id: number }) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos).toMatchObject({ h: expect.any(Number), w: expect.any(Number), x: expect.any(Number), y: expect.any(Number) });
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
      if (panel.type === "row") continue;
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own ${datasource} variable, not a template
      expect(panel.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(panel.targets.length).toBeGreaterThan(0);
      for (const t of panel.targets) expect(t).toMatchObject({ refId: expect.any(String), expr: expect.any(String) });
    }
    const rows = dashboard.panels.filter((p: { type: string }) => p.type === "row").map((p: { title: string }) => p.title);
    expect(rows.map((r: string) => r.split(":")[0])).toEqual(["The line", "Sales", "Errors", "Instance health"]);
  });

  it("queries only metrics that /metrics exposes", async () => {
    const text = await (await fetch(`${deployment.server.url}/metrics`)).text();
    const families = new Map<string, string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1], m[2]);
    const exposed = (name: string) => {
      if (families.has(name)) return true;
      const base = name.replace(/_(bucket|sum|count)$/, "");
      return base !== name && families.get(base) === "histogram";
    };
    const names = [...new Set(queries().flatMap(metricNames))].sort();
    expect(names.length).toBeGreaterThan(20);
    expect(names.filter((n) => !exposed(n))).toEqual([]);
  });
});
