// Side effects after a commit (ending a queue token, pushing seat changes): the
// change is committed, so a failure here is logged and must not turn the
// committed change into an error the client would retry.
//
// An effect that is safe to run twice may ask to be tried again while Redis or
// PostgreSQL does not answer: a pay committed during a Redis outage then still
// ends its token PAID once Redis is back, instead of leaving it ACTIVE until its
// session runs out. The retries live in this process only; if it stops first,
// the token ends by its session as before.
import { AppError } from "../errors/app-error";
import { unavailableDependency } from "../errors/unavailable";
import type { Logger } from "../observability/logger";

export interface Retry {
  /** How long to keep trying, ms. */
  forMs: number;
}

/** The first pause between tries; it doubles up to MAX_PAUSE_MS. */
const FIRST_PAUSE_MS = 250;
const MAX_PAUSE_MS = 4_000;

const unavailable = (error: unknown) => unavailableDependency(error) !== null || (error instanceof AppError && error.code === "SERVICE_UNAVAILABLE");

export async function afterCommit(logger: Logger | undefined, effect: () => Promise<unknown>, retry?: Retry): Promise<void> {
  try {
    await effect();
  } catch (error) {
    if (retry && unavailable(error)) {
      logger?.warn("after-commit effect failed: a dependency does not answer, trying again", { error });
      tryAgain(logger, effect, Date.now() + retry.forMs, FIRST_PAUSE_MS);
    } else logger?.error("after-commit effect failed", { error });
  }
}

function tryAgain(logger: Logger | undefined, effect: () => Promise<unknown>, deadline: number, pauseMs: number): void {
  const timer = setTimeout(async () => {
    try {
      await effect();
      logger?.info("after-commit effect done on a later try");
    } catch (error) {
      if (unavailable(error) && Date.now() + pauseMs < deadline) tryAgain(logger, effect, deadline, Math.min(pauseMs * 2, MAX_PAUSE_MS));
      else logger?.error("after-commit effect failed for good", { error });
    }
  }, pauseMs);
  // A process that is stopping does not wait for these.
  timer.unref();
}
