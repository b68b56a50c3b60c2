// Factories that make what a test needs through the public API (and, for the
// first admin, the same service call `npm start` makes from ADMIN_EMAIL).
import type { TestServer } from "./server";
import { bearer, gql, signUp, type TestUser } from "./client";

export async function newAdmin(server: TestServer): Promise<TestUser> {
  const user = await signUp(server.url, "admin");
  await server.app.services.users.ensureAdmin(user.email, user.password);
  // The role travels in the access token: sign in again to get an admin's token.
  const r = await gql(server.url, `mutation($e:String!,$p:String!){ signIn(email:$e,password:$p){ accessToken } }`, {
    e: user.email,
    p: user.password,
  });
  const token = r.data.signIn.accessToken as string;
  return { ...user, token, headers: bearer(token) };
}

export interface TestConcert {
  id: string;
  dates: { id: string; startsAt: string }[];
}

export async function newConcert(
  server: TestServer,
  admin: TestUser,
  options: { title?: string; dates?: { seatCount?: number; price?: number; startsInSeconds?: number }[] } = {},
): Promise<TestConcert> {
  const c = await gql(
    server.url,
    `mutation($t:String!){ createConcert(input:{title:$t}){ id } }`,
    { t: options.title ?? "Test concert" },
    admin.headers,
  );
  if (!c.data) throw new Error(`createConcert failed: ${JSON.stringify(c.errors)}`);
  const id = c.data.createConcert.id as string;
  const dates = [];
  for (const d of options.dates ?? [{}]) {
    const startsAt = new Date(Date.now() + (d.startsInSeconds ?? 86_400) * 1000).toISOString();
    const r = await gql(
      server.url,
      `mutation($i:AddConcertDateInput!){ addConcertDate(input:$i){ id startsAt } }`,
      { i: { concertId: id, startsAt, seatCount: d.seatCount ?? 10, price: d.price ?? 1000 } },
      admin.headers,
    );
    if (!r.data) throw new Error(`addConcertDate failed: ${JSON.stringify(r.errors)}`);
    dates.push(r.data.addConcertDate);
  }
  return { id, dates };
}
