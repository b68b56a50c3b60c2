// A minimal stand-alone GraphQL server for the IDE browser test ONLY (tests/e2e/ide.e2e.test.ts):
// node:http + @apollo/server 5 for HTTP, graphql-ws on the same port and path for
// subscriptions, and the IDE handler from src/http/ide.ts. It is not the real app; swap it for
// `startTestServer` from ../support/server once that exists.
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { ApolloServer, HeaderMap } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
// "graphql/index.js", not "graphql": under vitest a bare "graphql" resolves to the ESM build (index.mjs)
// while @apollo/server and graphql-ws get the CommonJS one, and graphql-js rejects a schema "from another realm".
import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString } from "graphql/index.js";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import { createIde } from "../../src/http/ide";

interface Ctx { authorization?: string; connectionParams?: Record<string, unknown> }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const schema = new GraphQLSchema({
  query: new GraphQLObjectType<unknown, Ctx>({
    name: "Query",
    fields: {
      hello: { type: GraphQLString, resolve: () => "Hello from the box office" },
      whoami: { type: GraphQLString, description: "Echoes the Authorization header", resolve: (_s, _a, ctx) => ctx.authorization ?? null },
    },
  }),
  subscription: new GraphQLObjectType<unknown, Ctx>({
    name: "Subscription",
    fields: {
      ticks: {
        type: GraphQLInt,
        subscribe: async function* () {
          for (let n = 1; n <= 3; n++) {
            await sleep(150);
            yield { ticks: n };
          }
        },
      },
      connectionParams: {
        type: GraphQLString,
        description: "Echoes the graphql-ws connectionParams as JSON",
        subscribe: async function* (_s: unknown, _a: unknown, ctx: Ctx) {
          yield { connectionParams: JSON.stringify(ctx.connectionParams ?? null) };
        },
      },
    },
  }),
});

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export interface IdeTestServer { url: string; wsUrl: string; close(): Promise<void> }

export async function startIdeTestServer(): Promise<IdeTestServer> {
  const ide = createIde();
  const apollo = new ApolloServer<Ctx>({ schema, plugins: [ApolloServerPluginLandingPageDisabled()] });
  await apollo.start();

  const http = createServer(async (req, res) => {
    try {
      if (ide.handle(req, res)) return;
      const url = new URL(req.url ?? "/", "http://localhost");
      if (url.pathname !== "/graphql") {
        res.writeHead(404).end();
        return;
      }
      const headers = new HeaderMap();
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
      const raw = await readBody(req);
      const body = raw && /json/.test(req.headers["content-type"] ?? "") ? JSON.parse(raw) : raw;
      const result = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: req.method ?? "GET", headers, search: url.search, body },
        context: async () => ({ authorization: req.headers.authorization }),
      });
      res.statusCode = result.status ?? 200;
      for (const [k, v] of result.headers) res.setHeader(k, v);
      if (result.body.kind === "complete") res.end(result.body.string);
      else {
        for await (const chunk of result.body.asyncIterator) res.write(chunk);
        res.end();
      }
    } catch (err) {
      res.writeHead(500, { "content-type": "text/plain" }).end(String(err));
    }
  });

  const wss = new WebSocketServer({ server: http, path: "/graphql" });
  const wsServer = useServer<Record<string, unknown>>(
    { schema, context: (ctx): Ctx => ({ connectionParams: ctx.connectionParams }) },
    wss,
  );

  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    async close() {
      await wsServer.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await apollo.stop();
    },
  };
}
