// The operator dashboard in a real browser: starts the real `mediawarm-api` binary in
// embedded mode (a temporary DATA_DIR, no DATABASE_URL / REDIS_URL) with imported articles
// and the bundled demo source, makes some cached reads, opens /dashboard in headless
// Chromium, and checks that:
//   - the numbers on the page are the API's numbers (cache hits and misses, hot keys, queue,
//     sources with their last run);
//   - with the operator token typed in, "Warm" runs a job that the page follows to `done`,
//     and "Scrape" and "Invalidate" do the same;
//   - the page makes no request outside 127.0.0.1 (any other request is aborted and fails
//     the test), breaks no Content-Security-Policy rule and throws no script error;
//   - the token never appears in a URL;
//   - markup inside data (a source's error) is shown as text and creates no element.
// It saves a full-page screenshot to $SCREENSHOT (default target/browser/dashboard.png).
//
// Environment: MEDIAWARM_API_BIN (default target/debug/mediawarm-api), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT, KEEP_TMP=1 to keep the temporary directory.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, openSync, writeFileSync, readFileSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = resolve(process.env.MEDIAWARM_API_BIN || join(ROOT, "target/debug/mediawarm-api"));
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SCREENSHOT = resolve(process.env.SCREENSHOT || join(ROOT, "target/browser/dashboard.png"));
const TOKEN = "browser-test-" + Math.random().toString(16).slice(2);
const STEP_TIMEOUT = 30_000;

const log = (...args) => console.log("browser-test:", ...args);

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, check, timeout = STEP_TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

// The child's environment: embedded mode (no DATABASE_URL / REDIS_URL) in `dataDir`.
function serverEnv(dataDir, extra = {}) {
  const env = { ...process.env };
  for (const name of ["DATABASE_URL", "REDIS_URL", "OPERATOR_TOKEN", "SOURCES_FILE", "BIND"]) delete env[name];
  return { ...env, DATA_DIR: dataDir, RUST_LOG: process.env.RUST_LOG || "info", ...extra };
}

