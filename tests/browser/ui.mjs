// Real-browser checks of `lakeforge ui`: headless Chromium (Debian's `chromium`, never a
// browser Playwright downloads) driven by playwright-core. crates/lakeforge-cli/tests/it/ui.rs
// builds a project, starts the UI and runs this script; scripts/setup-test-env installs both.
//
//   node tests/browser/ui.mjs --base-url http://127.0.0.1:PORT --out DIR --expect FILE
//                             [--token TOKEN [--admin-token TOKEN]] [--chromium /usr/bin/chromium]
//
// --expect names a JSON file saying what the project recorded:
//   { "nodes": ["stg_orders", ...],                        names the run's timeline shows
//     "failing_tests": [{"name": "...", "error": "..."}],  failing tests of the latest run
//     "markup": ["<img src=x onerror=alert(1)>", ...],     project text that is markup
//     "models": [{"name": "...", "production": 1}],        registered models
//     "failing_rows": {"test": "...", "column": "..."} }   a failing test that stores its rows
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
//   quality (with "failing_rows": {"test": "...", "column": "..."} in --expect): the failing
//     tests with their status and result squares; from the test's link to its page, which
//     shows its failing rows (a table with that column), history and chart; the overview
//     links the test to that page.
//   lineage, model (with expected.lineage / expected.models): see lineageSteps below.
//   run-sql: a model picked on the failed run's page shows its compiled SQL, said to be the
//     SQL that ran.
//   admin (with --admin-token; --token must lack the admin scope): promoting a version to a
//     new alias on the model's page is refused (403 naming the scope) with --token, then,
//     logged in with --admin-token, works and shows in the alias history by the token's name.
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
    "admin-token": { type: "string" },
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

