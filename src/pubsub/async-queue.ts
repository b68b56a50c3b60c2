// A push-driven async iterator for subscriptions: events are pushed as they
// come, the subscriber pulls them, and ending either side runs the cleanup once.
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private readonly waiting: ((r: IteratorResult<T>) => void)[] = [];
  private ended = false;
  private cleanup: (() => void) | undefined;

  /** `cleanup` runs once when the queue ends, from either side. */
  onEnd(cleanup: () => void): void {
    if (this.ended) cleanup();
    else this.cleanup = cleanup;
  }

  push(item: T): void {
    if (this.ended) return;
    const waiter = this.waiting.shift();
    if (waiter) waiter({ value: item, done: false });
    else this.items.push(item);
  }

  /** Ends after the items already pushed have been read. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.cleanup?.();
    this.cleanup = undefined;
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
