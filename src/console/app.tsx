// The operator's console: sign in as an admin, choose a concert (or create one), then watch
// its line, its sales and its seat maps live, and act on them.
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { ApiError, openSession, readCapabilities, request, type Capabilities, type Session } from "./api";
import { TimeChart } from "./chart";
import { AdmissionControl, GradesEditor, OpeningControl, PolicyForm } from "./controls";
import { CreateConcert } from "./create-concert";
import { HISTORY_SECONDS, soldPerSecond, useNow, usePoll, useQueueStats, type Sample } from "./hooks";
import { documents, SIGN_IN } from "./documents";
import { formatSeconds, formatTime, money, type Concert, type QueuePolicy, type QueueStats, type SalesReport } from "./model";
import { SeatMap } from "./seat-map";

const STORED = "console:session";

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [caps, setCaps] = useState<Capabilities | null>(null);
  const [error, setError] = useState<string | null>(null);

  const start = useCallback(async (token: string, email: string) => {
    const s = openSession(token, email);
    try {
      setCaps(await readCapabilities(s));
      setSession(s);
      sessionStorage.setItem(STORED, JSON.stringify({ token, email }));
    } catch (e) {
      s.close();
      sessionStorage.removeItem(STORED);
      setError((e as Error).message);
    }
  }, []);

  useEffect(() => {
    const saved = sessionStorage.getItem(STORED);
    if (!saved) return;
    try {
      const { token, email } = JSON.parse(saved) as { token: string; email: string };
      void start(token, email);
    } catch {
      sessionStorage.removeItem(STORED);
    }
  }, [start]);

  const signOut = () => {
    session?.close();
    sessionStorage.removeItem(STORED);
    setSession(null);
    setCaps(null);
  };

  return (
    <>
      <header className="top">
        <h1>Operator's console</h1>
        {session && (
          <p>
            Signed in as <strong>{session.email}</strong>{" "}
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          </p>
        )}
      </header>
      <main>{session && caps ? <Workspace session={session} caps={caps} onSignedOut={signOut} /> : <SignIn onSignedIn={start} error={error} />}</main>
    </>
  );
}

function SignIn(props: { onSignedIn: (token: string, email: string) => Promise<void>; error: string | null }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(props.error);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const d = await request<{ signIn: { accessToken: string; user: { email: string; role: string } } }>(SIGN_IN, { e: email, p: password });
      if (d.signIn.user.role !== "ADMIN")
        throw new ApiError("This account is not an admin: the console is for the people running a sale.", "FORBIDDEN");
      await props.onSignedIn(d.signIn.accessToken, d.signIn.user.email);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="card sign-in" onSubmit={submit} aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">Sign in</h2>
      <p className="muted">An admin's e-mail and password (the first admin comes from ADMIN_EMAIL and ADMIN_PASSWORD).</p>
      <label>
        E-mail <input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <label>
        Password <input type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </label>
      <button type="submit" disabled={busy}>
        {busy ? "Signing in…" : "Sign in"}
      </button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}

function Workspace(props: { session: Session; caps: Capabilities; onSignedOut: () => void }) {
  const { session, caps, onSignedOut } = props;
  const [concertId, setConcertId] = useState<string>("");
  const [creating, setCreating] = useState(false);
  const [notice, setNotice] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const say = useCallback((kind: "ok" | "error", text: string) => setNotice({ kind, text }), []);
  const onError = useCallback(
    (e: ApiError) => {
      if (e.code === "UNAUTHENTICATED") onSignedOut();
      else say("error", e.message);
    },
    [onSignedOut, say],
  );
  const list = usePoll(() => session.query<{ concerts: { id: string; title: string }[] }>(documents(caps).concerts), 15_000, [session], onError);
  const concerts = list.value?.concerts ?? [];

  return (
    <>
      <section className="card picker" aria-labelledby="picker-title">
        <h2 id="picker-title">Concert</h2>
        <label>
          Watch{" "}
          <select value={concertId} onChange={(e) => setConcertId(e.target.value)}>
            <option value="">— choose a concert —</option>
            {concerts.map((c) => (
              <option key={c.id} value={c.id}>
                {c.title}
              </option>
            ))}
          </select>
        </label>{" "}
        <button type="button" onClick={list.refresh}>
          Refresh the list
        </button>
        <details open={creating} onToggle={(e) => setCreating(e.currentTarget.open)}>
          <summary>Create a concert and its dates</summary>
          <CreateConcert
            session={session}
            caps={caps}
            onCreated={(id, message, complete) => {
              list.refresh();
              setConcertId(id);
              say(complete ? "ok" : "error", message);
              if (complete) setCreating(false);
            }}
          />
        </details>
      </section>
      <p role="status" aria-live="polite" className={`notice ${notice?.kind ?? ""}`}>
        {notice?.text ?? ""}
      </p>
      {concertId && <ConcertView key={concertId} session={session} caps={caps} concertId={concertId} say={say} onError={onError} />}
    </>
  );
}

