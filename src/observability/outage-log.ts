// A background loop (the hold sweeper, the queue ticker, the line watch) that
// fails on every tick while a dependency is away logs it once when the outage
// starts and once when it ends, not four times a second.
import type { Logger } from "./logger";

export class OutageLog {
  private since: number | undefined;
  private failures = 0;

  constructor(
    private readonly logger: Logger | undefined,
    private readonly what: string,
  ) {}

  get down(): boolean {
    return this.since !== undefined;
  }

  failed(error: unknown): void {
    this.failures++;
    if (this.since !== undefined) return;
    this.since = Date.now();
    this.logger?.warn(`${this.what} failed; retrying quietly until it works again`, { error });
  }

  ok(): void {
    if (this.since === undefined) return;
    this.logger?.warn(`${this.what} works again`, { downMs: Date.now() - this.since, failedTicks: this.failures });
    this.since = undefined;
    this.failures = 0;
  }
}
