// The runs page: the filter form mirrors the page's query string, which is passed on as is
// to GET /api/runs (the server checks it and names a parameter it refuses).
"use strict";

(() => {
  const { getJSON, setStatus, fillRuns } = LF;
  const params = new URLSearchParams(location.search);

  // The form shows the filters in force.
  const form = document.getElementById("filters");
  for (const field of form.elements) {
    if (field.name && params.has(field.name)) field.value = params.get(field.name);
  }

  function pageLink(id, page, shown) {
    const link = document.getElementById(id);
    link.hidden = !shown;
    const p = new URLSearchParams(params);
    p.set("page", String(page));
    link.setAttribute("href", "/runs?" + p.toString());
  }

  async function load() {
    try {
      const data = await getJSON("/api/runs?" + params.toString());
      fillRuns(document.querySelector("#runs tbody"), data.runs, "No run matches these filters.");
      const pages = Math.max(1, Math.ceil(data.total / data.per_page));
      document.getElementById("page").textContent =
        "Page " + data.page + " of " + pages + " · " + data.total + " run" + (data.total === 1 ? "" : "s");
      pageLink("prev", data.page - 1, data.page > 1);
      pageLink("next", data.page + 1, data.page < pages);
      setStatus("");
    } catch (e) {
      setStatus(e.message, true);
    }
  }

  load();
})();
