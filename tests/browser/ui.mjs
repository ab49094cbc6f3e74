// Real-browser checks of `lakeforge ui`: headless Chromium (Debian's `chromium`, never a
// browser Playwright downloads) driven by playwright-core. crates/lakeforge-cli/tests/it/ui.rs
// builds a project, starts the UI and runs this script; scripts/setup-test-env installs both.
//
//   node tests/browser/ui.mjs --base-url http://127.0.0.1:PORT --out DIR --expect FILE
//                             [--token TOKEN] [--chromium /usr/bin/chromium]
//
// --expect names a JSON file saying what the project recorded:
//   { "nodes": ["stg_orders", ...],                        names the run's timeline shows
//     "failing_tests": [{"name": "...", "error": "..."}],  failing tests of the latest run
//     "markup": ["<img src=x onerror=alert(1)>", ...],     project text that is markup
//     "models": [{"name": "...", "production": 1}],        registered models
//     "table": {"name": "...", "renamed": "...", "old_version": 0} }  a table whose latest
//                                   version's rows show `renamed` and whose old one's do not
// and needs at least two runs, one of them `error` and one `seed`. Steps, each with a
// full-page screenshot in --out (FAILED-<step>.png when it fails):
//   login (with --token): the API answers 401 and a page goes to the login form (keeping
//     where it was going) without the cookie; a wrong token is refused on the form; the
//     right one leads to the overview, with an HttpOnly SameSite=Strict cookie scripts
//     cannot read.
//   overview: runs listed; each failing test with its error; each model with its production
//     version.
//   runs: the filter form (status `error`) narrows the list to error runs and shows the
//     filter in force; `?command=seed` lists seed runs only.
//   run: from the filtered list to the run by its link; every expected node on the
//     timeline, a bar per attempt, the legend; the failing tests' errors in the table, and
//     picking one shows its error and marks its timeline row.
//   tables (with "table"): the tables list and its filter; the table's preview shows rows
//     with `renamed`, its history two versions or more; picking the old version shows its
//     rows (without `renamed`); the column profiles of that version.
//   logout (with --token): the cookie is gone, pages go to the login form again.
// On every page: no console error, uncaught exception, failed request, dialog, or response
// of 400 and above (but the refused login's 401); no element or event handler attribute
// came from project text (no img, iframe, object,
// embed, video or audio; every script one of the UI's /assets/ files); and on the overview's
// failing tests, the run's timeline and its table, the markup shows verbatim as text.
// Prints one line per step; exits 1 if any step failed.

import { mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    "base-url": { type: "string" },
    out: { type: "string" },
    expect: { type: "string" },
    token: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
for (const name of ["base-url", "out", "expect"]) {
  if (!args[name]) {
    console.error(`missing --${name}\nusage: node ui.mjs --base-url URL --out DIR --expect FILE [--token TOKEN]`);
    process.exit(2);
  }
}
const base = args["base-url"].replace(/\/$/, "");
const expected = JSON.parse(await readFile(args.expect, "utf8"));
mkdirSync(args.out, { recursive: true });

// Whatever happens, the script ends: a hung page must fail the test, not stall it.
setTimeout(() => {
  console.error("FAIL: the browser checks took longer than 120 s");
  process.exit(1);
}, 120_000).unref();

const failures = [];
// What the page reported during the current step that is not allowed: console errors,
// uncaught exceptions, failed requests, 4xx/5xx responses, dialogs (alert() from markup).
let problems = [];
// Per step: responses with these statuses are expected (the refused login's 401), as is the
// console line Chromium writes for them.
let allowedStatuses = [];

function watch(page) {
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    if (allowedStatuses.some((s) => text.includes(`status of ${s}`))) return;
    problems.push(`console error: ${text}`);
  });
  page.on("pageerror", (error) => problems.push(`uncaught exception: ${error.message}`));
  page.on("requestfailed", (request) => {
    const reason = request.failure()?.errorText;
    // Cancelled by the browser itself, as when the page navigates away before its favicon
    // arrived: not a failure of the UI (refused, reset or unreachable are other errors).
    if (reason === "net::ERR_ABORTED") return;
    problems.push(`request failed: ${request.method()} ${request.url()} (${reason})`);
  });
  page.on("response", (response) => {
    const status = response.status();
    if (status >= 400 && !allowedStatuses.includes(status)) {
      problems.push(`HTTP ${status}: ${response.request().method()} ${response.url()}`);
    }
  });
  page.on("dialog", async (dialog) => {
    problems.push(`a dialog opened (${dialog.type()}: ${dialog.message()}): page text ran as script`);
    await dialog.dismiss();
  });
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Run one step; a failure is recorded (with a screenshot) and the next step still runs.
async function step(page, name, body) {
  problems = [];
  allowedStatuses = [];
  const started = Date.now();
  try {
    const note = await body();
    // Late events (a fetch that failed after the checks) still count.
    await page.waitForTimeout(100);
    check(problems.length === 0, problems.join("\n  "));
    console.log(`ok   ${name} (${Date.now() - started} ms)${note ? ": " + note : ""}`);
  } catch (error) {
    failures.push(name);
    console.log(`FAIL ${name}: ${error.message}`);
    await page.screenshot({ path: join(args.out, `FAILED-${name}.png`), fullPage: true }).catch(() => {});
  }
}

