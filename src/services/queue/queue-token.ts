// A queue token names its concert and 128 random bits: unguessable, and any
// instance can tell from the token alone which concert's keys (one Redis
// Cluster slot per concert) hold it.
import { randomBytes } from "node:crypto";

const FORMAT = /^qt_([A-Za-z0-9_-]{22})([A-Za-z0-9_-]{22})$/;

export function newQueueToken(concertId: string): string {
  const concert = Buffer.from(concertId.replace(/-/g, ""), "hex").toString("base64url");
  return `qt_${concert}${randomBytes(16).toString("base64url")}`;
}

/** The concert a token claims to belong to, or null when it is not a token at all. */
export function concertOfToken(token: string): string | null {
  const m = FORMAT.exec(token);
  if (!m) return null;
  const hex = Buffer.from(m[1], "base64url").toString("hex");
  if (hex.length !== 32) return null;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
