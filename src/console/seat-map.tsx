// The seat map of one date: every seat a cell of a canvas grid, coloured by grade while
// AVAILABLE and by status once HELD or SOLD, patched live from seatStatusChanged. A canvas
// keeps 5,000 seats cheap: a change repaints on the next animation frame, and the text
// (counts, the seat under the cursor, a lookup) refreshes at most four times a second.
// Keyboard: focus the map and move with the arrow keys, Home/End, PageUp/PageDown.
import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import type { ApiError, Capabilities, Session } from "./api";
import { documents } from "./documents";
import { money, type ConcertDate, type Seat, type SeatStatus } from "./model";

export const GRADE_COLOURS = ["#2563eb", "#059669", "#7c3aed", "#0e7490", "#4d7c0f", "#be185d", "#4338ca", "#0f766e"];
export const STATUS_COLOURS: Record<Exclude<SeatStatus, "AVAILABLE">, string> = { HELD: "#f59e0b", SOLD: "#1f2937" };
const CURSOR = "#dc2626";

function cellSize(count: number): number {
  if (count <= 400) return 18;
  if (count <= 1500) return 12;
  if (count <= 3000) return 9;
  return 7;
}

interface Layout {
  cell: number;
  gap: number;
  cols: number;
  rows: number;
  width: number;
  height: number;
}

function layoutFor(count: number, width: number): Layout {
  const cell = cellSize(count);
  const gap = cell >= 12 ? 2 : 1;
  const cols = Math.max(1, Math.floor((width + gap) / (cell + gap)));
  const rows = Math.max(1, Math.ceil(count / cols));
  return { cell, gap, cols, rows, width, height: rows * (cell + gap) - gap };
}

