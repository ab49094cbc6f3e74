// The lineage page: the project's graph (GET /api/lineage) drawn as SVG, nodes in columns by
// their depth (the longest path from a root), ordered within a column by a barycenter sweep
// to reduce crossings. The layout is computed once (again only when tests are shown or
// hidden); pan and zoom change the SVG's viewBox and nothing else, so the page stays usable at
// thousands of nodes. A selector box asks the API (GET /api/lineage?select=...).
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
      const w = Math.max(50, Math.min(view.width * 20 + 1000, viewBox.w * factor));
      const k = w / viewBox.w;
      const px = viewBox.x + ((e.clientX - r.left) / r.width) * viewBox.w;
      const py = viewBox.y + ((e.clientY - r.top) / r.height) * viewBox.h;
      setViewBox({ x: px - (px - viewBox.x) * k, y: py - (py - viewBox.y) * k, w, h: viewBox.h * k });
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

  function pickNode(id) {
    const n = byId.get(id);
    if (!n) return;
    const { up, down } = adjacency();
    const upstream = walk(id, up);
    const downstream = walk(id, down);
    current = id;
    focus = new Set([...upstream, ...downstream]);
    applyHighlight();
    showDetail(n, upstream.size - 1, downstream.size - 1);
  }

  function clearFocus() {
    focus = null;
    current = null;
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
      centreOn(cx, cy);
    }
  }

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
  }

  let searchTimer = null;
  searchBox.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => applySearch(true), 150);
  });
  searchBox.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      applySearch(true);
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
  showTests.addEventListener("change", () => {
    if (data && data.nodes.length) draw();
  });

  load();
})();
