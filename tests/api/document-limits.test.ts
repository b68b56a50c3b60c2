// Abusive documents and bodies are refused cheaply, and the server goes on
// serving everyone else meanwhile: each refusal below runs while another
// client keeps asking for the concert list, and every one of its answers must
// be a normal one.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { ConcertsDocument } from "../generated/graphql";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let url: string;
let concertId: string;
beforeAll(async () => {
  deployment = await startDeployment();
  url = deployment.server.url;
  concertId = (await newConcert(deployment.server, await newAdmin(deployment.server))).id;
});
afterAll(() => deployment.close());

/** Runs `abuse` while another client asks for the concerts; every answer it gets must be right. */
async function whileServingOthers<T>(abuse: () => Promise<T>): Promise<T> {
  let done = false;
  const served: boolean[] = [];
  const other = (async () => {
    while (!done || served.length < 3) {
      const r = await gql(url, ConcertsDocument);
      served.push(r.status === 200 && !r.errors && r.data!.concerts.some((c) => c.id === concertId));
    }
  })();
  try {
    return await abuse();
  } finally {
    done = true;
    await other;
    expect(served.every(Boolean)).toBe(true);
  }
}

const fields = (n: number, field = "__typename") => Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(" ");
/** __schema { types { fields { type { ofType … { name } } } } }: 5 levels plus one per ofType. */
const deep = (depth: number) => `{ __schema { types { fields { type { ${"ofType { ".repeat(depth - 5)}name${" }".repeat(depth - 5)} } } } } }`;

describe("document limits", () => {
  it("serves 1,000 fields and aliases, and refuses 1,001 with BAD_USER_INPUT", async () => {
    const ok = await gql(url, `{ ${fields(1000)} }`);
    expect(ok.errors).toBeUndefined();
    expect(Object.keys(ok.data)).toHaveLength(1000);
    const refused = await gql(url, `{ ${fields(1001)} }`);
    expect(codeOf(refused)).toBe("BAD_USER_INPUT");
    expect(refused.errors![0].message).toMatch(/1001 fields/);
  });

  it("refuses an alias bomb on a list field without running it", async () => {
    const bomb = `{ ${fields(5_000, "concerts { dates { availableSeats } }")} }`;
    const r = await whileServingOthers(() => gql(url, bomb));
    expect(codeOf(r)).toBe("BAD_USER_INPUT");
    expect(r.data).toBeUndefined();
  });

  it("serves a query 15 levels deep and refuses one 16 levels deep", async () => {
    expect((await gql(url, deep(15))).errors).toBeUndefined();
    const r = await whileServingOthers(() => gql(url, deep(16)));
    expect(codeOf(r)).toBe("BAD_USER_INPUT");
    expect(r.errors![0].message).toMatch(/16 levels/);
  });

  it("refuses a fragment bomb (2^40 fields through nested spreads) at once", async () => {
    const fragments = ["fragment F0 on Query { concerts { id title } }"];
    for (let i = 1; i <= 40; i++) fragments.push(`fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`);
    // Expanded, the document has 2^40 fields: counting them one by one would not end in hours.
    // A generous deadline separates that from a refusal however loaded the machine is.
    const started = performance.now();
    const r = await whileServingOthers(() => gql(url, `query { ...F40 } ${fragments.join(" ")}`));
    expect(codeOf(r)).toBe("BAD_USER_INPUT");
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it("refuses fragments that spread each other in a cycle", async () => {
    const r = await gql(url, `query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }`);
    expect(codeOf(r)).toBe("BAD_USER_INPUT");
  });

  it("refuses a document of more tokens than any honest query has, before parsing all of it", async () => {
    const r = await whileServingOthers(() => gql(url, `{ ${"__typename ".repeat(50_000)} }`));
    expect(codeOf(r)).toBe("BAD_USER_INPUT");
  });
});

describe("request body limit", () => {
  it("answers HTTP 413 to a body over 1 MB", async () => {
    const big = JSON.stringify({ query: `{ concerts { id } }`, variables: { pad: "x".repeat(1_100_000) } });
    const res = await whileServingOthers(() =>
      fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: big }),
    );
    expect(res.status).toBe(413);
    expect(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe("BAD_USER_INPUT");
  });

  it("answers HTTP 413 to a chunked body that grows past 1 MB, without waiting for its end", async () => {
    const status = await whileServingOthers(
      () =>
        new Promise<number>((resolve, reject) => {
          const req = request(`${url}/graphql`, { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" } });
          req.on("response", (res) => {
            res.resume();
            resolve(res.statusCode!);
            req.destroy();
          });
          req.on("error", reject);
          // 2 MB announced by nobody: the server must count as it reads.
          const chunk = "x".repeat(64 * 1024);
          req.write(`{"query":"{ concerts { id } }","variables":{"pad":"`);
          for (let i = 0; i < 32; i++) req.write(chunk);
          // Left open on purpose: the answer must not wait for the body to end.
        }),
    );
    expect(status).toBe(413);
  });

  it("serves a body just under 1 MB", async () => {
    const r = await gql(url, `query Padded($pad: ID!) { concert(id: $pad) { id } }`, { pad: "x".repeat(900_000) });
    expect(r.status).toBe(200);
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({ concert: null });
  });
});
