// Serves the GraphiQL 5 IDE bundled by scripts/build-ide.mjs (build/ide/*) from our own
// origin: the HTML page (GET /playground, or GET /graphql asking for text/html) and the
// assets under /ide/*. The page's CSP allows nothing but this origin.
import { existsSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, join } from "node:path";
import { loadStaticAssets } from "./static-assets";

/** Only 'self': Monaco injects <style> tags and inline styles, fonts are inlined as data: URLs. */
export const IDE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'", // CSP3: 'self' also matches ws:/wss: to this host
  "worker-src 'self'",
  "frame-src 'none'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

export const IDE_HTML_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": IDE_CSP,
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export interface Ide {
  /** False when build/ide is missing: the page then says to run `npm run build:ide`. */
  built: boolean;
  html: string;
  /** Answers GET/HEAD /playground, /graphql (Accept: text/html) and /ide/*; false when the request is not ours. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  serveAsset(pathname: string, res: ServerResponse, req?: IncomingMessage): boolean;
}

/** The folder holding package.json, walking up from here (src/http or dist/src/http). */
export function projectRoot(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export function createIde(dir: string = join(projectRoot(), "build", "ide")): Ide {
  const files = loadStaticAssets(dir, "/ide/", ["graphiql.js", "graphiql.css"]);
  const built = files.built;
  const v = files.version;
  const html = built
    ? `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Concert tickets · GraphQL IDE</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ide/graphiql.css?v=${v}">
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="/ide/graphiql.js?v=${v}"></script>
</body>
</html>
`
    : `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>GraphQL IDE not built</title></head>
<body>
<h1>The GraphQL IDE is not built</h1>
<p>Run <code>npm run build:ide</code> (it writes <code>build/ide/</code>), then restart the server.</p>
</body>
</html>
`;

  const serveAsset = (pathname: string, res: ServerResponse, req?: IncomingMessage): boolean => files.serve(pathname, res, req);

  function handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const pathname = new URL(req.url ?? "/", "http://x").pathname;
    if (pathname.startsWith("/ide/")) return serveAsset(pathname, res, req);
    const wantsHtml = pathname === "/playground" || (pathname === "/graphql" && /\btext\/html\b/.test(req.headers.accept ?? ""));
    if (!wantsHtml) return false;
    res.writeHead(built ? 200 : 503, IDE_HTML_HEADERS);
    res.end(req.method === "HEAD" ? undefined : html);
    return true;
  }

  return { built, html, handle, serveAsset };
}
