// The operator's controls for one concert: admission (setAdmission), the queue policy
// (updateQueuePolicy), the opening time and its draw (updateConcert, openingDraw*), and the
// grades of each date before the sale (setSeatGrades).
import { useEffect, useState, type FormEvent } from "react";
import type { Capabilities, Session } from "./api";
import { GradeFields, gradeInput, type GradeRow } from "./create-concert";
import { documents } from "./documents";
import { formatSeconds, formatTime, fromLocalInput, toLocalInput, type Concert, type ConcertDate, type QueuePolicy } from "./model";

type Say = (kind: "ok" | "error", text: string) => void;

export function AdmissionControl(props: { session: Session; caps: Capabilities; policy: QueuePolicy | undefined; onChanged: () => void; say: Say }) {
  const { session, caps, policy, onChanged, say } = props;
  const [busy, setBusy] = useState(false);
  const doc = documents(caps).setAdmission;
  if (!doc || policy?.admissionOpen === undefined) {
    return <p className="muted">Pausing admission needs setAdmission, which this server does not have.</p>;
  }
  const open = policy.admissionOpen;
  const toggle = async () => {
    setBusy(true);
    try {
      await session.query(doc, {
        id: policy.concertId,
        open: !open,
      });
      say("ok", open ? "Admission paused: nobody is admitted from the line." : "Admission resumed.");
      onChanged();
    } catch (e) {
      say("error", (e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="admission">
      <p>
        Admission is <strong className={open ? "state-open" : "state-paused"}>{open ? "OPEN" : "PAUSED"}</strong>
        {open ? " — people are admitted from the line under the policy." : " — nobody is admitted; active sessions go on."}
      </p>
      <button type="button" disabled={busy} onClick={toggle}>
        {open ? "Pause admission" : "Resume admission"}
      </button>
    </div>
  );
}

export function PolicyForm(props: { session: Session; caps: Capabilities; policy: QueuePolicy | undefined; onChanged: () => void; say: Say }) {
  const { session, caps, policy, onChanged, say } = props;
  const [form, setForm] = useState({ maxActiveUsers: "", admitPerSecond: "", activeSessionSeconds: "" });
  useEffect(() => {
    if (policy)
      setForm({
        maxActiveUsers: String(policy.maxActiveUsers),
        admitPerSecond: String(policy.admitPerSecond),
        activeSessionSeconds: String(policy.activeSessionSeconds),
      });
  }, [policy?.concertId, policy?.maxActiveUsers, policy?.admitPerSecond, policy?.activeSessionSeconds]);
  if (!policy) return <p className="muted">Reading the queue policy…</p>;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await session.query(documents(caps).updatePolicy, {
        id: policy.concertId,
        input: {
          maxActiveUsers: Number(form.maxActiveUsers),
          admitPerSecond: Number(form.admitPerSecond),
          activeSessionSeconds: Number(form.activeSessionSeconds),
        },
      });
      say("ok", "Queue policy saved.");
      onChanged();
    } catch (err) {
      say("error", (err as Error).message);
    }
  };
  const field = (key: keyof typeof form, label: string) => (
    <label>
      {label} <input type="number" min={0} required value={form[key]} onChange={(e) => setForm({ ...form, [key]: e.target.value })} />
    </label>
  );
  return (
    <form onSubmit={submit} aria-label="Queue policy">
      {field("maxActiveUsers", "Most active at once")}
      {field("admitPerSecond", "Admitted per second at most")}
      {field("activeSessionSeconds", "Session length (seconds)")}
      <button type="submit">Save the policy</button>
    </form>
  );
}

/** sha256(seed bytes) in lowercase hex, or undefined where the browser has no WebCrypto (not a secure context). */
async function sha256Hex(hex: string): Promise<string | undefined> {
  if (!globalThis.crypto?.subtle || !/^[0-9a-f]*$/i.test(hex) || hex.length % 2) return undefined;
  const bytes = new Uint8Array(hex.match(/../g)!.map((b) => parseInt(b, 16)));
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function OpeningControl(props: { session: Session; caps: Capabilities; concert: Concert; now: number; onChanged: () => void; say: Say }) {
  const { session, caps, concert, now, onChanged, say } = props;
  const [value, setValue] = useState("");
  const [verified, setVerified] = useState<boolean | undefined>(undefined);
  useEffect(() => {
    setValue(concert.saleOpensAt ? toLocalInput(new Date(concert.saleOpensAt)) : "");
  }, [concert.id, concert.saleOpensAt]);
  useEffect(() => {
    setVerified(undefined);
    if (concert.openingDrawSeed && concert.openingDrawCommitment) {
      void sha256Hex(concert.openingDrawSeed).then((h) => setVerified(h === undefined ? undefined : h === concert.openingDrawCommitment));
    }
  }, [concert.openingDrawSeed, concert.openingDrawCommitment]);
  if (!caps.has("Concert", "saleOpensAt")) return <p className="muted">A scheduled opening needs saleOpensAt, which this server does not have.</p>;
  const opensAt = concert.saleOpensAt ? new Date(concert.saleOpensAt).getTime() : null;
  const ahead = opensAt !== null && opensAt > now;
  const updateDoc = documents(caps).updateConcert;
  const canUpdate = updateDoc !== null;
  const update = async (saleOpensAt: string | null) => {
    if (!updateDoc) return;
    try {
      await session.query(updateDoc, {
        id: concert.id,
        input: { saleOpensAt },
      });
      say("ok", saleOpensAt ? `The sale now opens at ${formatTime(saleOpensAt)}.` : "The sale is open now.");
      onChanged();
    } catch (e) {
      say("error", (e as Error).message);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const iso = fromLocalInput(value);
    if (!iso) say("error", "The opening time is not a valid date and time.");
    else void update(iso);
  };
  return (
    <div className="opening">
      <p data-testid="opening-state">
        {opensAt === null
          ? "The sale is open (no scheduled opening)."
          : ahead
            ? `The sale opens at ${formatTime(concert.saleOpensAt!)}, in ${formatSeconds((opensAt - now) / 1000)}.`
            : `The sale opened at ${formatTime(concert.saleOpensAt!)}.`}
      </p>
      <dl className="draw">
        <dt>Draw commitment (sha256 of the seed)</dt>
        <dd className="mono">{concert.openingDrawCommitment ?? "none (no pre-queue)"}</dd>
        <dt>Draw seed</dt>
        <dd className="mono" data-testid="draw-seed">
          {concert.openingDrawSeed ?? (concert.openingDrawCommitment ? "secret until the draw" : "none")}
        </dd>
        {concert.openingDrawSeed && (
          <>
            <dt>Check</dt>
            <dd>
              {verified === undefined
                ? "sha256(seed) can be checked against the commitment (this browser cannot here: no WebCrypto)."
                : verified
                  ? "✓ sha256(seed) equals the commitment: the draw used the seed committed to."
                  : "✗ sha256(seed) does not equal the commitment!"}
            </dd>
          </>
        )}
      </dl>
      {canUpdate && (opensAt === null || ahead) && (
        <form onSubmit={submit} aria-label="Opening time">
          <label>
            Opening time (your local time) <input type="datetime-local" step={1} required value={value} onChange={(e) => setValue(e.target.value)} />
          </label>
          <button type="submit">Set the opening time</button>
          {ahead && (
            <button type="button" onClick={() => void update(null)}>
              Open the sale now
            </button>
          )}
        </form>
      )}
    </div>
  );
}

export function GradesEditor(props: { session: Session; setGrades: string; date: ConcertDate; onChanged: () => void; say: Say }) {
  const { session, setGrades, date, onChanged, say } = props;
  const fromDate = (): GradeRow[] => {
    let next = 1;
    return (date.grades ?? []).map((g) => {
      const row = { name: g.name, price: String(g.price), fromSeat: String(next), toSeat: String(next + g.totalSeats - 1) };
      next += g.totalSeats;
      return row;
    });
  };
  const [rows, setRows] = useState<GradeRow[]>(fromDate);
  useEffect(() => setRows(fromDate()), [date.id, JSON.stringify(date.grades?.map((g) => [g.name, g.price, g.totalSeats]))]);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await session.query(setGrades, {
        d: date.id,
        g: rows.map(gradeInput),
      });
      say("ok", "Grades saved.");
      onChanged();
    } catch (err) {
      say("error", (err as Error).message);
    }
  };
  return (
    <form onSubmit={submit} aria-label={`Seat grades of ${new Date(date.startsAt).toLocaleString()}`}>
      <p className="muted">
        Grades can change only while no seat of the date is held or sold. Read in seat order, contiguous ranges are assumed for the current grades.
      </p>
      {rows.map((g, i) => (
        <GradeFields
          key={i}
          index={i}
          row={g}
          onChange={(p) => setRows((all) => all.map((x, j) => (j === i ? { ...x, ...p } : x)))}
          onRemove={() => setRows((all) => all.filter((_, j) => j !== i))}
        />
      ))}
      <button type="button" onClick={() => setRows((all) => [...all, { name: "", price: "100", fromSeat: "1", toSeat: String(date.totalSeats) }])}>
        Add a grade
      </button>{" "}
      <button type="submit">Save the grades</button>
    </form>
  );
}
