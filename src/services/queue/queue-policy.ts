// Queue policies per concert: PostgreSQL holds them, defaults come from the
// settings, and each instance caches them for a second so the admission step
// reads no database.
import type { PrismaClient } from "../../generated/prisma/client";
import type { QueuePolicyValues } from "./queue-store";

const TTL_MS = 1_000;

export class QueuePolicies {
  private readonly cache = new Map<string, { value: QueuePolicyValues; at: number }>();

  constructor(private readonly prisma: PrismaClient, private readonly defaults: QueuePolicyValues) {}

  async get(concertId: string): Promise<QueuePolicyValues> {
    const hit = this.cache.get(concertId);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.value;
    const row = await this.prisma.queuePolicy.findUnique({ where: { concertId } });
    const value = row
      ? { maxActiveUsers: row.maxActiveUsers, admitPerSecond: row.admitPerSecond, activeSessionSeconds: row.activeSessionSeconds }
      : this.defaults;
    this.cache.set(concertId, { value, at: Date.now() });
    return value;
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
    this.cache.delete(concertId);
    return this.get(concertId);
  }
}

function definedOnly<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}
