import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";

export enum LedgerKind {
  CHARGE = "CHARGE",
  PAYMENT = "PAYMENT",
  REFUND = "REFUND",
}
registerEnumType(LedgerKind, { name: "LedgerKind" });

@ObjectType({ simpleResolvers: true })
export class LedgerEntry {
  @Field(() => ID) id!: string;
  @Field(() => LedgerKind) kind!: LedgerKind;
  @Field(() => Int, { description: "Positive for money in, negative for money out." }) amount!: number;
  @Field(() => Int) balanceAfter!: number;
  @Field(() => Date) createdAt!: Date;
}
