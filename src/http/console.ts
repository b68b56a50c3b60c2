// Serves the operator's console (GET /console) bundled by scripts/build-console.mjs
// (build/console/*): one HTML page and its assets under /console/*. The console is a plain
// client of the public GraphQL API (POST /graphql and graphql-ws on /graphql), so its CSP
// allows nothing but this origin, not even an inline style.
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { projectRoot } from "./ide";
import { loadStaticAssets } from "./static-assets";

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'", // CSP3: 'self' also matches ws:/wss: to this host
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const HTML_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": CONSOLE_CSP,
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export interface ConsolePage {
  /** False when build/console is missing: the page then says to run `npm run build:console`. */
  built: boolean;
  /** Answers GET/HEAD /console and /console/*; false when the request is not ours. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

export function createConsolePage(dir: string = join(projectRoot(), "build", "console")): ConsolePage {
  const files = loadStaticAssets(dir, "/console/", ["console.js", "console.css"]);
  const html = files.built
    ? `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Concert tickets · Operator's console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/console.css?v=${files.version}">
</head>
<body>
<div id="console"><p>Loading the console…</p></div>
<noscript><p>The console needs JavaScript.</p></noscript>
<script src="/console/console.js?v=${files.version}"></script>
</body>
</html>
`
    : `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Console not built</title></head>
<body>
<h1>The operator's console is not built</h1>
<p>Run <code>npm run build:console</code> (it writes <code>build/console/</code>), then restart the server.</p>
</body>
</html>
`;

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const pathname = new URL(req.url ?? "/", "http://x").pathname;
    if (pathname.startsWith("/console/")) return files.serve(pathname, res, req);
    if (pathname !== "/console") return false;
    res.writeHead(files.built ? 200 : 503, HTML_HEADERS);
    res.end(req.method === "HEAD" ? undefined : html);
    return true;
  }

  return { built: files.built, handle };
}
