// One table's page (GET /api/tables/{relation}): its columns with their descriptions and
// tests, its Delta history, a page of its rows and, on request, its column profiles. `#v3` in
// the address shows version 3 (time travel): picking a version in the history sets it.
"use strict";

(() => {
  const { el, time, number, metric, getJSON, setStatus } = LF;
  const api = "/api/tables/" + encodeURIComponent(document.body.dataset.relation);
  const LIMIT = 50;
  let offset = 0;
  let shown = null; // the version the page shows (null: a view)

  function wanted() {
    const m = /^#v(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : null;
  }

  // `?version=N` when a version was picked, else nothing (the latest).
  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) q.set(k, String(v));
    const s = q.toString();
    return s ? "?" + s : "";
  }

  function field(dl, label, value) {
    dl.appendChild(el("dt", {}, label));
    dl.appendChild(el("dd", {}, value));
  }

  function testList(tests) {
    return tests.map((t) => el("span", { class: "alias", title: t.unique_id }, t.test || t.name));
  }

  function fillSummary(data) {
    document.getElementById("title").textContent = "Table " + data.name;
    const dl = document.getElementById("summary");
    dl.replaceChildren();
    field(dl, "Relation", el("span", { class: "mono" }, data.relation));
    field(dl, "Unique id", el("span", { class: "mono" }, data.unique_id));
    field(dl, "Type", data.resource_type + (data.materialized ? " · " + data.materialized : ""));
    if (data.kind === "table") {
      field(dl, "Version shown", "v" + data.version + (data.version === data.latest ? " (latest)" : " of v0–v" + data.latest));
      field(dl, "Rows", number(data.rows.rows) + (data.rows.from_stats ? " (from the Delta log's statistics)" : " (counted)"));
    } else {
      field(dl, "Stored as", "a view");
    }
    document.getElementById("description").textContent = data.description || "";
    const view = document.getElementById("view");
    view.hidden = data.kind !== "view";
    document.getElementById("view-sql").textContent = data.kind === "view" ? data.sql : "";
    document.getElementById("history-section").hidden = data.kind !== "table";
  }

  function fillColumns(data) {
    document.getElementById("columns-title").textContent =
      "Columns" + (data.kind === "table" ? " at v" + data.version : "");
    const tbody = document.querySelector("#columns tbody");
    tbody.replaceChildren();
    for (const c of data.columns) {
      tbody.appendChild(
        el(
          "tr",
          c.in_table ? {} : { class: "absent" },
          el("td", { class: "mono" }, c.name),
          el("td", { class: "mono" }, c.in_table ? c.data_type : "not in the table" + (c.data_type ? " (declared " + c.data_type + ")" : "")),
          el("td", {}, c.nullable === null ? "" : c.nullable ? "yes" : "no"),
          el("td", { class: "description" }, c.description),
          el("td", {}, testList(c.tests))
        )
      );
    }
    const whole = document.getElementById("relation-tests");
    whole.replaceChildren();
    if (data.tests.length > 0) whole.append("Tests of the whole relation: ", ...testList(data.tests));
  }

  function parameters(p) {
    return Object.entries(p)
      .map(([k, v]) => k + "=" + (typeof v === "string" ? v : JSON.stringify(v)))
      .join(", ");
  }

  function optional(n) {
    return n === null || n === undefined ? "" : number(n);
  }

  function fillHistory(data) {
    const tbody = document.querySelector("#history tbody");
    tbody.replaceChildren();
    for (const c of data.history || []) {
      const row = el(
        "tr",
        { class: "clickable" + (c.version === data.version ? " selected" : ""), "data-version": c.version },
        el("td", { class: "num" }, el("a", { href: "#v" + c.version }, "v" + c.version)),
        el("td", {}, c.timestamp_ms === null ? "" : time(new Date(c.timestamp_ms).toISOString())),
        el("td", {}, c.operation || ""),
        el("td", { class: "mono" }, parameters(c.parameters)),
        el("td", { class: "num" }, optional(c.rows_written)),
        el("td", { class: "num" }, optional(c.files_added)),
        el("td", { class: "num" }, optional(c.files_removed))
      );
      row.addEventListener("click", (e) => {
        if (e.target.closest("a")) return; // the version's link sets the address itself
        location.hash = "v" + c.version;
      });
      tbody.appendChild(row);
    }
  }

  function cellText(v) {
    return v === null ? el("span", { class: "null" }, "null") : String(v);
  }

  function fillRows(page) {
    document.getElementById("preview-title").textContent =
      "Rows" + (page.version === null ? "" : " at v" + page.version);
    const head = document.querySelector("#rows thead");
    head.replaceChildren(el("tr", {}, page.columns.map((c) => el("th", { title: c.data_type }, c.name))));
    const tbody = document.querySelector("#rows tbody");
    tbody.replaceChildren();
    if (page.rows.length === 0) {
      tbody.appendChild(el("tr", {}, el("td", { colspan: Math.max(page.columns.length, 1), class: "empty" }, offset === 0 ? "No rows." : "No rows past this point.")));
    }
    for (const r of page.rows) {
      tbody.appendChild(el("tr", {}, r.map((v) => el("td", { class: typeof v === "number" ? "num" : "" }, cellText(v)))));
    }
    const last = page.offset + page.rows.length;
    document.getElementById("page-info").textContent =
      page.rows.length === 0 ? "" : "rows " + number(page.offset + 1) + "–" + number(last);
    document.getElementById("prev").disabled = page.offset === 0;
    document.getElementById("next").disabled = !page.more;
    const cut = document.getElementById("cut");
    cut.hidden = page.cut_cells === 0;
    cut.textContent = page.cut_cells
      ? number(page.cut_cells) + " long text" + (page.cut_cells === 1 ? " is" : "s are") + " cut to " + page.max_cell_chars + " characters (ending in …)."
      : "";
  }

  async function loadRows() {
    const page = await getJSON(api + "/rows" + query({ version: shown, offset: offset || null, limit: LIMIT }));
    fillRows(page);
  }

  function resetProfile() {
    document.getElementById("profile").hidden = true;
    document.getElementById("profile-status").hidden = true;
  }

  async function loadProfile() {
    const status = document.getElementById("profile-status");
    status.hidden = false;
    status.classList.remove("error");
    status.textContent = "Profiling…";
    try {
      const p = await getJSON(api + "/profile" + query({ version: shown }));
      const tbody = document.querySelector("#profile tbody");
      tbody.replaceChildren();
      for (const c of p.columns) {
        tbody.appendChild(
          el(
            "tr",
            {},
            el("td", { class: "mono" }, c.name),
            el("td", { class: "mono" }, c.data_type),
            el("td", { class: "num" }, number(c.nulls)),
            el("td", { class: "num" }, c.distinct_approx === null ? "—" : number(c.distinct_approx)),
            el("td", { class: "mono" }, c.min === null ? "—" : c.min),
            el("td", { class: "mono" }, c.max === null ? "—" : c.max),
            el("td", { class: "num" }, c.mean === null ? "—" : metric(c.mean))
          )
        );
      }
      document.getElementById("profile").hidden = false;
      status.textContent = number(p.rows) + " rows" + (p.version === null ? "" : " at v" + p.version) + ".";
    } catch (e) {
      status.textContent = e.message;
      status.classList.add("error");
    }
  }

  // The page at the version the address asks for (the latest without one).
  async function load() {
    setStatus("Loading…");
    offset = 0;
    resetProfile();
    try {
      const data = await getJSON(api + query({ version: wanted() }));
      shown = data.kind === "table" ? data.version : null;
      fillSummary(data);
      fillColumns(data);
      fillHistory(data);
      await loadRows();
      setStatus("");
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  async function turn(by) {
    const before = offset;
    offset = Math.max(0, offset + by);
    try {
      await loadRows();
      setStatus("");
    } catch (e) {
      offset = before;
      setStatus(e.message, true);
    }
  }

  document.getElementById("prev").addEventListener("click", () => turn(-LIMIT));
  document.getElementById("next").addEventListener("click", () => turn(LIMIT));
  document.getElementById("profile-button").addEventListener("click", loadProfile);
  window.addEventListener("hashchange", load);
  load();
})();
