// The lineage page: the project's graph (GET /api/lineage) drawn as SVG, nodes in columns by
// their depth (the longest path from a root), ordered within a column by a barycenter sweep
// to reduce crossings. The layout is computed once (again only when tests are shown or
// hidden); pan and zoom change the SVG's viewBox and nothing else, so the page stays usable at
// thousands of nodes. A selector box asks the API (GET /api/lineage?select=...).
//
// The first view fits the whole graph to the screen, as an outline: below a zoom level where
// names could be read, labels are hidden (a CSS class, so zooming never redraws), and search,
// a picked node or `?node=ID` in the address zoom in to where names show. A picked table's
// columns come from GET /api/lineage/{id}/columns; choosing one lists its upstream (or
// downstream) columns across models and lights their tables on the graph.
"use strict";

(() => {
  const { el, svg, getJSON, setStatus } = LF;

  const COL_W = 260; // column pitch
  const NODE_W = 200;
  const NODE_H = 22;
  const ROW_H = 30; // row pitch
  const MAX_LABEL = 28; // characters shown in a node; the whole name is its tooltip
  const TYPES = ["source", "seed", "model", "snapshot", "ml_model", "saved_query", "test", "unit_test"];
  const HIDDEN_BY_DEFAULT = new Set(["test", "unit_test"]);
  // Below this many screen pixels per graph unit the 12-unit labels are under 6 px: hidden.
  const LABELS_FROM = 0.5;
  // Where search and picking zoom in to: names readable (1 px per unit).
  const READABLE = 1;
  // Nodes whose columns the API traces (tables; an ML model answers that it has none).
  const TABLE_TYPES = new Set(["model", "seed", "source", "ml_model"]);

  const graphBox = document.getElementById("graph");
  const searchBox = document.getElementById("search");
  const selectBox = document.getElementById("select");
  const showTests = document.getElementById("show-tests");

  let data = null; // the API's answer
  let byId = new Map(); // unique id → API node
  let view = null; // the drawn graph: { svg, nodes: Map id → {x, y, g}, edges: [{from, to, path}], box }
  let viewBox = null; // { x, y, w, h }
  let focus = null; // Set of ids lit (a node's up/downstream, or a selection), or null
  let current = null; // the clicked node's id

  function typeClass(type) {
    return "t-" + (TYPES.includes(type) ? type : "other");
  }

  function label(name) {
    return name.length > MAX_LABEL ? name.slice(0, MAX_LABEL - 1) + "…" : name;
  }

  // ---- layout (pure: ids and edges in, positions out) ----

  // Columns of ids: each node's column is its longest path from a root; within a column,
  // nodes are ordered by the mean position of their parents, then of their children.
  function layout(ids, edges) {
    const parents = new Map(ids.map((id) => [id, []]));
    const children = new Map(ids.map((id) => [id, []]));
    for (const [p, c] of edges) {
      parents.get(c).push(p);
      children.get(p).push(c);
    }
    // Kahn's order gives each node's depth after all its parents'.
    const indegree = new Map(ids.map((id) => [id, parents.get(id).length]));
    const depth = new Map();
    const queue = ids.filter((id) => indegree.get(id) === 0);
    queue.forEach((id) => depth.set(id, 0));
    for (let i = 0; i < queue.length; i++) {
      const id = queue[i];
      for (const c of children.get(id)) {
        depth.set(c, Math.max(depth.get(c) || 0, depth.get(id) + 1));
        indegree.set(c, indegree.get(c) - 1);
        if (indegree.get(c) === 0) queue.push(c);
      }
    }
    // A cycle cannot load, but never lose a node: anything left goes in the first column.
    ids.forEach((id) => depth.has(id) || depth.set(id, 0));

    const columns = [];
    for (const id of ids) {
      const d = depth.get(id);
      (columns[d] = columns[d] || []).push(id);
    }
    for (let d = 0; d < columns.length; d++) columns[d] = columns[d] || [];
    const position = new Map();
    const place = (col) => col.forEach((id, i) => position.set(id, i - col.length / 2));
    columns.forEach(place);
    const sortBy = (col, neighbours) => {
      const key = new Map(
        col.map((id) => {
          const ns = neighbours.get(id);
          if (ns.length === 0) return [id, position.get(id)];
          return [id, ns.reduce((s, n) => s + position.get(n), 0) / ns.length];
        })
      );
      col.sort((a, b) => key.get(a) - key.get(b));
      place(col);
    };
    for (let sweep = 0; sweep < 2; sweep++) {
      for (let d = 1; d < columns.length; d++) sortBy(columns[d], parents);
      for (let d = columns.length - 2; d >= 0; d--) sortBy(columns[d], children);
    }
    const tallest = Math.max(1, ...columns.map((c) => c.length));
    const positions = new Map();
    columns.forEach((col, d) => {
      const top = ((tallest - col.length) * ROW_H) / 2;
      col.forEach((id, i) => positions.set(id, { x: d * COL_W, y: top + i * ROW_H }));
    });
    return {
      positions,
      width: Math.max(1, columns.length - 1) * COL_W + NODE_W,
      height: tallest * ROW_H,
    };
  }

  // ---- drawing ----

  function visibleGraph() {
    const shown = data.nodes.filter((n) => showTests.checked || !HIDDEN_BY_DEFAULT.has(n.resource_type));
    const ids = new Set(shown.map((n) => n.unique_id));
    const edges = data.edges.filter(([p, c]) => ids.has(p) && ids.has(c));
    return { ids: shown.map((n) => n.unique_id), edges };
  }

  function draw() {
    const { ids, edges } = visibleGraph();
    const { positions, width, height } = layout(ids, edges);
    const root = svg("svg", { xmlns: "http://www.w3.org/2000/svg", role: "img", "aria-label": "Lineage graph" });
    const edgeLayer = svg("g", { class: "edges" });
    const nodeLayer = svg("g", { class: "nodes" });
    const drawnEdges = [];
    for (const [p, c] of edges) {
      const a = positions.get(p);
      const b = positions.get(c);
      const x1 = a.x + NODE_W;
      const y1 = a.y + NODE_H / 2;
      const x2 = b.x;
      const y2 = b.y + NODE_H / 2;
      const mid = (x1 + x2) / 2;
      const path = svg("path", { class: "edge", d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` });
      edgeLayer.appendChild(path);
      drawnEdges.push({ from: p, to: c, path });
    }
    const drawnNodes = new Map();
    for (const id of ids) {
      const n = byId.get(id);
      const { x, y } = positions.get(id);
      const g = svg(
        "g",
        { class: "node", transform: `translate(${x},${y})`, "data-id": id },
        svg("title", {}, n.name + " (" + n.resource_type + ")"),
        svg("rect", { class: typeClass(n.resource_type), width: NODE_W, height: NODE_H }),
        svg("text", { x: 6, y: 15 }, label(n.name))
      );
      nodeLayer.appendChild(g);
      drawnNodes.set(id, { x, y, g });
    }
    root.append(edgeLayer, nodeLayer);
    graphBox.replaceChildren(root);
    view = { svg: root, nodes: drawnNodes, edges: drawnEdges, width, height };
    fit();
    attachPanZoom(root);
    applyHighlight();
    applySearch(false);
  }

  function legend() {
    const present = new Set(data.nodes.map((n) => n.resource_type));
    const box = document.getElementById("legend");
    box.replaceChildren(
      ...TYPES.concat([...present].filter((t) => !TYPES.includes(t)))
        .filter((t) => present.has(t))
        .map((t) => {
          const count = data.nodes.filter((n) => n.resource_type === t).length;
          return el("span", { class: typeClass(t) }, t + " (" + count + ")");
        })
    );
  }

  // ---- viewBox: pan and zoom ----

  function setViewBox(vb) {
    viewBox = vb;
    view.svg.setAttribute("viewBox", `${vb.x} ${vb.y} ${vb.w} ${vb.h}`);
    graphBox.classList.toggle("far", 1 / scale() < LABELS_FROM);
  }

  function aspect() {
    const r = view.svg.getBoundingClientRect();
    return r.width > 0 && r.height > 0 ? r.height / r.width : 0.6;
  }

  function fit() {
    const pad = 20;
    let w = view.width + 2 * pad;
    let h = view.height + 2 * pad;
    const a = aspect();
    if (h / w < a) h = w * a;
    else w = h / a;
    setViewBox({ x: view.width / 2 - w / 2, y: view.height / 2 - h / 2, w, h });
  }

  function centreOn(x, y) {
    setViewBox({ x: x - viewBox.w / 2, y: y - viewBox.h / 2, w: viewBox.w, h: viewBox.h });
  }

  // Centre on (x, y), zoomed in at least to where names are readable.
  function zoomTo(x, y) {
    const k = Math.min(1, 1 / (READABLE * scale()));
    setViewBox({ x: x - (viewBox.w * k) / 2, y: y - (viewBox.h * k) / 2, w: viewBox.w * k, h: viewBox.h * k });
  }

  // Zoom by `factor` (below 1: in) around the point (px, py) of the graph.
  function zoomAround(px, py, factor) {
    const w = Math.max(50, Math.min(view.width * 20 + 1000, viewBox.w * factor));
    const k = w / viewBox.w;
    setViewBox({ x: px - (px - viewBox.x) * k, y: py - (py - viewBox.y) * k, w, h: viewBox.h * k });
  }

  // Screen pixels → graph units.
  function scale() {
    const r = view.svg.getBoundingClientRect();
    return r.width > 0 ? viewBox.w / r.width : 1;
  }

  function attachPanZoom(root) {
    let drag = null;
    root.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = root.getBoundingClientRect();
      const factor = Math.exp(Math.max(-0.5, Math.min(0.5, e.deltaY * 0.0015)));
      const px = viewBox.x + ((e.clientX - r.left) / r.width) * viewBox.w;
      const py = viewBox.y + ((e.clientY - r.top) / r.height) * viewBox.h;
      zoomAround(px, py, factor);
    }, { passive: false });
    root.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, vb: viewBox, s: scale(), moved: false };
      root.setPointerCapture(e.pointerId);
    });
    root.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      drag.moved = true;
      root.classList.add("dragging");
      setViewBox({ x: drag.vb.x - dx * drag.s, y: drag.vb.y - dy * drag.s, w: drag.vb.w, h: drag.vb.h });
    });
    const end = (e) => {
      if (!drag) return;
      const wasClick = !drag.moved;
      drag = null;
      root.classList.remove("dragging");
      if (e.type === "pointerup" && wasClick) {
        // Pointer capture retargets the event: find what is under the pointer.
        const hit = document.elementFromPoint(e.clientX, e.clientY);
        const g = hit && hit.closest ? hit.closest("g.node") : null;
        if (g) pickNode(g.getAttribute("data-id"));
        else clearFocus();
      }
    };
    root.addEventListener("pointerup", end);
    root.addEventListener("pointercancel", end);
  }

  // ---- highlighting ----

  function walk(start, next) {
    const seen = new Set([start]);
    const stack = [start];
    while (stack.length) {
      const id = stack.pop();
      for (const n of next.get(id) || []) {
        if (!seen.has(n)) {
          seen.add(n);
          stack.push(n);
        }
      }
    }
    return seen;
  }

  function adjacency() {
    const up = new Map();
    const down = new Map();
    for (const [p, c] of data.edges) {
      (up.get(c) || up.set(c, []).get(c)).push(p);
      (down.get(p) || down.set(p, []).get(p)).push(c);
    }
    return { up, down };
  }

  function applyHighlight() {
    if (!view) return;
    graphBox.classList.toggle("focused", focus !== null);
    for (const [id, n] of view.nodes) {
      n.g.classList.toggle("lit", focus !== null && focus.has(id));
      n.g.classList.toggle("current", id === current);
    }
    for (const e of view.edges) {
      e.path.classList.toggle("lit", focus !== null && focus.has(e.from) && focus.has(e.to));
    }
  }

  // The node's upstream and downstream, lit.
  function lineageOf(id) {
    const { up, down } = adjacency();
    return { upstream: walk(id, up), downstream: walk(id, down) };
  }

  function pickNode(id) {
    const n = byId.get(id);
    if (!n) return;
    const { upstream, downstream } = lineageOf(id);
    current = id;
    focus = new Set([...upstream, ...downstream]);
    applyHighlight();
    showDetail(n, upstream.size - 1, downstream.size - 1);
    showColumns(id);
  }

  // Pick a node and bring it into view, readable.
  function goTo(id) {
    pickNode(id);
    const drawn = view && view.nodes.get(id);
    if (drawn) zoomTo(drawn.x + NODE_W / 2, drawn.y + NODE_H / 2);
  }

  function clearFocus() {
    focus = null;
    current = null;
    columnNode = null;
    applyHighlight();
    document.getElementById("detail").hidden = true;
  }

  function showDetail(n, upstream, downstream) {
    document.getElementById("detail-title").textContent = n.name;
    const rows = [
      ["Unique id", n.unique_id],
      ["Type", n.resource_type],
      ["Package", n.package],
      ["Materialized", n.materialized],
      ["Path", n.path],
      ["Tags", n.tags && n.tags.length ? n.tags.join(", ") : null],
      ["Upstream", upstream + " node" + (upstream === 1 ? "" : "s")],
      ["Downstream", downstream + " node" + (downstream === 1 ? "" : "s")],
      ["Table", ["model", "seed", "snapshot"].includes(n.resource_type) && n.materialized !== "ephemeral"
        ? el("a", { href: "/tables/" + encodeURIComponent(n.unique_id) }, "columns, history and rows")
        : null],
    ].filter(([, v]) => v !== null && v !== undefined && v !== "");
    document
      .getElementById("detail-fields")
      .replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { class: "mono" }, v)]));
    document.getElementById("detail-description").textContent = n.description || "";
    document.getElementById("detail").hidden = false;
  }

  // ---- search ----

  function applySearch(centre) {
    if (!view) return;
    const q = searchBox.value.trim().toLowerCase();
    const hits = [];
    for (const [id, n] of view.nodes) {
      const node = byId.get(id);
      const hit = q !== "" && (node.name.toLowerCase().includes(q) || id.toLowerCase().includes(q));
      n.g.classList.toggle("match", hit);
      if (hit) hits.push(n);
    }
    if (q === "") {
      setStatus("");
      return;
    }
    setStatus(hits.length === 0 ? "No node matches “" + searchBox.value.trim() + "”." : hits.length + " matching node" + (hits.length === 1 ? "" : "s") + ".");
    if (centre && hits.length > 0) {
      const cx = hits.reduce((s, n) => s + n.x, 0) / hits.length + NODE_W / 2;
      const cy = hits.reduce((s, n) => s + n.y, 0) / hits.length + NODE_H / 2;
      // A few matches are worth reading; many are better seen where they lie.
      if (hits.length <= 20) zoomTo(cx, cy);
      else centreOn(cx, cy);
    }
    return hits;
  }

  // ---- column lineage ----

  const columnsBox = document.getElementById("columns");
  const columnList = document.getElementById("column-list");
  const columnTrace = document.getElementById("column-trace");
  const columnDirection = document.getElementById("col-direction");
  const columnAnswers = new Map(); // `${id} ${direction}` → the API's answer
  let columnNode = null; // the node whose columns the panel shows

  function columnStatus(text, isError) {
    const node = document.getElementById("columns-status");
    node.textContent = text;
    node.classList.toggle("error", Boolean(isError));
    node.hidden = text === "";
  }

  async function showColumns(id) {
    columnNode = id;
    columnList.replaceChildren();
    columnTrace.replaceChildren();
    if (!TABLE_TYPES.has(byId.get(id).resource_type)) {
      columnsBox.hidden = true;
      return;
    }
    columnsBox.hidden = false;
    const direction = columnDirection.value;
    const key = id + " " + direction;
    let answer = columnAnswers.get(key);
    if (!answer) {
      columnStatus("Tracing its columns…");
      try {
        answer = await getJSON(
          "/api/lineage/" + encodeURIComponent(id) + "/columns" + (direction === "down" ? "?downstream=true" : "")
        );
      } catch (e) {
        if (columnNode === id) columnStatus(e.message, true);
        return;
      }
      columnAnswers.set(key, answer);
    }
    // Another node (or direction) was picked while this one was traced.
    if (columnNode !== id || columnDirection.value !== direction) return;
    if (answer.note) {
      columnStatus(answer.note);
      return;
    }
    columnStatus(
      answer.columns.length === 0
        ? "No columns."
        : answer.columns.length + " column" + (answer.columns.length === 1 ? "" : "s") + ": choose one for its lineage."
    );
    columnList.replaceChildren(
      ...answer.columns.map((c) => {
        const button = el("button", { type: "button", class: "link mono", "data-column": c }, c);
        button.addEventListener("click", () => chooseColumn(answer, c, button));
        return el("li", {}, button);
      })
    );
  }

  // A column of a trace as the API names it: its table (or bare relation) and name.
  function columnKey(c) {
    return (c.node === null ? "relation " + c.relation : c.node) + "\u0000" + c.column;
  }

  // The columns `column` reaches in `answer`, depth first as the CLI prints them: direct
  // edges followed, indirect ones listed; a column reached again is not expanded again.
  function traceLines(answer, column) {
    const up = answer.direction === "upstream";
    const reached = new Map(answer[up ? "upstream_columns" : "downstream_columns"].map((c) => [columnKey(c), c]));
    const edgesOf = (c) => ((reached.get(columnKey(c)) || {})[up ? "sources" : "used_by"]) || [];
    const lines = [];
    const expanded = new Set();
    const visit = (c, depth) => {
      expanded.add(columnKey(c));
      for (const e of edgesOf(c)) {
        const follow = e.kind === "direct";
        const repeated = follow && expanded.has(columnKey(e)) && edgesOf(e).length > 0;
        lines.push({ depth, col: e, repeated });
        if (follow && !expanded.has(columnKey(e))) visit(e, depth + 1);
      }
    };
    visit({ node: answer.node.name, relation: null, column }, 0);
    return lines;
  }

  function chooseColumn(answer, column, button) {
    for (const b of columnList.querySelectorAll("button.chosen")) b.classList.remove("chosen");
    button.classList.add("chosen");
    const up = answer.direction === "upstream";
    const lines = traceLines(answer, column);
    const tables = new Set([answer.node.unique_id]);
    const items = lines.map((l) => {
      const id = l.col.node === null ? null : answer.tables[l.col.node];
      if (id) tables.add(id);
      const table = id
        ? el("a", { href: "/lineage?node=" + encodeURIComponent(id), class: "mono", "data-id": id }, l.col.node)
        : el("span", { class: "mono" }, l.col.node === null ? l.col.relation : l.col.node);
      if (id) {
        table.addEventListener("click", (event) => {
          event.preventDefault();
          goTo(id);
        });
      }
      const item = el(
        "li",
        { class: "col-line " + l.col.kind },
        up ? "← " : "→ ",
        table,
        el("span", { class: "mono" }, "." + l.col.column),
        " ",
        el("span", { class: "kind" }, l.col.kind),
        l.repeated ? " … shown above" : ""
      );
      item.style.paddingLeft = l.depth * 1.2 + "em";
      return item;
    });
    const none = up ? "no source columns" : "no downstream model uses it";
    columnTrace.replaceChildren(
      el("h4", { class: "mono" }, answer.node.name + "." + column),
      items.length ? el("ul", { class: "column-trace" }, ...items) : el("p", { class: "empty" }, none)
    );
    // On the graph: the tables this column's lineage passes through.
    focus = tables;
    current = answer.node.unique_id;
    applyHighlight();
  }

  columnDirection.addEventListener("change", () => {
    if (columnNode) showColumns(columnNode);
  });

  // ---- selector ----

  async function applySelector(event) {
    event.preventDefault();
    const select = selectBox.value.trim();
    if (select === "") {
      clearFocus();
      return;
    }
    try {
      const answer = await getJSON("/api/lineage?select=" + encodeURIComponent(select));
      current = null;
      focus = new Set(answer.selected);
      applyHighlight();
      document.getElementById("detail").hidden = true;
      const hidden = answer.selected.filter((id) => !view.nodes.has(id)).length;
      setStatus(
        answer.selected.length + " node" + (answer.selected.length === 1 ? "" : "s") + " selected" +
          (hidden ? " (" + hidden + " of them tests, hidden)" : "") + "."
      );
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  async function load() {
    try {
      data = await getJSON("/api/lineage");
    } catch (e) {
      setStatus(e.message, true);
      return;
    }
    byId = new Map(data.nodes.map((n) => [n.unique_id, n]));
    setStatus("");
    legend();
    if (data.nodes.length === 0) {
      graphBox.replaceChildren(el("p", { class: "empty" }, "The project has no nodes."));
      return;
    }
    draw();
    const wanted = new URLSearchParams(location.search).get("node");
    if (wanted && byId.has(wanted)) goTo(wanted);
  }

  let searchTimer = null;
  searchBox.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => applySearch(true), 150);
  });
  searchBox.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      const hits = applySearch(true) || [];
      if (hits.length > 0) goTo(hits[0].g.getAttribute("data-id"));
    }
  });
  document.getElementById("tools").addEventListener("submit", applySelector);
  document.getElementById("clear").addEventListener("click", () => {
    searchBox.value = "";
    selectBox.value = "";
    applySearch(false);
    clearFocus();
    if (view) fit();
  });
  const zoomCentre = (factor) => {
    if (view) zoomAround(viewBox.x + viewBox.w / 2, viewBox.y + viewBox.h / 2, factor);
  };
  document.getElementById("zoom-in").addEventListener("click", () => zoomCentre(1 / 1.5));
  document.getElementById("zoom-out").addEventListener("click", () => zoomCentre(1.5));
  document.getElementById("fit").addEventListener("click", () => view && fit());
  showTests.addEventListener("change", () => {
    if (data && data.nodes.length) draw();
  });

  load();
})();
