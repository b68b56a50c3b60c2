// Per-user and per-address request limits (RATE_LIMITED), shared by HTTP and
// WebSocket operations, counted in Redis when there is one.
import { AppError } from "../errors/app-error";
import type { RateLimiter } from "../limits/rate-limiter";
import type { Context } from "./context";

export interface RequestGuard {
  checkRate(context: Context): Promise<void>;
}

export function createRequestGuard(limiter: RateLimiter, limits: { perUser: number; perAddress: number }): RequestGuard {
  return {
    async checkRate(context) {
      const checks: Promise<boolean>[] = [];
      if (limits.perUser > 0 && context.actor) checks.push(limiter.hit(`u:${context.actor.id}`, limits.perUser, 1));
      if (limits.perAddress > 0) checks.push(limiter.hit(`a:${context.address}`, limits.perAddress, 1));
      const allowed = await Promise.all(checks);
      if (allowed.includes(false)) {
        throw new AppError("RATE_LIMITED", "Too many requests: slow down and try again in a second.");
      }
    },
  };
}
