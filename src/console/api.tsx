// The console's only way to the server: the public GraphQL API, over HTTP (fetch to
// /graphql) and over graphql-ws (subscriptions on the same path). No private endpoint.
import { createClient, type Client } from "graphql-ws";
import { CAPABILITIES, capabilitiesOf, type Capabilities, type IntrospectedType } from "./documents";

export type { Capabilities };

export const GRAPHQL_URL = "/graphql";
const WS_URL = (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host + "/graphql";

/** A GraphQL error as the page shows it: the server's message and its code. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

interface GqlBody<T> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

function failure(errors: GqlBody<unknown>["errors"]): ApiError {
  const first = errors?.[0];
  return new ApiError(first?.message ?? "The server answered without data.", first?.extensions?.code);
}

/** POST one operation; throws ApiError with the first error's message and code. */
export async function request<T>(query: string, variables: Record<string, unknown> = {}, token?: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(GRAPHQL_URL, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("The server does not answer.", "NETWORK");
  }
  let body: GqlBody<T>;
  try {
    body = (await res.json()) as GqlBody<T>;
  } catch {
    throw new ApiError(`The server answered HTTP ${res.status}.`, "NETWORK");
  }
  if (body.errors?.length || !body.data) throw failure(body.errors);
  return body.data;
}

export interface Session {
  token: string;
  email: string;
  query<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** Starts a subscription; returns the function that stops it. */
  subscribe<T>(query: string, variables: Record<string, unknown>, onData: (data: T) => void, onError: (error: ApiError) => void): () => void;
  /** Called when the socket connects again after losing its connection: a view re-reads what it may have missed. */
  onReconnected(listener: () => void): () => void;
  /** Called with false when the socket drops, true when it is connected again. */
  onLink(listener: (up: boolean) => void): () => void;
  close(): void;
}

export function openSession(token: string, email: string): Session {
  const client: Client = createClient({
    url: WS_URL,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: true,
    retryAttempts: 20,
    shouldRetry: () => true,
  });
  return {
    token,
    email,
    query: (q, v) => request(q, v, token),
    subscribe<T>(query: string, variables: Record<string, unknown>, onData: (data: T) => void, onError: (error: ApiError) => void) {
      return client.subscribe<T>(
        { query, variables },
        {
          next: (value) => {
            if (value.errors?.length) onError(failure(value.errors as GqlBody<unknown>["errors"]));
            else if (value.data) onData(value.data as T);
          },
          error: (error) => {
            const errors = Array.isArray(error) ? (error as GqlBody<unknown>["errors"]) : undefined;
            onError(errors ? failure(errors) : new ApiError("The live connection closed.", "NETWORK"));
          },
          complete: () => undefined,
        },
      );
    },
    onReconnected: (listener) => client.on("connected", (_socket, _payload, wasRetry) => wasRetry && listener()),
    onLink(listener) {
      const offs = [client.on("connected", () => listener(true)), client.on("closed", () => listener(false))];
      return () => {
        for (const off of offs) off();
      };
    },
    close: () => void client.dispose(),
  };
}

/** What the server's schema offers, read once by introspection at sign-in. */
export async function readCapabilities(session: Session): Promise<Capabilities> {
  const data = await session.query<{ __schema: { types: IntrospectedType[] } }>(CAPABILITIES);
  return capabilitiesOf(data.__schema.types);
}
