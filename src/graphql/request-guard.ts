// Per-user and per-address request limits (RATE_LIMITED), shared by HTTP and
// WebSocket operations, counted in Redis when there is one.
import { AppError } from "../errors/app-error";
import type { RateLimiter } from "../limits/rate-limiter";
import type { Context } from "./context";
import { isServiceUnavailable } from "../errors/unavailable";

// With Redis away the limits cannot be counted: the request goes on (what needs
// only PostgreSQL keeps working; what needs Redis answers SERVICE_UNAVAILABLE itself).
const allowWhenDown = (hit: Promise<boolean>) => hit.catch((error: unknown) => (isServiceUnavailable(error) ? true : Promise.reject(error)));

export interface RequestGuard {
  checkRate(context: Context): Promise<void>;
}

export function createRequestGuard(limiter: RateLimiter, limits: { perUser: number; perAddress: number }): RequestGuard {
  return {
    async checkRate(context) {
      const checks: Promise<boolean>[] = [];
      if (limits.perUser > 0 && context.actor) checks.push(allowWhenDown(limiter.hit(`u:${context.actor.id}`, limits.perUser, 1)));
      if (limits.perAddress > 0) checks.push(allowWhenDown(limiter.hit(`a:${context.address}`, limits.perAddress, 1)));
      const allowed = await Promise.all(checks);
      if (allowed.includes(false)) {
        throw new AppError("RATE_LIMITED", "Too many requests: slow down and try again in a second.");
      }
    },
  };
}
