// signIn: the right password gives a token; a wrong one says nothing about
// which part was wrong; too many failures for one e-mail lock it for a minute.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { bearer, codeOf, gql, signUp, uniqueEmail } from "../support/client";
import { withRoomInWindow } from "../support/timing";
import { MeDocument, SignInDocument } from "../generated/graphql";

const FAILURES_PER_MINUTE = 3;

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let url: string;
beforeAll(async () => {
  deployment = await startDeployment({ settings: { SIGN_IN_FAILURES_PER_MINUTE: String(FAILURES_PER_MINUTE) } });
  url = deployment.server.url;
});
afterAll(() => deployment.close());

describe("signIn", () => {
  it("gives a working access token for the right e-mail and password", async () => {
    const user = await signUp(url, "signin");
    const r = await gql(url, SignInDocument, { email: user.email, password: user.password });
    expect(r.data!.signIn.user).toMatchObject({ id: user.id, email: user.email, role: "USER" });
    const me = await gql(url, MeDocument, {}, bearer(r.data!.signIn.accessToken));
    expect(me.data!.me.id).toBe(user.id);
  });

  it("answers INVALID_CREDENTIALS alike for a wrong password and an unknown e-mail", async () => {
    const user = await signUp(url, "wrong");
    const wrongPassword = await gql(url, SignInDocument, { email: user.email, password: "not the password" });
    const unknownEmail = await gql(url, SignInDocument, { email: uniqueEmail("nobody"), password: user.password });
    expect(codeOf(wrongPassword)).toBe("INVALID_CREDENTIALS");
    expect(codeOf(unknownEmail)).toBe("INVALID_CREDENTIALS");
    // The same words either way: the answer does not tell which e-mails have accounts.
    expect(wrongPassword.errors![0].message).toBe(unknownEmail.errors![0].message);
    expect(codeOf(await gql(url, SignInDocument, { email: user.email, password: "" }))).toBe("INVALID_CREDENTIALS");
  });

  it("answers RATE_LIMITED once an e-mail has had SIGN_IN_FAILURES_PER_MINUTE failures, even to the right password", async () => {
    const user = await signUp(url, "locked");
    const other = await signUp(url, "unlocked");
    // The failures are counted per minute: all of them must land in one.
    await withRoomInWindow(60_000, 5_000);
    for (let i = 0; i < FAILURES_PER_MINUTE; i++) {
      expect(codeOf(await gql(url, SignInDocument, { email: user.email, password: `guess ${i} wrong` }))).toBe("INVALID_CREDENTIALS");
    }
    expect(codeOf(await gql(url, SignInDocument, { email: user.email, password: "one more guess" }))).toBe("RATE_LIMITED");
    expect(codeOf(await gql(url, SignInDocument, { email: user.email, password: user.password }))).toBe("RATE_LIMITED");
    // The lock is per e-mail, whatever its letters: not per address, not for everyone.
    expect(codeOf(await gql(url, SignInDocument, { email: user.email.toUpperCase(), password: user.password }))).toBe("RATE_LIMITED");
    expect((await gql(url, SignInDocument, { email: other.email, password: other.password })).data?.signIn.user.id).toBe(other.id);
  });
});
