// Access tokens are HS256 JWTs with an expiry, signed and verified with fast-jwt.
// Not jose (used until 2026-12-02): jose 6 signs and verifies only through
// WebCrypto, an async job per HMAC that cost 70–90 µs of CPU a call against
// 5–10 µs here; every user's first request (enterQueue in an on-sale) pays it,
// and it was 16–24% of enterQueue's CPU in npm run bench (BENCHMARKS.md).
// The secret comes from JWT_SECRET or is generated once and kept under the data
// folder, so restarts (and instances sharing that folder) keep accepting the
// tokens already issued.
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createSigner, createVerifier, TokenError } from "fast-jwt";

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
   * verified before answers from memory: no signature check at all.
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

type Remembered = Actor & { exp: number };

export function createAccessTokens(secret: string, lifetimeSeconds: number): AccessTokens {
  // The claims in the order the hand-written signer used (fast-jwt keeps the iat given), so
  // a token is byte for byte what it was: header {"alg":"HS256","typ":"JWT"}.
  const sign = createSigner({ key: secret, algorithm: "HS256" });
  // Only what this service issues: HS256, typ JWT, with an expiry and a subject
  // ("alg: none" and every other algorithm are refused, `exp` is checked against the clock).
  const verifyJwt = createVerifier({ key: secret, algorithms: ["HS256"], checkTyp: "JWT", requiredClaims: ["exp", "sub"], cache: false });

  const check = (token: string): Remembered | { error: string } => {
    let payload: { sub?: unknown; role?: unknown; exp?: unknown };
    try {
      payload = verifyJwt(token);
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      if (error.code === TokenError.codes.expired) return EXPIRED;
      if (error.code === TokenError.codes.invalidSignature) return FORGED;
      return MALFORMED;
    }
    const { sub, role, exp } = payload;
    if (typeof sub !== "string" || (role !== "USER" && role !== "ADMIN") || typeof exp !== "number") return MALFORMED;
    return { id: sub, role, exp };
  };

  // A client sends the same token with every request: its signature is checked
  // once and remembered until it expires (checking it every time was a tenth of
  // a request's CPU under load).
  const verified = new Map<string, Remembered>();

  return {
    async issue(actor) {
      const now = Math.floor(Date.now() / 1000);
      return sign({ sub: actor.id, role: actor.role, iat: now, exp: now + lifetimeSeconds });
    },
    async verify(token) {
      let result = verified.get(token);
      if (!result) {
        const checked = check(token);
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
