import { Arg, Authorized, Ctx, ID, Query, Resolver } from "type-graphql";
import { SalesReport } from "../schema/sales-report.type";
import type { Context } from "../graphql/context";
import { actorOf } from "../graphql/auth-checker";

@Resolver(() => SalesReport)
export class SalesReportResolver {
  @Authorized()
  @Query(() => SalesReport, { description: "Admin only. Tickets, money and the line of one concert now (rule 24)." })
  salesReport(@Arg("concertId", () => ID) concertId: string, @Ctx() ctx: Context) {
    return ctx.services.salesReport.salesReport(actorOf(ctx), concertId);
  }
}
