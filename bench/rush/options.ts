// The rush's settings: every one from an argument (`--users=5000`) or the
// environment (`RUSH_USERS=5000`), the argument winning, with defaults sized so
// the default crowd finishes within 10 minutes on the 2-core machine.

export interface RushOptions {
  /** Users in the crowd (each enters the queue once). */
  users: number;
  /** Topologies to play, in order: server instances sharing PostgreSQL and Redis. */
  instances: number[];
  /** Seats of the one date on sale (fewer than the crowd wants, so it sells out partway). */
  seats: number;
  price: number;
  /** The popular section: seats 1..popularSeats, which `popularShare` of the users fight over. */
  popularSeats: number;
  popularShare: number;
  /** Arrivals: a linear ramp over `rampSeconds`, then a steady rate, all within `arrivalSeconds`. */
  arrivalSeconds: number;
  rampSeconds: number;
  /** Queue policy of the concert. */
  maxActive: number;
  admitPerSecond: number;
  sessionSeconds: number;
  holdSeconds: number;
  /** Shares of the crowd with a special ending. */
  giveUpShare: number;
  letRunOutShare: number;
  doublePayShare: number;
  /** Users who really sign in (scrypt) instead of receiving a minted token. */
  signIns: number;
  /** Load-generator processes (each holds its users' WebSockets: one file descriptor each). */
  workers: number;
  /** Keep-alive HTTP connections per worker and instance (what a load balancer's pool would hold). */
  socketsPerInstance: number;
  /**
   * How the crowd reads the seat map: "list", `seats { number status }` (174 KB for 5,000 seats, the
   * default, as in every recorded run), or "compact", `seatAvailability { statuses }` (1.7 KB: 2 bits
   * a seat), as a client built for a big on-sale reads it.
   */
  seatMap: "list" | "compact";
  /** Pause before holding and before paying, a random share of these, ms. */
  thinkMs: number;
  /** Ceilings: seconds per measurement. */
  ceilingSeconds: number;
  /** Take a CPU profile of the first instance of each topology (costs some throughput). */
  profile: boolean;
  /** Write docs/rush.svg (the published chart). */
  publish: boolean;
  seed: number;
  redisUrl: string;
  /** Longest wait for another benchmark to finish before measuring anyway. */
  quietMaxSeconds: number;
  /** Database pool of each instance. */
  poolSize: number;
  /** Extra node flags for the server children (comma-separated), e.g. --max-semi-space-size=64: to try a runtime setting. */
  serverNodeArgs: string[];
  /** Base name of the result files in bench/results (rush-latest; rush-profile when profiling). */
  out: string;
  /** The second act after the sell-out (bench/rush/second-act.ts): this many refunds taken by the waiting list; 0: none. */
  secondAct: number;
  /** A scheduled opening (bench/rush/opening.ts): saleOpensAt this many seconds after the crowd starts, the whole crowd arriving in the pre-queue before it; 0: open at once. */
  openingSeconds: number;
}

const DEFAULTS = {
  users: 20_000,
  instances: "1,2",
  seats: 5_000,
  price: 50_000,
  popularSeats: 1_000,
  popularShare: 0.7,
  arrivalSeconds: 40,
  rampSeconds: 10,
  maxActive: 400,
  admitPerSecond: 400,
  sessionSeconds: 120,
  holdSeconds: 20,
  giveUpShare: 0.08,
  letRunOutShare: 0.03,
  doublePayShare: 0.05,
  signIns: 200,
  workers: 2,
  socketsPerInstance: 128,
  seatMap: "list",
  thinkMs: 300,
  ceilingSeconds: 5,
  profile: "0",
  publish: "",
  seed: 42,
  redisUrl: "redis://127.0.0.1:6379/9",
  quietMaxSeconds: 900,
  poolSize: 20,
  serverNodeArgs: "",
  out: "",
  secondAct: 0,
  openingSeconds: 0,
};

