// Events between instances on a Redis Cluster (rule 28): sharded pub/sub
// (SPUBLISH/SSUBSCRIBE, Redis 7). A channel lives on the shard that owns its
// slot, so publishing costs one shard, not the whole cluster bus as PUBLISH does.
// graphql-redis-subscriptions sends only SUBSCRIBE/PUBLISH, so this is our own,
// on ioredis's Cluster with `shardedSubscribers` (one subscriber connection per
// master, moved after a failover, channels subscribed again).
import type { Cluster } from "ioredis";
import type { EventBus } from "./event-bus";

export function createShardedEventBus(publisher: Cluster, subscriber: Cluster): EventBus {
  const channels = new Map<string, { listeners: Set<(payload: unknown) => void>; subscribed: Promise<unknown> }>();
  subscriber.on("smessage", (channel: string, message: string) => {
    const entry = channels.get(channel);
    if (!entry) return;
    let payload: unknown;
    try {
      payload = JSON.parse(message);
    } catch {
      return;
    }
    for (const listener of [...entry.listeners]) listener(payload);
  });
  return {
    async publish(channel, payload) {
      await publisher.spublish(channel, JSON.stringify(payload));
    },
    async listen<T>(channel: string, onMessage: (payload: T) => void) {
      let entry = channels.get(channel);
      if (!entry) {
        entry = { listeners: new Set(), subscribed: subscriber.ssubscribe(channel) };
        channels.set(channel, entry);
      }
      const listener = onMessage as (payload: unknown) => void;
      entry.listeners.add(listener);
      await entry.subscribed;
      const current = entry;
      return () => {
        current.listeners.delete(listener);
        if (current.listeners.size > 0 || channels.get(channel) !== current) return;
        channels.delete(channel);
        subscriber.sunsubscribe(channel).catch(() => undefined);
      };
    },
    async close() {
      channels.clear();
      subscriber.disconnect();
      publisher.disconnect();
    },
  };
}
