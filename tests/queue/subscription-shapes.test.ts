// Subscription events take a fast path when the selection is flat; these check
// that it answers exactly what graphql-js's executor answers for the same
// events, with aliases, __typename and a fragment (which takes the slow path).
import { afterAll, beforeAll, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { gql, signUp, subscribe, wsClient } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
beforeAll(async () => {
  deployment = await startDeployment({ settings: { QUEUE_MAX_ACTIVE: "1" } });
});
afterAll(() => deployment.close());

const ENTER = `mutation($c:ID!){ enterQueue(concertId:$c){ token } }`;

it("answers flat, aliased and fragment selections alike, event for event", async () => {
  const { url, wsUrl } = deployment.server;
  const admin = await newAdmin(deployment.server);
  const concert = await newConcert(deployment.server, admin);
  const [first, second] = [await signUp(url), await signUp(url)];
  const a = (await gql(url, ENTER, { c: concert.id }, first.headers)).data.enterQueue.token;
  const b = (await gql(url, ENTER, { c: concert.id }, second.headers)).data.enterQueue.token;
  const client = wsClient(wsUrl, { authorization: `Bearer ${second.token}` });
  const flat = subscribe(
    client,
    `subscription($t:String!){ t: queueStatusChanged(token:$t){ __typename place: queuePosition status expiredReason } }`,
    { t: b },
  );
  const viaFragment = subscribe(
    client,
    `subscription($t:String!){ t: queueStatusChanged(token:$t){ ...F } } fragment F on QueueTicket { __typename place: queuePosition status expiredReason }`,
    { t: b },
  );
  const expected = [
    { __typename: "QueueTicket", place: 1, status: "WAITING", expiredReason: null },
    { __typename: "QueueTicket", place: 0, status: "ACTIVE", expiredReason: null },
    { __typename: "QueueTicket", place: 0, status: "EXPIRED", expiredReason: "LEFT" },
  ];
  expect((await flat.next()).data).toEqual({ t: expected[0] });
  expect((await viaFragment.next()).data).toEqual({ t: expected[0] });
  await gql(url, `mutation($t:String!){ leaveQueue(token:$t){ status } }`, { t: a }, first.headers);
  expect((await flat.next(3_000)).data).toEqual({ t: expected[1] });
  expect((await viaFragment.next(3_000)).data).toEqual({ t: expected[1] });
  await gql(url, `mutation($t:String!){ leaveQueue(token:$t){ status } }`, { t: b }, second.headers);
  expect((await flat.next(3_000)).data).toEqual({ t: expected[2] });
  expect((await viaFragment.next(3_000)).data).toEqual({ t: expected[2] });
  await flat.ended();
  await viaFragment.ended();
  await client.dispose();
});