function ConcertView(props: {
  session: Session;
  caps: Capabilities;
  concertId: string;
  say: (k: "ok" | "error", t: string) => void;
  onError: (e: ApiError) => void;
}) {
  const { session, caps, concertId, say, onError } = props;
  const now = useNow();
  const docs = useMemo(() => documents(caps), [caps]);
  const concert = usePoll(
    () => session.query<{ concert: Concert | null }>(docs.concert, { id: concertId }).then((d) => d.concert),
    2_000,
    [session, concertId],
    onError,
  );
  const policy = usePoll(
    () => session.query<{ queuePolicy: QueuePolicy }>(docs.policy, { id: concertId }).then((d) => d.queuePolicy),
    5_000,
    [session, concertId],
    onError,
  );
  const salesDoc = docs.sales;
  const hasSales = salesDoc !== null;
  const sales = usePoll(
    salesDoc ? () => session.query<{ salesReport: SalesReport }>(salesDoc, { id: concertId }).then((d) => d.salesReport) : null,
    1_000,
    [session, concertId],
    onError,
  );
  const soldRef = useRef<number | null>(null);
  soldRef.current = sales.value?.sold ?? null;
  const line = useQueueStats(session, caps, concertId, () => soldRef.current, onError);
  const [dateId, setDateId] = useState<string>("");
  const c = concert.value;
  useEffect(() => {
    if (c && !c.dates.some((d) => d.id === dateId)) setDateId(c.dates[0]?.id ?? "");
  }, [c, dateId]);

  if (concert.value === null) return <p role="alert">This concert no longer exists.</p>;
  if (!c) return <p>Reading the concert…</p>;
  const date = c.dates.find((d) => d.id === dateId);
  const refreshAll = () => {
    concert.refresh();
    policy.refresh();
    sales.refresh();
  };
  return (
    <div className="concert">
      <h2 className="concert-title">{c.title}</h2>
      <div className="columns">
        <LinePanel stats={line.stats} history={line.history} live={line.live} policy={policy.value} concert={c} now={now} caps={caps} />
        <SalesPanel concert={c} sales={sales.value} history={line.history} hasSales={hasSales} />
      </div>
      <section className="card" aria-labelledby="controls-title">
        <h2 id="controls-title">Controls</h2>
        <div className="columns">
          <div>
            <h3>Admission</h3>
            <AdmissionControl session={session} caps={caps} policy={policy.value} onChanged={policy.refresh} say={say} />
            <h3>Queue policy</h3>
            <PolicyForm session={session} caps={caps} policy={policy.value} onChanged={policy.refresh} say={say} />
          </div>
          <div>
            <h3>Opening and draw</h3>
            <OpeningControl session={session} caps={caps} concert={c} now={now} onChanged={refreshAll} say={say} />
          </div>
        </div>
      </section>
      <section className="card" aria-labelledby="map-title">
        <h2 id="map-title">Seat map</h2>
        {c.dates.length === 0 ? (
          <p>This concert has no date yet.</p>
        ) : (
          <>
            <label>
              Date{" "}
              <select value={dateId} onChange={(e) => setDateId(e.target.value)}>
                {c.dates.map((d) => (
                  <option key={d.id} value={d.id}>
                    {formatTime(d.startsAt)} — {d.availableSeats} of {d.totalSeats} available
                  </option>
                ))}
              </select>
            </label>
            {date && <SeatMap key={date.id} session={session} caps={caps} date={date} onError={onError} />}
            {date && docs.setGrades && (
              <details>
                <summary>Seat grades of this date (before the sale)</summary>
                <GradesEditor session={session} setGrades={docs.setGrades} date={date} onChanged={refreshAll} say={say} />
              </details>
            )}
          </>
        )}
      </section>
    </div>
  );
}

