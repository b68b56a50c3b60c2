// The seat map of each date, kept in memory per instance. In an on-sale every
// admitted fan reads the whole map of a date (5,000 seats) and most of them
// read it again after losing a seat; reading it from PostgreSQL each time cost
// about 5 ms of CPU to decode per read (BENCHMARKS.md). Here a map is read once,
// then patched from the seat changes every instance publishes (hold, cancel,
// sale, expiry), and read again from the database `maxAgeMs` after its last
// read ended, which bounds how long a lost or reordered event can show. Only
// the first read of a date waits for the database; later ones are served from
// memory while a newer copy is read in the background. (Waiting for it, and
// counting the age from the start of the read, made a busy instance read the
// map back to back: each read outlived the age limit, and every reader waited.)
//
// A hold whose time has passed reads AVAILABLE even before the sweeper ends it,
// as in the SQL read (EFFECTIVE_SEAT_STATUS): each HELD seat keeps its
// `heldUntil`, and the views are rebuilt once the earliest of those passes.
//
// Each map also has a version and a compact availability (`seatAvailability`):
// the statuses of all its seats in one base64 string, 2 bits a seat, built
// once per version from the same views. The version is a hybrid clock of this
// instance (epoch microseconds, or one more than the last version it gave,
// whichever is larger), set anew by every seat change the instance applies to
// the map, by a re-read that found the database different, and by a hold that
// ran out: it only ever grows for a date, across re-reads and forgotten maps.
import type { Pool } from "pg";
import type { EventBus } from "../pubsub/event-bus";
import { seatChannel, type SeatChange, type SeatChangeMessage, type SeatStatusValue } from "../pubsub/seat-events";
import type { SeatView } from "./reservation.views";

interface SeatRow {
  id: string;
  number: number;
  price: number;
  grade: string;
  status: SeatStatusValue;
  /** Epoch ms; HELD only (Infinity when an event did not say). */
  heldUntil: number | null;
}

interface DateMap {
  dateId: string;
  rows: SeatRow[];
  byNumber: Map<number, SeatRow>;
  /** When the last read from the database ended (-Infinity before the first). */
  loadedAt: number;
  lastRead: number;
  /** What readers get until a change or the earliest hold's end. */
  views: SeatView[] | null;
  /**
   * One view object per seat and status, kept across changes and re-reads: a
   * reader may cache what it derives from a view (the JSON of a seat) by its
   * identity, and a seat's view is a new object only when its status changes.
   */
  viewOf: Map<string, Partial<Record<SeatStatusValue, SeatView>>>;
  viewsValidUntil: number;
  /** Set anew (larger) by every change applied to the map. */
  version: number;
  /** The compact form of `views`, built from them when first asked for. */
  availability: SeatAvailabilityView | null;
  /** Changes heard while a newer snapshot is being read; applied on top of it. */
  pending: SeatChange[] | null;
  loading: Promise<void> | null;
  stopListening: (() => void) | null;
  /** Bumped when the date's grades change (setSeatGrades): a read begun before is not served as fresh. */
  generation: number;
}

/** A date's seat statuses in one string (the GraphQL SeatAvailability). */
export interface SeatAvailabilityView {
  concertDateId: string;
  version: number;
  seatCount: number;
  /**
   * Base64 of ceil(seatCount / 4) bytes: the i-th seat by number (0-based) in
   * bits 2·(i mod 4) and 2·(i mod 4)+1 of byte ⌊i/4⌋, least significant first;
   * 0 AVAILABLE, 1 HELD, 2 SOLD.
   */
  statuses: string;
  /** The seats' grades (rule 20) as runs of consecutive seat numbers, in seat-number order. */
  gradeRuns: { grade: string; fromSeat: number; toSeat: number }[];
}

const STATUS_CODE: Record<SeatStatusValue, number> = { AVAILABLE: 0, HELD: 1, SOLD: 2 };

/** The compact statuses of `views` (see SeatAvailabilityView.statuses). */
export function encodeStatuses(views: readonly { status: SeatStatusValue }[]): string {
  const bytes = Buffer.alloc(Math.ceil(views.length / 4));
  for (let i = 0; i < views.length; i++) bytes[i >> 2] |= STATUS_CODE[views[i].status] << ((i & 3) << 1);
  return bytes.toString("base64");
}

export interface SeatMapsOptions {
  /** A map older than this is read again before it is served. */
  maxAgeMs?: number;
  /** A map nobody read for this long is forgotten (and its channel left). */
  idleMs?: number;
  now?: () => number;
}

