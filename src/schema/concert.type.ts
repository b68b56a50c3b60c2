import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";

@ObjectType({ simpleResolvers: true })
export class Concert {
  @Field(() => ID) id!: string;
  @Field(() => String) title!: string;
  @Field(() => Date, { nullable: true, description: "When the sale opens (rule 16); null: open since the concert was created." })
  saleOpensAt!: Date | null;
  @Field(() => String, {
    nullable: true,
    description: "sha256 (hex) of the opening draw's seed, published as soon as saleOpensAt is set (rule 17); null without a pre-queue.",
  })
  openingDrawCommitment!: string | null;
  @Field(() => String, {
    nullable: true,
    description:
      "The seed of the opening draw (rule 17), published the moment the pre-queue is ordered; null before that or when there was no pre-queue.",
  })
  openingDrawSeed!: string | null;
  @Field(() => Int, { description: "Most seats one user may hold or own per date of this concert, across all reservations (rule 19)." })
  ticketLimitPerUser!: number;
  @Field(() => Boolean, { description: "When true, the line outlives a sell-out as a waiting list (rule 23)." })
  keepLineAfterSellOut!: boolean;
  // `dates` is resolved by ConcertResolver.
}

@ObjectType({ simpleResolvers: true })
export class ConcertDate {
  @Field(() => ID) id!: string;
  @Field(() => ID) concertId!: string;
  @Field(() => Date) startsAt!: Date;
  @Field(() => Int) totalSeats!: number;
  // `availableSeats` and `soldOut` are resolved by ConcertDateResolver, batched.
}

export enum SeatStatus {
  AVAILABLE = "AVAILABLE",
  HELD = "HELD",
  SOLD = "SOLD",
}
registerEnumType(SeatStatus, { name: "SeatStatus" });

@ObjectType({ simpleResolvers: true })
export class Seat {
  @Field(() => ID) id!: string;
  @Field(() => ID) concertDateId!: string;
  @Field(() => Int) number!: number;
  @Field(() => Int) price!: number;
  @Field(() => SeatStatus) status!: SeatStatus;
  @Field(() => String, { description: "The seat's grade (rule 20)." }) grade!: string;
}

@ObjectType({ simpleResolvers: true, description: "A grade (section) of a date's seats, such as VIP, R, S or A, with its price." })
export class SeatGrade {
  @Field(() => String) name!: string;
  @Field(() => Int) price!: number;
  @Field(() => Int) totalSeats!: number;
  @Field(() => Int) availableSeats!: number;
}

@InputType()
export class SeatGradeInput {
  @Field(() => String, { description: "1 to 20 characters." }) name!: string;
  @Field(() => Int) price!: number;
  @Field(() => Int, { description: "The first and last seat numbers of the grade, inclusive." }) fromSeat!: number;
  @Field(() => Int) toSeat!: number;
}

@ObjectType({ simpleResolvers: true, description: "Consecutive seats of one grade: seats fromSeat..toSeat (inclusive) are all in `grade`." })
export class SeatGradeRun {
  @Field(() => String) grade!: string;
  @Field(() => Int) fromSeat!: number;
  @Field(() => Int) toSeat!: number;
}

@ObjectType({
  simpleResolvers: true,
  description:
    "The statuses of every seat of a date in one short string, with a version: what `seats` says, for a fraction of its size and cost. " +
    "Read it, then apply each `seatStatusChanged` event on top; read it again when its version may have moved on.",
})
export class SeatAvailability {
  @Field(() => ID) concertDateId!: string;
  @Field(() => Float, {
    description:
      "Grows with every seat change the answering instance has applied to this date's map (a hold, cancel, sale or expiry, made by any instance), " +
      "and never goes back for a date. A hybrid clock of that instance (epoch microseconds, or one more than its last version): " +
      "exact between answers of one instance, ordered only by time between instances. Equal versions from one instance have equal statuses.",
  })
  version!: number;
  @Field(() => Int, { description: "The number of seats encoded (the date's totalSeats); the seats are numbered 1..seatCount." })
  seatCount!: number;
  @Field(() => String, {
    description:
      "Base64 of ceil(seatCount / 4) bytes, 2 bits a seat: seat number n is at i = n − 1, in bits 2·(i mod 4) and 2·(i mod 4) + 1 of byte ⌊i / 4⌋ " +
      "(least significant first), valued 0 AVAILABLE, 1 HELD, 2 SOLD. The status of seat n is (bytes[(n − 1) >> 2] >> (((n − 1) & 3) * 2)) & 3. " +
      "Exactly the statuses `seats` gives (an expired hold reads AVAILABLE).",
  })
  statuses!: string;
  @Field(() => [SeatGradeRun], {
    description: "Every seat's grade (the `grade` of `seats`), as runs of consecutive seat numbers in seat-number order, covering 1..seatCount.",
  })
  gradeRuns!: SeatGradeRun[];
}

@InputType()
export class CreateConcertInput {
  @Field(() => String) title!: string;
  @Field(() => Date, { nullable: true, description: "When the sale opens (rule 16); unset: open at once." })
  saleOpensAt?: Date | null;
  @Field(() => Int, { nullable: true, description: "Default: TICKET_LIMIT_PER_USER." })
  ticketLimitPerUser?: number | null;
  @Field(() => Boolean, { nullable: true })
  keepLineAfterSellOut?: boolean | null;
}

@InputType()
export class UpdateConcertInput {
  @Field(() => String, { nullable: true }) title?: string | null;
  @Field(() => Date, { nullable: true, description: "null clears it (the sale opens now)." })
  saleOpensAt?: Date | null;
  @Field(() => Int, { nullable: true }) ticketLimitPerUser?: number | null;
  @Field(() => Boolean, { nullable: true }) keepLineAfterSellOut?: boolean | null;
}

@InputType()
export class AddConcertDateInput {
  @Field(() => ID) concertId!: string;
  @Field(() => Date) startsAt!: Date;
  @Field(() => Int) seatCount!: number;
  @Field(() => Int) price!: number;
}
