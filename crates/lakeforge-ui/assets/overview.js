// The overview page: the last runs, the failing tests of the latest run, and the registered
// models with the version their production alias points at, and the schedules' next and last
// ticks (GET /api/overview). With no run recorded yet it says so and how to make one.
"use strict";

(() => {
  const { el, badge, runLink, modelLink, time, number, getJSON, setStatus, fillRuns } = LF;

  function fillFailing(data) {
    const title = document.getElementById("failing-title");
    const tbody = document.querySelector("#failing tbody");
    tbody.replaceChildren();
    const latest = data.latest_run;
    if (latest) {
      title.replaceChildren("Failing tests of the latest run (", runLink(latest.run_id), ")");
    }
    if (data.failing_tests.length === 0) {
      const text = latest ? "No test failed in the latest run." : "No run recorded yet.";
      tbody.appendChild(el("tr", {}, el("td", { colspan: 4, class: "empty" }, text)));
      return;
    }
    for (const t of data.failing_tests) {
      tbody.appendChild(
        el(
          "tr",
          {},
          el("td", { class: "mono", title: t.unique_id }, el("a", { href: "/quality/tests/" + encodeURIComponent(t.unique_id) }, t.name)),
          el("td", {}, badge(t.status)),
          el("td", { class: "num" }, t.attempt),
          el("td", { class: "error" }, t.error || t.message || "")
        )
      );
    }
  }

  function fillModels(data) {
    document.getElementById("production-title").textContent = data.production_alias;
    const tbody = document.querySelector("#models tbody");
    tbody.replaceChildren();
    if (data.models.length === 0) {
      tbody.appendChild(el("tr", {}, el("td", { colspan: 6, class: "empty" }, "No model registered yet.")));
      return;
    }
    for (const m of data.models) {
      const aliases = m.aliases.map(([alias, version]) => alias + " → v" + version).join(", ");
      tbody.appendChild(
        el(
          "tr",
          {},
          el("td", {}, modelLink(m.name)),
          el("td", { class: "num" }, number(m.versions)),
          el("td", { class: "num" }, "v" + m.latest),
          el("td", { class: "num" }, m.production === null ? "—" : "v" + m.production),
          el("td", {}, aliases),
          el("td", {}, time(m.latest_created_at))
        )
      );
    }
  }

  function fillSchedules(data) {
    const tbody = document.querySelector("#schedules tbody");
    tbody.replaceChildren();
    const s = data.schedules;
    if (s.schedules.length === 0) {
      const text = s.unavailable ? "Unknown: " + s.unavailable + "." : "No schedules in lakeforge.yml.";
      tbody.appendChild(el("tr", {}, el("td", { colspan: 7, class: "empty" }, text)));
      return;
    }
    for (const x of s.schedules) {
      const last = x.last_tick;
      tbody.appendChild(
        el(
          "tr",
          {},
          el("td", { class: "mono" }, x.name),
          el("td", { class: "mono" }, x.cron + " (" + x.timezone + ")"),
          el("td", {}, x.command),
          el("td", {}, x.next_tick ? time(x.next_tick) : "never"),
          el("td", {}, last ? time(last.tick_at) : "—"),
          el("td", {}, last ? badge(last.status) : ""),
          el("td", {}, last && last.run_id ? runLink(last.run_id) : "")
        )
      );
    }
  }

  async function load() {
    try {
      const data = await getJSON("/api/overview");
      fillRuns(document.querySelector("#runs tbody"), data.runs, "No run recorded yet.");
      fillFailing(data);
      fillModels(data);
      fillSchedules(data);
      document.getElementById("first-run").hidden = data.runs.length > 0;
      setStatus("");
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  load();
})();
