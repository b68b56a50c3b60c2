import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import {
  QUEUE_EXPIRIES,
  QUEUE_STATUSES,
  type QueueExpiry as QueueExpiryValue,
  type QueueStatus as QueueStatusValue,
} from "../services/queue/queue.types";

/** An enum-like object ({ WAITING: "WAITING", … }) of the values, for type-graphql. */
const enumOf = <T extends string>(values: readonly T[]) => Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };

export const QueueStatus = enumOf(QUEUE_STATUSES);
export type QueueStatus = QueueStatusValue;
registerEnumType(QueueStatus, { name: "QueueStatus" });

export const QueueExpiry = enumOf(QUEUE_EXPIRIES);
export type QueueExpiry = QueueExpiryValue;
registerEnumType(QueueExpiry, { name: "QueueExpiry" });

@ObjectType({ simpleResolvers: true })
export class QueueTicket {
  @Field(() => String) token!: string;
  @Field(() => ID) userId!: string;
  @Field(() => ID) concertId!: string;
  @Field(() => QueueStatus) status!: QueueStatus;
  @Field(() => Int, { description: "1-based place in line while WAITING; 0 once ACTIVE or EXPIRED." })
  queuePosition!: number;
  @Field(() => Int, {
    description:
      "Seconds this token stays valid: while WAITING, until it is dropped for not being seen; while ACTIVE, until its session ends; 0 once EXPIRED.",
  })
  remainingTime!: number;
  @Field(() => Int, {
    nullable: true,
    description: "Estimated seconds until admission while WAITING; null when there is no estimate yet; 0 once ACTIVE.",
  })
  estimatedWaitSeconds!: number | null;
  @Field(() => QueueExpiry, { nullable: true }) expiredReason!: QueueExpiry | null;
  @Field(() => Int, {
    nullable: true,
    description: "Seconds until the sale opens while the ticket is in the pre-queue (rule 16); null once the sale is open.",
  })
  saleOpensInSeconds!: number | null;
  @Field(() => Int, { description: "Seats AVAILABLE now over the concert's open dates (rule 18)." })
  seatsLeft!: number;
}

@InputType()
export class QueuePolicyInput {
  @Field(() => Int, { nullable: true, description: "How many users may be ACTIVE for the concert at once." })
  maxActiveUsers?: number;
  @Field(() => Int, { nullable: true, description: "How many WAITING users may be admitted per second at most." })
  admitPerSecond?: number;
  @Field(() => Int, { nullable: true, description: "How long an ACTIVE session lasts, in seconds." })
  activeSessionSeconds?: number;
}

@ObjectType({ simpleResolvers: true })
export class QueuePolicy {
  @Field(() => ID) concertId!: string;
  @Field(() => Int) maxActiveUsers!: number;
  @Field(() => Int) admitPerSecond!: number;
  @Field(() => Int) activeSessionSeconds!: number;
  @Field(() => Boolean, { description: "false while admission is paused by setAdmission." })
  admissionOpen!: boolean;
}

@ObjectType({ simpleResolvers: true })
export class QueueStats {
  @Field(() => ID) concertId!: string;
  @Field(() => Int) waiting!: number;
  @Field(() => Int) active!: number;
  @Field(() => Float, { description: "Admissions in the last 60 seconds, per second." })
  admittedPerSecond!: number;
  @Field(() => Int, { description: "Tokens in the pre-queue (rule 16)." })
  preQueue!: number;
  @Field(() => Int, { description: "Seats AVAILABLE now over the concert's open dates." })
  seatsLeft!: number;
}
