// Browser test of the GraphiQL IDE served by our own server: Debian's Chromium (playwright-core)
// loads GET /graphql as HTML, every request must stay on the server's origin, a query, a header
// and a subscription go through the UI. Runs against tests/support/ide-test-server.ts for now.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { projectRoot } from "../../src/http/ide";
import { startIdeTestServer, type IdeTestServer } from "../support/ide-test-server";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const NO_CHROMIUM = `${CHROMIUM} is missing: install Debian's Chromium (apt-get install -y chromium) to run the IDE browser test`;
const root = projectRoot(__dirname);

let server: IdeTestServer;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return; // the test itself fails with NO_CHROMIUM: never skip
  if (!existsSync(join(root, "build/ide/graphiql.js"))) {
    execFileSync(process.execPath, [join(root, "scripts/build-ide.mjs")], { cwd: root, stdio: "inherit" });
  }
  server = await startIdeTestServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Text of a GraphiQL Monaco model (operation.graphql, request-headers.json, response.json, …). */
function model(page: Page, suffix: string): Promise<string> {
  return page.evaluate((s) => {
    const monaco = (globalThis as any).__MONACO;
    const m = monaco?.editor.getModels().find((x: any) => x.uri.path.endsWith(s));
    return m ? (m.getValue() as string) : "";
  }, suffix);
}

/** Replace an editor's text by typing, as a person would: click, select all, type. */
async function typeInto(page: Page, editorSelector: string, text: string): Promise<void> {
  await page.locator(`${editorSelector} .monaco-editor .view-lines`).first().click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  // One line: Monaco overtypes its auto-closed "}" but would push it down after a typed newline.
  await page.keyboard.insertText(text);
  await page.keyboard.press("Escape"); // close a completion popup, if any
}

/** Click ▶ once GraphiQL has taken in the edit (it parses the operation 100 ms after the last keystroke). */
async function run(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const monaco = (globalThis as any).__MONACO;
    const op = monaco?.editor.getModels().find((m: any) => m.uri.path.endsWith("operation.graphql"));
    return op && localStorage.getItem("graphiql:query") === op.getValue();
  });
  await page.locator("button.graphiql-execute-button").click();
}

describe("GraphiQL IDE (browser)", () => {
  it("loads only from its own origin, runs a query with a header, and streams a subscription", async () => {
    if (!existsSync(CHROMIUM)) throw new Error(NO_CHROMIUM);
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    context.on("request", (r) => requests.push(r.url()));
    page.on("websocket", (ws) => requests.push(ws.url()));
    page.on("worker", (w) => requests.push(w.url()));
    context.on("response", (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`); });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" || /Content Security Policy/i.test(m.text())) problems.push(`console.${m.type()}: ${m.text()}`);
    });

    try {
      const response = await page.goto(`${server.url}/graphql`);
      expect(response?.status()).toBe(200);
      expect(response?.headers()["content-security-policy"]).toContain("default-src 'self'");

      // GraphiQL is up once the operation editor has a Monaco instance and the schema is introspected.
      await page.locator(".graphiql-query-editor .monaco-editor").waitFor({ timeout: 30_000 });
      await page.waitForFunction(() => (globalThis as any).__MONACO?.editor.getModels().length > 0);

      // 1. A query, with an Authorization header typed in the Headers tab.
      await typeInto(page, ".graphiql-query-editor", "query Hello { hello whoami }");
      expect(await model(page, "operation.graphql")).toBe("query Hello { hello whoami }");
      await page.locator('.graphiql-editor-tools button[data-name="headers"]').click();
      await typeInto(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden)", '{ "Authorization": "Bearer e2e-token" }');
      expect(JSON.parse(await model(page, "request-headers.json"))).toEqual({ Authorization: "Bearer e2e-token" });
      await run(page);
      await expect.poll(() => model(page, "response.json"), { timeout: 15_000 }).toContain("Hello from the box office");
      expect(JSON.parse(await model(page, "response.json"))).toEqual({
        data: { hello: "Hello from the box office", whoami: "Bearer e2e-token" },
      });
      // …and it is what the response pane shows (Monaco renders spaces as U+00A0).
      const pane = page.locator(".graphiql-response .result-window .view-lines");
      await expect.poll(async () => (await pane.innerText()).replace(/\u00a0/g, " ")).toContain('"whoami": "Bearer e2e-token"');

      // 2. The same headers reach the WebSocket as graphql-ws connectionParams (Authorization → authorization).
      await typeInto(page, ".graphiql-query-editor", "subscription Params { connectionParams }");
      await run(page);
      await expect.poll(() => model(page, "response.json"), { timeout: 15_000 }).toContain("connectionParams");
      const params = JSON.parse(JSON.parse(await model(page, "response.json")).data.connectionParams);
      expect(params).toEqual({ authorization: "Bearer e2e-token" });

      // 3. A subscription streams 1, 2, 3 over graphql-ws: record every value the response pane takes.
      await page.evaluate(() => {
        const seen: string[] = ((globalThis as any).__responses = []);
        const m = (globalThis as any).__MONACO.editor.getModels().find((x: any) => x.uri.path.endsWith("response.json"));
        m.onDidChangeContent(() => seen.push(m.getValue()));
      });
      await typeInto(page, ".graphiql-query-editor", "subscription { ticks }");
      await run(page);
      const ticks = () => page.evaluate(() =>
        ((globalThis as any).__responses as string[]).flatMap((t) => { try { return [JSON.parse(t).data.ticks]; } catch { return []; } }));
      await expect.poll(ticks, { timeout: 15_000 }).toEqual([1, 2, 3]);
      await expect.poll(() => page.locator(".graphiql-execute-button").getAttribute("aria-label")).toMatch(/^Execute/); // stream ended

      mkdirSync(join(root, "docs"), { recursive: true });
      await page.screenshot({ path: join(root, "docs/ide.png") });

      // Nothing came from another host, and the CSP blocked nothing GraphiQL needs.
      const origin = new URL(server.url).origin;
      const wsOrigin = origin.replace(/^http/, "ws");
      const outside = requests.filter((u) => !u.startsWith(origin + "/") && !u.startsWith(wsOrigin + "/") && !u.startsWith("data:"));
      expect(outside).toEqual([]);
      expect(requests.some((u) => u.endsWith("/graphql") && u.startsWith("ws"))).toBe(true);
      expect(requests.filter((u) => u.includes(".worker.js")).length).toBeGreaterThan(0);
      expect(problems).toEqual([]);

      // And the CSP is what guarantees it: a request to another host is refused by the browser.
      const blocked = await page.evaluate(() => new Promise<string>((resolve) => {
        document.addEventListener("securitypolicyviolation", (e) => resolve(`${e.effectiveDirective} ${e.blockedURI}`));
        fetch("http://127.0.0.2:9/outside").catch(() => undefined);
      }));
      expect(blocked).toBe("connect-src http://127.0.0.2:9/outside");
    } finally {
      await context.close();
    }
  }, 60_000);
});
