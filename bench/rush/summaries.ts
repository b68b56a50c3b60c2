// Small summaries of a topology's run: per-second sums, the subscribers'
// sockets, why users ended in error, a few of them in full, and the servers'
// warnings from their logs.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { UserResult } from "./user-flow";

export function sumArrays(rows: number[][]): number[] {
  const len = Math.max(0, ...rows.map((r) => r.length));
  return Array.from({ length: len }, (_, k) => rows.reduce((a, r) => a + (r[k] ?? 0), 0));
}

export function socketFigures(users: { sub?: { reconnects: number; closeCodes: number[] } }[]) {
  let reconnects = 0;
  const closesByCode: Record<string, number> = {};
  for (const u of users) {
    if (!u.sub) continue;
    reconnects += u.sub.reconnects;
    for (const c of u.sub.closeCodes) closesByCode[c] = (closesByCode[c] ?? 0) + 1;
  }
  return { reconnects, closesByCode };
}

export function problemUsers(
  users: UserResult[],
  tokens: { token: string; q: number; a: number; s: string; r: string }[],
): Record<string, unknown[]> {
  const byToken = new Map(tokens.map((t) => [t.token, t]));
  const out: Record<string, unknown[]> = {};
  for (const u of users) {
    if (u.outcome !== "error" && !(u.outcome === "timeout" && (byToken.get(u.token ?? "")?.a ?? 0) > 0)) continue;
    const kind = `${u.outcome}: ${(u.note ?? "?").replace(/\d+/g, "N").slice(0, 60)}`;
    const list = (out[kind] ??= []);
    if (list.length < 5) list.push({ ...u, redis: byToken.get(u.token ?? "") });
  }
  return out;
}

export function notesOf(users: { outcome: string; note?: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const u of users) {
    if (u.outcome !== "error" && u.outcome !== "timeout") continue;
    const kind = `${u.outcome}: ${(u.note ?? "?")
      .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, "…")
      .replace(/\d+/g, "N")
      .slice(0, 120)}`;
    out[kind] = (out[kind] ?? 0) + 1;
  }
  return Object.fromEntries(
    Object.entries(out)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12),
  );
}

/** The lines of the n servers' logs of an n-instance topology (a missing log has none). */
export function serverLogLines(dir: string, n: number): string[] {
  const lines: string[] = [];
  for (let k = 0; k < n; k++) {
    try {
      lines.push(...readFileSync(join(dir, `rush-server-${n}-${k + 1}.log`), "utf8").split("\n"));
    } catch {
      // no log
    }
  }
  return lines;
}

/** The servers' log lines at warn or error, counted by message. */
export function warningsOf(dir: string, n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of serverLogLines(dir, n)) {
    if (!line.trim()) continue;
    let key = line.slice(0, 100);
    try {
      const j = JSON.parse(line) as { level?: string; msg?: string; message?: string; error?: { message?: string } | string };
      if (j.level && !/warn|error/.test(j.level)) continue;
      const err = typeof j.error === "string" ? j.error : j.error?.message;
      key = `${j.level ?? "?"}: ${j.msg ?? j.message ?? "?"}${err ? ` (${String(err).slice(0, 80)})` : ""}`;
    } catch {
      // not JSON: keep the start of the line
    }
    key = key.replace(/\d+/g, "N");
    out[key] = (out[key] ?? 0) + 1;
  }
  return Object.fromEntries(
    Object.entries(out)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12),
  );
}
