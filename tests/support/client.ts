// A small GraphQL client over real HTTP and graphql-ws, and factories that make
// users, admins and concerts through the public API.
import { print, type DocumentNode } from "graphql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

export interface GqlResult<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
}

type Doc<T, V> = string | DocumentNode | TypedDocumentNode<T, V>;

export async function gql<T = any, V = Record<string, unknown>>(
  url: string,
  document: Doc<T, V>,
  variables?: V,
  headers: Record<string, string> = {},
): Promise<GqlResult<T>> {
  const query = typeof document === "string" ? document : print(document);
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as GqlResult<T>;
  return { ...body, status: res.status };
}

/** The error code of a result that must have failed. */
export function codeOf(result: GqlResult): string | undefined {
  return result.errors?.[0]?.extensions?.code;
}

export function bearer(token: string, queueToken?: string): Record<string, string> {
  return queueToken ? { authorization: `Bearer ${token}`, "x-queue-token": queueToken } : { authorization: `Bearer ${token}` };
}

let seq = 0;
export const uniqueEmail = (tag = "user") => `${tag}-${process.pid}-${Date.now()}-${++seq}@example.com`;

export interface TestUser {
  id: string;
  email: string;
  password: string;
  token: string;
  headers: Record<string, string>;
}

export async function signUp(url: string, tag = "user"): Promise<TestUser> {
  const email = uniqueEmail(tag);
  const password = "correct horse battery";
  const r = await gql(url, `mutation($e:String!,$p:String!){ signUp(email:$e,password:$p){ accessToken user { id } } }`, { e: email, p: password });
  if (!r.data) throw new Error(`signUp failed: ${JSON.stringify(r.errors)}`);
  const token = r.data.signUp.accessToken as string;
  return { id: r.data.signUp.user.id, email, password, token, headers: bearer(token) };
}

export function wsClient(wsUrl: string, connectionParams: Record<string, unknown> = {}): Client {
  return createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true });
}

/** Collects a subscription's events; `next()` waits for the next one. */
export function subscribe<T = any>(client: Client, query: string, variables: Record<string, unknown> = {}) {
  const events: GqlResult<T>[] = [];
  const waiters: (() => void)[] = [];
  let done = false;
  let failure: unknown;
  const stop = client.subscribe<T>(
    { query, variables },
    {
      next: (value) => {
        events.push(value as GqlResult<T>);
        for (const w of waiters.splice(0)) w();
      },
      error: (error) => {
        failure = error;
        done = true;
        for (const w of waiters.splice(0)) w();
      },
      complete: () => {
        done = true;
        for (const w of waiters.splice(0)) w();
      },
    },
  );
  let read = 0;
  return {
    events,
    get done() {
      return done;
    },
    get failure() {
      return failure;
    },
    stop,
    /** The next event not yet read, waiting up to `timeoutMs`. */
    async next(timeoutMs = 5_000): Promise<GqlResult<T>> {
      const deadline = Date.now() + timeoutMs;
      while (read >= events.length) {
        if (done) throw new Error(`subscription ended without another event (${String(failure ?? "complete")})`);
        if (Date.now() > deadline) throw new Error("timed out waiting for a subscription event");
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, Math.max(1, deadline - Date.now()));
        });
      }
      return events[read++];
    },
    /** Waits until the subscription completes. */
    async ended(timeoutMs = 5_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!done) {
        if (Date.now() > deadline) throw new Error("timed out waiting for the subscription to end");
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, Math.max(1, deadline - Date.now()));
        });
      }
    },
  };
}
