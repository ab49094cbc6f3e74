// One model's page (GET /api/models/{name}): its versions, aliases and their history; the
// selected version's metrics, parameters and charts (SVG images drawn by the server, so
// this script only points <img> elements at them). `#v3` in the address selects version 3.
// The "Change an alias" form writes through PUT/DELETE /api/models/{name}/aliases/{alias}
// (the session's CSRF token in a header, LF.sendJSON); the server says who may.
"use strict";

(() => {
  const { el, badge, runLink, modelHref, time, number, metric, getJSON, session, sendJSON, setStatus } = LF;
  const name = document.body.dataset.model;
  let current = null;

  const CHART_TITLES = {
    roc: "ROC curve",
    pr: "Precision-recall",
    residuals: "Predicted vs actual",
    "residual-histogram": "Residuals",
    importance: "Feature importance",
  };

  function field(dl, label, value) {
    dl.appendChild(el("dt", {}, label));
    dl.appendChild(el("dd", {}, value));
  }

  function trainedOn(v) {
    return v.training_relation + (v.training_version === null ? "" : " @ Delta version " + v.training_version);
  }

  function aliasList(aliases) {
    return aliases.map((a) => el("span", { class: "alias" }, a));
  }

  function fillSummary(data) {
    document.getElementById("title").textContent = "Model " + data.name;
    const dl = document.getElementById("summary");
    dl.replaceChildren();
    field(dl, "Versions", number(data.versions.length));
    field(
      dl,
      "Aliases",
      data.aliases.length === 0
        ? "none"
        : data.aliases.map((a) => el("span", { class: "alias" }, a.alias + " → v" + a.version))
    );
    field(dl, "Default alias", data.default_alias);
  }

  function chartsOf(v) {
    const box = document.getElementById("charts");
    box.replaceChildren();
    if (v.charts.length === 0) {
      box.appendChild(el("p", { class: "empty" }, "No charts for a " + v.task + " model."));
      return;
    }
    for (const kind of v.charts) {
      const src =
        "/api/models/" + encodeURIComponent(name) + "/versions/" + v.version + "/charts/" + kind + ".svg";
      const img = el("img", { src: src, alt: (CHART_TITLES[kind] || kind) + " of version " + v.version });
      const figure = el("figure", {}, img);
      // A chart without data (or without the lake's files) answers 404: say so in place.
      img.addEventListener("error", () => {
        figure.replaceChildren(el("figcaption", { class: "empty" }, (CHART_TITLES[kind] || kind) + ": not available"));
      });
      box.appendChild(figure);
    }
  }

  function select(data, version) {
    const v = data.versions.find((x) => x.version === version) || data.versions[0];
    for (const row of document.querySelectorAll("#versions tbody tr")) {
      row.classList.toggle("selected", Number(row.dataset.version) === v.version);
    }
    document.getElementById("version").hidden = false;
    document.getElementById("version-title").textContent = "Version " + v.version;
    const dl = document.getElementById("version-fields");
    dl.replaceChildren();
    field(dl, "Gate", [badge(v.status), v.gate_message ? " " + v.gate_message : ""]);
    field(dl, "Trained on", trainedOn(v));
    field(dl, "Rows", number(v.train_rows) + " trained, " + number(v.test_rows) + " held out");
    field(dl, "Registered (UTC)", time(v.created_at));
    field(dl, "Run", v.run_id ? runLink(v.run_id) : "—");

    const metrics = document.querySelector("#metrics tbody");
    metrics.replaceChildren();
    if (v.metrics.length === 0) {
      metrics.appendChild(el("tr", {}, el("td", { colspan: 2, class: "empty" }, "No metric recorded.")));
    }
    for (const m of v.metrics) {
      metrics.appendChild(el("tr", {}, el("td", { class: "mono" }, m.name), el("td", { class: "num" }, metric(m.value))));
    }

    const params = document.querySelector("#params tbody");
    params.replaceChildren();
    const entries = Object.entries(v.params);
    if (entries.length === 0) {
      params.appendChild(el("tr", {}, el("td", { colspan: 2, class: "empty" }, "No parameter recorded.")));
    }
    for (const [k, value] of entries) {
      params.appendChild(el("tr", {}, el("td", { class: "mono" }, k), el("td", { class: "mono" }, value)));
    }
    chartsOf(v);
  }

  function fillVersions(data) {
    const tbody = document.querySelector("#versions tbody");
    tbody.replaceChildren();
    for (const v of data.versions) {
      const row = el(
        "tr",
        { class: "clickable", "data-version": v.version },
        el("td", { class: "num" }, el("a", { href: "#v" + v.version }, "v" + v.version)),
        el("td", {}, badge(v.status)),
        el("td", {}, aliasList(v.aliases)),
        el("td", {}, time(v.created_at)),
        el("td", {}, v.task),
        el("td", {}, v.algorithm),
        el("td", { class: "mono" }, trainedOn(v)),
        el("td", { class: "num" }, number(v.train_rows)),
        el("td", { class: "num" }, number(v.test_rows)),
        el("td", {}, v.run_id ? runLink(v.run_id) : "—")
      );
      row.addEventListener("click", (e) => {
        if (e.target.closest("a")) return; // the version's own link sets the hash; a run's leaves
        location.hash = "v" + v.version;
      });
      tbody.appendChild(row);
    }
  }

  function fillHistory(data) {
    const tbody = document.querySelector("#history tbody");
    tbody.replaceChildren();
    if (data.alias_history.length === 0) {
      tbody.appendChild(el("tr", {}, el("td", { colspan: 5, class: "empty" }, "No alias was ever set.")));
      return;
    }
    // Newest first, as the versions.
    for (const h of data.alias_history.slice().reverse()) {
      tbody.appendChild(
        el(
          "tr",
          {},
          el("td", {}, time(h.set_at)),
          el("td", {}, el("span", { class: "alias" }, h.alias)),
          el("td", { class: "num" }, h.previous === null ? "—" : "v" + h.previous),
          el("td", { class: "num" }, h.version === null ? "removed" : "v" + h.version),
          el("td", { class: "mono" }, h.set_by)
        )
      );
    }
  }

  function fillAdmin(data) {
    const select = document.querySelector("#promote select[name=version]");
    const chosen = select.value;
    select.replaceChildren(...data.versions.map((v) => el("option", { value: v.version }, "v" + v.version + " (" + v.status + ")")));
    if (chosen) select.value = chosen;
    const alias = document.querySelector("#promote input[name=alias]");
    if (!alias.value) alias.value = data.default_alias;
    const list = document.getElementById("alias-list");
    list.replaceChildren();
    for (const a of data.aliases) {
      const remove = el("button", { type: "button", "data-alias": a.alias }, "Remove");
      remove.addEventListener("click", () => change("DELETE", a.alias, undefined));
      list.appendChild(el("li", {}, el("span", { class: "alias" }, a.alias + " → v" + a.version), " ", remove));
    }
  }

  // Say before anyone tries when this session may read but not write (the server refuses
  // anyway; this only saves a click).
  async function noteScope() {
    try {
      const s = await session();
      const note = document.getElementById("admin-scope");
      note.hidden = s.can_administer;
      note.textContent = "Your token may read this page but not change aliases: that needs a token with the " + s.admin_scope + " scope.";
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  async function change(method, alias, body) {
    const status = document.getElementById("admin-status");
    try {
      const r = await sendJSON(method, "/api" + modelHref(name) + "/aliases/" + encodeURIComponent(alias), body);
      const was = r.previous === null ? "" : " (was v" + r.previous + ")";
      status.textContent =
        (r.version === null ? "Removed " + r.alias + was : r.alias + " → v" + r.version + was) + "; recorded as " + r.set_by + ".";
      status.classList.remove("error");
      status.hidden = false;
      await load();
    } catch (e) {
      status.textContent = e.message;
      status.classList.add("error");
      status.hidden = false;
    }
  }

  document.getElementById("promote").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.target;
    change("PUT", form.elements.alias.value.trim(), {
      version: Number(form.elements.version.value),
      force: form.elements.force.checked,
    });
  });

  function wanted() {
    const m = /^#v(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : null;
  }

  async function load() {
    try {
      current = await getJSON("/api" + modelHref(name));
      fillSummary(current);
      fillVersions(current);
      fillHistory(current);
      fillAdmin(current);
      select(current, wanted());
      setStatus("");
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  window.addEventListener("hashchange", () => current && select(current, wanted()));
  noteScope();
  load();
})();
