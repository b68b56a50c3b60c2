// Events between server instances. With REDIS_URL they travel over Redis
// pub/sub (graphql-redis-subscriptions), so a change made on one instance
// reaches subscribers on every other; without it they stay in this process.
import type Redis from "ioredis";
import { PubSub, type PubSubEngine } from "graphql-subscriptions";
import { RedisPubSub } from "graphql-redis-subscriptions";

export interface EventBus {
  publish(channel: string, payload: unknown): Promise<void>;
  /** Calls `onMessage` for each event on `channel` until the returned function is called. */
  listen<T>(channel: string, onMessage: (payload: T) => void): Promise<() => void>;
  close(): Promise<void>;
}

function onEngine(engine: PubSubEngine, close: () => Promise<void>): EventBus {
  return {
    publish: (channel, payload) => engine.publish(channel, payload),
    async listen(channel, onMessage) {
      const id = await engine.subscribe(channel, onMessage as (payload: unknown) => void, {});
      return () => engine.unsubscribe(id);
    },
    close,
  };
}

export function createMemoryEventBus(): EventBus {
  return onEngine(new PubSub(), async () => undefined);
}

/** `connect` makes a new Redis connection: a subscribing connection can do nothing else. */
export function createRedisEventBus(connect: (role: "commands" | "subscriber") => Redis): EventBus {
  const publisher = connect("commands");
  const subscriber = connect("subscriber");
  // RedisPubSub.unsubscribe sends UNSUBSCRIBE and PUNSUBSCRIBE and drops their
  // promises. ioredis leaves that PUNSUBSCRIBE unanswered and rejects it when the
  // connection closes: unhandled, the rejection would end the process (on
  // SIGTERM, with exit code 1). Nothing waits for these replies, so drop failures.
  for (const command of ["unsubscribe", "punsubscribe"] as const) {
    const send = subscriber[command].bind(subscriber) as (...args: unknown[]) => Promise<unknown>;
    const quiet = (...args: unknown[]) => {
      const sent = send(...args);
      sent.catch(() => undefined);
      return sent;
    };
    Object.assign(subscriber, { [command]: quiet });
  }
  const engine = new RedisPubSub({ publisher, subscriber });
  return onEngine(engine, async () => {
    await engine.close();
  });
}
