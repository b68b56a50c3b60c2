import { Field, ID, Int, ObjectType } from "type-graphql";

@ObjectType({ simpleResolvers: true })
export class GradeSales {
  @Field(() => String) grade!: string;
  @Field(() => Int) price!: number;
  @Field(() => Int) sold!: number;
  @Field(() => Int) held!: number;
  @Field(() => Int) available!: number;
  @Field(() => Int, { description: "Money taken for this grade's seats, refunds deducted." }) revenue!: number;
}

@ObjectType({ simpleResolvers: true })
export class DateSales {
  @Field(() => ID) concertDateId!: string;
  @Field(() => Date) startsAt!: Date;
  @Field(() => [GradeSales]) grades!: GradeSales[];
  @Field(() => Int) sold!: number;
  @Field(() => Int) held!: number;
  @Field(() => Int) available!: number;
  @Field(() => Int) revenue!: number;
  @Field(() => Int, { description: "Money given back by refunds of this date's reservations." }) refunded!: number;
  @Field(() => Int, { description: "Tickets of this date admitted at the door." }) checkedIn!: number;
}

@ObjectType({ simpleResolvers: true })
export class SalesReport {
  @Field(() => ID) concertId!: string;
  @Field(() => [DateSales]) dates!: DateSales[];
  @Field(() => Int) sold!: number;
  @Field(() => Int) revenue!: number;
  @Field(() => Int) waiting!: number;
  @Field(() => Int) active!: number;
}