export function readOptions(argv = process.argv.slice(2), env = process.env): RushOptions {
  const args = new Map<string, string>();
  for (const a of argv) {
    const m = /^--([a-zA-Z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}: use --name=value`);
    args.set(camel(m[1]), m[2] ?? "1");
  }
  const raw = (name: keyof typeof DEFAULTS): string =>
    args.get(name) ?? env[`RUSH_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`] ?? String(DEFAULTS[name]);
  const num = (name: keyof typeof DEFAULTS, min: number, max: number) => {
    const v = Number(raw(name));
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`${name}=${raw(name)} must be a number from ${min} to ${max}`);
    return v;
  };
  const int = (name: keyof typeof DEFAULTS, min: number, max: number) => Math.round(num(name, min, max));
  const bool = (name: keyof typeof DEFAULTS) => /^(1|true|yes)$/i.test(raw(name));
  const oneOf = <T extends string>(name: keyof typeof DEFAULTS, values: readonly T[]): T => {
    const v = raw(name);
    if (!values.includes(v as T)) throw new Error(`${name}=${v} must be one of ${values.join(", ")}`);
    return v as T;
  };
  const instances = raw("instances")
    .split(",")
    .map((s) => Number(s.trim()));
  if (instances.some((n) => !Number.isInteger(n) || n < 1 || n > 4)) throw new Error("instances is a list of 1..4, e.g. 1,2");
  const users = int("users", 10, 100_000);
  const o: RushOptions = {
    users,
    instances,
    seats: int("seats", 10, 100_000),
    price: int("price", 1, 250_000),
    popularSeats: int("popularSeats", 1, 100_000),
    popularShare: num("popularShare", 0, 1),
    arrivalSeconds: num("arrivalSeconds", 1, 300),
    rampSeconds: num("rampSeconds", 0, 300),
    maxActive: int("maxActive", 1, 1_000_000),
    admitPerSecond: int("admitPerSecond", 1, 1_000_000),
    sessionSeconds: int("sessionSeconds", 10, 3_600),
    holdSeconds: int("holdSeconds", 5, 300),
    giveUpShare: num("giveUpShare", 0, 1),
    letRunOutShare: num("letRunOutShare", 0, 1),
    doublePayShare: num("doublePayShare", 0, 1),
    signIns: int("signIns", 0, users),
    workers: int("workers", 1, 8),
    socketsPerInstance: int("socketsPerInstance", 1, 4_096),
    seatMap: oneOf("seatMap", ["list", "compact"] as const),
    thinkMs: int("thinkMs", 0, 10_000),
    ceilingSeconds: num("ceilingSeconds", 1, 60),
    profile: bool("profile"),
    // Only the default crowd publishes the chart, unless told otherwise.
    publish: raw("publish") === "" ? users === DEFAULTS.users && raw("instances") === DEFAULTS.instances : bool("publish"),
    seed: int("seed", 0, 2 ** 31),
    redisUrl: raw("redisUrl"),
    quietMaxSeconds: int("quietMaxSeconds", 0, 3_600),
    poolSize: int("poolSize", 1, 200),
    serverNodeArgs: raw("serverNodeArgs")
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean),
    out: raw("out") || (bool("profile") ? "rush-profile" : "rush-latest"),
    secondAct: int("secondAct", 0, 10_000),
    openingSeconds: num("openingSeconds", 0, 600),
  };
  if (!/^[\w.-]+$/.test(o.out)) throw new Error("out is a file name without a directory, e.g. rush-try");
  if (o.rampSeconds > o.arrivalSeconds) throw new Error("rampSeconds must not exceed arrivalSeconds");
  if (o.openingSeconds > 0 && o.openingSeconds <= o.arrivalSeconds)
    throw new Error("openingSeconds must exceed arrivalSeconds: the whole crowd arrives before the opening");
  if (o.popularSeats > o.seats) o.popularSeats = o.seats;
  if (o.giveUpShare + o.letRunOutShare + o.doublePayShare > 1) throw new Error("the special shares add up to more than 1");
  return o;
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