// ---- Lineage and model curves (issue 18, part 3): their own block, called after "run". ----
// expected.lineage = { "node": "customers", "column": "email", "upstream": "raw_customers.email" }
// names a model of the project, one of its columns and a column of another table it is
// computed from; expected.models[0] is a registered model with charts.
//   lineage: the graph shows the node; searching for it marks it and zooms to it (the SVG's
//     viewBox changes); clicking it lights its upstream and downstream; the wheel zooms (the
//     viewBox changes again); its column panel lists the column, and choosing it lists the
//     upstream column with a link that picks that table on the graph.
//   model: the model's page draws its charts: every chart image loads with a non-zero size.
async function lineageSteps(page) {
  const want = expected.lineage;
  if (want) {
    await step(page, "lineage", async () => {
      await page.goto(`${base}/lineage`);
      await ready(page);
      await page.locator("#graph svg g.node").first().waitFor();
      const viewBox = () => page.locator("#graph svg").getAttribute("viewBox");
      const nodeId = (name) =>
        page.$$eval(
          "#graph g.node",
          (gs, name) => {
            const g = gs.find((g) => g.querySelector("title").textContent.startsWith(name + " ("));
            return g ? g.getAttribute("data-id") : null;
          },
          name,
        );
      const id = await nodeId(want.node);
      check(id, `the graph does not show ${want.node}`);
      const drawn = await page.locator("#graph g.node").count();

      // Search: the node is marked and the view zooms to the matches.
      const fitted = await viewBox();
      await page.fill("#search", want.node);
      await page.press("#search", "Enter");
      await page.locator(`#graph g.node.match[data-id="${id}"]`).waitFor();
      check((await viewBox()) !== fitted, "searching did not move the view to the matches");

      // Clicking a node lights its upstream and downstream (fitted first, so it is in view).
      await page.locator("#search").fill("");
      await page.click("#fit");
      await page.locator(`#graph g.node[data-id="${id}"] rect`).click();
      await page.locator(`#graph.focused g.node.current[data-id="${id}"]`).waitFor();
      check((await page.locator("#detail-title").textContent()) === want.node, "the details do not name the node clicked");
      const upstreamTable = want.upstream.slice(0, want.upstream.lastIndexOf("."));
      const upstreamId = await nodeId(upstreamTable);
      check(upstreamId, `the graph does not show ${upstreamTable}`);
      check(
        await page.locator(`#graph g.node.lit[data-id="${upstreamId}"]`).count() === 1,
        `${upstreamTable}, upstream of ${want.node}, is not lit`,
      );
      const lit = await page.locator("#graph g.node.lit").count();
      check(lit > 1 && lit <= drawn, `${lit} of ${drawn} nodes lit`);

      // The wheel zooms: the viewBox shrinks around the pointer.
      const before = (await viewBox()).split(" ").map(Number);
      const box = await page.locator("#graph svg").boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.wheel(0, -400);
      await page.waitForFunction(
        (w) => Number(document.querySelector("#graph svg").getAttribute("viewBox").split(" ")[2]) < w,
        before[2],
      );
      await screenshot(page, "lineage");

      // Column lineage: the column, and the upstream column it is computed from, linked.
      const button = page.locator(`#column-list button[data-column="${want.column}"]`);
      await button.waitFor({ timeout: 30_000 });
      await button.click();
      const lines = await texts(page.locator("#column-trace li"));
      check(
        lines.some((l) => l.includes(want.upstream)),
        `${want.node}.${want.column}'s lineage does not show ${want.upstream}: ${lines.join(" | ")}`,
      );
      check(
        await page.locator(`#graph g.node.lit[data-id="${upstreamId}"]`).count() === 1,
        `the column's lineage does not light ${upstreamTable}`,
      );
      await nothingInjected(page);
      await screenshot(page, "lineage-columns");
      await page.locator(`#column-trace a[data-id="${upstreamId}"]`).first().click();
      await page.waitForFunction((t) => document.getElementById("detail-title").textContent === t, upstreamTable);
      return `${drawn} nodes drawn, ${lit} lit around ${want.node}; ${want.node}.${want.column} ← ${want.upstream}`;
    });
  }

  const model = (expected.models || [])[0];
  if (model) {
    await step(page, "model", async () => {
      await page.goto(`${base}/models/${encodeURIComponent(model.name)}`);
      await ready(page);
      await page.locator("#charts figure img").first().waitFor();
      // Every chart image finished loading (a failed one is replaced by a caption saying so).
      await page.waitForFunction(() => [...document.querySelectorAll("#charts img")].every((i) => i.complete));
      const sizes = await page.$$eval("#charts img", (imgs) =>
        imgs.map((i) => ({ src: i.getAttribute("src"), w: i.naturalWidth, h: i.naturalHeight })),
      );
      check(sizes.length >= 1, "no chart on the model's page");
      for (const s of sizes) check(s.w > 0 && s.h > 0, `the chart ${s.src} has no size (${s.w}×${s.h})`);
      await screenshot(page, "model");
      return `${sizes.length} charts drawn (${sizes.map((s) => s.src.split("/").pop()).join(", ")})`;
    });
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

  // Data quality: the failing tests on the quality page, and a failing test's own page
  // with its failing rows (expected.failing_rows: the test, a column of its rows).
  if (expected.failing_rows) {
    await step(page, "quality", async () => {
      const want = expected.failing_rows;
      await page.goto(`${base}/quality`);
      await ready(page);
      const rows = await page.locator("#tests tbody tr").evaluateAll((trs) =>
        trs.map((tr) => ({ name: tr.cells[2] ? tr.cells[2].querySelector("a")?.textContent : null, status: tr.cells[3]?.textContent.trim(), squares: tr.querySelectorAll("svg.strip rect.cell:not(.absent)").length })),
      );
      for (const test of expected.failing_tests || []) {
        const row = rows.find((r) => r.name === test.name);
        check(row, `${test.name} is not on the quality page (it lists: ${rows.map((r) => r.name).join(", ")})`);
        check(["fail", "error"].includes(row.status), `${test.name}'s latest status shows ${row.status}`);
        check(row.squares >= 1, `${test.name} has no result square`);
      }
      await nothingInjected(page);
      await screenshot(page, "quality");

      // From the quality page to the test's page, by its link.
      await page.locator("#tests tbody tr td:nth-child(3) a", { hasText: want.test }).first().click();
      await page.waitForURL((url) => url.pathname.startsWith("/quality/tests/"));
      await ready(page);
      check((await page.locator("#title").textContent()).includes(want.test), "the test page does not name the test");
      const header = await texts(page.locator("#failing-rows table th"));
      check(header.includes(want.column), `the failing rows' columns: ${header.join(", ")}`);
      const shown = await page.locator("#failing-rows table tbody tr").count();
      check(shown >= 1, "the test page shows no failing row");
      const history = await texts(page.locator("#history tbody .badge"));
      check(history.includes("fail"), `the history: ${history.join(", ")}`);
      check((await page.locator("#chart svg rect.bar").count()) >= 1, "no bar in the failures chart");
      await nothingInjected(page);
      await screenshot(page, "quality-test");

      // The overview's failing tests lead to the same page.
      await page.goto(`${base}/`);
      await ready(page);
      const href = await page.locator("#failing tbody tr td:first-child a", { hasText: want.test }).first().getAttribute("href");
      check(href && href.startsWith("/quality/tests/"), `the overview links ${want.test} to ${href}`);
      return `${rows.length} tests; ${want.test} shows ${shown} failing rows`;
    });
  }
  await lineageSteps(page);
  // Compiled SQL on the run page, and the Models page's one write (admin.rs in lakeforge-ui).
  await step(page, "run-sql", async () => {
    await page.goto(`${base}/runs?status=error`);
    await ready(page);
    await page.locator("#runs tbody tr a[href^='/runs/']").first().click();
    await page.waitForURL((url) => url.pathname.startsWith("/runs/"));
    await ready(page);
    const model = (expected.nodes || []).find((n) => n === "orders") || "orders";
    await page.locator("#nodes tbody tr", { has: page.locator(`td:first-child:text-is(${JSON.stringify(model)})`) }).first().click();
    const sql = page.locator("#detail-sql");
    await sql.waitFor({ state: "visible" });
    const text = await sql.textContent();
    check(/select/i.test(text), `the compiled SQL of ${model} shows ${JSON.stringify(text.slice(0, 200))}`);
    const note = await page.locator("#detail-sql-note").textContent();
    check(note.includes("target/compiled/") && note.includes("it is the SQL run"), `the note under the SQL: ${note}`);
    await nothingInjected(page);
    await screenshot(page, "run-sql");
    return `${model}: ${text.length} characters of SQL; ${note}`;
  });

  if (args.token && args["admin-token"]) {
    await step(page, "admin", async () => {
      const model = (expected.models || [])[0];
      check(model, "the expectations name no model to change");
      const alias = "browser-check";
      const modelPage = `${base}/models/${encodeURIComponent(model.name)}`;
      const promote = async () => {
        await page.selectOption("#promote select[name=version]", String(model.production));
        await page.fill("#promote input[name=alias]", alias);
        const [response] = await Promise.all([
          page.waitForResponse((r) => r.request().method() === "PUT" && r.url().includes("/aliases/")),
          page.click("#promote button[type=submit]"),
        ]);
        await page.locator("#admin-status:not([hidden])").waitFor();
        return response;
      };

      // The read token (logged in by the login step): told beforehand, refused by the server.
      await page.goto(modelPage);
      await ready(page);
      check(await page.locator("#admin-scope").isVisible(), "a read token is not told it cannot change aliases");
      allowedStatuses = [403];
      const refused = await promote();
      check(refused.status() === 403, `a read token's promotion answered ${refused.status()}, not 403`);
      const refusal = await page.locator("#admin-status").textContent();
      check(/`admin` scope/.test(refusal), `the refusal says: ${refusal}`);
      const aliases = await texts(page.locator("#alias-list .alias"));
      check(!aliases.some((a) => a.startsWith(alias + " ")), `the refused alias was set: ${aliases.join(", ")}`);
      await screenshot(page, "admin-refused");
      allowedStatuses = [];

      // The admin token, through the login form.
      await page.goto(`${base}/login?next=${encodeURIComponent("/models/" + model.name)}`);
      await page.fill("input#token", args["admin-token"]);
      await page.click("section.login button[type=submit]");
      await page.waitForURL(modelPage);
      await ready(page);
      check(await page.locator("#admin-scope").isHidden(), "an admin token is told it cannot change aliases");
      const done = await promote();
      check(done.status() === 200, `the admin token's promotion answered ${done.status()}`);
      const said = await page.locator("#admin-status").textContent();
      check(said.includes(`${alias} → v${model.production}`) && said.includes("ui (token "), `after promoting: ${said}`);
      await page.locator("#alias-list .alias", { hasText: `${alias} → v${model.production}` }).waitFor();
      const by = await page.locator("#history tbody tr").first().locator("td").nth(4).textContent();
      check(by.startsWith("ui (token "), `the alias history's newest change is by ${by}`);
      await screenshot(page, "admin");
      return `refused with the read token (${refusal.trim()}); done with the admin token, recorded as ${by}`;
    });
  }
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
