// Imported first by src/main.ts, before graphql loads: graphql-js reads
// NODE_ENV once, and outside production it runs a costly cross-realm check on
// every instanceof (3% of a request's CPU). Set NODE_ENV yourself to override.
process.env.NODE_ENV ??= "production";
