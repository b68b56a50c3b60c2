// /metrics speaks the Prometheus text format (prom-client): process and
// event-loop figures, GraphQL operation durations by operation name, errors by code.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { gql } from "../support/client";

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

  it("shows process figures and nothing a Prometheus parser would refuse", async () => {
    const { text } = await scrape();
    // prom-client's default metrics (collectDefaultMetrics), event-loop delay among them.
    for (const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "nodejs_heap_size_used_bytes", "nodejs_eventloop_lag_seconds", "nodejs_eventloop_lag_p99_seconds"]) {
      expect(text).toMatch(new RegExp(`^${name} \\d`, "m"));
    }
    const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (-?\d+(\.\d+)?(e[+-]?\d+)?|NaN|[+-]Inf)$/;
    const bad = text.split("\n").filter((line) => line !== "" && !line.startsWith("# TYPE ") && !line.startsWith("# HELP ") && !sample.test(line));
    expect(bad).toEqual([]);
    expect(text.endsWith("\n")).toBe(true);
  });
});
