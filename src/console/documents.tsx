// Every GraphQL document the console sends, in one place, built from the server's
// capabilities so that a field the server lacks is never asked for.
// tests/api/console-documents.test.ts validates each against the contract and the v1 schema.

/**
 * What the server's schema offers, read once by introspection: the console shows a control
 * only when its operation exists, and asks only for fields that exist.
 */
export interface Capabilities {
  has(type: string, field: string): boolean;
  /** Whether `type.field` takes the argument `arg`. */
  hasArg(type: string, field: string, arg: string): boolean;
  /** The fields of `type` among `wanted` that exist, joined for a selection set. */
  pick(type: string, wanted: string[]): string;
}

export interface IntrospectedType {
  name: string;
  fields: { name: string; args?: { name: string }[] }[] | null;
  inputFields: { name: string }[] | null;
}

export function capabilitiesOf(types: IntrospectedType[]): Capabilities {
  const known = new Set<string>();
  for (const t of types) {
    if (t.name.startsWith("__")) continue;
    for (const f of [...(t.fields ?? []), ...(t.inputFields ?? [])]) known.add(`${t.name}.${f.name}`);
    for (const f of t.fields ?? []) for (const a of f.args ?? []) known.add(`${t.name}.${f.name}(${a.name})`);
  }
  return {
    has: (type, field) => known.has(`${type}.${field}`),
    hasArg: (type, field, arg) => known.has(`${type}.${field}(${arg})`),
    pick: (type, wanted) => wanted.filter((f) => known.has(`${type}.${f}`)).join(" "),
  };
}

export const CAPABILITIES = `query ConsoleCapabilities { __schema { types { name fields { name args { name } } inputFields { name } } } }`;

export const SIGN_IN = `mutation ConsoleSignIn($e: String!, $p: String!) { signIn(email: $e, password: $p) { accessToken user { email role } } }`;

export function documents(caps: Capabilities) {
  const grades = caps.has("ConcertDate", "grades") ? "grades { name price totalSeats availableSeats }" : "";
  const concert = `id title ${caps.pick("Concert", ["saleOpensAt", "openingDrawCommitment", "openingDrawSeed", "ticketLimitPerUser", "keepLineAfterSellOut"])}
    dates { id startsAt totalSeats availableSeats soldOut ${grades} }`;
  const stats = `concertId waiting active ${caps.pick("QueueStats", ["admittedPerSecond", "preQueue", "seatsLeft"])}`;
  const policy = `concertId maxActiveUsers admitPerSecond activeSessionSeconds ${caps.pick("QueuePolicy", ["admissionOpen"])}`;
  const seat = `id number price status ${caps.pick("Seat", ["grade"])}`;
  // An admin reads the map as the operator, without a queue token, where the server offers it.
  const asOperator = (type: string, field: string) => (caps.hasArg(type, field, "asOperator") ? ", asOperator: true" : "");
  return {
    concerts: `query ConsoleConcerts { concerts { id title } }`,
    concert: `query ConsoleConcert($id: ID!) { concert(id: $id) { ${concert} } }`,
    policy: `query ConsolePolicyRead($id: ID!) { queuePolicy(concertId: $id) { ${policy} } }`,
    updatePolicy: `mutation ConsolePolicy($id: ID!, $input: QueuePolicyInput!) { updateQueuePolicy(concertId: $id, input: $input) { ${policy} } }`,
    stats: `query ConsoleStats($id: ID!) { queueStats(concertId: $id) { ${stats} } }`,
    seats: `query ConsoleSeats($d: ID!) { seats(concertDateId: $d${asOperator("Query", "seats")}) { ${seat} } }`,
    seatsLive: `subscription ConsoleSeatsLive($d: ID!) { seatStatusChanged(concertDateId: $d${asOperator("Subscription", "seatStatusChanged")}) { ${seat} } }`,
    createConcert: `mutation ConsoleCreateConcert($input: CreateConcertInput!) { createConcert(input: $input) { id } }`,
    addDate: `mutation ConsoleAddDate($input: AddConcertDateInput!) { addConcertDate(input: $input) { id } }`,
    // v2: only sent when the server has them.
    statsLive: caps.has("Subscription", "queueStatsChanged")
      ? `subscription ConsoleStatsLive($id: ID!) { queueStatsChanged(concertId: $id) { ${stats} } }`
      : null,
    setAdmission: caps.has("Mutation", "setAdmission")
      ? `mutation ConsoleAdmission($id: ID!, $open: Boolean!) { setAdmission(concertId: $id, open: $open) { ${policy} } }`
      : null,
    updateConcert: caps.has("Mutation", "updateConcert")
      ? `mutation ConsoleOpening($id: ID!, $input: UpdateConcertInput!) { updateConcert(id: $id, input: $input) { id } }`
      : null,
    setGrades: caps.has("Mutation", "setSeatGrades")
      ? `mutation ConsoleGrades($d: ID!, $g: [SeatGradeInput!]!) { setSeatGrades(concertDateId: $d, grades: $g) { id } }`
      : null,
    sales: caps.has("Query", "salesReport")
      ? `query ConsoleSales($id: ID!) { salesReport(concertId: $id) {
  concertId sold revenue waiting active
  dates { concertDateId startsAt sold held available revenue refunded checkedIn grades { grade price sold held available revenue } } } }`
      : null,
  };
}

export type Documents = ReturnType<typeof documents>;
