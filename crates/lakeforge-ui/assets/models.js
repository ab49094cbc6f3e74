// The models page: every registered model with its aliases and latest version
// (GET /api/models).
"use strict";

(() => {
  const { el, badge, modelLink, time, number, metric, getJSON, setStatus } = LF;

  function aliasList(aliases) {
    return aliases.map((a) => el("span", { class: "alias" }, a.alias + " → v" + a.version));
  }

  function fill(data) {
    const tbody = document.querySelector("#models tbody");
    tbody.replaceChildren();
    if (data.models.length === 0) {
      tbody.appendChild(el("tr", {}, el("td", { colspan: 8, class: "empty" }, "No model registered yet.")));
      return;
    }
    for (const m of data.models) {
      const key = m.latest.key_metric;
      tbody.appendChild(
        el(
          "tr",
          {},
          el("td", {}, modelLink(m.name)),
          el("td", { class: "num" }, number(m.versions)),
          el("td", {}, aliasList(m.aliases)),
          el("td", { class: "num" }, "v" + m.latest.version),
          el("td", {}, badge(m.latest.status)),
          el("td", {}, time(m.latest.created_at)),
          el("td", { class: "mono" }, key ? key.name : ""),
          el("td", { class: "num" }, key ? metric(key.value) : "")
        )
      );
    }
  }

  async function load() {
    try {
      fill(await getJSON("/api/models"));
      setStatus("");
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  load();
})();