async function screenshot(page, name) {
  await page.screenshot({ path: join(args.out, `${name}.png`), fullPage: true });
}

// A page of the UI is ready once its script has filled it: the status line is hidden, or
// shows the error the API answered (which the check then reports).
async function ready(page) {
  const status = page.locator("#status");
  await page.locator("#status[hidden], #status.error").waitFor({ state: "attached" });
  check(await status.isHidden(), `the page says: ${await status.textContent()}`);
}

// Markup from the project must stay text: no element the UI does not make itself, and every
// script one of its own files.
async function nothingInjected(page) {
  const found = await page.evaluate(() => ({
    foreign: [...document.querySelectorAll("img, iframe, object, embed, video, audio")].map((e) => e.outerHTML),
    scripts: [...document.scripts].map((s) => s.getAttribute("src") || "inline: " + s.textContent.slice(0, 60)),
    handlers: [...document.querySelectorAll("*")]
      .flatMap((e) => [...e.attributes].filter((a) => a.name.startsWith("on")).map((a) => `${e.tagName} ${a.name}`)),
  }));
  check(found.foreign.length === 0, `elements made from project text: ${found.foreign.join(", ")}`);
  check(
    found.scripts.every((s) => s.startsWith("/assets/")),
    `scripts that are not the UI's own files: ${found.scripts.join(", ")}`,
  );
  check(found.handlers.length === 0, `event handler attributes: ${found.handlers.join(", ")}`);
}

async function texts(locator) {
  return (await locator.allTextContents()).map((t) => t.trim());
}

// The markup strings, each present verbatim as text of `locator` (so escaped, not parsed).
async function markupShownAsText(locator, where) {
  const all = (await locator.allTextContents()).join("\n");
  for (const markup of expected.markup || []) {
    check(all.includes(markup), `${where} does not show ${JSON.stringify(markup)} as text`);
  }
}

// The tables pages: the list and its filter, a table's preview, time travel to an older
// version from the history, the column profiles.
async function tablesStep(page) {
  const table = expected.table;
  await step(page, "tables", async () => {
    await page.goto(`${base}/tables`);
    await ready(page);
    const names = await texts(page.locator("#tables tbody tr td:first-child"));
    check(names.includes(table.name), `${table.name} is not listed (listed: ${names.join(", ")})`);
    await page.fill("#filter", table.name);
    const filtered = await texts(page.locator("#tables tbody tr td:first-child"));
    check(
      filtered.length >= 1 && filtered.length < names.length && filtered.every((n) => n.includes(table.name)),
      `the filter "${table.name}" left: ${filtered.join(", ")}`,
    );
    await nothingInjected(page);
    await screenshot(page, "tables");

    await page.locator(`#tables tbody td:first-child a:text-is(${JSON.stringify(table.name)})`).click();
    await page.waitForURL((url) => url.pathname.startsWith("/tables/"));
    await ready(page);
    const latest = await page.locator("#rows tbody tr").count();
    check(latest >= 1, "the preview shows no rows");
    check((await page.locator("#rows tbody").textContent()).includes(table.renamed), `the latest rows do not show ${table.renamed}`);
    const versions = await page.locator("#history tbody tr").count();
    check(versions >= 2, `the history lists ${versions} version(s)`);
    await screenshot(page, "table");

    // Time travel: the older version, picked in the history.
    await page.locator(`#history tbody tr[data-version="${table.old_version}"] td:nth-child(3)`).click();
    await page.waitForURL((url) => url.hash === `#v${table.old_version}`);
    await page.locator("#preview-title", { hasText: `Rows at v${table.old_version}` }).waitFor();
    await ready(page);
    const old = await page.locator("#rows tbody tr").count();
    check(old >= 1, "the older version's preview shows no rows");
    check(!(await page.locator("#rows tbody").textContent()).includes(table.renamed), `version ${table.old_version}'s rows show ${table.renamed}`);
    check((await page.locator(`#history tbody tr.selected[data-version="${table.old_version}"]`).count()) === 1, "the history does not mark the version shown");

    await page.click("#profile-button");
    await page.locator("#profile").waitFor({ state: "visible" });
    const profiled = await page.locator("#profile tbody tr").count();
    const columns = await page.locator("#rows thead th").count();
    check(profiled === columns, `${profiled} column profiles for ${columns} columns`);
    await nothingInjected(page);
    await screenshot(page, "table-old-version");
    return `${names.length} tables; ${table.name}: ${latest} rows at the latest version, ${old} at v${table.old_version}, ${versions} versions`;
  });
}

