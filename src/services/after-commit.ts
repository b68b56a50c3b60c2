// Side effects after a commit (ending a queue token, pushing seat changes): the
// change is committed, so a failure here is logged and must not turn the
// committed change into an error the client would retry.
import type { Logger } from "../observability/logger";

export async function afterCommit(logger: Logger | undefined, effect: () => Promise<unknown>): Promise<void> {
  try {
    await effect();
  } catch (error) {
    logger?.error("after-commit effect failed", { error });
  }
}
