// Lakeforge UI: what every page's script shares. Everything the API returns that a project
// or a run wrote (names, ids, errors, arguments) is user input, so it reaches the page only
// as text: el() and svg() turn children into text nodes, never into markup.
"use strict";

const LF = (() => {
  const STATUSES = [
    "success", "pass", "warn", "error", "fail", "skipped", "running", "cancelled", "passed", "rejected",
  ];

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      child.forEach((c) => append(node, c));
    } else if (child instanceof Node) {
      node.appendChild(child);
    } else {
      node.appendChild(document.createTextNode(String(child)));
    }
  }

  function setAttrs(node, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      node.setAttribute(name, String(value));
    }
  }

  // An HTML element; attribute values are set as attributes (never as markup).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  // An SVG element.
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  // A status as a class name: one of the known statuses, or `other`.
  function statusClass(status) {
    return "s-" + (STATUSES.includes(status) ? status : "other");
  }

  function badge(status) {
    return el("span", { class: "badge " + statusClass(status) }, status);
  }

  function runHref(runId) {
    return "/runs/" + encodeURIComponent(runId);
  }

  function runLink(runId) {
    return el("a", { href: runHref(runId), class: "mono" }, runId);
  }

  function modelHref(name) {
    return "/models/" + encodeURIComponent(name);
  }

  function modelLink(name) {
    return el("a", { href: modelHref(name), class: "mono" }, name);
  }

  // A metric's value as the pages show it (`null` is a metric undefined for the version).
  function metric(value) {
    if (value === null || value === undefined) return "—";
    const a = Math.abs(value);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return value.toExponential(3);
    return String(Number(value.toPrecision(4)));
  }

  // The store's timestamps are RFC 3339 in UTC: shown as `2026-01-31 10:00:00`.
  function time(iso) {
    if (!iso) return "";
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
    return m ? m[1] + " " + m[2] : iso;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    if (seconds < 10) return seconds.toFixed(2) + " s";
    if (seconds < 60) return seconds.toFixed(1) + " s";
    const s = Math.round(seconds);
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  function number(n) {
    return n === null || n === undefined ? "" : Number(n).toLocaleString("en-US");
  }

  // The JSON at `url`, or an Error with the API's message. Without a valid token the UI
  // goes to its login form and comes back here afterwards.
  async function getJSON(url) {
    return request(url, { headers: { Accept: "application/json" } });
  }

  async function request(url, init) {
    let response;
    try {
      response = await fetch(url, { ...init, credentials: "same-origin" });
    } catch (e) {
      throw new Error("The UI server did not answer (is `lakeforge ui` still running?)");
    }
    if (response.status === 401) {
      location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
      throw new Error("Logging in first…");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      body = null;
    }
    if (!response.ok) {
      const message = body && body.error && body.error.message;
      const error = new Error(message || "The server answered " + response.status);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  // This page's session (GET /api/session): its CSRF token and whether it may change the
  // registry. Asked once per page.
  let sessionInfo = null;
  async function session() {
    if (sessionInfo === null) sessionInfo = await getJSON("/api/session");
    return sessionInfo;
  }

  // A write: `body` as JSON, with the session's CSRF token in the header every write needs.
  async function sendJSON(method, url, body) {
    const headers = { Accept: "application/json", "X-CSRF-Token": (await session()).csrf_token };
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return request(url, init);
  }

  function setStatus(text, isError) {
    const node = document.getElementById("status");
    if (!node) return;
    node.textContent = text;
    node.classList.toggle("error", Boolean(isError));
    node.hidden = text === "";
  }

  // Rows of a runs table (the overview's and the runs page's).
  function fillRuns(tbody, runs, emptyText) {
    tbody.replaceChildren();
    if (runs.length === 0) {
      tbody.appendChild(el("tr", {}, el("td", { colspan: 8, class: "empty" }, emptyText)));
      return;
    }
    for (const r of runs) {
      tbody.appendChild(
        el(
          "tr",
          {},
          el("td", {}, runLink(r.run_id)),
          el("td", {}, r.command),
          el("td", {}, badge(r.status)),
          el("td", {}, time(r.started_at)),
          el("td", { class: "num" }, duration(r.elapsed_s)),
          el("td", { class: "num" }, number(r.nodes_ok)),
          el("td", { class: "num" }, number(r.nodes_failed)),
          el("td", { class: "num" }, number(r.nodes_skipped))
        )
      );
    }
  }

  return {
    el, svg, badge, statusClass, runHref, runLink, modelHref, modelLink, metric,
    time, duration, number, getJSON, session, sendJSON, setStatus, fillRuns,
  };
})();
