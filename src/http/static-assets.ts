// A folder of built browser assets (build/ide, build/console) held in memory and served
// under a path prefix: immutable, gzip on request (compressed on first use), versioned by a
// hash of every file so the HTML page can bust caches with ?v=….
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join } from "node:path";
import { gzipSync } from "node:zlib";

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".ttf": "font/ttf",
};

interface Asset {
  body: Buffer;
  gzip?: Buffer;
  type: string;
}

export interface StaticAssets {
  /** True when every file of `required` was found in the folder. */
  built: boolean;
  /** 12 hex digits of a hash over every file's name and bytes. */
  version: string;
  /** Answers `prefix + name`; false when the path is not under the prefix. */
  serve(pathname: string, res: ServerResponse, req?: IncomingMessage): boolean;
}

export function loadStaticAssets(dir: string, prefix: string, required: readonly string[]): StaticAssets {
  const assets = new Map<string, Asset>();
  const built = required.every((name) => existsSync(join(dir, name)));
  const hash = createHash("sha256");
  if (built) {
    for (const name of readdirSync(dir).sort()) {
      const type = TYPES[extname(name)];
      if (!type) continue;
      const body = readFileSync(join(dir, name));
      hash.update(name).update(body);
      assets.set(name, { body, type });
    }
  }

  function serve(pathname: string, res: ServerResponse, req?: IncomingMessage): boolean {
    if (!pathname.startsWith(prefix)) return false;
    const asset = assets.get(pathname.slice(prefix.length));
    if (!asset) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found\n");
      return true;
    }
    const gzip = /\bgzip\b/.test(String(req?.headers["accept-encoding"] ?? ""));
    const body = gzip ? (asset.gzip ??= gzipSync(asset.body)) : asset.body;
    res.writeHead(200, {
      "content-type": asset.type,
      "content-length": body.length,
      "cache-control": "public, max-age=31536000, immutable",
      "x-content-type-options": "nosniff",
      vary: "accept-encoding",
      ...(gzip ? { "content-encoding": "gzip" } : {}),
    });
    res.end(req?.method === "HEAD" ? undefined : body);
    return true;
  }

  return { built, version: hash.digest("hex").slice(0, 12), serve };
}
