// The opening draw (contract rule 17), as pure functions anyone can re-run:
// the seed is 32 bytes from the operating system's CSPRNG, drawn when the
// opening is set; its SHA-256 (lowercase hex) is published at once as the
// commitment; at the opening each pre-queue token's key is
// HMAC-SHA256(seed, userId as UTF-8) in lowercase hex, and the pre-queue is
// ordered by that key, lowest first. Node's own crypto does all of it: no
// library is needed for two standard primitives.
//
// The queue stores keep each pre-queue token's key from its entry on (computed
// here, by the instance that took the entry), so the draw at the opening is
// only a reordering of tokens already in the line (see the stores' draw).
// The key never leaves the server before the opening, exactly like the seed
// itself, which the database keeps secret until then.
import { createHash, createHmac, createSecretKey, randomBytes, type KeyObject } from "node:crypto";

export const SEED_BYTES = 32;

export function newSeed(): Buffer {
  return randomBytes(SEED_BYTES);
}

export function commitmentOf(seed: Uint8Array): string {
  return createHash("sha256").update(seed).digest("hex");
}

const keys = new WeakMap<Uint8Array, KeyObject>();

/** HMAC-SHA256(seed, userId as UTF-8), lowercase hex: the user's draw key. */
export function drawKey(seed: Uint8Array, userId: string): string {
  let key = keys.get(seed);
  if (!key) keys.set(seed, (key = createSecretKey(seed)));
  return createHmac("sha256", key).update(userId, "utf8").digest("hex");
}

/** The users in draw order (rule 17): by drawKey, lowest first. */
export function drawOrder(seed: Uint8Array, userIds: readonly string[]): string[] {
  const keyed = userIds.map((userId) => ({ userId, key: drawKey(seed, userId) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.userId);
}