function Figure(props: { label: string; value: string; testId: string; hint?: string }) {
  return (
    <div className="figure">
      <dt>{props.label}</dt>
      <dd>
        <span data-testid={props.testId}>{props.value}</span>
        {props.hint && <span className="muted"> {props.hint}</span>}
      </dd>
    </div>
  );
}

/** Estimated wait of the last in line: the people ahead over the admission rate (observed over the last minute, else the policy's), after the opening. */
function lastInLineWait(stats: QueueStats, policy: QueuePolicy | undefined, concert: Concert, now: number): string {
  if (policy?.admissionOpen === false) return "no estimate: admission is paused";
  const ahead = stats.waiting; // WAITING tokens, the pre-queue's included (rule 16: they are WAITING)
  if (ahead === 0) return "nobody in line";
  const opensAt = concert.saleOpensAt ? new Date(concert.saleOpensAt).getTime() : 0;
  const untilOpening = Math.max(0, (opensAt - now) / 1000);
  const observed = stats.admittedPerSecond ?? 0;
  const rate = observed > 0 ? observed : (policy?.admitPerSecond ?? 0);
  if (rate <= 0) return "no estimate: nobody is being admitted";
  return `≈ ${formatSeconds(untilOpening + ahead / rate)}`;
}

const LINE_COLUMNS: Record<string, (s: Sample) => number> = {
  waiting: (s) => s.waiting,
  "pre-queue": (s) => s.preQueue,
  active: (s) => s.active,
  "admitted/s": (s) => s.admittedPerSecond,
};

function LinePanel(props: {
  stats: QueueStats | undefined;
  history: Sample[];
  live: "push" | "poll";
  policy: QueuePolicy | undefined;
  concert: Concert;
  now: number;
  caps: Capabilities;
}) {
  const { stats, history, live, policy, concert, now, caps } = props;
  const series = useMemo(
    () => [
      { label: "waiting", stroke: "#2563eb" },
      ...(caps.has("QueueStats", "preQueue") ? [{ label: "pre-queue", stroke: "#7c3aed", dash: [6, 4] }] : []),
      { label: "active", stroke: "#059669" },
      ...(caps.has("QueueStats", "admittedPerSecond") ? [{ label: "admitted/s", stroke: "#b45309", dash: [2, 3] }] : []),
    ],
    [caps],
  );
  const shown = useMemo(
    () => [history.map((s) => s.t), ...series.map((x) => history.map(LINE_COLUMNS[x.label]))] as [number[], ...number[][]],
    [history, series],
  );
  return (
    <section className="card" aria-labelledby="line-title">
      <h2 id="line-title">The line</h2>
      <p className="muted">{live === "push" ? "Live from queueStatsChanged." : "Polled every second (this server has no queueStatsChanged)."}</p>
      {stats ? (
        <dl className="figures">
          <Figure label="Waiting" value={stats.waiting.toLocaleString()} testId="stat-waiting" />
          {stats.preQueue !== undefined && (
            <Figure label="Pre-queue" value={stats.preQueue.toLocaleString()} testId="stat-prequeue" hint="(of the waiting)" />
          )}
          <Figure
            label="Active"
            value={stats.active.toLocaleString()}
            testId="stat-active"
            hint={policy ? `of ${policy.maxActiveUsers}` : undefined}
          />
          {stats.admittedPerSecond !== undefined && (
            <Figure label="Admitted per second" value={stats.admittedPerSecond.toFixed(1)} testId="stat-admitted" hint="(last minute)" />
          )}
          {stats.seatsLeft !== undefined && <Figure label="Seats left" value={stats.seatsLeft.toLocaleString()} testId="stat-seats-left" />}
          <Figure label="Wait of the last in line" value={lastInLineWait(stats, policy, concert, now)} testId="stat-last-wait" />
        </dl>
      ) : (
        <p>Reading the line…</p>
      )}
      <TimeChart
        title={`The line over the last ${HISTORY_SECONDS / 60} minutes: ${series.map((s) => s.label).join(", ")} (one sample a second).`}
        series={series}
        data={shown}
      />
    </section>
  );
}

