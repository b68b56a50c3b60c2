import { Field, ID, Int, ObjectType } from "type-graphql";

@ObjectType({ simpleResolvers: true, description: "One seat of a CONFIRMED reservation, as shown at the door." })
export class Ticket {
  @Field(() => ID) id!: string;
  @Field(() => ID) reservationId!: string;
  @Field(() => Int) seatNumber!: number;
  @Field(() => String) grade!: string;
  @Field(() => String, { description: "Opaque and unguessable; what the door scans (rule 22)." }) code!: string;
  @Field(() => Date, { nullable: true }) checkedInAt!: Date | null;
}
