// POST/GET /graphql on Apollo Server through node:http directly: measured here,
// Apollo's own node:http handling answered about twice what the express
// integration did, and we need nothing express adds.
import type { IncomingMessage, ServerResponse } from "node:http";
import { HeaderMap, type ApolloServer } from "@apollo/server";
import type { Context } from "../graphql/context";
import { BodyTooLarge, readBody } from "./read-body";

export function createGraphqlHttpHandler(apollo: ApolloServer<Context>, makeContext: (req: IncomingMessage) => Promise<Context>) {
  return async (req: IncomingMessage, res: ServerResponse, search: string): Promise<void> => {
    let body: unknown;
    if (req.method === "POST") {
      let text: string;
      try {
        text = await readBody(req);
      } catch (error) {
        if (error instanceof BodyTooLarge) return sendJson(res, 413, errorBody("The request body is larger than 1 MB."));
        throw error;
      }
      try {
        body = text === "" ? {} : JSON.parse(text);
      } catch {
        return sendJson(res, 400, errorBody("The request body is not valid JSON."));
      }
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
    }
    const http: NonNullable<Context["http"]> = {};
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? "GET", headers, search, body },
      context: async () => ({ ...(await makeContext(req)), http }),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === "complete") {
      const raw = http.rawJson;
      const body = response.body.string;
      const at = raw ? body.indexOf(raw.placeholder) : -1;
      if (raw && at >= 0) {
        // The cached bytes go out between the envelope's two halves, in one writev:
        // no 175 KB string built, scanned or encoded per read (measured: that
        // splice and its UTF-8 encoding were a third of a seat-map read's CPU).
        const head = body.slice(0, at);
        const tail = body.slice(at + raw.placeholder.length);
        res.setHeader("content-length", Buffer.byteLength(head) + raw.bytes.length + Buffer.byteLength(tail));
        res.cork();
        res.write(head);
        res.write(raw.bytes);
        res.end(tail);
        return;
      }
      res.end(body);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}

const errorBody = (message: string) => ({ errors: [{ message, extensions: { code: "BAD_USER_INPUT" } }] });

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
