// With Redis, rate limits are counted once for the whole service: a client
// cannot get more by spreading its requests over the instances. Runs whenever
// REDIS_URL is set, and fails (not skips) when that Redis does not answer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, signUp, type GqlResult } from "../support/client";
import { assertRedisAnswers, redisUrl } from "../support/redis";
import { notRun } from "../support/stores";
import { inOneSecond, withRoomInWindow } from "../support/timing";
import { ConcertsDocument, MeDocument, SignInDocument } from "../generated/graphql";

const LIMIT = 4;

const served = (results: GqlResult[]) => results.filter((r) => r.status === 200 && !r.errors).length;
const limited = (results: GqlResult[]) => results.filter((r) => codeOf(r) === "RATE_LIMITED").length;

if (!redisUrl) notRun("rate limits across two instances sharing Redis", "REDIS_URL is not set");
describe.runIf(redisUrl)("rate limits across two instances sharing Redis", () => {
  describe("per user, and failed sign-ins per e-mail", () => {
    let deployment: Awaited<ReturnType<typeof startDeployment>>;
    beforeAll(async () => {
      await assertRedisAnswers();
      deployment = await startDeployment({
        instances: 2,
        redis: true,
        settings: { RATE_LIMIT_USER_PER_SECOND: String(LIMIT), SIGN_IN_FAILURES_PER_MINUTE: "2" },
      });
    });
    afterAll(() => deployment?.close());

    it("counts one user's requests to both instances together", async () => {
      const [a, b] = deployment.servers;
      const user = await signUp(a.url, "spread");
      const burst = await inOneSecond(() => Promise.all([a, b, a, b, a, b, a, b, a, b, a, b].map((s) => gql(s.url, MeDocument, {}, user.headers))));
      expect({ served: served(burst), limited: limited(burst) }).toEqual({ served: LIMIT, limited: 12 - LIMIT });
    });

    it("counts failed sign-ins on one instance against the e-mail on the other", async () => {
      const [a, b] = deployment.servers;
      const user = await signUp(a.url, "guessed");
      await withRoomInWindow(60_000, 5_000);
      for (const s of [a, b]) {
        expect(codeOf(await gql(s.url, SignInDocument, { email: user.email, password: "wrong guess" }))).toBe("INVALID_CREDENTIALS");
      }
      expect(codeOf(await gql(a.url, SignInDocument, { email: user.email, password: user.password }))).toBe("RATE_LIMITED");
      expect(codeOf(await gql(b.url, SignInDocument, { email: user.email, password: user.password }))).toBe("RATE_LIMITED");
    });
  });

  describe("per address", () => {
    let deployment: Awaited<ReturnType<typeof startDeployment>>;
    beforeAll(async () => {
      await assertRedisAnswers();
      deployment = await startDeployment({ instances: 2, redis: true, settings: { RATE_LIMIT_ADDRESS_PER_SECOND: String(LIMIT) } });
    });
    afterAll(() => deployment?.close());

    it("counts one address's requests to both instances together", async () => {
      const [a, b] = deployment.servers;
      const burst = await inOneSecond(() => Promise.all([a, b, a, b, a, b, a, b, a, b].map((s) => gql(s.url, ConcertsDocument))));
      expect({ served: served(burst), limited: limited(burst) }).toEqual({ served: LIMIT, limited: 10 - LIMIT });
    });
  });
});
