// The queueStatusChanged subscriptions one instance holds (contract rule 12).
// Status changes (admission, expiry) arrive as events from whichever instance
// made them and are pushed at once. Places and estimates are read on a cadence
// that grows with the distance from the front: about every second for a user
// expected within a minute, every 14 s further back, and only when the line
// has moved (someone ahead was admitted or left) or the admission rate moved
// the estimate. Each watched token sits in a timer wheel slot for its next
// read; a refresh visits only the due slots and reads only the tokens whose
// ticket may have changed, so its cost follows the pushes it sends, not the
// number of subscribers times seconds.
import type { EventBus } from "../../pubsub/event-bus";
import { AsyncQueue } from "../../pubsub/async-queue";
import type { Logger } from "../../observability/logger";
import { concertChannel, type ConcertQueueEvent, type QueueService } from "./queue.service";
import type { TokenState } from "./queue-store";
import { estimateFor, toTicket } from "./queue-ticket";
import { OutageLog } from "../../observability/outage-log";
import type { QueueTicketView } from "./queue.types";

export type TicketListener = (ticket: QueueTicketView) => void;

/** The refresh's period and the wheel's slot: the ticker calls refresh() this often. */
export const REFRESH_SLOT_MS = 500;
/** Between two reads of a user expected within a minute ("about a second"). */
const NEAR_INTERVAL_MS = 1_000;
/** Between two reads further back: with a slot and a read's time on top, within 15 s. */
const FAR_INTERVAL_MS = 13_500;
/** Expected within this many seconds: the near cadence. */
const NEAR_SECONDS = 60;
/** With no estimate yet (the line just started moving), places up to this one count as near. */
const NEAR_PLACES_WITHOUT_ESTIMATE = 1_000;
/** Tokens read and pushed at a time; the refresh yields to the event loop between slices. */
const REFRESH_SLICE = 500;
/** Reads per concert per refresh at most: the rest stay due for the next one, so a burst never holds the instance. */
const READ_BUDGET = 5_000;
/** Idle entries looked at per concert per refresh at most (the far-back idle set is swept a part at a time). */
const SWEEP_BUDGET = 20_000;
/** How often one token is read when none is due: the rate (updated every 2 s) and the seats left. */
const RATE_PROBE_MS = 1_000;

/** One subscriber, with what it was last told (kept as fields: a key string per push was garbage to collect). */
interface Watcher {
  listener: TicketListener;
  status: QueueTicketView["status"];
  position: number;
  estimate: number | null;
  reason: QueueTicketView["expiredReason"];
  seatsLeft: number;
}

/** Whether `w` was last told what `t` says. */
const told = (w: Watcher, t: QueueTicketView) =>
  w.status === t.status &&
  w.position === t.queuePosition &&
  w.estimate === t.estimatedWaitSeconds &&
  w.reason === t.expiredReason &&
  w.seatsLeft === t.seatsLeft;

function tell(w: Watcher, t: QueueTicketView): void {
  w.status = t.status;
  w.position = t.queuePosition;
  w.estimate = t.estimatedWaitSeconds;
  w.reason = t.expiredReason;
  w.seatsLeft = t.seatsLeft;
}

/** One watched token: its watchers, what was last read of it, and its place in the wheel. */
interface Entry {
  token: string;
  /** Almost always one (a token is its user's): an array, where a Set's table was 230 bytes per subscriber. */
  watchers: Watcher[];
  /** This instance's clock when it was last read. */
  readAt: number;
  /** Bumped by every state that reaches it, so a read answered after a newer event is dropped. */
  version: number;
  status: TokenState["status"];
  position: number;
  estimate: number | null;
  /** Its wheel slot, or IDLE (in the idle set: nothing changed when it was due). */
  slot: number;
  /** Unwatched (out of `entries`): a read under way for it is dropped. */
  gone: boolean;
}

const IDLE = -1;

