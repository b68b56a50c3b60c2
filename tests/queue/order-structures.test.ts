// The in-process store's ordered structures: keys come out due in score order, a touched
// (raised) key waits for its new score, a lowered one comes out at its new score, and scores
// of epoch milliseconds come back exactly as given (they are kept as offsets internally).
import { describe, expect, it } from "vitest";
import { ScoredKeys } from "../../src/services/queue/order-structures";

describe("ScoredKeys", () => {
  const t0 = 1_796_000_000_000; // an epoch ms in 2026

  it("pops due keys lowest first, and a touched key at its new score", () => {
    const keys = new ScoredKeys();
    for (let i = 0; i < 100; i++) keys.set(`k${i}`, t0 + i * 10);
    expect(keys.touch("k0", t0 + 5_000)).toBe(true);
    expect(keys.touch("missing", t0)).toBe(false);
    expect(keys.get("missing")).toBeUndefined();
    keys.set("k99", t0 - 1); // lowered: due first
    expect(keys.get("k0")).toBe(t0 + 5_000);
    expect(keys.get("k99")).toBe(t0 - 1);
    expect(keys.popDue(t0 + 25, 10)).toEqual(["k99", "k1", "k2"]);
    // Nothing else is due yet, however many stale entries sit in the heap.
    expect(keys.popDue(t0 + 25, 10)).toEqual([]);
    const rest = keys.popDue(t0 + 10_000, 1_000);
    expect(rest).toHaveLength(97);
    expect(rest.at(-1)).toBe("k0");
    expect(rest).not.toContain("k99");
    expect(keys.size).toBe(0);
  });

  it("respects the limit and skips deleted keys", () => {
    const keys = new ScoredKeys();
    for (let i = 0; i < 10; i++) keys.set(`k${i}`, t0 + i);
    keys.delete("k0");
    keys.delete("k1");
    expect(keys.popDue(t0 + 100, 3)).toEqual(["k2", "k3", "k4"]);
    expect(keys.popDue(t0 + 100, 100)).toEqual(["k5", "k6", "k7", "k8", "k9"]);
  });
});
