// Browser test of the GraphiQL IDE served by the real server (startDeployment: the composition
// root on a fresh PostgreSQL database): Debian's Chromium (playwright-core) loads GET /graphql as
// HTML, every request must stay on the server's origin, and the IDE opens on the worked example
// of src/ide/worked-example.ts, which a visitor runs as written: SignUp, Concerts and EnterQueue
// over HTTP with the tokens typed where the example says (Headers, Variables), then the
// WatchQueue subscription over graphql-ws, where the same headers travel as connectionParams.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { projectRoot } from "../../src/http/ide";
import { startDeployment } from "../support/server";
import { gql, signUp, type TestUser } from "../support/client";
import { newAdmin, newConcert, type TestConcert } from "../support/factories";
import { EXAMPLE_HEADERS, type EXAMPLE_OPERATIONS, EXAMPLE_QUERY } from "../../src/ide/worked-example";
import { HAS_CHROMIUM, browserTest, launchChromium } from "../support/chromium";

const { runs: RUNS, missing: NO_CHROMIUM } = browserTest("IDE", "tests/e2e/ide.e2e.test.ts");
const root = projectRoot(__dirname);
const TITLE = "Aurora Borealis · Live at the Harbour";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let browser: Browser;
let _user: TestUser;
let concert: TestConcert;

beforeAll(async () => {
  if (!HAS_CHROMIUM) return; // in CI the test itself fails with NO_CHROMIUM
  if (!existsSync(join(root, "build/ide/graphiql.js"))) {
    execFileSync(process.execPath, [join(root, "scripts/build-ide.mjs")], { cwd: root, stdio: "inherit" });
  }
  deployment = await startDeployment();
  const admin = await newAdmin(deployment.server);
  concert = await newConcert(deployment.server, admin, { title: TITLE });
  _user = await signUp(deployment.server.url, "ide");
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await deployment?.close();
});

/** Text of a GraphiQL Monaco model (operation.graphql, request-headers.json, response.json, …). */
function model(page: Page, suffix: string): Promise<string> {
  return page.evaluate((s) => {
    const monaco = (globalThis as any).__MONACO;
    const m = monaco?.editor.getModels().find((x: any) => x.uri.path.endsWith(s));
    return m ? (m.getValue() as string) : "";
  }, suffix);
}

/** The response pane's JSON, or undefined while it holds something else (empty, a spinner's text…). */
async function response(page: Page): Promise<any> {
  try {
    return JSON.parse(await model(page, "response.json"));
  } catch {
    return undefined;
  }
}

/** The operation's result: the first JSON the response pane holds after run() cleared it. */
async function result(page: Page): Promise<any> {
  await expect.poll(() => response(page), { timeout: 15_000 }).toBeDefined();
  return response(page);
}

/** Replace an editor's text by typing, as a person would: click, select all, type; then check it took. */
async function typeInto(page: Page, editorSelector: string, modelSuffix: string, text: string): Promise<void> {
  await page.locator(`${editorSelector} .monaco-editor .view-lines`).first().click();
  await page.keyboard.press("ControlOrMeta+A");
  await page.keyboard.press("Delete");
  // One line: Monaco overtypes its auto-closed "}" but would push it down after a typed newline.
  await page.keyboard.insertText(text);
  await page.keyboard.press("Escape"); // close a completion popup, if any
  expect(await model(page, modelSuffix)).toBe(text);
}

/** Clear the response pane, then click ▶ once GraphiQL has taken in the edit (it parses the operation 100 ms after the last keystroke). */
async function _run(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const monaco = (globalThis as any).__MONACO;
    const op = monaco?.editor.getModels().find((m: any) => m.uri.path.endsWith("operation.graphql"));
    return op && localStorage.getItem("graphiql:query") === op.getValue();
  });
  // So that a poll on the response cannot be satisfied by the previous operation's result.
  await page.evaluate(() => {
    const monaco = (globalThis as any).__MONACO;
    monaco.editor
      .getModels()
      .find((m: any) => m.uri.path.endsWith("response.json"))
      ?.setValue("");
  });
  await page.locator("button.graphiql-execute-button").click();
}

/** Runs one operation of the worked example: ▶, then its name in the menu GraphiQL shows for a document of several. */
async function runExample(page: Page, name: (typeof EXAMPLE_OPERATIONS)[number]): Promise<void> {
  await page.locator('button.graphiql-execute-button[aria-haspopup="menu"]').waitFor();
  await page.evaluate(() => {
    const monaco = (globalThis as any).__MONACO;
    monaco.editor
      .getModels()
      .find((m: any) => m.uri.path.endsWith("response.json"))
      ?.setValue("");
  });
  await page.locator("button.graphiql-execute-button").click();
  await page.getByRole("menuitem", { name, exact: true }).click();
}

