// The tables page: the project's models, seeds, snapshots and sources stored in the lake
// (GET /api/tables), filtered as you type.
"use strict";

(() => {
  const { el, number, getJSON, setStatus } = LF;

  function tableLink(t) {
    return el("a", { href: "/tables/" + encodeURIComponent(t.relation), class: "mono" }, t.name);
  }

  function matches(t, words) {
    const text = [t.name, t.relation, t.resource_type, t.materialized || "", t.kind].join(" ").toLowerCase();
    return words.every((w) => text.includes(w));
  }

  function fill(data) {
    const words = document.getElementById("filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    const shown = data.tables.filter((t) => matches(t, words));
    const tbody = document.querySelector("#tables tbody");
    tbody.replaceChildren();
    const notBuilt = data.not_built ? " " + number(data.not_built) + " more the project defines are not in the lake yet." : "";
    document.getElementById("count").textContent =
      (shown.length === data.tables.length
        ? number(data.tables.length) + " stored relations."
        : number(shown.length) + " of " + number(data.tables.length) + " stored relations.") + notBuilt;
    if (shown.length === 0) {
      const text = data.tables.length === 0 ? "Nothing of this project is in the lake yet: run `lakeforge build`." : "No table matches the filter.";
      tbody.appendChild(el("tr", {}, el("td", { colspan: 6, class: "empty" }, text)));
      return;
    }
    for (const t of shown) {
      tbody.appendChild(
        el(
          "tr",
          {},
          el("td", {}, tableLink(t)),
          el("td", {}, t.resource_type),
          el("td", {}, t.materialized || (t.kind === "view" ? "view" : "")),
          el("td", { class: "mono" }, t.relation),
          el("td", { class: "num" }, t.version === null ? "—" : "v" + t.version),
          el("td", { class: "num" }, t.rows === null ? "—" : number(t.rows))
        )
      );
    }
  }

  async function load() {
    const filter = document.getElementById("filter");
    filter.value = new URLSearchParams(location.search).get("q") || "";
    document.getElementById("filters").addEventListener("submit", (e) => e.preventDefault());
    try {
      const data = await getJSON("/api/tables");
      fill(data);
      filter.addEventListener("input", () => {
        // The filter stays in the address, so a reload or a shared link keeps it.
        const url = new URL(location.href);
        if (filter.value) url.searchParams.set("q", filter.value);
        else url.searchParams.delete("q");
        history.replaceState(null, "", url);
        fill(data);
      });
      setStatus("");
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  load();
})();
