import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, signUp } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
beforeAll(async () => {
  deployment = await startDeployment();
});
afterAll(() => deployment.close());

describe("catalogue", () => {
  it("lets an admin create a concert with a date and anyone list it with live counts", async () => {
    const { server } = deployment;
    const admin = await newAdmin(server);
    const concert = await newConcert(server, admin, { title: "Aurora", dates: [{ seatCount: 50, price: 1200 }] });
    const r = await gql(server.url, `{ concerts { id title dates { id concertId totalSeats availableSeats soldOut startsAt } } }`);
    const listed = r.data.concerts.find((c: { id: string }) => c.id === concert.id);
    expect(listed).toMatchObject({ title: "Aurora", dates: [{ concertId: concert.id, totalSeats: 50, availableSeats: 50, soldOut: false }] });
    expect(listed.dates[0].startsAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it("refuses a non-admin with FORBIDDEN and an anonymous caller with UNAUTHENTICATED", async () => {
    const { server } = deployment;
    const user = await signUp(server.url);
    expect(codeOf(await gql(server.url, `mutation { createConcert(input:{title:"x"}){ id } }`, {}, user.headers))).toBe("FORBIDDEN");
    expect(codeOf(await gql(server.url, `mutation { createConcert(input:{title:"x"}){ id } }`))).toBe("UNAUTHENTICATED");
  });
});
