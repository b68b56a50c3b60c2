// signUp: who may open an account, with which e-mail and password.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { bearer, codeOf, gql, uniqueEmail } from "../support/client";
import { rowCounts, sql } from "../support/sql";
import { MeDocument, SignInDocument, SignUpDocument } from "../generated/graphql";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let url: string;
beforeAll(async () => {
  deployment = await startDeployment();
  url = deployment.server.url;
});
afterAll(() => deployment.close());

const PASSWORD = "long enough password";

describe("signUp", () => {
  it("opens a USER account with no money and a token that names it", async () => {
    const email = uniqueEmail("signup");
    const r = await gql(url, SignUpDocument, { email, password: PASSWORD });
    expect(r.errors).toBeUndefined();
    expect(r.data!.signUp.user).toMatchObject({ email, role: "USER", balance: 0 });
    const me = await gql(url, MeDocument, {}, bearer(r.data!.signUp.accessToken));
    expect(me.data!.me).toEqual(r.data!.signUp.user);
  });

  it("keeps only a scrypt hash of the password", async () => {
    const email = uniqueEmail("hash");
    await gql(url, SignUpDocument, { email, password: PASSWORD });
    const [row] = await sql<{ password_hash: string }>(deployment.db.url, "SELECT password_hash FROM users WHERE email = $1", [email]);
    expect(row.password_hash).toMatch(/^scrypt\$/);
    expect(row.password_hash).not.toContain(PASSWORD);
  });

  it("normalises the e-mail, so one address in other letters is the same account", async () => {
    const email = uniqueEmail("MiXeD");
    const r = await gql(url, SignUpDocument, { email: `  ${email.toUpperCase()} `, password: PASSWORD });
    expect(r.data!.signUp.user.email).toBe(email.toLowerCase());
    expect(codeOf(await gql(url, SignUpDocument, { email: email.toLowerCase(), password: PASSWORD }))).toBe("EMAIL_TAKEN");
    const signIn = await gql(url, SignInDocument, { email: ` ${email} `, password: PASSWORD });
    expect(signIn.data!.signIn.user.id).toBe(r.data!.signUp.user.id);
  });

  it("answers EMAIL_TAKEN for a used e-mail and leaves the first account as it was", async () => {
    const email = uniqueEmail("taken");
    await gql(url, SignUpDocument, { email, password: PASSWORD });
    const again = await gql(url, SignUpDocument, { email, password: "another good password" });
    expect(codeOf(again)).toBe("EMAIL_TAKEN");
    expect(again.data).toBeNull();
    expect(codeOf(await gql(url, SignInDocument, { email, password: "another good password" }))).toBe("INVALID_CREDENTIALS");
    expect((await gql(url, SignInDocument, { email, password: PASSWORD })).data?.signIn.user.email).toBe(email);
  });

  it.each([
    ["a password under 8 characters", () => ({ email: uniqueEmail("weak"), password: "1234567" })],
    ["an empty password", () => ({ email: uniqueEmail("empty"), password: "" })],
    ["an e-mail without @", () => ({ email: "not-an-email", password: PASSWORD })],
    ["an e-mail without a domain", () => ({ email: "someone@", password: PASSWORD })],
    ["an e-mail with a space inside", () => ({ email: "some one@example.com", password: PASSWORD })],
    ["an empty e-mail", () => ({ email: "   ", password: PASSWORD })],
  ])("refuses %s with BAD_USER_INPUT and creates nobody", async (_, input) => {
    const before = await rowCounts(deployment.db.url, ["users"]);
    const r = await gql(url, SignUpDocument, input());
    expect(codeOf(r)).toBe("BAD_USER_INPUT");
    expect(r.errors![0].message).toMatch(/password|e-mail/i);
    expect(await rowCounts(deployment.db.url, ["users"])).toEqual(before);
  });
});
