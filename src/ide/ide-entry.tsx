// Browser entry of the GraphQL IDE, bundled by scripts/build-ide.mjs (esbuild). It opens
// on a worked example of this API (src/ide/worked-example.ts).
// Not compiled by tsc (tsconfig includes only *.ts); everything it loads comes
// from the same origin as this script: no CDN, no outside fonts.
import { GraphiQL } from "graphiql";
import { createGraphiQLFetcher, type Fetcher, type FetcherParams } from "@graphiql/toolkit";
import { createClient, type Client } from "graphql-ws";
import { Kind, parse, type OperationDefinitionNode } from "graphql";
import { createRoot } from "react-dom/client";
import "graphiql/style.css";
import { EXAMPLE_HEADERS, EXAMPLE_QUERY, exampleVariables } from "./worked-example";

// Assets sit next to this script (…/ide/graphiql.js?v=HASH): derive the worker URLs
// from our own src so the server decides the base path and the cache-busting query.
const self = new URL((document.currentScript as HTMLScriptElement | null)?.src ?? "/ide/graphiql.js", location.href);
const asset = (name: string) => new URL(name + self.search, self).href;

(globalThis as any).MonacoEnvironment = {
  getWorker(_id: string, label: string) {
    const file = label === "json" ? "json.worker.js" : label === "graphql" ? "graphql.worker.js" : "editor.worker.js";
    return new Worker(asset(file), { name: label });
  },
};

const url = location.origin + "/graphql";
const subscriptionUrl = (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host + "/graphql";
const http = createGraphiQLFetcher({ url });

/** Headers typed in GraphiQL → graphql-ws connectionParams the server reads. */
export function connectionParamsFrom(headers: Record<string, unknown> | undefined): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    const k = key.toLowerCase();
    if (k === "authorization") params.authorization = value;
    else if (k === "x-queue-token") params.queueToken = value;
    else params[key] = value;
  }
  return params;
}

/**
 * The operation GraphiQL asks for, read from the query text itself: GraphiQL refreshes its
 * documentAST/operationName 100 ms after the last keystroke, so a quick "run" can carry a
 * stale name (e.g. the previous tab's "Hello" for "subscription { ticks }").
 */
function operationOf(params: FetcherParams): { subscription: boolean; operationName?: string } {
  let ops: OperationDefinitionNode[];
  try {
    ops = parse(params.query).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  } catch {
    return { subscription: false, operationName: params.operationName ?? undefined }; // let the server report the syntax error
  }
  const named = params.operationName ? ops.find((d) => d.name?.value === params.operationName) : undefined;
  const op = named ?? (ops.length === 1 ? ops[0] : undefined);
  return { subscription: op?.operation === "subscription", operationName: op ? op.name?.value : (params.operationName ?? undefined) };
}

// One socket per distinct set of connection params; a new token opens a new socket.
let ws: { key: string; client: Client } | undefined;
function wsClient(connectionParams: Record<string, unknown>): Client {
  const key = JSON.stringify(connectionParams);
  if (ws?.key !== key) {
    ws?.client.dispose();
    ws = { key, client: createClient({ url: subscriptionUrl, connectionParams, lazy: true, retryAttempts: 0 }) };
  }
  return ws.client;
}

const fetcher: Fetcher = (params, opts) => {
  const { subscription, operationName } = operationOf(params);
  if (!subscription) return http({ ...params, operationName }, { ...opts, documentAST: undefined });
  const client = wsClient(connectionParamsFrom(opts?.headers));
  return client.iterate({ query: params.query, variables: params.variables ?? undefined, operationName }) as any;
};

// Full-height layout, set through the CSSOM so the HTML page needs no inline <style>.
for (const el of [document.documentElement, document.body]) Object.assign(el.style, { height: "100%", margin: "0" });
const root = document.getElementById("graphiql")!;
root.style.height = "100%";
// The first screen is the worked example of src/ide/worked-example.ts: its operations as the
// first tab (until the visitor's own tabs are stored), its headers in every new tab (headers
// are not stored), and its variables, with a fresh e-mail so that SignUp runs as written,
// unless the visitor has variables of their own stored.
const email = `fan-${[...crypto.getRandomValues(new Uint8Array(4))].map((b) => b.toString(16).padStart(2, "0")).join("")}@example.com`;
const storedVariables = localStorage.getItem("graphiql:variables");
createRoot(root).render(
  <GraphiQL
    fetcher={fetcher}
    defaultTabs={[{ query: EXAMPLE_QUERY }]}
    defaultHeaders={EXAMPLE_HEADERS}
    initialVariables={storedVariables === null ? exampleVariables(email) : undefined}
    defaultEditorToolsVisibility="headers"
  />,
);