/** Opens the Variables or Headers tab under the operation editor and types `value` (as JSON on one line) into it. */
async function typeTool(page: Page, tool: "variables" | "headers", value: unknown): Promise<void> {
  await page.locator(`.graphiql-editor-tools button[data-name="${tool}"]`).click();
  const suffix = tool === "headers" ? "request-headers.json" : "variables.json";
  await typeInto(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden)", suffix, JSON.stringify(value));
}

/** What the response pane shows (Monaco renders spaces as U+00A0). */
async function paneText(page: Page): Promise<string> {
  // innerText, not textContent: the rendered lines with their line breaks.
  return (await page.locator(".graphiql-response .result-window .view-lines").innerText()).replace(/\u00a0/g, " ");
}

describe.skipIf(!RUNS)("GraphiQL IDE (browser, real server)", () => {
  it("loads only from its own origin and opens on the worked example, which runs as written: sign up, concerts, enter the line over HTTP, watch it over graphql-ws", async () => {
    if (!HAS_CHROMIUM) throw new Error(NO_CHROMIUM);
    const { server } = deployment;
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    const wsSent: string[] = [];
    context.on("request", (r) => requests.push(r.url()));
    page.on("websocket", (ws) => {
      requests.push(ws.url());
      ws.on("framesent", (f) => wsSent.push(String(f.payload)));
    });
    page.on("worker", (w) => requests.push(w.url()));
    context.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    page.on("console", (m) => {
      if (m.type() === "error" || /Content Security Policy/i.test(m.text())) problems.push(`console.${m.type()}: ${m.text()}`);
    });

    try {
      const loaded = await page.goto(`${server.url}/graphql`);
      expect(loaded?.status()).toBe(200);
      expect(loaded?.headers()["content-type"]).toContain("text/html");
      expect(loaded?.headers()["content-security-policy"]).toContain("default-src 'self'");

      // GraphiQL is up once the operation editor has a Monaco instance and the schema is introspected.
      await page.locator(".graphiql-query-editor .monaco-editor").waitFor({ timeout: 30_000 });
      await page.waitForFunction(() => (globalThis as any).__MONACO?.editor.getModels().length > 0);

      // 1. The first screen is the worked example, as src/ide/worked-example.ts writes it: the four
      //    operations, the Headers tab open on where the two tokens go, a fresh e-mail in Variables.
      expect(await model(page, "operation.graphql")).toBe(EXAMPLE_QUERY);
      expect(await model(page, "request-headers.json")).toBe(EXAMPLE_HEADERS);
      expect(await page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden)").count()).toBe(1);
      const variables = JSON.parse(await model(page, "variables.json"));
      expect(variables).toMatchObject({ email: expect.stringMatching(/^fan-[0-9a-f]{8}@example\.com$/), password: expect.any(String) });
      expect(await paneText(page).catch(() => "")).not.toContain("Welcome to GraphiQL");

      // 2. Run it as written. SignUp: the answer's accessToken goes into the Headers tab.
      await runExample(page, "SignUp");
      const signedUp = await result(page);
      expect(signedUp).toEqual({
        data: { signUp: { accessToken: expect.any(String), user: { id: expect.any(String), email: variables.email, balance: 0 } } },
      });
      const accessToken: string = signedUp.data.signUp.accessToken;
      const fanHeaders = { Authorization: `Bearer ${accessToken}` };
      await typeTool(page, "headers", { ...fanHeaders, "X-Queue-Token": "<token from EnterQueue>" });

      //    Concerts: a concert's id goes into Variables as concertId.
      await runExample(page, "Concerts");
      const listed = await result(page);
      const onSale = listed.data.concerts.find((c: { title: string }) => c.title === TITLE);
      expect(onSale).toMatchObject({ id: concert.id, dates: [{ id: concert.dates[0].id, availableSeats: expect.any(Number), soldOut: false }] });
      await expect.poll(() => paneText(page)).toContain(`"title": "${TITLE}"`);
      await typeTool(page, "variables", { ...variables, concertId: onSale.id });

      //    EnterQueue (over HTTP with the Authorization header): there is room, ACTIVE at once.
      //    Its token goes into Variables as token and into Headers as X-Queue-Token.
      await runExample(page, "EnterQueue");
      const entered = await result(page);
      expect(entered).toEqual({
        data: {
          enterQueue: {
            token: expect.stringMatching(/^qt_/),
            status: "ACTIVE",
            queuePosition: 0,
            estimatedWaitSeconds: 0,
            remainingTime: expect.any(Number),
          },
        },
      });
      const queueToken: string = entered.data.enterQueue.token;
      await typeTool(page, "headers", { ...fanHeaders, "X-Queue-Token": queueToken });
      await typeTool(page, "variables", { ...variables, concertId: onSale.id, token: queueToken });

      // 3. WatchQueue runs over graphql-ws: @Authorized and the token's owner check pass only
      //    if the Authorization header reached the socket as connectionParams. Record every value
      //    the response pane takes, since a stream replaces it with each event.
      await page.evaluate(() => {
        const seen: string[] = ((globalThis as any).__responses = []);
        const m = (globalThis as any).__MONACO.editor.getModels().find((x: any) => x.uri.path.endsWith("response.json"));
        m.onDidChangeContent(() => seen.push(m.getValue()));
      });
      const events = () =>
        page.evaluate(() =>
          ((globalThis as any).__responses as string[]).flatMap((t) => {
            try {
              return [JSON.parse(t)];
            } catch {
              return [];
            }
          }),
        );
      // Statuses in the order they arrived, repeats folded (a refresh of place/estimate may resend ACTIVE).
      const statuses = async () =>
        (await events()).map((e) => e.data?.queueStatusChanged?.status ?? JSON.stringify(e)).filter((s, i, all) => s !== all[i - 1]);
      await runExample(page, "WatchQueue");
      await expect.poll(async () => (await statuses()).length, { timeout: 15_000 }).toBeGreaterThan(0);
      expect(await statuses()).toEqual(["ACTIVE"]);
      expect(Object.keys((await events())[0].data.queueStatusChanged).sort()).toEqual([
        "estimatedWaitSeconds",
        "expiredReason",
        "queuePosition",
        "remainingTime",
        "status",
      ]);
      await expect.poll(() => paneText(page)).toContain('"status": "ACTIVE"');
      // The socket's connection_init carried both tokens from the Headers tab, named as the server reads them.
      const init = wsSent.map((f) => JSON.parse(f)).find((m) => m.type === "connection_init");
      expect(init?.payload).toEqual({ authorization: `Bearer ${accessToken}`, queueToken });
      // The stream is still open (the ▶ button is a ■ while it runs): the screenshot shows it live.
      expect(await page.locator(".graphiql-execute-button").getAttribute("aria-label")).not.toMatch(/^Execute/);
      // For a readable picture: no stale diagnostic left from the moment the editor was emptied
      // ("Unexpected <EOF>", gone once the GraphQL worker revalidates), every editor scrolled to its start.
      await page.waitForFunction(() => (globalThis as any).__MONACO.editor.getModelMarkers({}).length === 0, undefined, { timeout: 10_000 });
      await page.evaluate(() => {
        for (const e of (globalThis as any).__MONACO.editor.getEditors()) e.setScrollPosition({ scrollLeft: 0, scrollTop: 0 });
      });
      await page.mouse.move(1000, 600); // off the editors, so their scrollbars fade out (an 800 ms CSS transition)
      await page
        .waitForFunction(() => document.querySelectorAll(".monaco-scrollable-element > .scrollbar.visible").length === 0, undefined, {
          timeout: 5_000,
        })
        .catch(() => undefined); // cosmetic only
      await page.waitForTimeout(1_000);
      mkdirSync(join(root, "docs"), { recursive: true });
      // The README's picture is refreshed on request (UPDATE_SCREENSHOT=1), so a
      // test run does not leave the committed file changed.
      await page.screenshot({ path: join(root, process.env.UPDATE_SCREENSHOT ? "docs/ide.png" : "build/ide-test.png") });

      // 4. Leaving the queue from outside the browser pushes EXPIRED to the page, and the stream ends.
      const left = await gql(server.url, `mutation($t:String!){ leaveQueue(token:$t){ status } }`, { t: queueToken }, fanHeaders);
      expect(left.data).toEqual({ leaveQueue: { status: "EXPIRED" } });
      await expect.poll(async () => (await statuses()).length, { timeout: 15_000 }).toBeGreaterThan(1);
      expect(await statuses()).toEqual(["ACTIVE", "EXPIRED"]);
      await expect.poll(() => paneText(page)).toContain('"status": "EXPIRED"');
      await expect.poll(() => page.locator(".graphiql-execute-button").getAttribute("aria-label")).toMatch(/^Execute/); // stream ended

      // Nothing came from another host, and the CSP blocked nothing GraphiQL needs.
      const origin = new URL(server.url).origin;
      const wsOrigin = origin.replace(/^http/, "ws");
      const outside = requests.filter((u) => !u.startsWith(origin + "/") && !u.startsWith(wsOrigin + "/") && !u.startsWith("data:"));
      expect(outside).toEqual([]);
      expect(requests.filter((u) => u === server.wsUrl)).toHaveLength(1);
      expect(requests.filter((u) => u.includes(".worker.js")).length).toBeGreaterThan(0);
      expect(problems).toEqual([]);

      // And the CSP is what guarantees it: a request to another host is refused by the browser.
      const blocked = await page.evaluate(
        () =>
          new Promise<string>((resolve) => {
            document.addEventListener("securitypolicyviolation", (e) => resolve(`${e.effectiveDirective} ${e.blockedURI}`));
            fetch("http://127.0.0.2:9/outside").catch(() => undefined);
          }),
      );
      expect(blocked).toBe("connect-src http://127.0.0.2:9/outside");
    } finally {
      await context.close();
    }
  }, 120_000);
});
