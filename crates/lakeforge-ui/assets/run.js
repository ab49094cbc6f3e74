// One run's page (GET /api/runs/{id}): its summary, a timeline of its node attempts drawn as
// SVG (one row per node, one bar per attempt, coloured by status; an attempt still running
// grows up to now at each refresh), the details of the node
// picked (with its compiled SQL, GET /api/runs/{id}/nodes/{node}/sql, and whether it is the
// SQL that ran), and every attempt in a table. While the run's status is `running` the page
// asks again every few seconds and redraws.
"use strict";

(() => {
  const { el, svg, badge, statusClass, time, duration, number, getJSON, setStatus } = LF;
  const runId = document.body.dataset.runId;
  const REFRESH_MS = 2000;
  const LABEL_WIDTH = 280;
  const ROW_HEIGHT = 24;
  const AXIS_HEIGHT = 26;
  let selected = null;
  let latest = null;
  // Compiled SQL by node, asked once per node picked.
  const sqlOf = new Map();

  const ms = (iso) => {
    const t = Date.parse(iso || "");
    return isNaN(t) ? null : t;
  };

  // Nodes in the order their first attempt started, each with its attempts in order.
  function rowsOf(nodes) {
    const rows = new Map();
    for (const n of nodes) {
      if (!rows.has(n.unique_id)) rows.set(n.unique_id, []);
      rows.get(n.unique_id).push(n);
    }
    for (const attempts of rows.values()) attempts.sort((a, b) => a.attempt - b.attempt);
    return [...rows.entries()];
  }

  function short(text, max) {
    return text.length <= max ? text : text.slice(0, max - 1) + "…";
  }

  // How long an attempt took, or has been running (its start recorded, its end not yet).
  function elapsed(n) {
    const start = ms(n.started_at);
    return n.status === "running" && start !== null ? Math.max(0, Date.now() - start) / 1000 : n.elapsed_s;
  }

  function describe(n) {
    const took = n.status === "running" ? "running for " : "took ";
    const lines = [n.unique_id, "attempt " + n.attempt + " · " + n.status, "started " + time(n.started_at) + " UTC", took + duration(elapsed(n))];
    if (n.rows_affected !== null) lines.push("rows " + number(n.rows_affected));
    if (n.delta_version !== null) lines.push("Delta version " + n.delta_version);
    if (n.error) lines.push("", n.error);
    return lines.join("\n");
  }

  function drawTimeline(run, nodes) {
    const box = document.getElementById("timeline");
    const rows = rowsOf(nodes);
    if (rows.length === 0) {
      box.replaceChildren(el("p", { class: "empty" }, run.status === "running" ? "No node has started yet." : "This run recorded no node."));
      return;
    }
    // The time span: the run's start to its end (now, while it runs), widened to every bar.
    const starts = nodes.map((n) => ms(n.started_at)).filter((t) => t !== null);
    const ends = nodes.map((n) => ms(n.finished_at)).filter((t) => t !== null);
    let t0 = Math.min(...starts, ms(run.started_at) ?? Infinity);
    let t1 = Math.max(...ends, ms(run.finished_at) ?? -Infinity, run.status === "running" ? Date.now() : -Infinity);
    if (!isFinite(t0)) t0 = 0;
    if (!isFinite(t1) || t1 <= t0) t1 = t0 + 1000;
    const span = t1 - t0;
    const chartWidth = Math.max(480, (box.clientWidth || 1000) - LABEL_WIDTH - 130);
    const width = LABEL_WIDTH + chartWidth + 120;
    const height = AXIS_HEIGHT + rows.length * ROW_HEIGHT + 6;
    const x = (t) => LABEL_WIDTH + ((t - t0) / span) * chartWidth;
    const chart = svg("svg", { width, height, viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": "Timeline of the run's nodes" });

    // The axis: seconds since the run started.
    const ticks = 6;
    for (let i = 0; i <= ticks; i++) {
      const t = t0 + (span * i) / ticks;
      const tx = x(t);
      chart.appendChild(svg("line", { class: "grid", x1: tx, x2: tx, y1: AXIS_HEIGHT - 6, y2: height }));
      chart.appendChild(svg("text", { class: "axis", x: tx, y: AXIS_HEIGHT - 10, "text-anchor": i === 0 ? "start" : i === ticks ? "end" : "middle" }, "+" + duration((t - t0) / 1000)));
    }

    rows.forEach(([id, attempts], i) => {
      const y = AXIS_HEIGHT + i * ROW_HEIGHT;
      const last = attempts[attempts.length - 1];
      const row = svg("g", { class: "row" + (id === selected ? " selected" : ""), "data-node": id });
      row.appendChild(svg("rect", { class: "row-bg", x: 0, y, width, height: ROW_HEIGHT }));
      row.appendChild(svg("text", { x: 8, y: y + ROW_HEIGHT / 2 + 4 }, short(last.name + " (" + last.resource_type + ")", 38), svg("title", {}, id)));
      let end = LABEL_WIDTH;
      for (const a of attempts) {
        const start = ms(a.started_at);
        if (start === null) continue;
        const bx = x(start);
        const bw = Math.max(2, (Math.max(0, elapsed(a)) * 1000 / span) * chartWidth);
        const cls = "bar " + statusClass(a.status) + (a.attempt < last.attempt ? " retried" : "");
        row.appendChild(svg("rect", { class: cls, x: bx, y: y + 4, width: bw, height: ROW_HEIGHT - 8 }, svg("title", {}, describe(a))));
        end = Math.max(end, bx + bw);
      }
      const notes = [];
      if (attempts.length > 1) notes.push(attempts.length + " attempts");
      if (last.rows_affected !== null) notes.push(number(last.rows_affected) + (last.rows_affected === 1 ? " row" : " rows"));
      if (last.delta_version !== null) notes.push("v" + last.delta_version);
      if (notes.length) row.appendChild(svg("text", { class: "bar-label", x: end + 6, y: y + ROW_HEIGHT / 2 + 4 }, notes.join(" · ")));
      row.addEventListener("click", () => select(id));
      chart.appendChild(row);
    });
    box.replaceChildren(chart);
  }

  function drawLegend(nodes) {
    const seen = [...new Set(nodes.map((n) => n.status))];
    document.getElementById("legend").replaceChildren(...seen.map((s) => el("span", { class: statusClass(s) }, s)));
  }

  function field(list, name, value) {
    if (value === null || value === undefined || value === "") return;
    list.appendChild(el("dt", {}, name));
    list.appendChild(el("dd", {}, value));
  }

  function drawSummary(run) {
    document.getElementById("title").replaceChildren("Run ", el("span", { class: "mono" }, run.run_id));
    const list = document.getElementById("summary");
    list.replaceChildren();
    field(list, "Command", run.command);
    field(list, "Status", badge(run.status));
    field(list, "Started (UTC)", time(run.started_at));
    field(list, "Finished (UTC)", time(run.finished_at));
    field(list, "Elapsed", duration(run.elapsed_s));
    field(list, "Nodes", run.nodes_ok + " ok, " + run.nodes_failed + " failed, " + run.nodes_skipped + " skipped");
    field(list, "Arguments", el("code", {}, run.args));
  }

  function drawDetail() {
    const section = document.getElementById("detail");
    const attempts = latest ? latest.nodes.filter((n) => n.unique_id === selected) : [];
    if (attempts.length === 0) {
      section.hidden = true;
      return;
    }
    const last = attempts[attempts.length - 1];
    section.hidden = false;
    document.getElementById("detail-title").replaceChildren(el("span", { class: "mono" }, last.unique_id));
    const list = document.getElementById("detail-fields");
    list.replaceChildren();
    field(list, "Type", last.resource_type);
    field(list, "Status", badge(last.status));
    field(list, "Attempts", String(attempts.length));
    field(list, "Started (UTC)", time(last.started_at));
    field(list, "Finished (UTC)", time(last.finished_at));
    field(list, "Elapsed", duration(elapsed(last)));
    field(list, "Rows", number(last.rows_affected));
    field(list, "Delta version", last.delta_version === null ? "" : String(last.delta_version));
    if (last.delta_version !== null) {
      const href = "/tables/" + encodeURIComponent(last.unique_id) + "#v" + last.delta_version;
      field(list, "Table", el("a", { href: href }, "the table at this version"));
    }
    field(list, "Message", last.error ? "" : last.message);
    const error = document.getElementById("detail-error");
    const errors = attempts.filter((a) => a.error).map((a) => "attempt " + a.attempt + ": " + a.error);
    error.hidden = errors.length === 0;
    error.textContent = errors.join("\n\n");
    drawSql(last);
  }

  function showSql(id, answer) {
    if (id !== selected) return;
    const note = document.getElementById("detail-sql-note");
    const pre = document.getElementById("detail-sql");
    note.classList.toggle("error", Boolean(answer.error));
    note.textContent = answer.error || answer.note;
    pre.hidden = !answer.sql;
    pre.textContent = answer.sql || "";
  }

  function drawSql(node) {
    const id = node.unique_id;
    if (node.resource_type === "seed") {
      showSql(id, { note: "A seed loads its CSV file: it has no compiled SQL." });
      return;
    }
    if (sqlOf.has(id)) {
      showSql(id, sqlOf.get(id));
      return;
    }
    showSql(id, { note: "Loading…" });
    getJSON("/api/runs/" + encodeURIComponent(runId) + "/nodes/" + encodeURIComponent(id) + "/sql")
      .then((answer) => {
        sqlOf.set(id, answer);
        showSql(id, answer);
      })
      .catch((e) => showSql(id, { error: e.message }));
  }

  function drawTable(nodes) {
    const tbody = document.querySelector("#nodes tbody");
    tbody.replaceChildren();
    if (nodes.length === 0) {
      tbody.appendChild(el("tr", {}, el("td", { colspan: 10, class: "empty" }, "No node execution recorded.")));
      return;
    }
    for (const n of nodes) {
      const row = el(
        "tr",
        { class: "clickable" + (n.unique_id === selected ? " selected" : "") },
        el("td", { class: "mono", title: n.unique_id }, n.name),
        el("td", {}, n.resource_type),
        el("td", {}, badge(n.status)),
        el("td", { class: "num" }, n.attempt),
        el("td", {}, time(n.started_at)),
        el("td", {}, time(n.finished_at)),
        el("td", { class: "num" }, duration(elapsed(n))),
        el("td", { class: "num" }, number(n.rows_affected)),
        el("td", { class: "num" }, n.delta_version === null ? "" : n.delta_version),
        el("td", { class: "error" }, n.error || "")
      );
      row.addEventListener("click", () => select(n.unique_id));
      tbody.appendChild(row);
    }
  }

  function draw() {
    if (!latest) return;
    drawSummary(latest.run);
    drawLegend(latest.nodes);
    drawTimeline(latest.run, latest.nodes);
    drawDetail();
    drawTable(latest.nodes);
  }

  function select(id) {
    selected = selected === id ? null : id;
    draw();
  }

  async function load() {
    try {
      latest = await getJSON("/api/runs/" + encodeURIComponent(runId));
      draw();
      const running = latest.run.status === "running";
      setStatus(running ? "Running: refreshed " + new Date().toLocaleTimeString() : "");
      if (running) setTimeout(load, REFRESH_MS);
    } catch (e) {
      setStatus(e.message, true);
      // A restart of the server or a passing store error should not end the live view.
      if (latest && latest.run.status === "running") setTimeout(load, REFRESH_MS * 3);
    }
  }

  window.addEventListener("resize", draw);
  load();
})();
