// An access token is accepted only as issued: signed with our secret, intact
// and unexpired. Anything else is UNAUTHENTICATED, never a guess at a user.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { startDeployment, testSettings } from "../support/server";
import { bearer, codeOf, gql, signUp, type TestUser } from "../support/client";
import { createAccessTokens } from "../../src/auth/access-tokens";
import { MeDocument } from "../generated/graphql";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let url: string;
let user: TestUser;
// The deployment's own secret: tokens made with it are genuine in every way but the one under test.
const secret = testSettings().jwtSecret!;
beforeAll(async () => {
  deployment = await startDeployment();
  url = deployment.server.url;
  user = await signUp(url, "tokens");
});
afterAll(() => deployment.close());

const me = (headers: Record<string, string>) => gql(url, MeDocument, {}, headers);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("access tokens", () => {
  it("names the user when genuine", async () => {
    expect((await me(user.headers)).data!.me.id).toBe(user.id);
  });

  it("answers UNAUTHENTICATED with no token at all", async () => {
    const r = await me({});
    expect(codeOf(r)).toBe("UNAUTHENTICATED");
    expect(r.data).toBeNull();
  });

  it("answers UNAUTHENTICATED for a token signed with another secret", async () => {
    const forged = createAccessTokens("a-different-secret-that-is-also-long-enough", 3600).issue({ id: user.id, role: "ADMIN" });
    expect(codeOf(await me(bearer(forged)))).toBe("UNAUTHENTICATED");
  });

  it("answers UNAUTHENTICATED for a genuine token whose claims were edited", async () => {
    const [header, payload, signature] = user.token.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    const edited = `${header}.${b64({ ...claims, role: "ADMIN" })}.${signature}`;
    expect(codeOf(await me(bearer(edited)))).toBe("UNAUTHENTICATED");
  });

  it("answers UNAUTHENTICATED for an unsigned (alg: none) token", async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: user.id, role: "ADMIN", iat: now, exp: now + 3600 })}.`;
    expect(codeOf(await me(bearer(unsigned)))).toBe("UNAUTHENTICATED");
  });

  it("answers UNAUTHENTICATED for an expired token and says so", async () => {
    const expired = createAccessTokens(secret, -60).issue({ id: user.id, role: "USER" });
    const r = await me(bearer(expired));
    expect(codeOf(r)).toBe("UNAUTHENTICATED");
    expect(r.errors![0].message).toMatch(/expired/i);
  });

  it.each([
    ["garbage", { authorization: "Bearer not-a-token" }],
    ["two parts", { authorization: "Bearer abc.def" }],
    ["another scheme", { authorization: `Basic ${Buffer.from("a:b").toString("base64")}` }],
    ["a bare token without Bearer", { authorization: "eyJhbGciOiJIUzI1NiJ9.e30.sig" }],
    ["Bearer and nothing", { authorization: "Bearer " }],
  ])("answers UNAUTHENTICATED for a malformed header: %s", async (_, headers) => {
    expect(codeOf(await me(headers))).toBe("UNAUTHENTICATED");
  });

  it("answers UNAUTHENTICATED for a genuine token of an account that does not exist", async () => {
    const orphan = createAccessTokens(secret, 3600).issue({ id: randomUUID(), role: "USER" });
    expect(codeOf(await me(bearer(orphan)))).toBe("UNAUTHENTICATED");
  });
});
