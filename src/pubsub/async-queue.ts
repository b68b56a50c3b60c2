// A push-driven async iterator for subscriptions: events are pushed as they
// come, the subscriber pulls them, and ending either side runs the cleanup once.
//
// A subscriber that can take an event at once (src/graphql/subscription-executor.ts
// writes a projected event straight to its socket) registers a sink with
// handOff: pushes then go to it synchronously, and the pulling side keeps one
// pending next() for the subscription's life. Pulling every event instead made a
// promise, its resolver and an iterator result per push, each kept until the
// next push (seconds to a quarter of a minute for a waiting subscriber), so the
// garbage of every push reached the old generation.
type Resolver<T> = (r: IteratorResult<T>) => void;

export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  // The pending next()s, oldest first. Nearly always one (graphql-ws asks for an event once it
  // has sent the last), so a field, and an array only for more: an array's first element gives
  // it room for 17, kept for the subscription's life (memory per waiting subscriber).
  private waiter: Resolver<T> | undefined;
  private moreWaiters: Resolver<T>[] | undefined;
  private ended = false;
  private cleanup: (() => void) | undefined;
  private sink: ((item: T) => boolean) | undefined;
  /** The sink declined an item: the rest wait for the pulling side to take them in order. */
  private held = false;

  /** `cleanup` runs once when the queue ends, from either side. */
  onEnd(cleanup: () => void): void {
    if (this.ended) cleanup();
    else this.cleanup = cleanup;
  }

  /**
   * From now on each item goes to `sink` as it is pushed (the items already here
   * first). An item it declines (returns false), and every one after it, waits for
   * next() as before, so the order is kept; once next() finds nothing left, the
   * sink takes pushes again.
   */
  handOff(sink: (item: T) => boolean): void {
    while (this.items.length > 0 && sink(this.items[0])) this.items.shift();
    this.held = this.items.length > 0;
    if (!this.held) this.items = []; // without the room the first items took
    this.sink = sink;
  }

  push(item: T): void {
    if (this.ended) return;
    if (this.sink) {
      if (!this.held && this.sink(item)) return;
      this.held = true;
    }
    const waiter = this.takeWaiter();
    if (waiter) waiter({ value: item, done: false });
    else this.items.push(item);
  }

  /** Ends after the items already pushed have been read. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.cleanup?.();
    this.cleanup = undefined;
    for (let waiter = this.takeWaiter(); waiter; waiter = this.takeWaiter()) waiter({ value: undefined, done: true });
  }

  private takeWaiter(): Resolver<T> | undefined {
    const waiter = this.waiter;
    this.waiter = this.moreWaiters?.shift();
    return waiter;
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    // Everything declined has been taken: pushes may go to the sink again.
    this.held = false;
    return new Promise((resolve) => {
      if (!this.waiter) this.waiter = resolve;
      else (this.moreWaiters ??= []).push(resolve);
    });
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
