// One request id per HTTP request and per WebSocket connection: the client's
// X-Request-Id when it is a plain token of at most 64 characters, else one of
// ours (a random prefix of this process and a counter). HTTP answers carry it
// back in X-Request-Id; a WebSocket operation's id is `<connection id>:<operation id>`.
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";

const ACCEPTED = /^[A-Za-z0-9._:@/+=-]{1,64}$/;
const PREFIX = randomBytes(4).toString("hex");
let seq = 0;
const ids = new WeakMap<IncomingMessage, string>();

export function newRequestId(): string {
  return `${PREFIX}-${(++seq).toString(36)}`;
}

/** The request's id (the same on every call for one request). */
export function requestIdOf(req: IncomingMessage): string {
  let id = ids.get(req);
  if (id === undefined) {
    const given = req.headers["x-request-id"];
    const value = Array.isArray(given) ? given[0] : given;
    id = value !== undefined && ACCEPTED.test(value) ? value : newRequestId();
    ids.set(req, id);
  }
  return id;
}
