// Bad input to every mutation answers a clear code and leaves every table as it
// was: nothing is half done when an error comes back.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, uniqueEmail, type TestUser } from "../support/client";
import { newAdmin, newConcert, type TestConcert } from "../support/factories";
import { rowCounts } from "../support/sql";

const TABLES = ["users", "concerts", "concert_dates", "seats"] as const;

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let admin: TestUser;
let concert: TestConcert;
beforeAll(async () => {
  deployment = await startDeployment();
  admin = await newAdmin(deployment.server);
  concert = await newConcert(deployment.server, admin, { dates: [] });
});
afterAll(() => deployment.close());

const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString();
const SIGN_UP = `mutation($email: String!, $password: String!) { signUp(email: $email, password: $password) { accessToken } }`;
const SIGN_IN = `mutation($email: String!, $password: String!) { signIn(email: $email, password: $password) { accessToken } }`;
const CREATE = `mutation($input: CreateConcertInput!) { createConcert(input: $input) { id } }`;
const ADD_DATE = `mutation($input: AddConcertDateInput!) { addConcertDate(input: $input) { id } }`;
const date = (over: Record<string, unknown>) => ({ input: { concertId: concert.id, startsAt: tomorrow(), seatCount: 3, price: 100, ...over } });

type Case = [name: string, query: string, variables: () => Record<string, unknown>, code: string];
const cases: Case[] = [
  ["signUp: a weak password", SIGN_UP, () => ({ email: uniqueEmail(), password: "short" }), "BAD_USER_INPUT"],
  ["signUp: a password over 256 characters", SIGN_UP, () => ({ email: uniqueEmail(), password: "x".repeat(257) }), "BAD_USER_INPUT"],
  ["signUp: an e-mail that is not one", SIGN_UP, () => ({ email: "nobody.example.com", password: "long enough" }), "BAD_USER_INPUT"],
  ["signUp: an e-mail over 254 characters", SIGN_UP, () => ({ email: `${"a".repeat(250)}@example.com`, password: "long enough" }), "BAD_USER_INPUT"],
  ["signUp: a number for the e-mail", SIGN_UP, () => ({ email: 42, password: "long enough" }), "BAD_USER_INPUT"],
  ["signUp: no password at all", SIGN_UP, () => ({ email: uniqueEmail() }), "BAD_USER_INPUT"],
  ["signIn: an e-mail that is not one", SIGN_IN, () => ({ email: "not-an-email", password: "long enough" }), "BAD_USER_INPUT"],
  ["createConcert: an empty title", CREATE, () => ({ input: { title: "" } }), "BAD_USER_INPUT"],
  ["createConcert: a blank title", CREATE, () => ({ input: { title: " \t " } }), "BAD_USER_INPUT"],
  ["createConcert: a title over 200 characters", CREATE, () => ({ input: { title: "t".repeat(201) } }), "BAD_USER_INPUT"],
  ["createConcert: no title", CREATE, () => ({ input: {} }), "BAD_USER_INPUT"],
  ["addConcertDate: a start in the past", ADD_DATE, () => date({ startsAt: "2001-01-01T20:00:00.000Z" }), "BAD_USER_INPUT"],
  ["addConcertDate: a start that is no date", ADD_DATE, () => date({ startsAt: "next friday" }), "BAD_USER_INPUT"],
  ["addConcertDate: a day past the month's end", ADD_DATE, () => date({ startsAt: "2031-02-30T20:00:00Z" }), "BAD_USER_INPUT"],
  ["addConcertDate: a start without a time zone", ADD_DATE, () => date({ startsAt: "2031-01-01T20:00:00" }), "BAD_USER_INPUT"],
  ["addConcertDate: zero seats", ADD_DATE, () => date({ seatCount: 0 }), "BAD_USER_INPUT"],
  ["addConcertDate: negative seats", ADD_DATE, () => date({ seatCount: -3 }), "BAD_USER_INPUT"],
  ["addConcertDate: more seats than a date may have", ADD_DATE, () => date({ seatCount: 100_001 }), "BAD_USER_INPUT"],
  ["addConcertDate: a fractional seat count", ADD_DATE, () => date({ seatCount: 2.5 }), "BAD_USER_INPUT"],
  ["addConcertDate: a zero price", ADD_DATE, () => date({ price: 0 }), "BAD_USER_INPUT"],
  ["addConcertDate: a negative price", ADD_DATE, () => date({ price: -100 }), "BAD_USER_INPUT"],
  ["addConcertDate: a price over MAX_BALANCE", ADD_DATE, () => date({ price: 10_000_001 }), "BAD_USER_INPUT"],
  ["addConcertDate: a price past 32 bits", ADD_DATE, () => date({ price: 2 ** 31 }), "BAD_USER_INPUT"],
  ["addConcertDate: an unknown concert", ADD_DATE, () => date({ concertId: randomUUID() }), "NOT_FOUND"],
  ["addConcertDate: a malformed concert ID", ADD_DATE, () => date({ concertId: "42; DROP TABLE seats" }), "NOT_FOUND"],
];

describe("bad input", () => {
  it.each(cases)("%s is refused and writes nothing", async (_, query, variables, code) => {
    const before = await rowCounts(deployment.db.url, TABLES);
    const r = await gql(deployment.server.url, query, variables(), admin.headers);
    expect(codeOf(r)).toBe(code);
    // A person can act on it: it says what was wrong, not a stack or a driver's words.
    expect(r.errors![0].message.length).toBeGreaterThan(10);
    expect(r.errors![0].message).not.toMatch(/prisma|postgres|invalid input syntax|stack/i);
    expect(r.data ?? null).toBeNull();
    expect(await rowCounts(deployment.db.url, TABLES)).toEqual(before);
  });
});
