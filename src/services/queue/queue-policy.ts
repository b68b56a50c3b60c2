// Queue policies per concert: PostgreSQL holds them, defaults come from the
// settings, and each instance caches them so the admission step (four times a
// second, for every concert with a queue) reads no database. A change is
// announced on the event bus and every instance drops its copy at once; the
// cache's lifetime only bounds how stale a copy can get if an announcement is lost.
import type { PrismaClient } from "../../generated/prisma/client";
import type { EventBus } from "../../pubsub/event-bus";
import type { QueuePolicyValues } from "./queue-store";

const TTL_MS = 30_000;
const CHANNEL = "queue.policy";

export class QueuePolicies {
  private readonly cache = new Map<string, { value: QueuePolicyValues; at: number }>();

  /** Bumped on every drop: a read that began before a drop does not cache what it read. */
  private readonly drops = new Map<string, number>();

  private readonly listening: Promise<() => void>;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly defaults: QueuePolicyValues,
    private readonly bus: EventBus,
  ) {
    this.listening = bus.listen<{ concertId: string }>(CHANNEL, ({ concertId }) => this.drop(concertId));
  }

  async close(): Promise<void> {
    (await this.listening)();
  }

  async get(concertId: string): Promise<QueuePolicyValues> {
    const hit = this.cache.get(concertId);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.value;
    const drops = this.drops.get(concertId) ?? 0;
    // While PostgreSQL does not answer, the last copy serves: the line's own
    // reads and steps need only Redis (a first read still fails, as it must).
    const row = await this.prisma.queuePolicy.findUnique({ where: { concertId } }).catch((error: unknown) => {
      if (hit) return undefined;
      throw error;
    });
    if (row === undefined && hit) return hit.value;
    const value = row
      ? {
          maxActiveUsers: row.maxActiveUsers,
          admitPerSecond: row.admitPerSecond,
          activeSessionSeconds: row.activeSessionSeconds,
          admissionOpen: row.admissionOpen,
        }
      : { ...this.defaults, admissionOpen: true };
    if ((this.drops.get(concertId) ?? 0) === drops) this.cache.set(concertId, { value, at: Date.now() });
    return value;
  }

  /** The policy as PostgreSQL has it now, past this instance's copy (which may miss another instance's change while Redis is away). */
  fresh(concertId: string): Promise<QueuePolicyValues> {
    this.drop(concertId);
    return this.get(concertId);
  }

  private drop(concertId: string): void {
    this.cache.delete(concertId);
    this.drops.set(concertId, (this.drops.get(concertId) ?? 0) + 1);
  }

  /** Writes the fields given; the others keep their value. */
  async update(concertId: string, input: Partial<QueuePolicyValues>): Promise<QueuePolicyValues> {
    const current = await this.get(concertId);
    const value = { ...current, ...definedOnly(input) };
    await this.prisma.queuePolicy.upsert({
      where: { concertId },
      create: { concertId, ...value },
      update: { ...definedOnly(input), updatedAt: new Date() },
    });
    this.drop(concertId);
    // The announcement only makes the other copies go sooner: admission follows the policy in
    // the line's store (QueueService.setPolicy), and a copy lives TTL_MS at most. Redis not
    // answering here must not stop the store from being given the policy.
    await this.bus.publish(CHANNEL, { concertId }).catch(() => undefined);
    return this.get(concertId);
  }
}

function definedOnly<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}
