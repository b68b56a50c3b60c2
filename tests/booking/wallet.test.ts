// The prepaid balance over the API: limits, the ledger, and money that is
// never lost or moved twice under concurrent charges (two instances with Redis).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { queueStores } from "../support/stores";
import { codeOf, gql, signUp } from "../support/client";
import { rowCounts } from "../support/sql";
import { BALANCE, CHARGE, expectLedgersMatchBalances } from "../support/booking";

const LEDGER = `query($f:Int,$a:ID){ ledger(first:$f, after:$a){ id kind amount balanceAfter createdAt } }`;

const variants = queueStores("wallet");

describe.each(variants)("wallet ($name)", ({ instances, redis }) => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  const url = (i: number) => deployment.servers[i % deployment.servers.length].url;

  beforeAll(async () => {
    deployment = await startDeployment({ instances, redis, settings: { MAX_CHARGE: "5000", MAX_BALANCE: "20000" } });
  });
  afterEach(() => expectLedgersMatchBalances(deployment.db.url));
  afterAll(() => deployment?.close());

  it("adds a charge, answers the balance right after it, and writes a CHARGE entry", async () => {
    const user = await signUp(url(0));
    expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(0);
    expect((await gql(url(0), CHARGE, { a: 1200 }, user.headers)).data.chargeBalance).toBe(1200);
    expect((await gql(url(1), CHARGE, { a: 300 }, user.headers)).data.chargeBalance).toBe(1500);
    expect((await gql(url(1), BALANCE, {}, user.headers)).data.balance).toBe(1500);
    const ledger = (await gql(url(0), LEDGER, {}, user.headers)).data.ledger;
    expect(ledger.map((e: { kind: string; amount: number; balanceAfter: number }) => [e.kind, e.amount, e.balanceAfter])).toEqual([
      ["CHARGE", 300, 1500],
      ["CHARGE", 1200, 1200],
    ]);
    expect(ledger[0].createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it("refuses an amount out of range, a malformed key, and a charge past MAX_BALANCE, writing nothing", async () => {
    const user = await signUp(url(0));
    await gql(url(0), CHARGE, { a: 5000 }, user.headers);
    const before = await rowCounts(deployment.db.url, ["ledger_entries", "idempotency_keys"]);
    for (const a of [0, -5, 5001]) expect(codeOf(await gql(url(0), CHARGE, { a }, user.headers))).toBe("BAD_USER_INPUT");
    for (const k of ["", "x".repeat(201), "bad\u0000key", "tab\tkey"]) {
      expect(codeOf(await gql(url(0), CHARGE, { a: 10, k }, user.headers))).toBe("BAD_USER_INPUT");
    }
    for (let i = 0; i < 3; i++) await gql(url(0), CHARGE, { a: 5000 }, user.headers);
    expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(20000);
    expect(codeOf(await gql(url(1), CHARGE, { a: 1, k: "over" }, user.headers))).toBe("BALANCE_LIMIT");
    expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(20000);
    const after = await rowCounts(deployment.db.url, ["ledger_entries", "idempotency_keys"]);
    expect(after).toEqual({ ...before, ledger_entries: before.ledger_entries + 3 });
    expect(codeOf(await gql(url(0), CHARGE, { a: 1 }))).toBe("UNAUTHENTICATED");
  });

  it("keeps the exact sum of 100 concurrent charges by one user", async () => {
    const user = await signUp(url(0));
    const amounts = Array.from({ length: 100 }, (_, i) => 1 + (i % 7) * 10);
    const results = await Promise.all(amounts.map((a, i) => gql(url(i), CHARGE, { a }, user.headers)));
    expect(results.filter((r) => r.errors)).toEqual([]);
    const total = amounts.reduce((s, a) => s + a, 0);
    expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(total);
    // Each call saw its own charge applied: the answers are 100 distinct running totals.
    const answers = results.map((r) => r.data.chargeBalance as number);
    expect(new Set(answers).size).toBe(100);
    expect(Math.max(...answers)).toBe(total);
  });

  it("never passes MAX_BALANCE under concurrent charges", async () => {
    const user = await signUp(url(0));
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => gql(url(i), CHARGE, { a: 1000 }, user.headers)));
    expect(results.filter((r) => !r.errors)).toHaveLength(20);
    expect(results.filter((r) => r.errors).map(codeOf)).toEqual(Array(10).fill("BALANCE_LIMIT"));
    expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(20000);
  });

  it("charges once for the same key sent many times at once, answering each with the first result", async () => {
    const user = await signUp(url(0));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => gql(url(i), CHARGE, { a: 700, k: "charge-1" }, user.headers)));
    expect(results.map((r) => r.data?.chargeBalance)).toEqual(Array(20).fill(700));
    await gql(url(0), CHARGE, { a: 100 }, user.headers);
    // Later too: the stored answer, not today's balance.
    expect((await gql(url(1), CHARGE, { a: 700, k: "charge-1" }, user.headers)).data.chargeBalance).toBe(700);
    expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(800);
  });

  it("refuses a key reused with another amount, and keeps keys apart between users", async () => {
    const [a, b] = [await signUp(url(0)), await signUp(url(0))];
    await gql(url(0), CHARGE, { a: 50, k: "k" }, a.headers);
    expect(codeOf(await gql(url(0), CHARGE, { a: 60, k: "k" }, a.headers))).toBe("BAD_USER_INPUT");
    expect((await gql(url(0), CHARGE, { a: 60, k: "k" }, b.headers)).data.chargeBalance).toBe(60);
    expect((await gql(url(0), BALANCE, {}, a.headers)).data.balance).toBe(50);
  });

  it("pages the ledger newest first, bounded", async () => {
    const user = await signUp(url(0));
    for (let i = 1; i <= 5; i++) await gql(url(0), CHARGE, { a: i }, user.headers);
    const first = (await gql(url(0), LEDGER, { f: 2 }, user.headers)).data.ledger;
    expect(first.map((e: { amount: number }) => e.amount)).toEqual([5, 4]);
    const next = (await gql(url(0), LEDGER, { f: 2, a: first[1].id }, user.headers)).data.ledger;
    expect(next.map((e: { amount: number }) => e.amount)).toEqual([3, 2]);
    for (const f of [0, 201]) expect(codeOf(await gql(url(0), LEDGER, { f }, user.headers))).toBe("BAD_USER_INPUT");
    expect(codeOf(await gql(url(0), LEDGER, { a: "nope" }, user.headers))).toBe("BAD_USER_INPUT");
  });
});
