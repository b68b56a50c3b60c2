// The IDE's first screen: a worked example of this API instead of GraphiQL's
// generic welcome — sign up, list concerts, enter the line, watch the ticket
// live — and where the two tokens go. Shared by the browser bundle
// (ide-entry.tsx) and its browser test (tests/e2e/ide.e2e.test.ts), which runs
// it as written.

export const EXAMPLE_OPERATIONS = ["SignUp", "Concerts", "EnterQueue", "WatchQueue"] as const;

export const EXAMPLE_QUERY = `# Concert tickets: a worked example. Run the
# steps top to bottom with ▶ (it asks which).
#
# Two tokens travel with your requests:
# 1. The access token. SignUp (or signIn)
#    answers an accessToken: put it in the
#    Headers tab below, as
#    "Authorization": "Bearer <accessToken>".
#    Every signed-in call needs it.
# 2. The queue token. EnterQueue answers a
#    token (qt_…): put it in Variables as
#    "token" (for WatchQueue) and in Headers
#    as "X-Queue-Token" (holding seats and
#    paying need it once the ticket is ACTIVE).
#
# Queries and mutations go over HTTP with
# these headers. A subscription goes over
# WebSocket (graphql-transport-ws, /graphql):
# the IDE sends the same headers as the
# socket's connectionParams,
#   { "authorization": "Bearer …",
#     "queueToken": "qt_…" }
# which is what your own client must send.

# Step 1: an account (e-mail and password
# are in Variables).
mutation SignUp($email: String!, $password: String!) {
  signUp(email: $email, password: $password) {
    accessToken
    user { id email balance }
  }
}

# Step 2: what is on sale. Copy a concert's
# id into Variables as "concertId".
query Concerts {
  concerts {
    id
    title
    dates { id startsAt availableSeats soldOut }
  }
}

# Step 3: the line (needs Authorization).
# ACTIVE at once if there is room, else
# WAITING with a place in line.
mutation EnterQueue($concertId: ID!) {
  enterQueue(concertId: $concertId) {
    token
    status
    queuePosition
    estimatedWaitSeconds
    remainingTime
  }
}

# Step 4: the ticket, live: each change of
# status, place or estimate, until EXPIRED.
subscription WatchQueue($token: String!) {
  queueStatusChanged(token: $token) {
    status
    queuePosition
    estimatedWaitSeconds
    remainingTime
    expiredReason
  }
}
`;

/** The Variables tab: a fresh e-mail for SignUp, and places for what the later steps need. */
export function exampleVariables(email: string): string {
  return `${JSON.stringify(
    { email, password: "correct horse battery", concertId: "<id from Concerts>", token: "<token from EnterQueue>" },
    null,
    2,
  )}\n`;
}

/** The Headers tab: where the two tokens go. */
export const EXAMPLE_HEADERS = `${JSON.stringify(
  { Authorization: "Bearer <accessToken from SignUp>", "X-Queue-Token": "<token from EnterQueue>" },
  null,
  2,
)}\n`;
