// Live reads of one concert: a polled query, the queue stats (queueStatsChanged when the
// server has it, else queueStats polled every second) and a rolling history for the charts.
import { useEffect, useRef, useState } from "react";
import type { ApiError, Capabilities, Session } from "./api";
import { documents } from "./documents";
import type { QueueStats } from "./model";

/** Runs `read` now and every `everyMs`, keeping the last answer; `refresh()` reads at once. */
export function usePoll<T>(read: (() => Promise<T>) | null, everyMs: number, deps: unknown[], onError: (e: ApiError) => void) {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [tick, setTick] = useState(0);
  const errorRef = useRef(onError);
  errorRef.current = onError;
  useEffect(() => {
    setValue(undefined);
  }, deps);
  useEffect(() => {
    if (!read) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const next = await read();
        if (!stopped) setValue(next);
      } catch (error) {
        if (!stopped) errorRef.current(error as ApiError);
      }
      if (!stopped) timer = setTimeout(run, everyMs);
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { value, refresh: () => setTick((t) => t + 1) };
}

export interface Sample {
  t: number; // seconds since the epoch
  waiting: number;
  preQueue: number;
  active: number;
  admittedPerSecond: number;
  sold: number | null;
}

export const HISTORY_SECONDS = 300;

/**
 * The concert's queue stats, live. With queueStatsChanged the server pushes them (about once a
 * second while they change); without it they are polled each second. Either way a sample is
 * recorded each second for the charts, over the last HISTORY_SECONDS.
 */
export function useQueueStats(session: Session, caps: Capabilities, concertId: string, sold: () => number | null, onError: (e: ApiError) => void) {
  const [stats, setStats] = useState<QueueStats | undefined>(undefined);
  const [history, setHistory] = useState<Sample[]>([]);
  const [live, setLive] = useState<"push" | "poll">("poll");
  const latest = useRef<QueueStats | undefined>(undefined);
  const soldRef = useRef(sold);
  soldRef.current = sold;
  const errorRef = useRef(onError);
  errorRef.current = onError;

  useEffect(() => {
    latest.current = undefined;
    setStats(undefined);
    setHistory([]);
    let stopped = false;
    const docs = documents(caps);
    const statsLive = docs.statsLive;
    const take = (s: QueueStats) => {
      if (stopped) return;
      latest.current = s;
      setStats(s);
    };
    let stop: () => void = () => undefined;
    let poll: ReturnType<typeof setInterval> | undefined;
    const read = () =>
      session.query<{ queueStats: QueueStats }>(docs.stats, { id: concertId }).then(
        (d) => take(d.queueStats),
        (e) => !stopped && errorRef.current(e),
      );
    if (statsLive) {
      setLive("push");
      stop = session.subscribe<{ queueStatsChanged: QueueStats }>(
        statsLive,
        { id: concertId },
        (d) => take(d.queueStatsChanged),
        (e) => !stopped && errorRef.current(e),
      );
    } else {
      setLive("poll");
      void read();
      poll = setInterval(read, 1000);
    }
    const sampler = setInterval(() => {
      const s = latest.current;
      if (!s) return;
      const sample: Sample = {
        t: Math.floor(Date.now() / 1000),
        waiting: s.waiting,
        preQueue: s.preQueue ?? 0,
        active: s.active,
        admittedPerSecond: s.admittedPerSecond ?? 0,
        sold: soldRef.current(),
      };
      setHistory((h) => {
        const kept = h.filter((x) => x.t > sample.t - HISTORY_SECONDS && x.t !== sample.t);
        kept.push(sample);
        return kept;
      });
    }, 1000);
    return () => {
      stopped = true;
      stop();
      clearInterval(poll);
      clearInterval(sampler);
    };
  }, [session, caps, concertId]);

  return { stats, history, live };
}

/** Seats sold per second over the last `window` seconds of the history (null without sales figures). */
export function soldPerSecond(history: Sample[], window = 10): number | null {
  const withSold = history.filter((s) => s.sold !== null);
  if (withSold.length < 2) return null;
  const last = withSold[withSold.length - 1];
  const first = withSold.find((s) => s.t >= last.t - window) ?? withSold[0];
  if (last.t === first.t) return null;
  return Math.max(0, (last.sold! - first.sold!) / (last.t - first.t));
}

/** The current time, re-read every second (for countdowns). */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}
