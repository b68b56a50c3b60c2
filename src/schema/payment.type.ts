import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";

export enum PaymentStatus {
  PENDING = "PENDING",
  COMPLETED = "COMPLETED",
  EXPIRED = "EXPIRED",
  CANCELLED = "CANCELLED",
  REFUNDED = "REFUNDED",
}
registerEnumType(PaymentStatus, { name: "PaymentStatus" });

@ObjectType({ simpleResolvers: true })
export class Payment {
  @Field(() => ID) id!: string;
  @Field(() => ID) reservationId!: string;
  @Field(() => Int) amount!: number;
  @Field(() => PaymentStatus) status!: PaymentStatus;
  @Field(() => Date) createdAt!: Date;
  @Field(() => Date, { nullable: true }) paidAt!: Date | null;
  @Field(() => Int, {
    nullable: true,
    description: "What went back to the balance when the reservation was refunded (rule 21); null before.",
  })
  refundedAmount?: number | null;
  @Field(() => Date, { nullable: true }) refundedAt?: Date | null;
}
