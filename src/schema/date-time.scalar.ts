// DateTime: an RFC 3339 string, answered in UTC with milliseconds
// (2030-01-01T20:00:00.000Z, contract/README.md). graphql-scalars' DateTimeISO
// does exactly that (RFC 3339 checked in full, offsets accepted in arguments,
// a Date or an ISO string serialized with toISOString()), under the contract's
// name and without a @specifiedBy the contract does not have.
import { GraphQLScalarType } from "graphql";
import { GraphQLDateTimeISO } from "graphql-scalars";

export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  ...GraphQLDateTimeISO.toConfig(),
  name: "DateTime",
  description: "An RFC 3339 date and time in UTC, e.g. 2030-01-01T20:00:00.000Z.",
  specifiedByURL: undefined,
});