async function main() {
  assert.ok(existsSync(BIN), `no API binary at ${BIN} (build it, or set MEDIAWARM_API_BIN)`);
  assert.ok(existsSync(CHROMIUM), `no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  const work = mkdtempSync(join(tmpdir(), "mediawarm-browser-"));
  const dataDir = join(work, "data");
  const serverLog = join(work, "server.log");
  let server;
  let browser;
  const cleanup = async () => {
    if (browser) await browser.close().catch(() => {});
    if (server && server.exitCode === null) {
      server.kill("SIGTERM");
      await Promise.race([new Promise((r) => server.once("exit", r)), sleep(5000)]);
      if (server.exitCode === null) server.kill("SIGKILL");
    }
    if (!process.env.KEEP_TMP) rmSync(work, { recursive: true, force: true });
  };
  try {
    await run(work, dataDir, serverLog, (s) => (server = s), (b) => (browser = b));
  } catch (error) {
    console.error("browser-test: FAILED:", error && error.stack ? error.stack : error);
    if (existsSync(serverLog)) {
      const lines = readFileSync(serverLog, "utf8").trimEnd().split("\n");
      console.error("browser-test: last server log lines:\n" + lines.slice(-40).join("\n"));
    }
    await cleanup();
    process.exit(1);
  }
  await cleanup();
  log("PASSED; screenshot at", SCREENSHOT);
}

async function run(work, dataDir, serverLog, setServer, setBrowser) {
  // 1. Articles from two imported sources, loaded the way operators migrate data.
  const now = Date.now();
  const lines = [];
  for (let i = 0; i < 40; i++) {
    lines.push(JSON.stringify({
      source: i % 3 === 0 ? "herald" : "gazette",
      url: `https://news.example/a/${i}`,
      title: `Imported story ${i}`,
      author: "Ada Reporter",
      published_at: new Date(now - i * 37 * 60_000).toISOString(),
    }));
  }
  writeFileSync(join(work, "seed.jsonl"), lines.join("\n") + "\n");
  execFileSync(BIN, ["import", join(work, "seed.jsonl")], { env: serverEnv(dataDir), stdio: "inherit" });

  // 2. The server, with the demo site (a loopback news site registered as source `demo`).
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const out = openSync(serverLog, "a");
  const server = spawn(BIN, ["serve", "--demo"], {
    env: serverEnv(dataDir, { BIND: `127.0.0.1:${port}`, OPERATOR_TOKEN: TOKEN }),
    stdio: ["ignore", out, out],
  });
  setServer(server);
  await until("the server's /healthz", async () => {
    assert.equal(server.exitCode, null, "the server exited");
    return (await fetch(`${base}/healthz`)).ok;
  });
  log("server up at", base);

  const api = async (path, { token = false, method = "GET", body } = {}) => {
    const headers = { accept: "application/json" };
    if (token) headers.authorization = `Bearer ${TOKEN}`;
    if (body) headers["content-type"] = "application/json";
    const response = await fetch(base + path, { method, headers, body: body && JSON.stringify(body) });
    const data = await response.json();
    assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(data)}`);
    return data;
  };

  // 3. The import queued an invalidate job for this server; let it finish, then readers
  //    make misses, hits and hot keys.
  await until("the import's invalidate job", async () => {
    const { jobs } = await api("/api/v1/jobs?kind=invalidate", { token: true });
    return jobs.length > 0 && jobs.every((j) => j.status === "done");
  });
  const reads = ["/api/v1/volume", "/api/v1/volume", "/api/v1/volume", "/api/v1/media/latest?limit=5", "/api/v1/media/latest?limit=5", "/api/v1/simplified"];
  for (const path of reads) await api(path);

  // 4. The browser: only 127.0.0.1 resolves, and any other request fails the test.
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      ...(process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : []),
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-domain-reliability",
      "--no-pings",
      "--no-first-run",
    ],
  });
  setBrowser(browser);
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, serviceWorkers: "block" });
  const page = await context.newPage();
  const problems = [];
  const urls = [];
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    urls.push(url.href);
    if (url.protocol === "data:" || (url.hostname === "127.0.0.1" && url.port === String(port))) {
      return route.continue();
    }
    problems.push(`request outside the API: ${url.href}`);
    return route.abort();
  });
  page.on("pageerror", (error) => problems.push(`script error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && !/status of 40[14]/.test(message.text())) {
      problems.push(`console error: ${message.text()}`);
    }
  });

  const response = await page.goto(`${base}/dashboard`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()["content-security-policy"], /default-src 'none'/);
  await page.waitForSelector("body[data-refreshed]", { timeout: STEP_TIMEOUT });
  const text = (selector) => page.locator(selector).first().innerText();

  // 5. Real numbers: the page shows what the API says.
  await until("the page's cache figures to match the API's", async () => {
    const { cache } = await api("/api/v1/media/cache/stats");
    const shown = { hits: await text("#cache-hits"), misses: await text("#cache-misses"), backend: await text("#cache-backend") };
    const fmt = new Intl.NumberFormat("en");
    assert.ok(cache.hits + cache.misses >= reads.length && cache.misses >= 3, JSON.stringify(cache));
    return shown.hits === fmt.format(cache.hits) && shown.misses === fmt.format(cache.misses) && shown.backend === "memory";
  });
  log("cache figures:", await text("#cache-hits"), "hits,", await text("#cache-misses"), "misses,", await text("#cache-hit-rate"));
  const volumeRow = page.locator('#cache-categories tr[data-category="volume"] td');
  const volumeReads = Number(await volumeRow.nth(1).innerText()) + Number(await volumeRow.nth(2).innerText());
  assert.ok(volumeReads >= 3, `volume hits + misses shown: ${volumeReads}`);
  const hot = await page.locator("#hot-keys li").allInnerTexts();
  const apiHot = (await api("/api/v1/media/cache/hot?limit=10")).keys.map((k) => k.key);
  assert.ok(hot.length >= 3, `hot keys shown: ${hot}`);
  assert.deepEqual(hot, apiHot.slice(0, hot.length), "hot keys in the API's order");
  assert.match(hot[0], /^volume:/, "the most read key comes first");
  const queue = await api("/api/v1/queue/stats");
  assert.equal(await text("#queue-max-depth"), new Intl.NumberFormat("en").format(queue.max_depth));
  assert.ok(Number(await text('#queue-kinds tr[data-kind="invalidate"] td:nth-child(4)')) >= 1, "the import's invalidate job is counted as done");
  for (const name of ["demo", "gazette", "herald"]) {
    await page.locator(`#sources-table tr[data-source="${name}"]`).waitFor({ timeout: STEP_TIMEOUT });
  }
  assert.equal(await text('#sources-table tr[data-source="gazette"] td:nth-child(2)'), "import");
  assert.ok(await page.locator("#jobs-locked").isVisible(), "jobs need the token");
  assert.ok(await page.locator("#warm-button").isDisabled(), "actions need the token");

  // 6. A wrong token is refused (at the next jobs read) and forgotten; the right one unlocks
  //    jobs and actions and stays for the tab (sessionStorage) across a reload.
  await page.fill("#token-input", "not-the-token");
  await page.click("#token-save");
  await until("the wrong token to be refused", async () => (await text("#token-state")).includes("refused"));
  assert.ok(await page.locator("#warm-button").isDisabled(), "a refused token locks the actions again");
  await page.fill("#token-input", TOKEN);
  await page.click("#token-save");
  await page.locator("#jobs-table").waitFor({ state: "visible", timeout: STEP_TIMEOUT });
  assert.equal(await page.inputValue("#token-input"), "", "the token is not left in the field");
  await page.reload();
  await page.locator("#jobs-table").waitFor({ state: "visible", timeout: STEP_TIMEOUT });
  await page.locator("#jobs-table tbody tr").first().waitFor({ timeout: STEP_TIMEOUT });

  // 7. Warm: the page follows the job to done, and the jobs table shows it.
  await page.fill("#warm-top-n", "10");
  await page.click("#warm-button");
  const warmEntry = page.locator('#action-log li[data-kind="warm"][data-status="done"]');
  await warmEntry.waitFor({ timeout: STEP_TIMEOUT });
  const warmId = await warmEntry.getAttribute("data-job-id");
  const warmJob = await api(`/api/v1/jobs/${warmId}`, { token: true });
  assert.equal(warmJob.status, "done");
  assert.ok(warmJob.result.warmed >= 3, `warmed the hot keys: ${JSON.stringify(warmJob.result)}`);
  await page.locator(`#jobs-table tr[data-job-id="${warmId}"][data-status="done"]`).waitFor({ timeout: STEP_TIMEOUT });
  log("warm job", warmId, "done:", JSON.stringify(warmJob.result));

  // 8. Scrape the demo source, then invalidate: both followed to done.
  await page.selectOption("#scrape-source", "demo");
  await page.click("#scrape-button");
  const scrapeEntry = page.locator('#action-log li[data-kind="scrape"][data-status="done"]');
  await scrapeEntry.waitFor({ timeout: STEP_TIMEOUT });
  const scrapeId = await scrapeEntry.getAttribute("data-job-id");
  await until("the demo source's row to show a finished run", async () => {
    const status = await text('#sources-table tr[data-source="demo"] td:nth-child(5)');
    return ["succeeded", "skipped"].includes(status.trim());
  });
  log("scrape job", scrapeId, "done; demo row:", (await text('#sources-table tr[data-source="demo"]')).replace(/\s+/g, " "));

  await page.fill("#invalidate-patterns", "simplified:*");
  await page.click("#invalidate-button");
  await page.locator('#action-log li[data-kind="invalidate"][data-status="done"]').waitFor({ timeout: STEP_TIMEOUT });

  await page.locator(`#jobs-table tr[data-job-id="${scrapeId}"]`).waitFor({ timeout: STEP_TIMEOUT });

  // 9. Nothing left the loopback API, the token never went into a URL, no CSP or script error.
  assert.ok(urls.length > 5, "requests were observed");
  assert.ok(!urls.some((u) => u.includes(TOKEN)), "the token appeared in a URL");
  assert.deepEqual(problems, [], "the page stayed within its policy");

  mkdirSync(dirname(SCREENSHOT), { recursive: true });
  await page.waitForTimeout(300);
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  // 10. Markup in data is shown as text: a second tab whose sources answer carries HTML in an
  //     error (as a scraped site's message could) renders it literally and creates no element.
  const hostile = await context.newPage();
  hostile.on("pageerror", (error) => problems.push(`script error: ${error.message}`));
  const payload = '<img src=x onerror="window.pwned=1"><b>bold</b>';
  await hostile.route("**/api/v1/sources", async (route) => {
    const real = await (await route.fetch()).json();
    const demo = real.sources.find((s) => s.name === "demo");
    demo.last_run = { ...demo.last_run, status: "failed", error: payload };
    await route.fulfill({ json: real });
  });
  await hostile.goto(`${base}/dashboard`);
  const errorCell = hostile.locator('#sources-table tr[data-source="demo"] td.error-text');
  await until("the hostile error to be shown", async () => (await errorCell.innerText()) === payload);
  assert.equal(await hostile.locator("#sources-table img, #sources-table b").count(), 0, "no element from data");
  assert.equal(await hostile.evaluate(() => window.pwned), undefined);
  await hostile.close();
  assert.deepEqual(problems, [], "the hostile tab stayed within its policy");
}

await main();
