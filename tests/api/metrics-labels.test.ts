// The concert label of /metrics is bounded: at most N concerts are labelled at
// a time, the rest are counted under "other", and a concert unseen for long
// gives its place (and its series) to a new one.
import { describe, expect, it } from "vitest";
import { Metrics } from "../../src/observability/metrics";

function samples(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = new RegExp(`^${name}\\{concert="([^"]+)"\\} (\\S+)$`).exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

describe("concert labels", () => {
  it("labels at most N concerts; the rest add up under other, in counters and in the line gauges", async () => {
    const metrics = new Metrics({ maxConcertLabels: 2 });
    metrics.sold("c1", 1, 100);
    metrics.sold("c2", 2, 200);
    metrics.sold("c3", 3, 300);
    metrics.sold("c4", 4, 400);
    metrics.readLineFrom(async () => [
      { concertId: "c1", waiting: 10, active: 1 },
      { concertId: "c3", waiting: 30, active: 3, preQueue: 5 },
      { concertId: "c4", waiting: 40, active: 4 },
    ]);
    const text = await metrics.render();
    expect(samples(text, "seats_sold_total")).toEqual({ c1: 1, c2: 2, other: 7 });
    expect(samples(text, "revenue_won_total")).toEqual({ c1: 100, c2: 200, other: 700 });
    expect(samples(text, "queue_waiting")).toEqual({ c1: 10, other: 70 });
    expect(samples(text, "queue_active")).toEqual({ c1: 1, other: 7 });
    expect(samples(text, "queue_pre_queue")).toEqual({ c1: 0, other: 5 });
  });

  it("gives an idle concert's place and series to a new concert", async () => {
    let now = 0;
    const metrics = new Metrics({ maxConcertLabels: 2, concertIdleMs: 60_000, now: () => now });
    metrics.holdMade("old");
    metrics.holdMade("busy");
    now = 59_000;
    metrics.holdMade("busy");
    metrics.holdMade("new"); // "old" unseen for 59 s: not yet
    expect(samples(await metrics.render(), "holds_made_total")).toEqual({ old: 1, busy: 2, other: 1 });
    now = 61_000;
    metrics.holdMade("new"); // "old" unseen for 61 s: its place goes to "new"
    expect(samples(await metrics.render(), "holds_made_total")).toEqual({ busy: 2, new: 1, other: 1 });
  });

  it("counts pushes from their slots when read, without a label lookup per push", async () => {
    const metrics = new Metrics();
    const slot = metrics.pushSlot("queueStatusChanged");
    expect(metrics.pushSlot("queueStatusChanged")).toBe(slot);
    for (let i = 0; i < 5; i++) slot.n++;
    expect(await metrics.render()).toContain(`subscription_pushes_total{kind="queueStatusChanged"} 5`);
    slot.n += 3;
    expect(await metrics.render()).toContain(`subscription_pushes_total{kind="queueStatusChanged"} 8`);
  });
});
