// The crowd, decided before the run from a seed, so every run (and both
// topologies) plays the same users arriving at the same moments with the same
// intentions. Arrivals are an open-loop schedule: a linear ramp to a peak rate,
// then that rate until the window ends; nobody waits for an answer to arrive.
import type { RushOptions } from "./options";

export type Ending = "buy" | "giveUp" | "letRunOut" | "doublePay";

export interface PlannedUser {
  /** Index in the crowd: also the entry order the schedule intends. */
  i: number;
  userId: string;
  /** Minted access token, or null for the users who sign in for real. */
  jwt: string | null;
  email: string;
  /** Arrival, ms after the opening. */
  at: number;
  instance: number;
  ending: Ending;
  seatsWanted: number;
  popular: boolean;
  /** A give-up user leaves the line if still WAITING this long after entering. */
  giveUpAfterMs: number;
  thinkBeforeHoldMs: number;
  thinkBeforePayMs: number;
}

/** mulberry32: a small deterministic generator. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Arrival time (ms) of the k-th of n users: the inverse of the ramp-then-flat cumulative curve. */
export function arrivalMs(k: number, n: number, arrivalSeconds: number, rampSeconds: number): number {
  const T = arrivalSeconds;
  const R = rampSeconds;
  const peak = n / (T - R / 2); // users per second once the ramp is over
  const c = k + 0.5; // the k-th arrival sits in the middle of its share
  const rampUsers = (peak * R) / 2;
  const t = c <= rampUsers && R > 0 ? Math.sqrt((2 * R * c) / peak) : R + (c - rampUsers) / peak;
  return Math.round(t * 1000);
}

export function peakArrivalRate(o: Pick<RushOptions, "users" | "arrivalSeconds" | "rampSeconds">): number {
  return o.users / (o.arrivalSeconds - o.rampSeconds / 2);
}

export function planCrowd(o: RushOptions, users: { id: string; email: string; jwt: string }[], instances: number): PlannedUser[] {
  const rnd = random(o.seed);
  const signInEvery = o.signIns > 0 ? users.length / o.signIns : Infinity;
  return users.map((u, i) => {
    const r = rnd();
    const ending: Ending =
      r < o.giveUpShare
        ? "giveUp"
        : r < o.giveUpShare + o.letRunOutShare
          ? "letRunOut"
          : r < o.giveUpShare + o.letRunOutShare + o.doublePayShare
            ? "doublePay"
            : "buy";
    const signsIn = Math.floor(i / signInEvery) !== Math.floor((i + 1) / signInEvery);
    return {
      i,
      userId: u.id,
      jwt: signsIn ? null : u.jwt,
      email: u.email,
      at: arrivalMs(i, users.length, o.arrivalSeconds, o.rampSeconds),
      instance: i % instances,
      ending,
      seatsWanted: 1 + Math.floor(rnd() * 4),
      popular: rnd() < o.popularShare,
      giveUpAfterMs: 2_000 + Math.floor(rnd() * 13_000),
      thinkBeforeHoldMs: Math.floor(rnd() * o.thinkMs),
      thinkBeforePayMs: Math.floor(rnd() * o.thinkMs),
    };
  });
}
