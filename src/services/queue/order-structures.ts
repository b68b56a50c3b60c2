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

/** A min-heap of keys by score where a key's score can change; stale entries are skipped when popped. */
export class ScoredKeys {
  private heap: [number, string][] = [];
  private readonly scores = new Map<string, number>();

  get size(): number {
    return this.scores.size;
  }

  set(key: string, score: number): void {
    const old = this.scores.get(key);
    this.scores.set(key, score);
    // A raised score (a token seen again) keeps its heap entry: popDue moves it
    // when it comes to the top, so touching a key costs no heap work.
    if (old !== undefined && score >= old) return;
    this.push([score, key]);
    // Stale entries pile up when scores change often: rebuild now and then.
    if (this.heap.length > 64 && this.heap.length > 4 * this.scores.size) this.rebuild();
  }

  get(key: string): number | undefined {
    return this.scores.get(key);
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
    while (out.length < limit && this.heap.length > 0) {
      const [score, key] = this.heap[0];
      const current = this.scores.get(key);
      if (current !== score) {
        this.pop();
        if (current !== undefined && current > score) this.push([current, key]); // raised since: its entry moves on
        continue;
      }
      if (score > max) break;
      this.pop();
      this.scores.delete(key);
      out.push(key);
    }
    return out;
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