export function SeatMap(props: { session: Session; caps: Capabilities; date: ConcertDate; onError: (e: ApiError) => void }) {
  const { session, caps, date, onError } = props;
  const seats = useRef<Seat[]>([]);
  const indexOf = useRef(new Map<number, number>());
  const [loaded, setLoaded] = useState(false);
  const [version, setVersion] = useState(0);
  const [cursor, setCursor] = useState<number | null>(null);
  const [lookup, setLookup] = useState("");
  const [width, setWidth] = useState(600);
  const [linkDown, setLinkDown] = useState(false);
  const [watchFailed, setWatchFailed] = useState(false);
  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const frame = useRef<number | null>(null);
  const textTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const cursorRef = useRef<number | null>(null);
  cursorRef.current = cursor;
  const errorRef = useRef(onError);
  errorRef.current = onError;

  const gradeColour = useRef(new Map<string, string>());
  const colourOf = (grade: string | undefined) => {
    const key = grade ?? "GENERAL";
    let c = gradeColour.current.get(key);
    if (!c) {
      c = GRADE_COLOURS[gradeColour.current.size % GRADE_COLOURS.length];
      gradeColour.current.set(key, c);
    }
    return c;
  };

  const layout = useMemo(() => layoutFor(Math.max(1, seats.current.length || date.totalSeats), width), [width, date.totalSeats, loaded]);

  const draw = useCallback(() => {
    frame.current = null;
    const el = canvas.current;
    if (!el) return;
    const ratio = window.devicePixelRatio || 1;
    const { cell, gap, cols, width: w, height: h } = layout;
    if (el.width !== Math.round(w * ratio) || el.height !== Math.round(h * ratio)) {
      el.width = Math.round(w * ratio);
      el.height = Math.round(h * ratio);
      el.style.width = `${w}px`;
      el.style.height = `${h}px`;
    }
    const ctx = el.getContext("2d");
    if (!ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const list = seats.current;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      const x = (i % cols) * (cell + gap);
      const y = Math.floor(i / cols) * (cell + gap);
      ctx.fillStyle = s.status === "AVAILABLE" ? colourOf(s.grade) : STATUS_COLOURS[s.status];
      ctx.fillRect(x, y, cell, cell);
    }
    const c = cursorRef.current;
    const ci = c === null ? undefined : indexOf.current.get(c);
    if (ci !== undefined) {
      ctx.strokeStyle = CURSOR;
      ctx.lineWidth = 2;
      ctx.strokeRect((ci % cols) * (cell + gap) - 1, Math.floor(ci / cols) * (cell + gap) - 1, cell + 2, cell + 2);
    }
  }, [layout]);

  const changed = useCallback(() => {
    if (frame.current === null) frame.current = requestAnimationFrame(draw);
    if (textTimer.current === null) {
      textTimer.current = setTimeout(() => {
        textTimer.current = null;
        setVersion((v) => v + 1);
      }, 250);
    }
  }, [draw]);

  useEffect(() => {
    draw();
  }, [draw, cursor, loaded]);

  useEffect(() => {
    const el = box.current!;
    const resize = new ResizeObserver(() => setWidth(Math.max(200, Math.floor(el.clientWidth))));
    resize.observe(el);
    return () => resize.disconnect();
  }, []);

  // The map: read once (and again after a reconnect), then patched by every change pushed.
  useEffect(() => {
    let stopped = false;
    let pending: Seat[] | null = [];
    seats.current = [];
    indexOf.current = new Map();
    setLoaded(false);
    setCursor(null);
    const docs = documents(caps);
    const apply = (seat: Seat) => {
      const i = indexOf.current.get(seat.number);
      if (i === undefined) return;
      seats.current[i] = { ...seats.current[i], ...seat };
    };
    const read = async () => {
      pending ??= [];
      try {
        const d = await session.query<{ seats: Seat[] }>(docs.seats, { d: date.id });
        if (stopped) return;
        const list = [...d.seats].sort((a, b) => a.number - b.number);
        seats.current = list;
        indexOf.current = new Map(list.map((s, i) => [s.number, i]));
        for (const s of pending ?? []) apply(s);
        pending = null;
        setLoaded(true);
        changed();
      } catch (e) {
        if (!stopped) errorRef.current(e as ApiError);
      }
    };
    const stop = session.subscribe<{ seatStatusChanged: Seat }>(
      docs.seatsLive,
      { d: date.id },
      (d) => {
        if (stopped) return;
        if (pending) pending.push(d.seatStatusChanged);
        else {
          apply(d.seatStatusChanged);
          changed();
        }
      },
      (e) => {
        if (stopped) return;
        setWatchFailed(true);
        errorRef.current(e);
      },
    );
    const offs = [session.onReconnected(() => !stopped && void read()), session.onLink((up) => !stopped && setLinkDown(!up))];
    void read();
    return () => {
      stopped = true;
      stop();
      for (const off of offs) off();
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      frame.current = null;
      if (textTimer.current !== null) clearTimeout(textTimer.current);
      textTimer.current = null;
    };
  }, [session, caps, date.id]);

  // Counts per grade and status, for the legend (text for every colour).
  const counts = useMemo(() => {
    const byGrade = new Map<string, { price: Set<number>; from: number; to: number; AVAILABLE: number; HELD: number; SOLD: number }>();
    for (const s of seats.current) {
      const g = s.grade ?? "GENERAL";
      let row = byGrade.get(g);
      if (!row) byGrade.set(g, (row = { price: new Set(), from: s.number, to: s.number, AVAILABLE: 0, HELD: 0, SOLD: 0 }));
      row.price.add(s.price);
      row.from = Math.min(row.from, s.number);
      row.to = Math.max(row.to, s.number);
      row[s.status]++;
    }
    return [...byGrade.entries()];
  }, [version, loaded]);

  const seatAt = (n: number | null) => {
    if (n === null) return undefined;
    const i = indexOf.current.get(n);
    return i === undefined ? undefined : seats.current[i];
  };
  const describe = (s: Seat | undefined) => (s ? `Seat ${s.number}: ${s.status} · grade ${s.grade ?? "GENERAL"} · price ${money(s.price)}` : "");

  const move = (e: KeyboardEvent<HTMLCanvasElement>) => {
    const list = seats.current;
    if (!list.length) return;
    const cols = layout.cols;
    const i = cursor === null ? -1 : (indexOf.current.get(cursor) ?? -1);
    const steps: Record<string, number> = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: cols, ArrowUp: -cols, PageDown: cols * 10, PageUp: -cols * 10 };
    let next: number;
    if (e.key === "Home") next = 0;
    else if (e.key === "End") next = list.length - 1;
    else if (e.key in steps) next = i < 0 ? 0 : Math.min(list.length - 1, Math.max(0, i + steps[e.key]));
    else return;
    e.preventDefault();
    setCursor(list[next].number);
  };

  const pointAt = (clientX: number, clientY: number) => {
    const rect = canvas.current!.getBoundingClientRect();
    const { cell, gap, cols } = layout;
    const col = Math.floor((clientX - rect.left) / (cell + gap));
    const row = Math.floor((clientY - rect.top) / (cell + gap));
    if (col < 0 || col >= cols || row < 0) return;
    const s = seats.current[row * cols + col];
    if (s) setCursor(s.number);
  };

  const looked = seatAt(lookup === "" ? null : Number(lookup));
  const label = `Seat map of ${new Date(date.startsAt).toLocaleString()}, ${date.totalSeats} seats. Arrow keys move from seat to seat.`;
  return (
    <div className="seat-map">
      <p className="muted">
        {loaded ? `${seats.current.length} seats` : "Reading the seats…"} ·{" "}
        {watchFailed ? "not live: the seat changes could not be watched" : linkDown ? "reconnecting…" : "live from seatStatusChanged"}
      </p>
      <ul className="legend" aria-label="Colours of the seat map">
        {counts.map(([grade, row]) => (
          <li key={grade}>
            <span className="swatch" data-colour={colourOf(grade)} ref={paint(colourOf(grade))} aria-hidden="true" />
            {grade} (seats {row.from}–{row.to}, price {[...row.price].map(money).join("/")}): {row.AVAILABLE} available, {row.HELD} held, {row.SOLD}{" "}
            sold
          </li>
        ))}
        <li>
          <span className="swatch" ref={paint(STATUS_COLOURS.HELD)} aria-hidden="true" />
          HELD (any grade)
        </li>
        <li>
          <span className="swatch" ref={paint(STATUS_COLOURS.SOLD)} aria-hidden="true" />
          SOLD (any grade)
        </li>
      </ul>
      <div ref={box} className="seat-canvas-box">
        {/* biome-ignore lint/a11y/noInteractiveElementToNoninteractiveRole: the canvas is a keyboard-driven seat picker (role="application") */}
        <canvas
          ref={canvas}
          tabIndex={0}
          role="application"
          aria-roledescription="seat map"
          aria-label={label}
          aria-describedby={`seat-cursor-${date.id}`}
          onKeyDown={move}
          onMouseMove={(e) => pointAt(e.clientX, e.clientY)}
          onClick={(e) => pointAt(e.clientX, e.clientY)}
        />
      </div>
      <p id={`seat-cursor-${date.id}`} className="seat-cursor" aria-live="polite" data-version={version}>
        {cursor === null ? "Point at a seat, or focus the map and use the arrow keys." : describe(seatAt(cursor))}
      </p>
      <label className="inline">
        Find seat number <input type="number" min={1} max={date.totalSeats} value={lookup} onChange={(e) => setLookup(e.target.value)} />
      </label>{" "}
      <output aria-live="polite" className="seat-lookup" data-version={version}>
        {lookup === "" ? "" : looked ? describe(looked) : `No seat ${lookup} on this date.`}
      </output>
    </div>
  );
}

/** Colours a swatch through the CSSOM (the CSP allows no inline style attribute). */
function paint(colour: string) {
  return (el: HTMLElement | null) => {
    if (el) el.style.backgroundColor = colour;
  };
}
