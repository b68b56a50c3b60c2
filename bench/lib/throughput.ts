// Phases 1 and 2: the bare ceiling ({ __typename }), then enterQueue (each call
// a user entering a concert for the first time) and queueStatus (users asking
// about their WAITING tokens), each virtual client with users of its own.
import type Redis from "ioredis";
import { runLoad, type Call, type LoadResult } from "./load";

const ENTER = "mutation($c: ID!) { enterQueue(concertId: $c) { token status queuePosition remainingTime estimatedWaitSeconds } }";
const STATUS = "query($t: String!) { queueStatus(token: $t) { token status queuePosition remainingTime estimatedWaitSeconds } }";

export interface Timing {
  url: string;
  serverPid: number;
  redis: Redis;
  warmupMs: number;
  durationMs: number;
}

export function measureCeiling(t: Timing, concurrency: number): Promise<LoadResult> {
  const call: Call = { body: JSON.stringify({ query: "{ __typename }" }) };
  return runLoad({ ...t, concurrency, next: () => call });
}

/** A WAITING token and the access token of its user. */
export interface Entry {
  jwt: string;
  token: string;
}

/**
 * enterQueue at `concurrency`: client i owns the users i, i + concurrency, … and
 * enters each of them into each of `concertIds` once, so every call is a fresh entry.
 * Returns the tokens it got, per client, for the queueStatus phase.
 */
export async function measureEnter(t: Timing, concurrency: number, jwts: string[], concertIds: string[], redis: Redis) {
  const own = Array.from({ length: concurrency }, (_, i) => jwts.filter((_, j) => j % concurrency === i));
  const cursor = new Array<number>(concurrency).fill(0);
  const entries: Entry[][] = Array.from({ length: concurrency }, () => []);
  const bodies = concertIds.map((c) => JSON.stringify({ query: ENTER, variables: { c } }));
  const result = await runLoad({
    ...t,
    concurrency,
    next(i) {
      const n = cursor[i]++;
      const users = own[i];
      if (n >= users.length * bodies.length) return null;
      const jwt = users[n % users.length];
      return {
        body: bodies[Math.floor(n / users.length)],
        headers: { authorization: `Bearer ${jwt}` },
        onData: (d) => void entries[i].push({ jwt, token: (d.enterQueue as { token: string }).token }),
      };
    },
  });
  // Every successful call made a new token: the lines hold exactly as many.
  let inLines = 0;
  for (const c of concertIds) inLines += (await redis.zcard(`q:{${c}}:waiting`)) + (await redis.zcard(`q:{${c}}:active`));
  const got = entries.reduce((n, e) => n + e.length, 0);
  return { result: { ...result, freshEntries: got, tokensInLines: inLines }, entries };
}

/** queueStatus at `concurrency`: client i asks, round robin, about the tokens its own users got. */
export function measureStatus(t: Timing, entries: Entry[][]): Promise<LoadResult> {
  const cursor = new Array<number>(entries.length).fill(0);
  const calls = entries.map((list) =>
    list.map((e) => ({ body: JSON.stringify({ query: STATUS, variables: { t: e.token } }), headers: { authorization: `Bearer ${e.jwt}` } })),
  );
  return runLoad({
    ...t,
    concurrency: entries.length,
    next: (i) => (calls[i].length ? calls[i][cursor[i]++ % calls[i].length] : null),
  });
}
