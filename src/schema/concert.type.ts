import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";

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
