// Subscription events, executed cheaply. A waiting room pushes a ticket to
// every waiting subscriber about once a second, so an instance holding
// thousands of subscriptions runs thousands of event executions a second.
// Our subscription root fields only hand their event on (the resolver returns
// the event), so when the selection under them is flat — leaf fields without
// arguments, directives or fragments — an event is projected straight into
// the response with each field's own serializer: the same result graphql-js
// would produce, without running the executor per event. Anything else goes
// through graphql-js as usual.
import {
  createSourceEventStream,
  execute,
  getOperationAST,
  Kind,
  subscribe,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
} from "graphql";
import { flatFields, projectFlat, type FlatField } from "./flat-selection";

/** Root fields whose resolver returns the event unchanged (see src/resolvers). */
const PASS_THROUGH_ROOTS = new Set(["queueStatusChanged", "seatStatusChanged"]);

interface Plan {
  alias: string;
  fields: FlatField[];
}

const plans = new WeakMap<DocumentNode, Map<string, Plan | null>>();

function planFor(args: ExecutionArgs): Plan | null {
  let byOperation = plans.get(args.document);
  if (!byOperation) plans.set(args.document, (byOperation = new Map()));
  const key = args.operationName ?? "";
  if (!byOperation.has(key)) byOperation.set(key, makePlan(args));
  return byOperation.get(key)!;
}

function makePlan({ schema, document, operationName }: ExecutionArgs): Plan | null {
  const operation = getOperationAST(document, operationName);
  const subscriptionType = schema.getSubscriptionType();
  if (operation?.operation !== "subscription" || !subscriptionType) return null;
  const [root, ...others] = operation.selectionSet.selections;
  if (others.length > 0 || root.kind !== Kind.FIELD || root.directives?.length) return null;
  if (!PASS_THROUGH_ROOTS.has(root.name.value)) return null;
  const fields = flatFields(subscriptionType.getFields()[root.name.value]?.type, root.selectionSet);
  return fields && { alias: root.alias?.value ?? root.name.value, fields };
}

/** The response for one event, or undefined when only the executor can say (a null in a non-null field). */
function project(plan: Plan, event: unknown): ExecutionResult | undefined {
  const out = projectFlat(plan.fields, event);
  return out && { data: { [plan.alias]: out } };
}

/** A stream that can give its events to a sink as they are pushed (AsyncQueue.handOff). */
interface HandOff {
  handOff(sink: (event: unknown) => boolean): void;
}

/**
 * Writes one `next` message of the subscription straight to its socket, when
 * the transport offers it (src/http/graphql-ws.ts puts it in the context).
 */
export type DirectNext = (result: ExecutionResult) => void;

/**
 * graphql-ws's `subscribe`: graphql-js's, with flat selections projected per
 * event. When the context carries `sendNext`, a projected event is written to
 * the socket at once instead of travelling through graphql-ws's per-message
 * promises (its `next` awaits a hook, validates the message and waits for the
 * write's callback: several promise hops and objects per push, for every
 * waiting subscriber every second). What cannot be projected still goes
 * through graphql-ws, after the pushes before it, so the order is kept.
 */
export async function subscribeFast(args: ExecutionArgs) {
  const plan = planFor(args);
  if (!plan) return subscribe(args);
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return source; // the errors of a refused subscription
  const direct = (args.contextValue as { sendNext?: DirectNext } | undefined)?.sendNext;
  return new ProjectedStream(args, plan, source as AsyncGenerator<unknown, unknown, unknown>, direct);
}

type Step = IteratorResult<ExecutionResult>;

/**
 * The stream graphql-ws reads: each event projected, and written straight to the socket when
 * the context offers `direct`. A class, not closures over subscribeFast's scope: a waiting
 * subscriber keeps this for minutes, and its methods are shared by every subscription.
 */
class ProjectedStream implements AsyncIterableIterator<ExecutionResult> {
  // Our streams (src/pubsub/async-queue.ts) hand each projected event to the socket as it is
  // pushed, from graphql-ws's first next() on (the subscription is registered by then): no
  // promise per push. What the sink declines comes through onStep below, in order.
  private handedOff: boolean;

  constructor(
    private readonly args: ExecutionArgs,
    private readonly plan: Plan,
    private readonly events: AsyncGenerator<unknown, unknown, unknown>,
    private readonly direct: DirectNext | undefined,
  ) {
    this.handedOff = !direct || typeof (events as Partial<HandOff>).handOff !== "function";
  }

  next(): Promise<Step> {
    if (!this.handedOff) {
      this.handedOff = true;
      (this.events as unknown as HandOff).handOff((event) => this.take(event));
    }
    return this.pull();
  }

  async return(): Promise<Step> {
    await this.events.return?.(undefined);
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<Step> {
    await this.events.return?.(undefined);
    throw error;
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** The sink: writes a projected event to the socket, or declines it (false) for onStep. */
  private take(event: unknown): boolean {
    const result = this.projected(event);
    if (!result) return false;
    try {
      this.direct!(result);
    } catch {
      return false; // a write that failed: graphql-ws's own path reports it, for this subscriber only
    }
    return true;
  }

  private projected(event: unknown): ExecutionResult | undefined {
    try {
      return project(this.plan, event);
    } catch {
      return undefined; // a value its serializer refuses: the executor reports it
    }
  }

  // Not an async function: one of those stays suspended for the subscription's life with its
  // frame, a promise chain does not.
  private pull(): Promise<Step> {
    return this.events.next().then((step) => this.onStep(step));
  }

  /** One step of the stream: a projected event goes to the socket (and the next is awaited), anything else is executed and handed to graphql-ws. */
  private onStep(step: IteratorResult<unknown>): Step | Promise<Step> {
    if (step.done) return { done: true, value: undefined };
    const result = this.projected(step.value);
    if (result && this.direct) {
      this.direct(result);
      return this.pull();
    }
    if (result) return { done: false, value: result };
    return Promise.resolve(execute({ ...this.args, rootValue: step.value })).then((value): Step => ({ done: false, value }));
  }
}
