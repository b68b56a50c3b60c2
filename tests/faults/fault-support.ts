// What the fault tests share: a line of six (two ACTIVE, one of them holding a
// seat, four WAITING), a snapshot of every token, answers timed from the
// outside, and waiting for conditions with generous deadlines.
import { expect } from "vitest";
import { bearer, codeOf, gql, signUp, type GqlResult, type TestUser } from "../support/client";
import { CHARGE, PAY, RESERVE } from "../support/booking";
import { newAdmin, newConcert, type TestConcert } from "../support/factories";
import type { TestServer } from "../support/server";

export const ENTER = `mutation($c:ID!){ enterQueue(concertId:$c){ token status queuePosition remainingTime } }`;
export const STATUS = `query($t:String!){ queueStatus(token:$t){ token status queuePosition remainingTime expiredReason } }`;
const POLICY = `mutation($c:ID!,$i:QueuePolicyInput!){ updateQueuePolicy(concertId:$c,input:$i){ maxActiveUsers } }`;
export const CONCERTS = `{ concerts { id } }`;

export interface Person extends TestUser {
  queueToken: string;
}

export interface Line {
  concert: TestConcert;
  admin: TestUser;
  people: Person[];
  /** people[0]'s reservation (a held seat). */
  reservationId: string;
}

/** Six users in line: 2 ACTIVE (people[0] holds seat 1 and has the money to pay), 4 WAITING. */
export async function lineOfSix(server: TestServer, urls: string[] = [server.url]): Promise<Line> {
  const admin = await newAdmin(server);
  const concert = await newConcert(server, admin, { dates: [{ seatCount: 10, price: 1000 }] });
  const policy = await gql(server.url, POLICY, { c: concert.id, i: { maxActiveUsers: 2 } }, admin.headers);
  expect(policy.errors).toBeUndefined();
  const people: Person[] = [];
  for (let i = 0; i < 6; i++) {
    const user = await signUp(urls[i % urls.length]);
    const r = await gql(urls[i % urls.length], ENTER, { c: concert.id }, user.headers);
    expect(r.errors).toBeUndefined();
    people.push({ ...user, queueToken: r.data.enterQueue.token });
  }
  const charged = await gql(server.url, CHARGE, { a: 5000 }, people[0].headers);
  expect(charged.errors).toBeUndefined();
  const held = await gql(server.url, RESERVE, { d: concert.dates[0].id, n: [1] }, bearer(people[0].token, people[0].queueToken));
  expect(held.errors).toBeUndefined();
  return { concert, admin, people, reservationId: held.data.reserveSeats.id };
}

export interface TokenView {
  status: string;
  queuePosition: number;
  remainingTime: number;
}

/** Every person's token as queueStatus answers it (throws on an error). */
export async function snapshot(url: string, people: Person[]): Promise<TokenView[]> {
  return Promise.all(
    people.map(async (p) => {
      const r = await gql(url, STATUS, { t: p.queueToken }, p.headers);
      if (r.errors) throw new Error(`queueStatus: ${codeOf(r)}`);
      return r.data.queueStatus as TokenView;
    }),
  );
}

export const shape = (views: TokenView[]) => views.map((v) => (v.status === "WAITING" ? v.queuePosition : v.status));

export interface Timed<T = any> extends GqlResult<T> {
  ms: number;
  retryAfter: string | null;
}

/** A GraphQL call timed from the outside, with its HTTP status and Retry-After. */
export async function timed(url: string, query: string, variables: Record<string, unknown>, headers: Record<string, string>): Promise<Timed> {
  const started = performance.now();
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as GqlResult;
  return { ...body, status: res.status, ms: performance.now() - started, retryAfter: res.headers.get("retry-after") };
}

/** Rule 27 during an outage: SERVICE_UNAVAILABLE, HTTP 503 with Retry-After, within a second. */
export function expectUnavailable(r: Timed): void {
  expect({ code: codeOf(r), status: r.status, retryAfter: r.retryAfter !== null }).toEqual({
    code: "SERVICE_UNAVAILABLE",
    status: 503,
    retryAfter: true,
  });
  expect(r.ms).toBeLessThan(1_000);
}

/** Polls `check` until it returns a value (not undefined), or fails after `ms`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms} ms (last: ${String(last)})`);
}

export const pay = (url: string, line: Line, key: string) =>
  timed(url, PAY, { r: line.reservationId, k: key }, bearer(line.people[0].token, line.people[0].queueToken));

export const readyz = async (url: string) => {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { down: string[] } };
};
