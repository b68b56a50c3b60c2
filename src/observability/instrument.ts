// Timing and failures of every Redis command and PostgreSQL query, and the
// waits for a pooled connection, for /metrics. Neither ioredis nor pg offers a
// hook for this, so the one method every call passes through is wrapped on the
// instance: Redis#sendCommand (plain and auto-pipelined commands alike), the
// pool's connect (pool.query goes through it too) and each pooled client's
// query (Prisma's adapter and our SQL alike). The wrappers only read the clock
// and the outcome; arguments and results pass through untouched.
import type { Pool, PoolClient } from "pg";
import type { Metrics } from "./metrics";

interface RedisCommand {
  name: string;
  promise: Promise<unknown>;
}
interface CommandSender {
  sendCommand(command: RedisCommand, ...rest: unknown[]): unknown;
}

/** Times each command sent through `client` (an ioredis Redis, or anything with its sendCommand). */
export function instrumentRedis<T extends object>(client: T, metrics: Metrics): T {
  const sender = client as unknown as CommandSender;
  const send = sender.sendCommand;
  if (typeof send !== "function") return client;
  // A command can pass through sendCommand more than once (offline queue, reconnect): time it once.
  const seen = new WeakSet<RedisCommand>();
  sender.sendCommand = function (this: CommandSender, command: RedisCommand, ...rest: unknown[]) {
    if (command && typeof command === "object" && command.promise && !seen.has(command)) {
      seen.add(command);
      const started = performance.now();
      const name = String(command.name).toLowerCase();
      command.promise.then(
        () => metrics.redisCall(name, (performance.now() - started) / 1000, false),
        () => metrics.redisCall(name, (performance.now() - started) / 1000, true),
      );
    }
    return send.call(this, command, ...rest);
  };
  return client;
}

type Callback = (error: Error | undefined, ...rest: unknown[]) => unknown;

/** Times the pool's connection waits and every query of its clients, under the label `name`. */
export function instrumentPool(pool: Pool, name: string, metrics: Metrics): Pool {
  metrics.watchPool(name, pool);
  const connect = pool.connect as (cb?: Callback) => unknown;
  (pool as { connect: unknown }).connect = function (this: Pool, cb?: Callback) {
    const started = performance.now();
    const done = (error: unknown) => metrics.poolWaited(name, (performance.now() - started) / 1000, Boolean(error));
    if (typeof cb === "function") {
      return connect.call(this, (error, ...rest) => {
        done(error);
        return cb(error, ...rest);
      });
    }
    const result = connect.call(this) as Promise<PoolClient>;
    result.then(() => done(undefined), done);
    return result;
  };
  pool.on("connect", (client) => instrumentClient(client, name, metrics));
  return pool;
}

function instrumentClient(client: PoolClient, name: string, metrics: Metrics): void {
  // The class's query, looked up at each call rather than kept from now, so the
  // wrapper stays transparent to whatever replaces it later (a test's spy).
  const proto = Object.getPrototypeOf(client) as { query: (...args: unknown[]) => unknown };
  (client as { query: unknown }).query = function (this: PoolClient, ...args: unknown[]) {
    const query = proto.query;
    const started = performance.now();
    const done = (error: unknown) => metrics.dbQuery(name, (performance.now() - started) / 1000, Boolean(error));
    const last = args.length - 1;
    const cb = args[last];
    if (typeof cb === "function") {
      args[last] = function (this: unknown, error: unknown, ...rest: unknown[]) {
        done(error);
        return (cb as (...a: unknown[]) => unknown).call(this, error, ...rest);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args);
    // A submittable (a cursor) is not a promise: it is left untimed.
    if (result && typeof (result as Promise<unknown>).then === "function") (result as Promise<unknown>).then(() => done(undefined), done);
    return result;
  };
}
