// Access tokens are HS256 JWTs with an expiry, signed and verified with jose.
// The secret comes from JWT_SECRET or is generated once and kept under the data
// folder, so restarts (and instances sharing that folder) keep accepting the
// tokens already issued.
import { createSecretKey, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { errors, jwtVerify, SignJWT } from "jose";

export type Role = "USER" | "ADMIN";

export interface Actor {
  id: string;
  role: Role;
}

export type Verified = Actor | { error: string };

export interface AccessTokens {
  issue(actor: Actor): Promise<string>;
  /**
   * The actor the token names, or a message saying why it is refused. A token
   * verified before answers from memory: no signature check, no call into jose.
   */
  verify(token: string): Promise<Verified>;
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

/** Tokens remembered as verified; past this many the memory starts over. */
const VERIFIED_CACHE_SIZE = 50_000;

const MALFORMED = { error: "The access token is malformed." };
const FORGED = { error: "The access token is not valid." };
const EXPIRED = { error: "The access token has expired: sign in again." };

// Only what this service issues: HS256, typ JWT, with an expiry (jose refuses
// "alg: none" and any other algorithm, and checks `exp` against the clock).
const VERIFY_OPTIONS = { algorithms: ["HS256"], typ: "JWT", requiredClaims: ["exp", "sub"] };

type Remembered = Actor & { exp: number };

export function createAccessTokens(secret: string, lifetimeSeconds: number): AccessTokens {
  // A KeyObject: jose turns it into a CryptoKey once and keeps that (a raw
  // Uint8Array would be imported again for every signature).
  const key = createSecretKey(Buffer.from(secret, "utf8"));

  const check = async (token: string): Promise<Remembered | { error: string }> => {
    let payload: { sub?: unknown; role?: unknown; exp?: unknown };
    try {
      ({ payload } = await jwtVerify(token, key, VERIFY_OPTIONS));
    } catch (error) {
      if (error instanceof errors.JWTExpired) return EXPIRED;
      if (error instanceof errors.JWSSignatureVerificationFailed) return FORGED;
      if (error instanceof errors.JOSEError) return MALFORMED;
      throw error;
    }
    const { sub, role, exp } = payload;
    if (typeof sub !== "string" || (role !== "USER" && role !== "ADMIN") || typeof exp !== "number") return MALFORMED;
    return { id: sub, role, exp };
  };

  // A client sends the same token with every request: its signature is checked
  // once and remembered until it expires (checking it every time was a tenth of
  // a request's CPU under load). Only the first sight of a token awaits jose.
  const verified = new Map<string, Remembered>();
  // A token's first requests often come together (a client's subscriptions at
  // connect): they share one signature check.
  const checking = new Map<string, Promise<Remembered | { error: string }>>();

  return {
    issue(actor) {
      const now = Math.floor(Date.now() / 1000);
      // The claims in the order the hand-written signer used, so a token is byte for byte what it was.
      return new SignJWT({ sub: actor.id, role: actor.role, iat: now, exp: now + lifetimeSeconds })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .sign(key);
    },
    async verify(token) {
      let result = verified.get(token);
      if (!result) {
        let pending = checking.get(token);
        if (!pending) {
          pending = check(token).finally(() => checking.delete(token));
          checking.set(token, pending);
        }
        const checked = await pending;
        if ("error" in checked) return checked;
        if (verified.size >= VERIFIED_CACHE_SIZE) verified.clear();
        verified.set(token, checked);
        result = checked;
      }
      if (result.exp * 1000 <= Date.now()) {
        verified.delete(token);
        return EXPIRED;
      }
      return { id: result.id, role: result.role };
    },
  };
}
