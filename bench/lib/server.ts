// Starts the real service (`node dist/src/main.js`) as a child process, so the
// server and the load generator are separate processes, and stops it with SIGTERM.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { get } from "node:http";
import { createWriteStream } from "node:fs";
import { resolve } from "node:path";

export interface ServerChild {
  pid: number;
  port: number;
  url: string;
  wsUrl: string;
  /** SIGTERM, then the exit code (the contract: 0 within 10 s). */
  stop(): Promise<number | null>;
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

/** `logFile`: also append everything the server prints to this file (the rush keeps its servers' warnings). */
export async function startServer(options: { env: Record<string, string>; nodeArgs?: string[]; logFile?: string }): Promise<ServerChild> {
  const port = await freePort();
  const main = resolve(__dirname, "../../src/main.js");
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), main], {
    env: { ...process.env, ...options.env, PORT: String(port), LOG_LEVEL: options.env.LOG_LEVEL ?? "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  if (options.logFile) {
    const file = createWriteStream(options.logFile, { flags: "a" });
    file.on("error", () => undefined); // a log that cannot be written must not stop the server or the bench
    child.stdout!.pipe(file);
    child.stderr!.pipe(file);
  }
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  let gone = false;
  void exited.then(() => (gone = true));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (!(await ready(url))) {
    if (gone) throw new Error(`the server exited at start:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`the server was not ready within 60 s:\n${output}`);
    }
    await sleep(100);
  }
  return {
    pid: child.pid!,
    port,
    url,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    async stop() {
      if (gone) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

function ready(url: string): Promise<boolean> {
  return new Promise((done) => {
    const req = get(`${url}/readyz`, { timeout: 2_000 }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    req.on("error", () => done(false));
    req.on("timeout", () => req.destroy());
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
