// DateTime: an RFC 3339 string, answered in UTC with milliseconds
// (2030-01-01T20:00:00.000Z). Offsets are accepted in arguments.
import { GraphQLScalarType, Kind } from "graphql";
import { AppError } from "../errors/app-error";

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function parse(value: unknown): Date {
  if (typeof value !== "string" || !RFC3339.test(value)) {
    throw new AppError("BAD_USER_INPUT", "A DateTime is an RFC 3339 string such as 2030-01-01T20:00:00.000Z.");
  }
  const date = new Date(value);
  // Date rolls a day past the month's end over (2030-02-30 becomes March 2nd): refuse it.
  const [year, month, day] = value.slice(0, 10).split("-").map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (Number.isNaN(date.getTime()) || month < 1 || month > 12 || day < 1 || day > daysInMonth) {
    throw new AppError("BAD_USER_INPUT", `${value} is not a real date and time.`);
  }
  return date;
}

export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: "DateTime",
  description: "An RFC 3339 date and time in UTC, e.g. 2030-01-01T20:00:00.000Z.",
  serialize(value) {
    // Events that crossed Redis carry their dates as strings.
    const date = value instanceof Date ? value : new Date(value as string);
    if (Number.isNaN(date.getTime())) throw new TypeError("DateTime cannot represent an invalid date");
    return date.toISOString();
  },
  parseValue: parse,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new AppError("BAD_USER_INPUT", "A DateTime is written as a string.");
    return parse(ast.value);
  },
});
