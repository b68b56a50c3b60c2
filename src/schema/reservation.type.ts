import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";

export enum ReservationStatus {
  HELD = "HELD",
  CONFIRMED = "CONFIRMED",
  EXPIRED = "EXPIRED",
  CANCELLED = "CANCELLED",
  REFUNDED = "REFUNDED",
}
registerEnumType(ReservationStatus, { name: "ReservationStatus" });

@ObjectType({ simpleResolvers: true })
export class Reservation {
  @Field(() => ID) id!: string;
  @Field(() => ID) userId!: string;
  @Field(() => ID) concertId!: string;
  @Field(() => ID) concertDateId!: string;
  @Field(() => Int) totalPrice!: number;
  @Field(() => ReservationStatus) status!: ReservationStatus;
  @Field(() => Date) heldUntil!: Date;
  // `seats`, `payment` and `tickets` are resolved by ReservationResolver, batched.
}
