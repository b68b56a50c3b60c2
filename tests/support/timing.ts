// Rate limits count in fixed windows (whole seconds, whole minutes). A test that
// fires N requests must fire them all inside one window, or the count splits.
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until a fresh window of `windowMs` has just begun. */
export async function atWindowStart(windowMs = 1_000): Promise<void> {
  const into = Date.now() % windowMs;
  await sleep(windowMs - into + 20);
}

/**
 * Runs `burst` from the start of a fresh one-second window; if a slow machine
 * let it spill into the next window (where the counts start again), runs it
 * again in a fresh one.
 */
export async function inOneSecond<T>(burst: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    await atWindowStart(1_000);
    const window = Math.floor(Date.now() / 1_000);
    const result = await burst();
    if (Math.floor(Date.now() / 1_000) === window || i >= attempts) return result;
  }
}

/** Waits, if needed, so that at least `needMs` remain in the current window. */
export async function withRoomInWindow(windowMs: number, needMs: number): Promise<void> {
  const left = windowMs - (Date.now() % windowMs);
  if (left < needMs) await sleep(left + 20);
}
