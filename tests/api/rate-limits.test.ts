// Request rate limits on one instance (counted in process): a signed-in user,
// and an address, may make so many requests a second; past that they answer
// RATE_LIMITED (HTTP 429) until the next second, and nobody else is held back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, signUp, type GqlResult } from "../support/client";
import { atWindowStart, inOneSecond } from "../support/timing";
import { ConcertsDocument, MeDocument } from "../generated/graphql";

const LIMIT = 5;

const tally = (results: GqlResult[]) => ({
  served: results.filter((r) => r.status === 200 && !r.errors).length,
  limited: results.filter((r) => r.status === 429 && codeOf(r) === "RATE_LIMITED").length,
});

describe("RATE_LIMIT_USER_PER_SECOND", () => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  beforeAll(async () => {
    deployment = await startDeployment({ settings: { RATE_LIMIT_USER_PER_SECOND: String(LIMIT) } });
  });
  afterAll(() => deployment.close());

  it("serves a user that many requests a second, refuses the rest, and serves them again the next second", async () => {
    const url = deployment.server.url;
    const [busy, calm] = [await signUp(url, "busy"), await signUp(url, "calm")];
    // All at once, inside one counting window; another user and anonymous
    // callers in the same second are not held back.
    const { burst, calmMe, anonymous } = await inOneSecond(async () => ({
      burst: await Promise.all(Array.from({ length: LIMIT + 7 }, () => gql(url, MeDocument, {}, busy.headers))),
      calmMe: await gql(url, MeDocument, {}, calm.headers),
      anonymous: await Promise.all(Array.from({ length: LIMIT + 3 }, () => gql(url, ConcertsDocument))),
    }));
    expect(tally(burst)).toEqual({ served: LIMIT, limited: 7 });
    expect(calmMe.data?.me.id).toBe(calm.id);
    expect(tally(anonymous)).toEqual({ served: LIMIT + 3, limited: 0 });

    await atWindowStart();
    expect((await gql(url, MeDocument, {}, busy.headers)).data?.me.id).toBe(busy.id);
  });
});

describe("RATE_LIMIT_ADDRESS_PER_SECOND", () => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  beforeAll(async () => {
    deployment = await startDeployment({ settings: { RATE_LIMIT_ADDRESS_PER_SECOND: String(LIMIT) } });
  });
  afterAll(() => deployment.close());

  it("serves one address that many requests a second, signed in or not, and refuses the rest", async () => {
    const url = deployment.server.url;
    const user = await signUp(url, "address");
    const burst = await inOneSecond(() =>
      Promise.all([
        ...Array.from({ length: 4 }, () => gql(url, MeDocument, {}, user.headers)),
        ...Array.from({ length: 6 }, () => gql(url, ConcertsDocument)),
      ]),
    );
    expect(tally(burst)).toEqual({ served: LIMIT, limited: 10 - LIMIT });

    await atWindowStart();
    expect(tally([await gql(url, ConcertsDocument)])).toEqual({ served: 1, limited: 0 });
  });
});