export class SeatMaps {
  private readonly maps = new Map<string, DateMap>();
  private readonly maxAgeMs: number;
  private readonly idleMs: number;
  private readonly now: () => number;
  private readonly sweep: NodeJS.Timeout;
  /** The last version given to any map here (see the top of the file). */
  private clock = 0;
  /** The last version of each date whose map was forgotten, so a new map goes on from it. */
  private readonly forgotten = new Map<string, number>();

  constructor(
    private readonly pool: Pool,
    private readonly bus: EventBus,
    options: SeatMapsOptions = {},
  ) {
    this.maxAgeMs = options.maxAgeMs ?? 1_000;
    this.idleMs = options.idleMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.sweep = setInterval(() => this.forgetIdle(), Math.max(1_000, this.idleMs / 2));
    this.sweep.unref();
  }

  /** Every seat of the date by number, with the status a reader sees now. */
  async read(dateId: string): Promise<SeatView[]> {
    return this.views(await this.loaded(dateId));
  }

  /** The date's statuses in compact form, with its version: the same statuses `read` gives now. */
  async availability(dateId: string): Promise<SeatAvailabilityView> {
    const map = await this.loaded(dateId);
    const views = this.views(map);
    if (!map.availability || map.availability.version !== map.version) {
      map.availability = {
        concertDateId: dateId,
        version: map.version,
        seatCount: views.length,
        statuses: encodeStatuses(views),
        gradeRuns: gradeRuns(views),
      };
    }
    return map.availability;
  }

  private tick(): number {
    this.clock = Math.max(this.clock + 1, Date.now() * 1000);
    return this.clock;
  }

  private async loaded(dateId: string): Promise<DateMap> {
    let map = this.maps.get(dateId);
    if (!map) {
      map = {
        dateId,
        rows: [],
        byNumber: new Map(),
        loadedAt: -Infinity,
        lastRead: 0,
        views: null,
        viewOf: new Map(),
        viewsValidUntil: 0,
        version: Math.max(this.forgotten.get(dateId) ?? 0, this.tick()),
        availability: null,
        pending: null,
        loading: null,
        stopListening: null,
        generation: 0,
      };
      this.maps.set(dateId, map);
    }
    const now = this.now();
    map.lastRead = now;
    if (map.loadedAt === -Infinity) {
      for (let i = 0; map.loadedAt === -Infinity && i < 3; i++) await this.load(map);
    } else if (now - map.loadedAt > this.maxAgeMs && !map.loading) void this.load(map).catch(() => undefined);
    return map;
  }

  /**
   * The grade of each seat of the date by number (rule 20), from the map (read
   * first if this instance holds none): seat changes of a sale leave it out.
   */
  async grades(dateId: string): Promise<(number: number) => string | undefined> {
    await this.read(dateId);
    const map = this.maps.get(dateId);
    return (number) => map?.byNumber.get(number)?.grade;
  }

  /** The date's grades or prices changed: the next read waits for a new snapshot. */
  private invalidate(dateId: string): void {
    const map = this.maps.get(dateId);
    if (!map) return;
    map.generation++;
    map.loadedAt = -Infinity;
    map.views = null;
  }

  /** Patches the maps held here (changes of any instance, including this one's own writes). */
  apply(changes: readonly SeatChange[]): void {
    for (const change of changes) {
      const map = this.maps.get(change.concertDateId);
      if (!map) continue;
      map.pending?.push(change);
      const row = map.byNumber.get(change.number);
      if (!row) continue;
      row.status = change.status;
      row.heldUntil = change.status === "HELD" ? (change.heldUntil ?? Infinity) : null;
      map.views = null;
      map.version = this.tick();
    }
  }

  /**
   * The bus for the writers: a seat change patches this instance's maps at
   * once (a fan who just held seats sees them HELD on the next read), then
   * travels to the other instances. Its echo comes back here too and applies
   * again: harmless, except that an echo arriving after a newer local change
   * to the same seat shows the older status until that change's own echo
   * (milliseconds; the re-read bounds it in any case).
   */
  tap(bus: EventBus): EventBus {
    return {
      ...bus,
      publish: (channel, payload) => {
        if (channel.startsWith("seats.")) this.apply((payload as SeatChangeMessage).seats);
        return bus.publish(channel, payload);
      },
    };
  }

