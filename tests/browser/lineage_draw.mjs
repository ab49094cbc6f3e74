// How long the lineage page of a running `lakeforge ui` takes to draw in headless Chromium
// (Debian's `chromium`, driven by playwright-core as tests/browser/ui.mjs drives it); run by
// bench/ui_pages.sh, which reports the times.
//
//   node tests/browser/lineage_draw.mjs --base-url http://127.0.0.1:PORT [--runs N]
//                                       [--chromium /usr/bin/chromium]
//
// Each run opens the page in a fresh browser context (nothing cached) and times from the
// navigation's start to the graph drawn: every node the API lists (tests hidden, as the page
// hides them) in the SVG, and the frame after that painted. Prints one JSON line per run,
// {"run": i, "ms": drawn, "nodes": n}; exits 1 if the page never drew or logged an error.

import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: args } = parseArgs({
  options: {
    "base-url": { type: "string" },
    runs: { type: "string", default: "3" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});
if (!args["base-url"]) {
  console.error("missing --base-url\nusage: node lineage_draw.mjs --base-url URL [--runs N]");
  process.exit(2);
}
const base = args["base-url"].replace(/\/$/, "");
const HIDDEN = new Set(["test", "unit_test"]);

const browser = await chromium.launch({ executablePath: args.chromium, headless: true });
let failed = false;
try {
  for (let run = 1; run <= Number(args.runs); run++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const errors = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(e.message));
    const started = Date.now();
    await page.goto(`${base}/lineage`, { waitUntil: "commit" });
    const expected = (await (await context.request.get(`${base}/api/lineage`)).json()).nodes.filter(
      (n) => !HIDDEN.has(n.resource_type),
    ).length;
    await page.waitForFunction(
      (n) => document.querySelectorAll("#graph svg g.node").length === n,
      expected,
      { timeout: 60_000, polling: 20 },
    );
    // The page's own clock: navigation start to the first frame painted after drawing.
    const ms = await page.evaluate(
      () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now())))),
    );
    if (errors.length) {
      failed = true;
      console.error(`run ${run}: ${errors.join("; ")}`);
    }
    console.log(JSON.stringify({ run, ms: Math.round(ms), wall_ms: Date.now() - started, nodes: expected }));
    await context.close();
  }
} catch (e) {
  failed = true;
  console.error(`the lineage page did not draw: ${e.message}`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