const browser = await chromium.launch({ executablePath: args.chromium, headless: true });
const started = Date.now();
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  watch(page);

  if (args.token) {
    await step(page, "login", async () => {
      const api = await context.request.get(`${base}/api/overview`);
      check(api.status() === 401, `the API without a token answered ${api.status()}, not 401`);
      await page.goto(`${base}/runs?status=error`);
      let url = new URL(page.url());
      check(url.pathname === "/login", `a page without the cookie went to ${page.url()}, not the login form`);
      check(url.searchParams.get("next") === "/runs?status=error", `the login form's next is ${url.searchParams.get("next")}`);
      await page.goto(`${base}/`);
      url = new URL(page.url());
      check(url.pathname === "/login" && url.searchParams.get("next") === "/", `the overview without the cookie went to ${page.url()}`);
      check(await page.locator("input#token").isVisible(), "no token field on the login form");
      check((await page.locator("form.logout").count()) === 0, "the login form offers to log out");
      await screenshot(page, "login");

      allowedStatuses = [401];
      await page.fill("input#token", "lf_0000000000000000000000000000000000000000");
      await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/login"),
        page.click("section.login button[type=submit]"),
      ]);
      await page.waitForLoadState("load");
      const alert = page.locator("p.error[role=alert]");
      check(/unknown or revoked/.test(await alert.textContent()), `a wrong token: ${await alert.textContent()}`);
      check(new URL(page.url()).pathname === "/login", `a wrong token led to ${page.url()}`);
      check((await page.inputValue("input[name=next]")) === "/", "the refused form forgot where to go");
      await screenshot(page, "login-refused");
      allowedStatuses = [];

      await page.fill("input#token", args.token);
      await page.click("section.login button[type=submit]");
      await page.waitForURL(`${base}/`);
      check((await page.locator("h1").textContent()) === "Overview", "logging in did not show the overview");
      await ready(page);
      const cookie = (await context.cookies()).find((c) => c.name === "lakeforge_ui_token");
      check(cookie && cookie.httpOnly && cookie.sameSite === "Strict", `the login cookie: ${JSON.stringify(cookie)}`);
      check(!(await page.evaluate(() => document.cookie)).includes("lf_"), "the page's script can read the token");
      check((await page.locator("form.logout").count()) === 1, "no way to log out once logged in");
      return "redirected to the login form, wrong token refused, logged in to the overview";
    });
  }

  await step(page, "overview", async () => {
    await page.goto(`${base}/`);
    await ready(page);
    const runs = await page.locator("#runs tbody tr a[href^='/runs/']").count();
    check(runs >= 1, "no run listed");
    const names = await texts(page.locator("#failing tbody tr td:first-child"));
    const errors = await texts(page.locator("#failing tbody tr td.error"));
    for (const test of expected.failing_tests || []) {
      const i = names.indexOf(test.name);
      check(i >= 0, `failing test ${test.name} is not listed (listed: ${names.join(", ")})`);
      check(errors[i].includes(test.error), `${test.name}'s error shows ${JSON.stringify(errors[i])}, not ${JSON.stringify(test.error)}`);
    }
    await markupShownAsText(page.locator("#failing"), "the failing tests");
    const models = await page.locator("#models tbody tr").evaluateAll((rows) =>
      rows.map((r) => [...r.cells].map((c) => c.textContent.trim())),
    );
    for (const model of expected.models || []) {
      const row = models.find((cells) => cells[0] === model.name);
      check(row, `model ${model.name} is not listed`);
      check(row[3] === `v${model.production}`, `${model.name}'s production version shows ${row[3]}`);
    }
    await nothingInjected(page);
    await screenshot(page, "overview");
    return `${runs} runs, ${names.length} failing tests, ${models.length} models`;
  });

  await step(page, "runs", async () => {
    await page.goto(`${base}/runs`);
    await ready(page);
    const all = await page.locator("#runs tbody tr").count();
    const statuses = await texts(page.locator("#runs tbody .badge"));
    check(all >= 2 && statuses.includes("error") && statuses.some((s) => s !== "error"), `the unfiltered list: ${statuses.join(", ")}`);
    await screenshot(page, "runs");

    // The filter form: status `error`, submitted as users do.
    await page.selectOption("#filters select[name=status]", "error");
    await page.click("#filters button[type=submit]");
    await page.waitForURL((url) => url.searchParams.get("status") === "error");
    await ready(page);
    const filtered = await texts(page.locator("#runs tbody .badge"));
    check(filtered.length >= 1 && filtered.length < all, `status=error listed ${filtered.length} of ${all} runs`);
    check(filtered.every((s) => s === "error"), `status=error listed: ${filtered.join(", ")}`);
    check((await page.inputValue("#filters select[name=status]")) === "error", "the form does not show the filter in force");
    const total = await page.locator("#page").textContent();
    check(total.endsWith(`· ${filtered.length} run${filtered.length === 1 ? "" : "s"}`), `the pager says ${total}`);
    await nothingInjected(page);
    await screenshot(page, "runs-filtered");

    // And a command filter from the address.
    await page.goto(`${base}/runs?command=seed`);
    await ready(page);
    const commands = await texts(page.locator("#runs tbody tr td:nth-child(2)"));
    check(commands.length >= 1 && commands.length < all && commands.every((c) => c === "seed"), `command=seed listed: ${commands.join(", ")}`);
    check((await page.inputValue("#filters input[name=command]")) === "seed", "the form does not show the command filter");
    return `${all} runs; status=error: ${filtered.length}; command=seed: ${commands.length}`;
  });

  await step(page, "run", async () => {
    // From the filtered list to the failed run, by its link.
    await page.goto(`${base}/runs?status=error`);
    await ready(page);
    const link = page.locator("#runs tbody tr a[href^='/runs/']").first();
    const runId = (await link.textContent()).trim();
    await link.click();
    await page.waitForURL((url) => url.pathname === `/runs/${encodeURIComponent(runId)}`);
    await ready(page);
    check((await page.locator("#title").textContent()).includes(runId), "the title does not name the run");

    const labels = await page.locator("#timeline g.row").evaluateAll((rows) =>
      rows.map((g) => g.querySelector("text").firstChild.nodeValue),
    );
    for (const name of expected.nodes || []) {
      check(
        labels.some((l) => l.startsWith(name + " (")),
        `the timeline does not show ${name} (it shows: ${labels.join(", ")})`,
      );
    }
    const bars = await page.locator("#timeline rect.bar").count();
    check(bars >= labels.length, `${bars} bars for ${labels.length} nodes`);
    const legend = await texts(page.locator("#legend span"));
    check(legend.includes("success") && legend.includes("fail"), `the legend: ${legend.join(", ")}`);

    const names = await texts(page.locator("#nodes tbody tr td:first-child"));
    const errors = await texts(page.locator("#nodes tbody tr td.error"));
    for (const test of expected.failing_tests || []) {
      const i = names.indexOf(test.name);
      check(i >= 0, `${test.name} is not among the node executions`);
      check(errors[i].includes(test.error), `${test.name}'s error shows ${JSON.stringify(errors[i])}`);
    }
    await markupShownAsText(page.locator("#nodes"), "the node executions");

    // Picking a failing test shows its details and error; the timeline marks its row.
    for (const test of expected.failing_tests || []) {
      await page.locator("#nodes tbody tr", { has: page.locator(`td:first-child:text-is(${JSON.stringify(test.name)})`) }).first().click();
      await page.locator("#detail").waitFor({ state: "visible" });
      const detail = await page.locator("#detail-error").textContent();
      check(detail.includes(test.error), `the details of ${test.name} show ${JSON.stringify(detail)}`);
      check((await page.locator("#timeline g.row.selected").count()) === 1, "the timeline does not mark the node picked");
    }
    await nothingInjected(page);
    await screenshot(page, "run");
    return `run ${runId}: ${labels.length} nodes on the timeline, ${bars} bars`;
  });

  if (expected.table) await tablesStep(page);

  if (args.token) {
    await step(page, "logout", async () => {
      await page.goto(`${base}/`);
      await ready(page);
      await page.click("form.logout button");
      await page.waitForURL((url) => url.pathname === "/login");
      check(!(await context.cookies()).some((c) => c.name === "lakeforge_ui_token"), "the cookie outlived logging out");
      await page.goto(`${base}/runs`);
      check(new URL(page.url()).pathname === "/login", `after logging out /runs went to ${page.url()}`);
      await screenshot(page, "logged-out");
      return "the cookie is gone and pages go to the login form again";
    });
  }
} finally {
  await browser.close();
}

const mode = args.token ? "token mode" : "open";
if (failures.length) {
  console.log(`${failures.length} step(s) failed (${mode}): ${failures.join(", ")}; screenshots in ${args.out}`);
  process.exit(1);
}
console.log(`all steps passed (${mode}) in ${Date.now() - started} ms; screenshots in ${args.out}`);
