import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  // type-graphql reads the types tsc would record with emitDecoratorMetadata.
  oxc: {
    decorator: { legacy: true, emitDecoratorMetadata: true },
  },
  // graphql 16 has no "exports" map: Node loads its CommonJS build for the
  // libraries (type-graphql, Apollo) while Vite would pick index.mjs for our
  // sources. Two copies of graphql cannot share a schema, so point ours at the
  // same CommonJS file.
  resolve: {
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    include: ["tests/**/*.test.ts"],
    globalSetup: ["tests/support/global-setup.ts"],
    pool: "forks",
    // Most files spend their time waiting (timers, holds running out, pushes
    // arriving), not computing, so two at once (vitest's default on two cores is
    // one) about halves the run; more would pass PostgreSQL's 100 connections
    // when two-instance deployments meet.
    maxWorkers: 2,
    testTimeout: 30_000,
    // A test that checks nothing fails: every test must make at least one
    // assertion of its own (those of afterEach hooks come after this check).
    expect: { requireAssertions: true },
    hookTimeout: 60_000,
  },
});
