// An access token is accepted only as issued: signed with our secret, intact
// and unexpired. Anything else is UNAUTHENTICATED, never a guess at a user.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHmac, randomUUID } from "node:crypto";
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
    const forged = await createAccessTokens("a-different-secret-that-is-also-long-enough", 3600).issue({ id: user.id, role: "ADMIN" });
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
    const expired = await createAccessTokens(secret, -60).issue({ id: user.id, role: "USER" });
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
    const orphan = await createAccessTokens(secret, 3600).issue({ id: randomUUID(), role: "USER" });
    expect(codeOf(await me(bearer(orphan)))).toBe("UNAUTHENTICATED");
  });

  // Tokens issued before a library signed them (jose, then fast-jwt): the same HS256 JWT, made here the way
  // the hand-written signer made it (node:crypto HMAC over header.payload).
  const signedTheOldWay = (claims: Record<string, unknown>, key = secret) => {
    const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
    return `${body}.${createHmac("sha256", key).update(body).digest("base64url")}`;
  };
  const claimsOf = (id: string, role: "USER" | "ADMIN", lifetime: number) => {
    const now = Math.floor(Date.now() / 1000);
    return { sub: id, role, iat: now, exp: now + lifetime };
  };

  it("accepts a token signed by the previous (hand-written) signer, and refuses one of its expired or forged tokens", async () => {
    expect((await me(bearer(signedTheOldWay(claimsOf(user.id, "USER", 3600))))).data!.me.id).toBe(user.id);
    const expired = await me(bearer(signedTheOldWay(claimsOf(user.id, "USER", -60))));
    expect(codeOf(expired)).toBe("UNAUTHENTICATED");
    expect(expired.errors![0].message).toMatch(/expired/i);
    const forged = signedTheOldWay(claimsOf(user.id, "USER", 3600), "a-different-secret-that-is-also-long-enough");
    expect(codeOf(await me(bearer(forged)))).toBe("UNAUTHENTICATED");
  });

  it("issues exactly what the previous signer issued: the same header, claims and signature", async () => {
    const tokens = createAccessTokens(secret, 3600);
    // Issued within one second, the old and new tokens are the same string; retried across a second's edge.
    for (let attempt = 0; ; attempt++) {
      const claims = claimsOf(user.id, "ADMIN", 3600);
      const issued = await tokens.issue({ id: user.id, role: "ADMIN" });
      if (claimsOf(user.id, "ADMIN", 3600).iat !== claims.iat && attempt < 3) continue;
      expect(issued).toBe(signedTheOldWay(claims));
      break;
    }
  });

  it("says why in the message: malformed, not valid, expired", async () => {
    const tokens = createAccessTokens(secret, 3600);
    const genuine = await tokens.issue({ id: user.id, role: "USER" });
    const [header, payload] = genuine.split(".");
    expect(await tokens.verify("not-a-token")).toEqual({ error: "The access token is malformed." });
    expect(await tokens.verify(`${header}.${payload}.${"A".repeat(43)}`)).toEqual({ error: "The access token is not valid." });
    expect(await tokens.verify(signedTheOldWay({ sub: user.id, role: "OWNER", exp: claimsOf(user.id, "USER", 60).exp }))).toEqual({
      error: "The access token is malformed.",
    });
    expect(await tokens.verify(signedTheOldWay({ sub: user.id, role: "USER" }))).toEqual({ error: "The access token is malformed." });
    expect(await tokens.verify(await createAccessTokens(secret, -1).issue({ id: user.id, role: "USER" }))).toEqual({
      error: "The access token has expired: sign in again.",
    });
    // Its first requests at once (sharing one signature check) are each answered with the actor.
    const fresh = await tokens.issue({ id: user.id, role: "ADMIN" });
    const together = await Promise.all(Array.from({ length: 20 }, () => tokens.verify(fresh)));
    expect(together).toEqual(Array.from({ length: 20 }, () => ({ id: user.id, role: "ADMIN" })));
    // Twice: the second answer comes from the verified-token cache, and is the same.
    expect(await tokens.verify(genuine)).toEqual({ id: user.id, role: "USER" });
    expect(await tokens.verify(genuine)).toEqual({ id: user.id, role: "USER" });
  });

  it("refuses a remembered token once it expires", async () => {
    const tokens = createAccessTokens(secret, 1);
    const shortLived = await tokens.issue({ id: user.id, role: "USER" });
    expect(await tokens.verify(shortLived)).toEqual({ id: user.id, role: "USER" });
    const { exp } = JSON.parse(Buffer.from(shortLived.split(".")[1], "base64url").toString());
    while (Date.now() < exp * 1000) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await tokens.verify(shortLived)).toEqual({ error: "The access token has expired: sign in again." });
  });
});
