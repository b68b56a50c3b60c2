// Driver errors are translated here and nowhere else. Services catch what they
// expect by its meaning (a unique violation on a given constraint), not by a
// driver's code.

export interface DbErrorInfo {
  kind: "unique" | "check" | "foreignKey" | "serialization" | "deadlock" | "invalidText" | "other";
  constraint?: string;
}

/** Reads a pg or Prisma error (wrapped or raw) into what it means. */
export function classifyDbError(error: unknown): DbErrorInfo {
  const e = error as { code?: string; constraint?: string; meta?: Record<string, unknown>; cause?: unknown };
  if (!e || typeof e !== "object") return { kind: "other" };
  // Prisma's own codes (client API); the driver adapter puts the pg error under meta or cause.
  if (e.code === "P2002") return { kind: "unique", constraint: prismaConstraint(e.meta) };
  if (e.code === "P2034") return { kind: "serialization" };
  if (e.code === "P2003") return { kind: "foreignKey", constraint: prismaConstraint(e.meta) };
  const pgCode = typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
  switch (pgCode) {
    case "23505":
      return { kind: "unique", constraint: e.constraint };
    case "23514":
      return { kind: "check", constraint: e.constraint };
    case "23503":
      return { kind: "foreignKey", constraint: e.constraint };
    case "40001":
      return { kind: "serialization" };
    case "40P01":
      return { kind: "deadlock" };
    case "22P02":
      return { kind: "invalidText" };
  }
  if (e.cause && e.cause !== error) return classifyDbError(e.cause);
  return { kind: "other" };
}

function prismaConstraint(meta: Record<string, unknown> | undefined): string | undefined {
  if (!meta) return undefined;
  const target = meta.target ?? meta.constraint ?? (meta.driverAdapterError as { cause?: { constraint?: unknown } })?.cause?.constraint;
  if (typeof target === "string") return target;
  if (Array.isArray(target)) return target.join(",");
  if (target && typeof target === "object" && "fields" in target) return String((target as { fields: unknown }).fields);
  return undefined;
}
