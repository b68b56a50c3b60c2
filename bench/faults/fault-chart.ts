// The fault bench as a picture, drawn by hand as SVG like bench/rush/chart.ts:
// one row per scenario, answers per 250 ms stacked by code (ok, SERVICE_UNAVAILABLE,
// anything else) with each outage shaded, and the slowest answer of each bucket
// as a line against the 1-second bound.
export interface Bucket {
  at: number;
  counts: Record<string, number>;
  maxMs: number;
}
export interface Outage {
  what: string;
  dependency: "redis" | "database";
  from: number;
  to: number;
}

const W = 900;
const H = 200;
const M = { left: 56, right: 56, top: 34, bottom: 30 };
const COLORS: Record<string, string> = { ok: "#2ca02c", SERVICE_UNAVAILABLE: "#ff7f0e", QUEUE_NOT_ACTIVE: "#9ecae1", other: "#d62728" };

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

export function renderFaultChart(rows: { name: string; buckets: Bucket[]; outages: Outage[]; seconds: number; bucketMs: number }[]): string {
  const height = rows.length * (H + 20) + 40;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${M.left}" y="20" font-size="14">npm run bench:faults — answers per 250 ms by code; shaded: a dependency down; black line: slowest answer (right axis, 1 s bound dashed)</text>`,
  ];
  rows.forEach((row, r) => {
    const y0 = 40 + r * (H + 20);
    const plotW = W - M.left - M.right;
    const plotH = H - M.top - M.bottom;
    const x = (ms: number) => M.left + (ms / (row.seconds * 1000)) * plotW;
    const totals = row.buckets.map((b) => Object.values(b.counts).reduce((a, c) => a + c, 0));
    const maxCount = Math.max(1, ...totals);
    const maxMs = Math.max(1_200, ...row.buckets.map((b) => b.maxMs));
    const yCount = (n: number) => y0 + M.top + plotH - (n / maxCount) * plotH;
    const yMs = (ms: number) => y0 + M.top + plotH - (ms / maxMs) * plotH;
    parts.push(`<text x="${M.left}" y="${y0 + 22}" font-size="12" font-weight="bold">${esc(row.name)}</text>`);
    for (const o of row.outages) {
      const w = Math.max(2, x(o.to) - x(o.from));
      parts.push(
        `<rect x="${x(o.from)}" y="${y0 + M.top}" width="${w}" height="${plotH}" fill="${o.dependency === "redis" ? "#fde0c5" : "#d6e4f5"}"/>`,
      );
      parts.push(`<text x="${x(o.from) + 2}" y="${y0 + M.top + 10}" font-size="10">${esc(o.what)}</text>`);
    }
    const bw = plotW / row.buckets.length;
    row.buckets.forEach((b, i) => {
      let acc = 0;
      const groups: [string, number][] = [
        ["ok", b.counts.ok ?? 0],
        ["QUEUE_NOT_ACTIVE", b.counts.QUEUE_NOT_ACTIVE ?? 0],
        ["SERVICE_UNAVAILABLE", b.counts.SERVICE_UNAVAILABLE ?? 0],
      ];
      const other = Object.entries(b.counts)
        .filter(([k]) => !["ok", "QUEUE_NOT_ACTIVE", "SERVICE_UNAVAILABLE"].includes(k))
        .reduce((a, [, v]) => a + v, 0);
      groups.push(["other", other]);
      for (const [code, n] of groups) {
        if (n === 0) continue;
        parts.push(
          `<rect x="${M.left + i * bw}" y="${yCount(acc + n)}" width="${Math.max(1, bw - 0.5)}" height="${yCount(acc) - yCount(acc + n)}" fill="${COLORS[code]}"/>`,
        );
        acc += n;
      }
    });
    const line = row.buckets.map((b, i) => `${(M.left + (i + 0.5) * bw).toFixed(1)},${yMs(b.maxMs).toFixed(1)}`).join(" ");
    parts.push(`<polyline points="${line}" fill="none" stroke="black" stroke-width="1"/>`);
    parts.push(`<line x1="${M.left}" x2="${M.left + plotW}" y1="${yMs(1000)}" y2="${yMs(1000)}" stroke="black" stroke-dasharray="4 3"/>`);
    parts.push(`<rect x="${M.left}" y="${y0 + M.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
    parts.push(
      `<text x="${M.left - 4}" y="${yCount(maxCount) + 4}" text-anchor="end">${maxCount}</text><text x="${M.left - 4}" y="${yCount(0)}" text-anchor="end">0</text>`,
    );
    parts.push(
      `<text x="${M.left + plotW + 4}" y="${yMs(maxMs) + 4}">${Math.round(maxMs)} ms</text><text x="${M.left + plotW + 4}" y="${yMs(1000) + 4}">1 s</text>`,
    );
    for (let s = 0; s <= row.seconds; s += 4) parts.push(`<text x="${x(s * 1000)}" y="${y0 + H - 12}" text-anchor="middle">${s}s</text>`);
  });
  const legend = Object.entries(COLORS).map(
    ([k, c], i) =>
      `<rect x="${M.left + i * 170}" y="${height - 14}" width="10" height="10" fill="${c}"/><text x="${M.left + i * 170 + 14}" y="${height - 5}">${k === "other" ? "any other error" : k}</text>`,
  );
  parts.push(...legend, "</svg>");
  return parts.join("\n");
}