/**
 * The entries placed in one slot of the wheel, oldest first, from `next` on. An entry moved
 * elsewhere is not taken out (its `slot` no longer names this one, so it is skipped when the
 * slot comes): an array costs a pointer an entry, where a Set's table, grown while the slot
 * filled and kept until it came, was most of what the refresh left for the old generation.
 */
interface Slot {
  entries: Entry[];
  next: number;
}

interface ConcertWatch {
  entries: Map<string, Entry>;
  /** Slot number (epoch ms / REFRESH_SLOT_MS) -> the entries due then. */
  wheel: Map<number, Slot>;
  /** Entries near the front that were due while nothing had changed for them: all due again when the line moves. */
  idle: Set<Entry>;
  /** The same further back, where there can be a million: swept a budget at a time (see sweepFar). */
  idleFar: Set<Entry>;
  /** The sweep of idleFar under way, and what started it (the clock, the rate). */
  sweep: IterableIterator<Entry> | undefined;
  sweepAt: number;
  sweepRate: number | null;
  /** When an event last showed someone leave the line (admitted, left, dropped). */
  movedAt: number;
  /** The admission rate last read (estimates follow it), and the seats left (every ticket carries them). */
  rate: number | null;
  seatsLeft: number | undefined;
  /** Whether admission is open (a paused line has no estimate), as last read. */
  admissionOpen: boolean | undefined;
  probedAt: number;
  touchedAt: number;
  unlisten: Promise<() => void>;
}

export interface WatcherStats {
  /** Tokens read by the refresh (each a candidate push), pushes sent, refresh rounds. */
  reads: number;
  pushes: number;
  rounds: number;
}

export class QueueWatchers {
  private readonly concerts = new Map<string, ConcertWatch>();
  /** Told of each admission pushed here, with its state as the admission step left it (metrics: admission → push). */
  onAdmissionPushed: ((state: TokenState) => void) | undefined;
  private outage: OutageLog | undefined;
  /** Counters since start, for benchmarks and metrics. */
  readonly stats: WatcherStats = { reads: 0, pushes: 0, rounds: 0 };
  /** A WAITING token is read at least this often so that an open subscription keeps it seen. */
  private readonly touchMs: number;

  constructor(
    private readonly queue: QueueService,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    options: { idleSeconds?: number } = {},
  ) {
    this.touchMs = ((options.idleSeconds ?? 120) * 1000) / 3;
  }

  get count(): number {
    let n = 0;
    for (const c of this.concerts.values()) for (const e of c.entries.values()) n += e.watchers.length;
    return n;
  }

  /**
   * queueStatusChanged: the caller's ticket now, then each change, ending after EXPIRED.
   * An open subscription keeps a WAITING token seen (the refresh reads touch it).
   */
  async subscribe(actor: { id: string }, token: string): Promise<AsyncIterableIterator<QueueTicketView>> {
    const state = await this.queue.ownToken(actor, token, true);
    const first = toTicket(state);
    const events = new AsyncQueue<QueueTicketView>();
    events.push(first);
    if (first.status === "EXPIRED") {
      events.end();
      return events;
    }
    events.onEnd(
      this.watch(state.concertId, token, first, (ticket) => {
        events.push(ticket);
        if (ticket.status === "EXPIRED") events.end();
      }),
    );
    return events;
  }

