// Small ordered structures for the in-process queue store, so that a place in
// line, the next due session and the next unseen token cost O(log n).

/** Counts present entries below a sequence number (Fenwick tree), growing as needed. */
export class RankIndex {
  private tree = new Int32Array(1024);
  private present = new Uint8Array(1024);

  add(seq: number): void {
    this.grow(seq);
    if (this.present[seq]) return;
    this.present[seq] = 1;
    this.update(seq, 1);
  }

  remove(seq: number): void {
    if (seq >= this.present.length || !this.present[seq]) return;
    this.present[seq] = 0;
    this.update(seq, -1);
  }

  has(seq: number): boolean {
    return seq < this.present.length && this.present[seq] === 1;
  }

  /** How many present entries have a smaller sequence number. */
  before(seq: number): number {
    let sum = 0;
    for (let i = Math.min(seq - 1, this.tree.length - 1); i > 0; i -= i & -i) sum += this.tree[i];
    return sum;
  }

  private update(seq: number, delta: number): void {
    for (let i = seq; i < this.tree.length; i += i & -i) this.tree[i] += delta;
  }

  private grow(seq: number): void {
    if (seq < this.tree.length) return;
    let size = this.tree.length;
    while (size <= seq) size *= 2;
    const present = new Uint8Array(size);
    present.set(this.present);
    this.present = present;
    this.tree = new Int32Array(size);
    for (let i = 1; i < size; i++) if (present[i]) this.update(i, 1);
  }
}

/**
 * A min-heap of keys by score where a key's score can change; stale entries are skipped when popped.
 * Scores are whole numbers (epoch ms here), kept as offsets from the first one set: an offset
 * under 2^30 is a V8 small integer, stored in place, where an epoch ms needs a heap number of
 * its own. Every read of a waiting user touches its score, so that was an allocation per read,
 * kept until the next touch: long enough to be promoted and collected by the old generation.
 */
export class ScoredKeys {
  private heap: [number, string][] = [];
  private readonly scores = new Map<string, number>();
  private base: number | undefined;

  get size(): number {
    return this.scores.size;
  }

  set(key: string, score: number): void {
    this.put(key, this.offset(score), this.scores.get(key));
  }

  /** Sets the score of a key that is present (a token seen again); returns whether it was. */
  touch(key: string, score: number): boolean {
    const old = this.scores.get(key);
    if (old === undefined) return false;
    this.put(key, this.offset(score), old);
    return true;
  }

  get(key: string): number | undefined {
    const offset = this.scores.get(key);
    return offset === undefined ? undefined : offset + this.base!;
  }

  keys(): IterableIterator<string> {
    return this.scores.keys();
  }

  delete(key: string): void {
    this.scores.delete(key);
  }

  clear(): void {
    this.heap = [];
    this.scores.clear();
  }

  /** Removes and returns up to `limit` keys whose score is at most `max`, lowest first. */
  popDue(max: number, limit: number): string[] {
    const out: string[] = [];
    if (this.base === undefined) return out;
    const due = max - this.base;
    while (out.length < limit && this.heap.length > 0) {
      const [score, key] = this.heap[0];
      // Every entry below has a heap score at least this one's, and a live key's score is never
      // below its entry's (a lowered score gets an entry of its own): nothing further is due.
      if (score > due) break;
      const current = this.scores.get(key);
      if (current !== score) {
        this.pop();
        if (current !== undefined && current > score) this.push([current, key]); // raised since: its entry moves on
        continue;
      }
      this.pop();
      this.scores.delete(key);
      out.push(key);
    }
    return out;
  }

  private offset(score: number): number {
    this.base ??= score;
    return score - this.base;
  }

  private put(key: string, score: number, old: number | undefined): void {
    this.scores.set(key, score);
    // A raised score (a token seen again) keeps its heap entry: popDue moves it
    // when it comes to the top, so touching a key costs no heap work.
    if (old !== undefined && score >= old) return;
    this.push([score, key]);
    // Stale entries pile up when scores change often: rebuild now and then.
    if (this.heap.length > 64 && this.heap.length > 4 * this.scores.size) this.rebuild();
  }

  private rebuild(): void {
    this.heap = [];
    for (const [key, score] of this.scores) this.push([score, key]);
  }

  private push(entry: [number, string]): void {
    const h = this.heap;
    h.push(entry);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent][0] <= h[i][0]) break;
      [h[parent], h[i]] = [h[i], h[parent]];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && h[l][0] < h[m][0]) m = l;
      if (r < h.length && h[r][0] < h[m][0]) m = r;
      if (m === i) break;
      [h[m], h[i]] = [h[i], h[m]];
      i = m;
    }
  }
}
