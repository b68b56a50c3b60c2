// The one node:http request handler: GraphQL, the IDE, the console, health and metrics.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Ide } from "./ide";
import type { ConsolePage } from "./console";
import { sendJson } from "./graphql-http";
import type { Logger } from "../observability/logger";
import { requestIdOf } from "../observability/request-id";

export interface RouteDeps {
  graphql: (req: IncomingMessage, res: ServerResponse, search: string) => Promise<void>;
  ide: Ide;
  consolePage: ConsolePage;
  ready: () => Promise<Record<string, boolean>>;
  metrics: () => Promise<string>;
  onError: (error: unknown, requestId: string) => void;
  /** Debug lines for each GraphQL request (headers redacted by the logger). */
  logger?: Logger;
}

export function createRequestHandler(deps: RouteDeps) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    const search = q === -1 ? "" : url.slice(q);
    const handled = route(deps, req, res, path, search);
    handled.catch((error) => {
      deps.onError(error, requestIdOf(req));
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: "Internal server error", extensions: { code: "INTERNAL_SERVER_ERROR" } }] });
      else res.destroy();
    });
  };
}

async function route(deps: RouteDeps, req: IncomingMessage, res: ServerResponse, path: string, search: string): Promise<void> {
  if (path === "/graphql") {
    const requestId = requestIdOf(req);
    res.setHeader("x-request-id", requestId);
    if (deps.logger?.isLevelEnabled?.("debug")) {
      deps.logger.debug("http request", { requestId, method: req.method, path, address: req.socket.remoteAddress, headers: req.headers });
    }
    // A browser asking for a page gets the IDE; a GraphQL client gets GraphQL.
    const wantsPage = req.method === "GET" && !search.includes("query=") && (req.headers.accept ?? "").includes("text/html");
    if (wantsPage && deps.ide.handle(req, res)) return;
    return deps.graphql(req, res, search);
  }
  if (path === "/healthz") return sendJson(res, 200, { status: "ok" });
  if (path === "/readyz") {
    const checks = await deps.ready();
    const ok = Object.values(checks).every(Boolean);
    // `down` names what does not answer (rule 27).
    const down = Object.keys(checks).filter((name) => !checks[name]);
    return sendJson(res, ok ? 200 : 503, { status: ok ? "ready" : "not ready", checks, down });
  }
  if (path === "/metrics") {
    const text = await deps.metrics();
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(text);
    return;
  }
  if (deps.ide.handle(req, res)) return;
  if (deps.consolePage.handle(req, res)) return;
  sendJson(res, 404, { error: "Not found. The API is at /graphql." });
}
