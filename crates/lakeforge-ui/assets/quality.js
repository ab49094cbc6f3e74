// The data-quality page (GET /api/quality): every data test by model and column with its
// latest status and a strip of squares, one per run that ran tests, coloured by status; the
// models' quarantine counts per run; each source's freshness policy and last check. The
// filter form mirrors the page's query string, passed on as is to the API (which names a
// parameter it refuses).
"use strict";

(() => {
  const { el, svg, badge, statusClass, runHref, time, number, getJSON, setStatus } = LF;
  const params = new URLSearchParams(location.search);
  const SQUARE = 12;
  const GAP = 3;

  function testHref(id) {
    return "/quality/tests/" + encodeURIComponent(id);
  }

  // One square per run, oldest first; `runs` and `cells` come newest first. A run that did
  // not run this node leaves an empty outline.
  function strip(runs, cells, what) {
    const n = runs.length;
    const width = Math.max(1, n * (SQUARE + GAP));
    const chart = svg("svg", { class: "strip", width, height: SQUARE + 2, viewBox: "0 0 " + width + " " + (SQUARE + 2), role: "img", "aria-label": what + " over " + n + " runs" });
    for (let i = n - 1, x = 0; i >= 0; i--, x += SQUARE + GAP) {
      const run = runs[i];
      const cell = cells[i];
      const lines = [run.run_id + " (" + run.command + ")", time(run.started_at) + " UTC"];
      if (cell) {
        lines.push(cell.status + (cell.count === null ? "" : " · " + number(cell.count) + " " + what));
      } else {
        lines.push("not run");
      }
      const square = svg("rect", { class: cell ? "cell " + statusClass(cell.status) : "cell absent", x: x + 1, y: 1, width: SQUARE, height: SQUARE }, svg("title", {}, lines.join("\n")));
      const link = svg("a", { href: runHref(run.run_id) }, square);
      chart.appendChild(link);
    }
    return chart;
  }

  function fillFilters(data) {
    const model = document.getElementById("model-filter");
    for (const [id, name] of data.models) model.appendChild(el("option", { value: id }, name));
    const status = document.getElementById("status-filter");
    for (const s of data.statuses) status.appendChild(el("option", { value: s }, s === "none" ? "never run" : s));
    const form = document.getElementById("filters");
    for (const field of form.elements) {
      if (field.name && params.has(field.name)) field.value = params.get(field.name);
    }
  }

  function fillTests(data) {
    const tbody = document.querySelector("#tests tbody");
    tbody.replaceChildren();
    if (data.tests.length === 0) {
      const filtered = params.get("model") || params.get("status");
      const text = filtered ? "No test matches these filters." : "The project has no data test, and no run recorded one.";
      tbody.appendChild(el("tr", {}, el("td", { colspan: 6, class: "empty" }, text)));
      return;
    }
    let previous = null;
    for (const t of data.tests) {
      const model = t.model_name || (t.reads.length ? t.reads.length + " inputs" : "");
      const first = model !== previous;
      previous = model;
      const name = el("a", { href: testHref(t.unique_id), class: "mono", title: t.unique_id }, t.name);
      const kind = t.test_name && t.test_name !== t.name ? el("span", { class: "muted" }, " " + t.test_name) : null;
      tbody.appendChild(
        el(
          "tr",
          { class: first ? "group-start" : "" , "data-test": t.unique_id },
          el("td", { class: "mono", title: t.model || "" }, first ? model : ""),
          el("td", { class: "mono" }, t.column || ""),
          el("td", {}, name, kind, t.in_project ? null : el("span", { class: "muted" }, " (not in the project)")),
          el("td", {}, t.latest_status === "none" ? el("span", { class: "empty" }, "never run") : badge(t.latest_status)),
          el("td", { class: "num" }, number(t.latest_failures)),
          el("td", {}, strip(data.runs, t.results, "failures"))
        )
      );
    }
  }

  function fillLegend(data) {
    const seen = new Set();
    for (const t of data.tests) for (const c of t.results) if (c) seen.add(c.status);
    document.getElementById("legend").replaceChildren(...[...seen].map((s) => el("span", { class: statusClass(s) }, s)));
  }

  function fillQuarantine(q) {
    const tbody = document.querySelector("#quarantine tbody");
    tbody.replaceChildren();
    if (q.models.length === 0) {
      tbody.appendChild(el("tr", {}, el("td", { colspan: 4, class: "empty" }, "No run recorded quarantined rows.")));
      return;
    }
    for (const m of q.models) {
      const latest = m.counts.find((c) => c);
      tbody.appendChild(
        el(
          "tr",
          {},
          el("td", { class: "mono", title: m.unique_id }, m.name),
          el("td", { class: "mono" }, m.relation || ""),
          el("td", { class: "num" }, latest ? number(latest.count) : ""),
          el("td", {}, strip(q.runs, m.counts, "rows quarantined"))
        )
      );
    }
  }

  function policyText(policy) {
    const parts = [];
    for (const key of ["warn_after", "error_after"]) {
      const p = policy && policy[key];
      if (p && p.count !== undefined) parts.push(key.replace("_", " ") + " " + p.count + " " + p.period + (p.count === 1 ? "" : "s"));
    }
    if (policy && policy.filter) parts.push("where " + policy.filter);
    return parts.join(", ");
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds < 60) return Math.round(seconds) + " s";
    if (seconds < 3600) return Math.round(seconds / 60) + " min";
    if (seconds < 86400) return (seconds / 3600).toFixed(1) + " h";
    return (seconds / 86400).toFixed(1) + " d";
  }

  function fillSources(data) {
    const hint = document.getElementById("freshness-hint");
    hint.replaceChildren(
      data.freshness_checked_at
        ? "As `lakeforge source freshness` last found it, at " + time(data.freshness_checked_at) + " UTC (target/sources.json)."
        : "Not checked yet: run `lakeforge source freshness` to compare each source's newest row with its policy.",
    );
    const tbody = document.querySelector("#sources tbody");
    tbody.replaceChildren();
    if (data.sources.length === 0) {
      tbody.appendChild(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No source has a freshness policy.")));
      return;
    }
    for (const s of data.sources) {
      const r = s.result;
      tbody.appendChild(
        el(
          "tr",
          {},
          el("td", { class: "mono", title: s.unique_id }, s.name),
          el("td", { class: "mono" }, s.loaded_at_field || el("span", { class: "error" }, "none: freshness cannot be checked")),
          el("td", {}, policyText(s.policy)),
          el("td", {}, r ? badge(r.status) : el("span", { class: "empty" }, "not checked")),
          el("td", {}, r ? time(r.max_loaded_at) : ""),
          el("td", { class: r && r.error ? "error" : "num" }, r ? (r.error || age(r.max_loaded_at_time_ago_in_seconds)) : "")
        )
      );
    }
  }

  async function load() {
    try {
      const data = await getJSON("/api/quality?" + params.toString());
      fillFilters(data);
      const problem = document.getElementById("project-error");
      problem.hidden = !data.project_error;
      problem.textContent = data.project_error ? "Models, columns and sources are missing: " + data.project_error : "";
      fillLegend(data);
      fillTests(data);
      fillQuarantine(data.quarantine);
      fillSources(data);
      setStatus("");
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  load();
})();
