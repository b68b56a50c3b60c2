// "New concert": createConcert, then addConcertDate for each date, then setSeatGrades for
// each date when grades are given (and the server has it). The API has no one call for all
// of it, so a failure part-way says what was made, and the concert stays selectable.
import { useState, type FormEvent } from "react";
import type { Capabilities, Session } from "./api";
import { documents } from "./documents";
import { fromLocalInput, toLocalInput } from "./model";

interface DateRow {
  startsAt: string;
  seatCount: string;
  price: string;
}
interface GradeRow {
  name: string;
  price: string;
  fromSeat: string;
  toSeat: string;
}

const inAMonth = () => toLocalInput(new Date(Date.now() + 30 * 86_400_000)).replace(/:\d\d$/, ":00");

export function CreateConcert(props: {
  session: Session;
  caps: Capabilities;
  onCreated: (concertId: string, message: string, complete: boolean) => void;
}) {
  const { session, caps, onCreated } = props;
  const [title, setTitle] = useState("");
  const [opensAt, setOpensAt] = useState("");
  const [limit, setLimit] = useState("");
  const [dates, setDates] = useState<DateRow[]>([{ startsAt: inAMonth(), seatCount: "500", price: "100" }]);
  const [grades, setGrades] = useState<GradeRow[]>([]);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const canOpen = caps.has("CreateConcertInput", "saleOpensAt");
  const canLimit = caps.has("CreateConcertInput", "ticketLimitPerUser");
  const docs = documents(caps);
  const setGradesDoc = docs.setGrades;
  const canGrade = setGradesDoc !== null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setMessage(null);
    const made: string[] = [];
    let concertId: string | undefined;
    try {
      const input: Record<string, unknown> = { title };
      if (canOpen && opensAt) {
        const iso = fromLocalInput(opensAt);
        if (!iso) throw new Error("The opening time is not a valid date and time.");
        input.saleOpensAt = iso;
      }
      if (canLimit && limit) input.ticketLimitPerUser = Number(limit);
      const c = await session.query<{ createConcert: { id: string } }>(docs.createConcert, { input });
      concertId = c.createConcert.id;
      made.push("the concert");
      for (const [i, d] of dates.entries()) {
        const startsAt = fromLocalInput(d.startsAt);
        if (!startsAt) throw new Error(`Date ${i + 1}: the start is not a valid date and time.`);
        const added = await session.query<{ addConcertDate: { id: string } }>(docs.addDate, {
          input: { concertId, startsAt, seatCount: Number(d.seatCount), price: Number(d.price) },
        });
        made.push(`date ${i + 1}`);
        if (setGradesDoc && grades.length) {
          await session.query(setGradesDoc, { d: added.addConcertDate.id, g: grades.map(gradeInput) });
          made.push(`the grades of date ${i + 1}`);
        }
      }
      setTitle("");
      onCreated(concertId, `Created “${title}” with ${dates.length} date(s).`, true);
    } catch (error) {
      const text = (error as Error).message;
      setMessage(made.length ? `Made ${made.join(", ")}; then: ${text}` : text);
      if (concertId) onCreated(concertId, `Made ${made.join(", ")} of the new concert, not all of it: see the form.`, false);
    } finally {
      setBusy(false);
    }
  };

  const setDate = (i: number, patch: Partial<DateRow>) => setDates((all) => all.map((d, j) => (j === i ? { ...d, ...patch } : d)));
  const setGrade = (i: number, patch: Partial<GradeRow>) => setGrades((all) => all.map((g, j) => (j === i ? { ...g, ...patch } : g)));

  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-concert-title">
      <h2 id="new-concert-title">New concert</h2>
      <label>
        Title <input required maxLength={200} value={title} onChange={(e) => setTitle(e.target.value)} />
      </label>
      {canOpen && (
        <label>
          Sale opens at (your local time; empty: open at once){" "}
          <input type="datetime-local" step={1} value={opensAt} onChange={(e) => setOpensAt(e.target.value)} />
        </label>
      )}
      {canLimit && (
        <label>
          Ticket limit per user (empty: the server's default) <input type="number" min={1} value={limit} onChange={(e) => setLimit(e.target.value)} />
        </label>
      )}
      <fieldset>
        <legend>Dates</legend>
        {dates.map((d, i) => (
          <div className="row" key={i}>
            <label>
              Date {i + 1} starts at{" "}
              <input type="datetime-local" step={1} required value={d.startsAt} onChange={(e) => setDate(i, { startsAt: e.target.value })} />
            </label>
            <label>
              Seats <input type="number" min={1} required value={d.seatCount} onChange={(e) => setDate(i, { seatCount: e.target.value })} />
            </label>
            <label>
              Price <input type="number" min={1} required value={d.price} onChange={(e) => setDate(i, { price: e.target.value })} />
            </label>
            {dates.length > 1 && (
              <button type="button" onClick={() => setDates((all) => all.filter((_, j) => j !== i))}>
                Remove date {i + 1}
              </button>
            )}
          </div>
        ))}
        <button type="button" onClick={() => setDates((all) => [...all, { ...all[all.length - 1] }])}>
          Add a date
        </button>
      </fieldset>
      {canGrade && (
        <fieldset>
          <legend>Seat grades (the same for every date; seats in no grade keep the date's price)</legend>
          {grades.map((g, i) => (
            <GradeFields
              key={i}
              index={i}
              row={g}
              onChange={(p) => setGrade(i, p)}
              onRemove={() => setGrades((all) => all.filter((_, j) => j !== i))}
            />
          ))}
          <button type="button" onClick={() => setGrades((all) => [...all, nextGrade(all, Number(dates[0]?.seatCount || 0))])}>
            Add a grade
          </button>
        </fieldset>
      )}
      <button type="submit" disabled={busy}>
        {busy ? "Creating…" : "Create the concert"}
      </button>
      {message && (
        <p role="alert" className="error">
          {message}
        </p>
      )}
    </form>
  );
}

export function gradeInput(g: GradeRow) {
  return { name: g.name, price: Number(g.price), fromSeat: Number(g.fromSeat), toSeat: Number(g.toSeat) };
}

function nextGrade(all: GradeRow[], seats: number): GradeRow {
  const from = all.length ? Number(all[all.length - 1].toSeat) + 1 : 1;
  return {
    name: ["VIP", "R", "S", "A", "B"][all.length] ?? `G${all.length + 1}`,
    price: "100",
    fromSeat: String(from),
    toSeat: String(Math.max(from, seats)),
  };
}

export function GradeFields(props: { index: number; row: GradeRow; onChange: (patch: Partial<GradeRow>) => void; onRemove: () => void }) {
  const { index, row, onChange, onRemove } = props;
  const n = index + 1;
  return (
    <div className="row">
      <label>
        Grade {n} name <input required maxLength={20} value={row.name} onChange={(e) => onChange({ name: e.target.value })} />
      </label>
      <label>
        Grade {n} price <input type="number" min={1} required value={row.price} onChange={(e) => onChange({ price: e.target.value })} />
      </label>
      <label>
        Grade {n} from seat <input type="number" min={1} required value={row.fromSeat} onChange={(e) => onChange({ fromSeat: e.target.value })} />
      </label>
      <label>
        Grade {n} to seat <input type="number" min={1} required value={row.toSeat} onChange={(e) => onChange({ toSeat: e.target.value })} />
      </label>
      <button type="button" onClick={onRemove}>
        Remove grade {n}
      </button>
    </div>
  );
}

export type { GradeRow };
