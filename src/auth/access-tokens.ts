// Access tokens are HS256 JWTs with an expiry, signed with node:crypto. The
// secret comes from JWT_SECRET or is generated once and kept under the data
// folder, so restarts (and instances sharing that folder) keep accepting the
// tokens already issued.
import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type Role = "USER" | "ADMIN";

export interface Actor {
  id: string;
  role: Role;
}

export interface AccessTokens {
  issue(actor: Actor): string;
  /** The actor the token names, or a message saying why it is refused. */
  verify(token: string): Actor | { error: string };
}

export function loadOrCreateSecret(configured: string | undefined, dataDir: string): string {
  if (configured) return configured;
  const file = join(dataDir, "jwt-secret");
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    const secret = randomBytes(48).toString("base64url");
    try {
      // "wx": when two instances start at once, the first file written wins.
      writeFileSync(file, secret, { mode: 0o600, flag: "wx" });
      return secret;
    } catch {
      return readFileSync(file, "utf8").trim();
    }
  }
}

const HEADER = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");

/** Tokens remembered as verified; past this many the memory starts over. */
const VERIFIED_CACHE_SIZE = 50_000;

type Checked = (Actor & { exp: number }) | { error: string };

export function createAccessTokens(secret: string, lifetimeSeconds: number): AccessTokens {
  const key = createSecretKey(Buffer.from(secret, "utf8"));
  const sign = (data: string) => createHmac("sha256", key).update(data).digest();

  const check = (token: string): Checked => {
    const parts = token.split(".");
    if (parts.length !== 3 || parts[0] !== HEADER) return { error: "The access token is malformed." };
    const expected = sign(`${parts[0]}.${parts[1]}`);
    const given = Buffer.from(parts[2], "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { error: "The access token is not valid." };
    }
    let payload: { sub?: unknown; role?: unknown; exp?: unknown };
    try {
      payload = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    } catch {
      return { error: "The access token is malformed." };
    }
    const { sub, role, exp } = payload;
    if (typeof sub !== "string" || (role !== "USER" && role !== "ADMIN") || typeof exp !== "number") {
      return { error: "The access token is malformed." };
    }
    return { id: sub, role, exp };
  };

  // A client sends the same token with every request: its signature is checked
  // once and remembered until it expires (checking it every time was a tenth of
  // a request's CPU under load).
  const verified = new Map<string, Actor & { exp: number }>();

  return {
    issue(actor) {
      const now = Math.floor(Date.now() / 1000);
      const payload = { sub: actor.id, role: actor.role, iat: now, exp: now + lifetimeSeconds };
      const body = `${HEADER}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
      return `${body}.${sign(body).toString("base64url")}`;
    },
    verify(token) {
      let result: Checked | undefined = verified.get(token);
      if (!result) {
        result = check(token);
        if ("error" in result) return result;
        if (verified.size >= VERIFIED_CACHE_SIZE) verified.clear();
        verified.set(token, result);
      }
      if (result.exp * 1000 <= Date.now()) {
        verified.delete(token);
        return { error: "The access token has expired: sign in again." };
      }
      return { id: result.id, role: result.role };
    },
  };
}
