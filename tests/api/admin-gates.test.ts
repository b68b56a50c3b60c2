// Admin operations: who is refused, and which refusal wins when several apply.
// The contract's order: UNAUTHENTICATED, then BAD_USER_INPUT, then NOT_FOUND,
// then FORBIDDEN; so a user learns about bad input or an unknown ID before
// learning they are not an admin.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, signUp, type TestUser } from "../support/client";
import { newAdmin, newConcert, type TestConcert } from "../support/factories";
import { AddConcertDateDocument, CreateConcertDocument } from "../generated/graphql";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let url: string;
let user: TestUser;
let admin: TestUser;
let concert: TestConcert;
beforeAll(async () => {
  deployment = await startDeployment();
  url = deployment.server.url;
  user = await signUp(url, "plain");
  admin = await newAdmin(deployment.server);
  concert = await newConcert(deployment.server, admin);
});
afterAll(() => deployment.close());

const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString();
const dateInput = (over: Partial<{ concertId: string; startsAt: string; seatCount: number; price: number }> = {}) => ({
  input: { concertId: concert.id, startsAt: tomorrow(), seatCount: 5, price: 100, ...over },
});

describe("createConcert", () => {
  it("answers UNAUTHENTICATED without a token, FORBIDDEN for a user, and a concert for an admin", async () => {
    const input = { input: { title: "Gate" } };
    expect(codeOf(await gql(url, CreateConcertDocument, input))).toBe("UNAUTHENTICATED");
    expect(codeOf(await gql(url, CreateConcertDocument, input, user.headers))).toBe("FORBIDDEN");
    expect((await gql(url, CreateConcertDocument, input, admin.headers)).data?.createConcert.title).toBe("Gate");
  });

  it("answers UNAUTHENTICATED before BAD_USER_INPUT", async () => {
    expect(codeOf(await gql(url, CreateConcertDocument, { input: { title: "" } }))).toBe("UNAUTHENTICATED");
  });

  it("answers BAD_USER_INPUT before FORBIDDEN", async () => {
    expect(codeOf(await gql(url, CreateConcertDocument, { input: { title: "   " } }, user.headers))).toBe("BAD_USER_INPUT");
  });
});

describe("addConcertDate", () => {
  it("answers UNAUTHENTICATED without a token, FORBIDDEN for a user, and a date for an admin", async () => {
    expect(codeOf(await gql(url, AddConcertDateDocument, dateInput()))).toBe("UNAUTHENTICATED");
    expect(codeOf(await gql(url, AddConcertDateDocument, dateInput(), user.headers))).toBe("FORBIDDEN");
    expect((await gql(url, AddConcertDateDocument, dateInput(), admin.headers)).data?.addConcertDate.concertId).toBe(concert.id);
  });

  it("answers BAD_USER_INPUT before FORBIDDEN", async () => {
    expect(codeOf(await gql(url, AddConcertDateDocument, dateInput({ seatCount: 0 }), user.headers))).toBe("BAD_USER_INPUT");
    expect(codeOf(await gql(url, AddConcertDateDocument, dateInput({ price: -1 }), user.headers))).toBe("BAD_USER_INPUT");
  });

  it("answers NOT_FOUND before FORBIDDEN, for a well-formed ID and a malformed one alike", async () => {
    expect(codeOf(await gql(url, AddConcertDateDocument, dateInput({ concertId: randomUUID() }), user.headers))).toBe("NOT_FOUND");
    expect(codeOf(await gql(url, AddConcertDateDocument, dateInput({ concertId: "not-an-id" }), user.headers))).toBe("NOT_FOUND");
  });

  it("answers BAD_USER_INPUT before NOT_FOUND", async () => {
    expect(codeOf(await gql(url, AddConcertDateDocument, dateInput({ concertId: randomUUID(), seatCount: 0 }), admin.headers))).toBe(
      "BAD_USER_INPUT",
    );
  });
});
