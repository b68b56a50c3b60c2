// Settings are read once at start; one bad value stops the start with one
// message that names every bad variable, so a deploy is fixed in one go.
import { describe, expect, it } from "vitest";
import { loadSettings, SettingsError } from "../../src/config/settings";

describe("loadSettings", () => {
  it("gives the contract's defaults when nothing is set", () => {
    expect(loadSettings({})).toMatchObject({
      port: 4000,
      databaseUrl: undefined,
      redisUrl: undefined,
      jwtSecret: undefined,
      adminEmail: undefined,
      adminPassword: undefined,
      holdSeconds: 300,
      maxSeatsPerReservation: 4,
      queueMaxActive: 100,
      queueAdmitPerSecond: 50,
      queueActiveSessionSeconds: 600,
      queueWaitingIdleSeconds: 120,
      maxCharge: 1_000_000,
      maxBalance: 10_000_000,
      accessTokenSeconds: 86_400,
      rateLimitUserPerSecond: 50,
      rateLimitAddressPerSecond: 0,
      signInFailuresPerMinute: 10,
      dataDir: "./data",
    });
  });

  it("reads every variable it is given, trimmed", () => {
    const s = loadSettings({
      PORT: " 8080 ",
      DATABASE_URL: "postgresql://u@db:5432/t",
      REDIS_URL: "redis://cache:6379",
      JWT_SECRET: "s".repeat(32),
      ADMIN_EMAIL: "boss@example.com",
      ADMIN_PASSWORD: "long enough",
      HOLD_SECONDS: "60",
      RATE_LIMIT_USER_PER_SECOND: "0",
    });
    expect(s).toMatchObject({
      port: 8080,
      databaseUrl: "postgresql://u@db:5432/t",
      redisUrl: "redis://cache:6379",
      holdSeconds: 60,
      rateLimitUserPerSecond: 0,
    });
  });

  it("treats an empty variable as unset", () => {
    expect(loadSettings({ DATABASE_URL: "", PORT: "  " })).toMatchObject({ databaseUrl: undefined, port: 4000 });
  });

  it("names every bad variable in one message", () => {
    const bad = {
      PORT: "eighty",
      HOLD_SECONDS: "0",
      MAX_SEATS_PER_RESERVATION: "2.5",
      QUEUE_MAX_ACTIVE: "-1",
      ACCESS_TOKEN_SECONDS: "1e3",
      RATE_LIMIT_USER_PER_SECOND: "lots",
      DATABASE_URL: "mysql://db/tickets",
      REDIS_URL: "http://cache",
      JWT_SECRET: "too short",
      ADMIN_EMAIL: "boss@example.com",
      LOG_LEVEL: "loud",
    };
    let error: unknown;
    try {
      loadSettings(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SettingsError);
    const message = (error as Error).message;
    for (const name of [...Object.keys(bad), "ADMIN_PASSWORD"]) expect(message).toContain(name);
    // One line per problem, under one heading.
    expect(message.split("\n").filter((l) => l.trim().startsWith("- "))).toHaveLength(Object.keys(bad).length);
  });

  it("refuses a MAX_CHARGE above MAX_BALANCE", () => {
    expect(() => loadSettings({ MAX_CHARGE: "20", MAX_BALANCE: "10" })).toThrow(/MAX_CHARGE/);
  });

  it("reads REDIS_CLUSTER_NODES as host:port pairs, and refuses a bad one or both Redis settings at once", () => {
    expect(loadSettings({ REDIS_CLUSTER_NODES: " 10.0.0.1:7000, redis-b:7001,[::1]:7002 " }).redisClusterNodes).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "redis-b", port: 7001 },
      { host: "::1", port: 7002 },
    ]);
    expect(loadSettings({}).redisClusterNodes).toBeUndefined();
    expect(() => loadSettings({ REDIS_CLUSTER_NODES: "redis-a" })).toThrow(/REDIS_CLUSTER_NODES/);
    expect(() => loadSettings({ REDIS_CLUSTER_NODES: "a:1", REDIS_URL: "redis://a:1" })).toThrow(/not both/);
  });
});
