// Failed sign-ins with the default limits: one address guessing many e-mails is
// throttled, and a stranger's wrong passwords do not lock the owner out from
// another address. Each client speaks from an address of its own in 127.0.0.0/8.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { signUp, uniqueEmail } from "../support/client";
import { withRoomInWindow } from "../support/timing";

const SIGN_IN = `mutation($e:String!,$p:String!){ signIn(email:$e,password:$p){ accessToken user { email } } }`;

/** signIn over HTTP from `localAddress`; the error code, or "OK". */
function signInFrom(url: string, localAddress: string, email: string, password: string): Promise<string> {
  const body = JSON.stringify({ query: SIGN_IN, variables: { e: email, p: password } });
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/graphql`,
      { method: "POST", localAddress, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => (text += chunk));
        res.on("end", () => {
          const parsed = JSON.parse(text) as { data?: { signIn?: unknown }; errors?: { extensions?: { code?: string } }[] };
          resolve(parsed.errors ? String(parsed.errors[0].extensions?.code) : parsed.data?.signIn ? "OK" : "NO DATA");
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let url: string;
// No overrides: the defaults are what is tested.
beforeAll(async () => {
  deployment = await startDeployment();
  url = deployment.server.url;
});
afterAll(() => deployment.close());

describe("failed sign-ins with the default limits", () => {
  it("throttles one address that guesses at 60 different e-mails", async () => {
    await withRoomInWindow(60_000, 20_000);
    const codes: string[] = [];
    for (let i = 0; i < 60; i++) codes.push(await signInFrom(url, "127.0.0.11", uniqueEmail("nobody"), "wrong password"));
    expect(codes.slice(0, 30).every((c) => c === "INVALID_CREDENTIALS")).toBe(true);
    expect(codes.slice(30).every((c) => c === "RATE_LIMITED")).toBe(true);
    // Another address is not held back by it.
    expect(await signInFrom(url, "127.0.0.12", uniqueEmail("nobody"), "wrong password")).toBe("INVALID_CREDENTIALS");
  });

  it("does not lock the owner out when a stranger fails at the owner's e-mail", async () => {
    const owner = await signUp(url, "owner");
    await withRoomInWindow(60_000, 20_000);
    const stranger: string[] = [];
    for (let i = 0; i < 15; i++) stranger.push(await signInFrom(url, "127.0.0.21", owner.email, `guess number ${i}`));
    // The stranger is stopped at SIGN_IN_FAILURES_PER_MINUTE (10) for this e-mail …
    expect(stranger.slice(0, 10).every((c) => c === "INVALID_CREDENTIALS")).toBe(true);
    expect(stranger.slice(10).every((c) => c === "RATE_LIMITED")).toBe(true);
    expect(await signInFrom(url, "127.0.0.21", owner.email, owner.password)).toBe("RATE_LIMITED");
    // … while the owner, from another address, signs in.
    expect(await signInFrom(url, "127.0.0.22", owner.email, owner.password)).toBe("OK");
  });
});
