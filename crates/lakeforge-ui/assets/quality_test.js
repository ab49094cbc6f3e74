// One test's page (GET /api/quality/tests/{id}): what it checks, its failing rows (the
// table `store_failures` keeps, or the few rows the runner recorded with its latest failing
// result), its failures per run as an SVG bar chart, every run's result, and the SQL it
// compiled to.
"use strict";

(() => {
  const { el, svg, badge, statusClass, runLink, runHref, time, duration, number, getJSON, setStatus } = LF;
  const testId = document.body.dataset.testId;

  function field(list, name, value) {
    if (value === null || value === undefined || value === "") return;
    list.appendChild(el("dt", {}, name));
    list.appendChild(el("dd", {}, value));
  }

  function tableHref(relation) {
    return "/tables/" + encodeURIComponent(relation);
  }

  function drawSummary(data) {
    const t = data.test;
    document.getElementById("title").replaceChildren("Test ", el("span", { class: "mono" }, t.name));
    const list = document.getElementById("summary");
    list.replaceChildren();
    field(list, "Id", el("span", { class: "mono" }, t.unique_id));
    field(list, "Test", t.test_name);
    field(list, "Model", t.model_name ? el("span", { class: "mono", title: t.model }, t.model_name) : "");
    field(list, "Column", t.column ? el("span", { class: "mono" }, t.column) : "");
    if (!t.test_name && t.reads.length) field(list, "Reads", el("span", { class: "mono" }, t.reads.join(", ")));
    field(list, "Arguments", data.arguments && Object.keys(data.arguments).length ? el("code", {}, JSON.stringify(data.arguments)) : "");
    field(list, "Severity", t.severity);
    field(list, "Fails if", data.error_if && data.fail_calc ? data.fail_calc + " " + data.error_if : "");
    field(list, "Warns if", data.warn_if && data.fail_calc ? data.fail_calc + " " + data.warn_if : "");
    field(list, "Where", data.where_clause ? el("code", {}, data.where_clause) : "");
    field(list, "Stores failures in", data.audit_relation ? el("a", { href: tableHref(data.audit_relation), class: "mono" }, data.audit_relation) : "");
    field(list, "File", data.path ? el("span", { class: "mono" }, data.path) : "");
    field(list, "Description", data.description);
    if (!t.in_project) field(list, "Project", "The loaded project no longer has this test; its recorded history follows.");
  }

  function drawRows(rows) {
    const box = document.getElementById("failing-rows");
    const source = document.getElementById("rows-source");
    if (rows.source === "stored") {
      source.replaceChildren(
        "The rows the test's latest run stored in ",
        el("a", { href: tableHref(rows.relation), class: "mono" }, rows.relation),
        rows.truncated ? " (the first " + rows.rows.length + " of them)." : "."
      );
      if (rows.rows.length === 0) {
        box.replaceChildren(el("p", { class: "empty" }, "The table is empty: the latest run found no failing row."));
        return;
      }
      const head = el("tr", {}, rows.columns.map((c) => el("th", { class: "mono" }, c)));
      const body = rows.rows.map((r) => el("tr", {}, r.map((v) => el("td", { class: "mono" + (v === null ? " empty" : "") }, v === null ? "null" : v))));
      box.replaceChildren(el("div", { class: "scroll" }, el("table", { class: "failing-rows" }, el("thead", {}, head), el("tbody", {}, body))));
    } else if (rows.source === "sample") {
      source.replaceChildren("A few failing rows, as recorded with the result of run ", runLink(rows.run_id), ".");
      box.replaceChildren(el("pre", { class: "sample" }, rows.text));
    } else {
      source.replaceChildren();
      box.replaceChildren(el("p", { class: "empty" }, "No failing rows to show: " + rows.reason + "."));
    }
  }

  // Failures per run, oldest on the left; a bar's colour is the run's status.
  function drawChart(history) {
    const box = document.getElementById("chart");
    if (history.length === 0) {
      box.replaceChildren(el("p", { class: "empty" }, "No run has run this test yet."));
      return;
    }
    const points = [...history].reverse();
    const max = Math.max(1, ...points.map((h) => h.failures || 0));
    const left = 48, top = 10, plotH = 120, bottom = 22;
    const step = Math.max(10, Math.min(40, Math.floor(720 / points.length)));
    const width = left + points.length * step + 10;
    const height = top + plotH + bottom;
    const y = (v) => top + plotH - (v / max) * plotH;
    const chart = svg("svg", { width, height, viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "Failures of the test per run" });
    for (const v of [0, max]) {
      chart.appendChild(svg("line", { class: "grid", x1: left - 4, x2: width - 6, y1: y(v), y2: y(v) }));
      chart.appendChild(svg("text", { class: "axis", x: left - 8, y: y(v) + 4, "text-anchor": "end" }, number(v)));
    }
    points.forEach((h, i) => {
      const x = left + i * step + 2;
      const v = h.failures || 0;
      const label = [h.run_id, time(h.run_started_at) + " UTC", h.status + (h.failures === null ? "" : " · " + number(h.failures) + " failures")].join("\n");
      const bar = svg("rect", { class: "bar " + statusClass(h.status), x, y: Math.min(y(v), top + plotH - 2), width: step - 4, height: Math.max(2, (v / max) * plotH) }, svg("title", {}, label));
      chart.appendChild(svg("a", { href: runHref(h.run_id) }, bar));
    });
    chart.appendChild(svg("text", { class: "axis", x: left, y: height - 6 }, time(points[0].run_started_at)));
    if (points.length > 1) chart.appendChild(svg("text", { class: "axis", x: width - 6, y: height - 6, "text-anchor": "end" }, time(points[points.length - 1].run_started_at)));
    box.replaceChildren(chart);
  }

  function drawHistory(history) {
    const tbody = document.querySelector("#history tbody");
    tbody.replaceChildren();
    if (history.length === 0) {
      tbody.appendChild(el("tr", {}, el("td", { colspan: 8, class: "empty" }, "No run recorded.")));
      return;
    }
    for (const h of history) {
      const bad = h.status === "fail" || h.status === "error";
      tbody.appendChild(
        el(
          "tr",
          {},
          el("td", {}, runLink(h.run_id)),
          el("td", {}, h.command),
          el("td", {}, time(h.run_started_at)),
          el("td", {}, badge(h.status)),
          el("td", { class: "num" }, h.attempt),
          el("td", { class: "num" }, number(h.failures)),
          el("td", { class: "num" }, duration(h.elapsed_s)),
          el("td", { class: bad ? "error" : "" }, h.message || "")
        )
      );
    }
  }

  async function load() {
    try {
      const data = await getJSON("/api/quality/tests/" + encodeURIComponent(testId) + location.search);
      drawSummary(data);
      drawRows(data.failing_rows);
      drawChart(data.history);
      drawHistory(data.history);
      const section = document.getElementById("sql-section");
      section.hidden = !data.compiled_sql;
      document.getElementById("sql").textContent = data.compiled_sql || "";
      setStatus("");
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  load();
})();