function SalesPanel(props: { concert: Concert; sales: SalesReport | undefined; history: Sample[]; hasSales: boolean }) {
  const { concert, sales, history, hasSales } = props;
  const rate = soldPerSecond(history);
  const data = useMemo(() => {
    const rows = history.filter((s) => s.sold !== null);
    const rates = rows.map((s, i) => (i === 0 ? 0 : Math.max(0, (s.sold! - rows[i - 1].sold!) / Math.max(1, s.t - rows[i - 1].t))));
    return [rows.map((s) => s.t), rates] as [number[], ...number[][]];
  }, [history]);
  const series = useMemo(() => [{ label: "sold/s", stroke: "#be185d" }], []);
  return (
    <section className="card" aria-labelledby="sales-title">
      <h2 id="sales-title">Sales</h2>
      {hasSales ? (
        sales ? (
          <dl className="figures">
            <Figure label="Seats sold" value={sales.sold.toLocaleString()} testId="sales-sold" />
            <Figure label="Sold per second" value={rate === null ? "—" : rate.toFixed(1)} testId="sales-rate" hint="(last 10 s)" />
            <Figure label="Revenue" value={money(sales.revenue)} testId="sales-revenue" hint="(refunds deducted)" />
          </dl>
        ) : (
          <p>Reading the sales…</p>
        )
      ) : (
        <p className="muted">Revenue and seats sold per second need salesReport, which this server does not have.</p>
      )}
      {hasSales && (
        <TimeChart title={`Seats sold per second over the last ${HISTORY_SECONDS / 60} minutes.`} series={series} data={data} height={120} />
      )}
      <h3>Seats left per date and grade</h3>
      <table className="sales-table" aria-label="Seats left per date and grade">
        <thead>
          <tr>
            <th scope="col">Date</th>
            <th scope="col">Grade</th>
            <th scope="col">Price</th>
            <th scope="col">Available</th>
            {sales && <th scope="col">Held</th>}
            {sales && <th scope="col">Sold</th>}
            {sales && <th scope="col">Revenue</th>}
          </tr>
        </thead>
        <tbody>
          {concert.dates.flatMap((d) => {
            const report = sales?.dates.find((x) => x.concertDateId === d.id);
            const when = new Date(d.startsAt).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
            if (report) {
              return report.grades.map((g) => (
                <tr key={`${d.id}-${g.grade}`}>
                  <td>{when}</td>
                  <td>{g.grade}</td>
                  <td>{money(g.price)}</td>
                  <td>{g.available}</td>
                  <td>{g.held}</td>
                  <td>{g.sold}</td>
                  <td>{money(g.revenue)}</td>
                </tr>
              ));
            }
            const grades = d.grades?.length
              ? d.grades
              : [{ name: "all seats", price: NaN, totalSeats: d.totalSeats, availableSeats: d.availableSeats }];
            return grades.map((g) => (
              <tr key={`${d.id}-${g.name}`}>
                <td>{when}</td>
                <td>{g.name}</td>
                <td>{Number.isNaN(g.price) ? "—" : money(g.price)}</td>
                <td>
                  {g.availableSeats} of {g.totalSeats}
                </td>
                {sales && <td>—</td>}
                {sales && <td>—</td>}
                {sales && <td>—</td>}
              </tr>
            ));
          })}
        </tbody>
      </table>
    </section>
  );
}