  close(): void {
    clearInterval(this.sweep);
    for (const map of this.maps.values()) map.stopListening?.();
    this.maps.clear();
  }

  private load(map: DateMap): Promise<void> {
    map.loading ??= this.reload(map).finally(() => {
      map.loading = null;
    });
    return map.loading;
  }

  private async reload(map: DateMap): Promise<void> {
    // Listen first, so no change made after the snapshot is missed.
    if (!map.stopListening) {
      const stop = await this.bus.listen<SeatChangeMessage>(seatChannel(map.dateId), (message) =>
        message.reload ? this.invalidate(map.dateId) : this.apply(message.seats),
      );
      if (this.maps.get(map.dateId) !== map) return stop();
      map.stopListening = stop;
    }
    map.pending = [];
    const generation = map.generation;
    try {
      const { rows } = await this.pool.query<SeatRow>(
        `SELECT id, number, price, grade, status::text AS status,
                CASE WHEN status = 'HELD' THEN (extract(epoch FROM held_until) * 1000)::float8 END AS "heldUntil"
           FROM seats WHERE concert_date_id = $1 ORDER BY number`,
        [map.dateId],
      );
      const pending = map.pending;
      if (differs(map.rows, rows)) map.version = this.tick();
      map.rows = rows;
      map.byNumber = new Map(rows.map((r) => [r.number, r]));
      // A grade change heard during the read may not be in it: read again.
      map.loadedAt = generation === map.generation ? this.now() : -Infinity;
      map.views = null;
      // Changes heard during the read may or may not be in it; they are newer
      // than what the read could have missed, so they go on top.
      map.pending = null;
      this.apply(pending);
    } finally {
      map.pending = null;
    }
  }

  private views(map: DateMap): SeatView[] {
    const now = this.now();
    if (map.views && now < map.viewsValidUntil) return map.views;
    let validUntil = Infinity;
    const views = new Array<SeatView>(map.rows.length);
    for (let i = 0; i < map.rows.length; i++) {
      const r = map.rows[i];
      let status = r.status;
      if (status === "HELD") {
        const until = r.heldUntil ?? Infinity;
        if (until <= now) status = "AVAILABLE";
        else if (until < validUntil) validUntil = until;
      }
      let byStatus = map.viewOf.get(r.id);
      if (!byStatus) map.viewOf.set(r.id, (byStatus = {}));
      let view = byStatus[status];
      // A new view when the grade or price changed (setSeatGrades), not only the status.
      if (!view || view.price !== r.price || view.grade !== r.grade) {
        view = byStatus[status] = { id: r.id, concertDateId: map.dateId, number: r.number, price: r.price, grade: r.grade, status };
      }
      views[i] = view;
    }
    // A hold that ran out changed a status with no event: a new version.
    if (map.views && views.some((v, i) => v !== map.views![i])) map.version = this.tick();
    map.views = views;
    map.viewsValidUntil = validUntil;
    return views;
  }

  private forgetIdle(): void {
    const cutoff = this.now() - this.idleMs;
    for (const [dateId, map] of this.maps) {
      if (map.lastRead < cutoff && !map.loading) {
        this.maps.delete(dateId);
        this.forgotten.set(dateId, map.version);
        map.stopListening?.();
      }
    }
  }
}

/** Whether a fresh read of the seats says anything the map did not. */
function differs(before: readonly SeatRow[], after: readonly SeatRow[]): boolean {
  if (before.length !== after.length) return true;
  for (let i = 0; i < after.length; i++) {
    const a = before[i];
    const b = after[i];
    if (
      a.id !== b.id ||
      a.status !== b.status ||
      a.price !== b.price ||
      a.grade !== b.grade ||
      (a.status === "HELD" && a.heldUntil !== b.heldUntil)
    ) {
      return true;
    }
  }
  return false;
}

/** Runs of consecutive seats of one grade, in seat-number order. */
function gradeRuns(views: readonly SeatView[]): SeatAvailabilityView["gradeRuns"] {
  // Views come from the map's rows, which always have a grade (the events' optional one never reaches a view).
  const gradeOf = (v: SeatView) => v.grade ?? "";
  const runs: SeatAvailabilityView["gradeRuns"] = [];
  for (const v of views) {
    const last = runs[runs.length - 1];
    if (last && last.grade === gradeOf(v) && last.toSeat === v.number - 1) last.toSeat = v.number;
    else runs.push({ grade: gradeOf(v), fromSeat: v.number, toSeat: v.number });
  }
  return runs;
}
