import { Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";

@ObjectType({ simpleResolvers: true })
export class Concert {
  @Field(() => ID) id!: string;
  @Field(() => String) title!: string;
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
}

@InputType()
export class CreateConcertInput {
  @Field(() => String) title!: string;
  @Field(() => Boolean, { nullable: true }) keepLineAfterSellOut?: boolean | null;
}

@InputType()
export class AddConcertDateInput {
  @Field(() => ID) concertId!: string;
  @Field(() => Date) startsAt!: Date;
  @Field(() => Int) seatCount!: number;
  @Field(() => Int) price!: number;
}