  /**
   * Calls `listener` with the ticket each time its status, place or estimate
   * changes (on rule 12's cadence), the last time with EXPIRED. `initial` is
   * the ticket already sent, read just now.
   */
  watch(concertId: string, token: string, initial: QueueTicketView, listener: TicketListener): () => void {
    let concert = this.concerts.get(concertId);
    if (!concert) {
      const unlisten = this.bus.listen<ConcertQueueEvent>(concertChannel(concertId), (e) => this.onEvent(concertId, e));
      concert = {
        entries: new Map(),
        wheel: new Map(),
        idle: new Set(),
        idleFar: new Set(),
        sweep: undefined,
        sweepAt: Date.now(),
        sweepRate: null,
        movedAt: 0,
        rate: null,
        seatsLeft: undefined,
        admissionOpen: undefined,
        probedAt: 0,
        touchedAt: Date.now(),
        unlisten,
      };
      this.concerts.set(concertId, concert);
    }
    const watcher: Watcher = {
      listener,
      status: initial.status,
      position: initial.queuePosition,
      estimate: initial.estimatedWaitSeconds,
      reason: initial.expiredReason,
      seatsLeft: initial.seatsLeft,
    };
    let entry = concert.entries.get(token);
    if (!entry) {
      const now = Date.now();
      entry = {
        token,
        watchers: [],
        readAt: now,
        version: 0,
        status: initial.status,
        position: initial.queuePosition,
        estimate: initial.estimatedWaitSeconds,
        slot: IDLE,
        gone: false,
      };
      concert.entries.set(token, entry);
      this.schedule(concert, entry, now);
    }
    entry.watchers.push(watcher);
    return () => this.remove(concertId, token, watcher);
  }

  /**
   * One refresh round (the ticker calls it every REFRESH_SLOT_MS): for each
   * concert, the entries whose slot has come, read when their ticket may have
   * changed, in slices with yields between them.
   */
  async refresh(): Promise<void> {
    this.stats.rounds++;
    await Promise.all([...this.concerts.entries()].map(([concertId, concert]) => this.refreshConcert(concertId, concert)));
  }

  close(): void {
    for (const [concertId, concert] of this.concerts) {
      for (const [token, entry] of concert.entries) for (const w of [...entry.watchers]) this.remove(concertId, token, w);
    }
  }

  private async refreshConcert(concertId: string, concert: ConcertWatch): Promise<void> {
    try {
      const now = Date.now();
      const due: Entry[] = [];
      const current = slotOf(now);
      // Due slots, a read budget at a time: what is left stays in its slot for the next round.
      let looked = 0;
      for (const [slot, at] of concert.wheel) {
        if (slot > current) continue;
        for (; at.next < at.entries.length; at.next++) {
          if (due.length >= READ_BUDGET || looked >= SWEEP_BUDGET) break;
          const e = at.entries[at.next];
          if (e.slot !== slot) continue; // moved since
          looked++;
          e.slot = IDLE;
          if (this.mayHaveChanged(concert, e) || now - e.readAt >= this.touchMs) due.push(e);
          else this.park(concert, e);
        }
        if (at.next === at.entries.length) concert.wheel.delete(slot);
        if (due.length >= READ_BUDGET || looked >= SWEEP_BUDGET) break;
      }
      // An open subscription keeps its WAITING token seen: read idle ones now and then (near ones here, far ones in the sweep).
      if (now - concert.touchedAt >= this.touchMs / 2) {
        concert.touchedAt = now;
        for (const e of concert.idle) {
          if (now - e.readAt >= this.touchMs) {
            concert.idle.delete(e);
            due.push(e);
          }
        }
      }
      this.sweepFar(concert, now, due);
      // The rate moves estimates even when nobody moves: probe it with one token when nothing else is read.
      if (due.length === 0 && concert.entries.size > 0 && now - concert.probedAt >= RATE_PROBE_MS) {
        const probe = concert.entries.values().next().value as Entry;
        this.unschedule(concert, probe);
        due.push(probe);
      }
      if (due.length > 0) await this.read(concertId, concert, due);
      this.outage?.ok();
    } catch (error) {
      // Subscriptions stay open through an outage; logged once, not per second.
      (this.outage ??= new OutageLog(this.logger, "queue refresh")).failed(error);
    }
  }

