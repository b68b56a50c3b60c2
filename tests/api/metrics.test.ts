// /metrics speaks the Prometheus text format (prom-client): process and
// event-loop figures, GraphQL operation durations by operation name, errors by code.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import WebSocket from "ws";
import { gql } from "../support/client";
import { bucketQuantiles, readServerTimings } from "../../bench/rush/server-metrics";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let url: string;
beforeAll(async () => {
  deployment = await startDeployment();
  url = deployment.server.url;
});
afterAll(() => deployment.close());

async function scrape() {
  const res = await fetch(`${url}/metrics`);
  return { contentType: res.headers.get("content-type"), text: await res.text() };
}

describe("/metrics", () => {
  it("counts each named operation's durations and each error code", async () => {
    await gql(url, `query MetricsProbe { concerts { id } }`);
    await gql(url, `query MetricsProbe { concerts { id } }`);
    await gql(url, `query MetricsDenied { me { id } }`);
    await gql(url, `{ concerts { nope } }`);

    const { contentType, text } = await scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toContain(`graphql_operation_duration_seconds_count{operation="MetricsProbe"} 2`);
    expect(text).toContain(`graphql_operation_duration_seconds_bucket{le="+Inf",operation="MetricsProbe"} 2`);
    expect(text).toMatch(/graphql_operation_duration_seconds_sum\{operation="MetricsProbe"\} \d/);
    expect(text).toContain(`graphql_operation_duration_seconds_count{operation="MetricsDenied"} 1`);
    expect(text).toContain(`graphql_errors_total{code="UNAUTHENTICATED"} 1`);
    expect(text).toContain(`graphql_errors_total{code="BAD_USER_INPUT"} 1`);
  });

  it("reads as the rush reads it: each named operation's count and quantiles from its buckets, each pool's", async () => {
    for (let i = 0; i < 3; i++) await gql(url, `query RushReadProbe { concerts { id } }`);
    const timings = await readServerTimings([url, url], ["RushReadProbe", "NeverAsked"]);
    // Two scrapes of one server add up: 6 calls.
    expect(timings.operations.RushReadProbe.count).toBe(6);
    expect(timings.operations.RushReadProbe.p50).toBeGreaterThan(0);
    expect(timings.operations.RushReadProbe.p50).toBeLessThanOrEqual(timings.operations.RushReadProbe.p99!);
    expect(timings.operations.NeverAsked).toBeUndefined();
    expect(timings.pools.main.query?.count).toBeGreaterThan(0);
    expect(timings.pools.main.wait?.count).toBeGreaterThan(0);
  });

  it("estimates a quantile linearly within the bucket that holds its rank, and past the last bound not at all", () => {
    const buckets = new Map([
      [0.1, 50],
      [0.25, 100],
      [0.5, 100],
      [Infinity, 100],
    ]);
    expect(bucketQuantiles(buckets)).toEqual({ count: 100, p50: 100, p99: 247, over: 500 });
    const tail = new Map([
      [0.1, 90],
      [Infinity, 100],
    ]);
    expect(bucketQuantiles(tail)).toEqual({ count: 100, p50: 55.6, p99: null, over: 100 });
    expect(bucketQuantiles(new Map([[Infinity, 0]]))).toEqual({ count: 0, p50: null, p99: null, over: 0 });
  });

  it("shows process figures and nothing a Prometheus parser would refuse", async () => {
    const { text } = await scrape();
    // prom-client's default metrics (collectDefaultMetrics), event-loop delay among them.
    for (const name of [
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
      "nodejs_eventloop_lag_seconds",
      "nodejs_eventloop_lag_p99_seconds",
    ]) {
      expect(text).toMatch(new RegExp(`^${name} \\d`, "m"));
    }
    // Values as Prometheus parses them (Go's strconv.ParseFloat): NaN and Inf in any case.
    // prom-client writes "Nan" for the event-loop mean and stddev before it has a sample.
    const sample =
      /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (-?\d+(\.\d+)?(e[+-]?\d+)?|[Nn][Aa][Nn]|[+-][Ii][Nn][Ff])$/;
    const bad = text.split("\n").filter((line) => line !== "" && !line.startsWith("# TYPE ") && !line.startsWith("# HELP ") && !sample.test(line));
    expect(bad).toEqual([]);
    expect(text.endsWith("\n")).toBe(true);
  });

  it("counts WebSockets: open, connects, and refusals by reason", async () => {
    const sample = async (series: string) => {
      const line = (await scrape()).text.split("\n").find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    const wsUrl = url.replace(/^http/, "ws");
    // A socket to another path is refused at the upgrade.
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`${wsUrl}/elsewhere`);
      ws.on("error", () => resolve());
      ws.on("close", () => resolve());
    });
    expect(await sample(`websocket_refusals_total{reason="path"}`)).toBe(1);
    // A socket that breaks the protocol is closed by graphql-ws with 4400.
    const ws = new WebSocket(`${wsUrl}/graphql`, "graphql-transport-ws");
    await new Promise((resolve) => ws.once("open", resolve));
    expect(await sample("websocket_open")).toBe(1);
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.send(JSON.stringify({ type: "not-a-message" }));
    expect(await closed).toBe(4400);
    await expect.poll(() => sample(`websocket_refusals_total{reason="bad_request"}`), { timeout: 10_000 }).toBe(1);
    expect(await sample("websocket_connects_total")).toBe(1);
    await expect.poll(() => sample("websocket_open"), { timeout: 10_000 }).toBe(0);
  });
});