  /**
   * The far-back idle entries, a budget at a time: due when the line moved
   * since they were read, when the rate moved their estimate, or when they
   * need touching. A sweep starts when one of those may have happened.
   */
  private sweepFar(concert: ConcertWatch, now: number, due: Entry[]): void {
    if (concert.idleFar.size === 0) return;
    if (!concert.sweep) {
      const reason = concert.movedAt >= concert.sweepAt || concert.rate !== concert.sweepRate || now - concert.sweepAt >= this.touchMs / 2;
      if (!reason) return;
      concert.sweep = concert.idleFar.values();
      concert.sweepAt = now;
      concert.sweepRate = concert.rate;
    }
    for (let n = 0; n < SWEEP_BUDGET && due.length < READ_BUDGET; n++) {
      const next = concert.sweep.next();
      if (next.done) {
        concert.sweep = undefined;
        return;
      }
      const e = next.value;
      if (concert.movedAt >= e.readAt || now - e.readAt >= this.touchMs || expectedEstimate(concert, e) !== e.estimate) {
        concert.idleFar.delete(e);
        due.push(e);
      }
    }
  }

  /** An entry whose ticket had not changed when due: it waits for the next move. */
  private park(concert: ConcertWatch, e: Entry): void {
    if (isNear(e)) concert.idle.add(e);
    else concert.idleFar.add(e);
  }

  /** Whether a due entry's ticket may differ from the one last read. */
  private mayHaveChanged(concert: ConcertWatch, e: Entry): boolean {
    if (e.status !== "WAITING") return true; // ACTIVE: a safety read at the far cadence (its changes come as events)
    if (concert.movedAt >= e.readAt) return true;
    return expectedEstimate(concert, e) !== e.estimate;
  }

  private async read(concertId: string, concert: ConcertWatch, due: Entry[]): Promise<void> {
    // Over budget: the rest stay due for the next round.
    for (const e of due.splice(READ_BUDGET)) this.place(concert, e, slotOf(Date.now()) + 1);
    for (let i = 0; i < due.length; i += REFRESH_SLICE) {
      const slice = due.slice(i, i + REFRESH_SLICE).filter((e) => !e.gone);
      if (slice.length === 0) continue;
      const readAt = Date.now();
      const versions = slice.map((e) => e.version);
      concert.probedAt = readAt;
      const states = await this.queue.readMany(
        concertId,
        slice.map((e) => e.token),
      );
      this.stats.reads += slice.length;
      states.forEach((s, j) => {
        const e = slice[j];
        if (e.gone) return; // unwatched meanwhile
        e.readAt = readAt;
        if (s && e.version === versions[j]) {
          this.noteRate(concert, s);
          this.deliver(concertId, concert, e, s);
        }
        if (!e.gone) this.schedule(concert, e, readAt);
      });
      if (i + REFRESH_SLICE < due.length) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /**
   * A new rate makes the near idle entries due (their estimates may have moved;
   * the far ones are checked by the sweep); new seats left change every ticket.
   */
  private noteRate(concert: ConcertWatch, s: TokenState): void {
    if (s.admissionOpen !== undefined && s.admissionOpen !== concert.admissionOpen) {
      if (concert.admissionOpen !== undefined) {
        concert.movedAt = Date.now();
        this.wakeIdle(concert);
      }
      concert.admissionOpen = s.admissionOpen;
    }
    if (s.seatsLeft !== undefined && s.seatsLeft !== concert.seatsLeft) {
      if (concert.seatsLeft !== undefined) {
        concert.movedAt = Date.now();
        this.wakeIdle(concert);
      }
      concert.seatsLeft = s.seatsLeft;
    }
    const rate = s.admissionRate;
    if (rate === concert.rate) return;
    concert.rate = rate;
    this.wakeIdle(concert);
  }

  private onEvent(concertId: string, event: ConcertQueueEvent): void {
    const concert = this.concerts.get(concertId);
    if (!concert) return;
    if (event.kind === "changed") {
      let moved = false;
      for (const s of event.states) {
        // Someone left the line (admitted, left, dropped): the places behind moved.
        if (s.status === "ACTIVE" || (s.status === "EXPIRED" && (s.expiredReason === "LEFT" || s.expiredReason === "ABANDONED"))) moved = true;
        const e = concert.entries.get(s.token);
        if (e) {
          e.version++;
          if (this.deliver(concertId, concert, e, s) && s.status === "ACTIVE") this.onAdmissionPushed?.(s);
        }
      }
      if (moved) {
        concert.movedAt = Date.now();
        this.wakeIdle(concert);
      }
      return;
    }
    // Sold out (every token watched here has ended) or drawn (the pre-queue has its places): read
    // them all now (those past the read budget in the next rounds: everything counts as changed).
    concert.movedAt = Date.now();
    const all = [...concert.entries.values()];
    for (const e of all) this.unschedule(concert, e);
    void this.read(concertId, concert, all).catch((error) => (this.outage ??= new OutageLog(this.logger, "queue refresh")).failed(error));
  }

  /** Near the front a move is pushed within about a second: those wake at once (the far ones in the sweep). */
  private wakeIdle(concert: ConcertWatch): void {
    if (concert.idle.size === 0) return;
    const slot = slotOf(Date.now());
    for (const e of concert.idle) this.place(concert, e, slot);
    concert.idle.clear();
  }

  /** Pushes the token's ticket to its watchers that have not seen it; true when one was pushed. */
  private deliver(concertId: string, concert: ConcertWatch, e: Entry, state: TokenState): boolean {
    const ticket = toTicket(state);
    e.status = ticket.status;
    e.position = ticket.queuePosition;
    e.estimate = ticket.estimatedWaitSeconds;
    let pushed = false;
    for (const w of e.watchers.length === 1 ? e.watchers : [...e.watchers]) {
      if (told(w, ticket)) continue;
      tell(w, ticket);
      pushed = true;
      this.stats.pushes++;
      w.listener(ticket);
      if (ticket.status === "EXPIRED") this.remove(concertId, e.token, w);
    }
    if (e.gone) this.unschedule(concert, e);
    return pushed;
  }

  /** The entry's next read: its cadence after `readAt`. */
  private schedule(concert: ConcertWatch, e: Entry, readAt: number): void {
    // Never later than a touch is due: with a short QUEUE_WAITING_IDLE_SECONDS that is the cadence.
    const interval = Math.min(isNear(e) ? NEAR_INTERVAL_MS : FAR_INTERVAL_MS, this.touchMs);
    this.place(concert, e, Math.ceil((readAt + interval) / REFRESH_SLOT_MS));
  }

  private place(concert: ConcertWatch, e: Entry, slot: number): void {
    this.unschedule(concert, e);
    let at = concert.wheel.get(slot);
    if (!at) concert.wheel.set(slot, (at = { entries: [], next: 0 }));
    at.entries.push(e);
    e.slot = slot;
  }

  private unschedule(concert: ConcertWatch, e: Entry): void {
    // In a wheel slot it stays in the slot's array, skipped when the slot comes (see Slot).
    if (e.slot === IDLE) {
      concert.idle.delete(e);
      concert.idleFar.delete(e);
    }
    e.slot = IDLE;
  }

  private remove(concertId: string, token: string, watcher: Watcher): void {
    const concert = this.concerts.get(concertId);
    const e = concert?.entries.get(token);
    const at = e?.watchers.indexOf(watcher) ?? -1;
    if (!concert || !e || at < 0) return;
    e.watchers.splice(at, 1);
    if (e.watchers.length === 0) {
      concert.entries.delete(token);
      e.gone = true;
      this.unschedule(concert, e);
    }
    if (concert.entries.size === 0) {
      this.concerts.delete(concertId);
      void concert.unlisten.then((stop) => stop());
    }
  }
}

const slotOf = (ms: number) => Math.floor(ms / REFRESH_SLOT_MS);

/** The estimate a WAITING entry would read now at its last place (none in the pre-queue or while admission is paused). */
const expectedEstimate = (concert: ConcertWatch, e: Entry) =>
  e.position === 0 || concert.admissionOpen === false ? null : estimateFor(e.position, concert.rate);

/** Expected within a minute (or, before there is an estimate, in the first places): the about-a-second cadence. */
const isNear = (e: Entry) =>
  e.status === "WAITING" && (e.estimate !== null ? e.estimate <= NEAR_SECONDS : e.position <= NEAR_PLACES_WITHOUT_ESTIMATE);
