/* The progress bar of an import confirmed in the background (templates/admin/
   formation_import_preview.html, #import-running): polls the batch's JSON progress
   (data-progress-url, admin_views/formation_import.py: import_progress_view) every second and
   moves the bar; once the import is done or stopped on an error, reloads the page, which then
   shows the outcome. No inline script: the CSP allows only files from 'self'. */
"use strict";
(function () {
  var box = document.getElementById("import-running");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  var bar = document.getElementById("import-progress-bar");
  var text = document.getElementById("import-progress-text");

  function plural(n, word) { return n + " " + word + (n > 1 ? "s" : ""); }

  function show(p) {
    bar.style.width = p.percent + "%";
    bar.setAttribute("aria-valuenow", p.rows_done);
    bar.setAttribute("aria-valuemax", p.rows_total);
    bar.textContent = p.percent + " %";
    text.textContent = plural(p.rows_done, "ligne") + " traitée" + (p.rows_done > 1 ? "s" : "") +
      " sur " + p.rows_total + " – " + plural(p.created, "dossier") + " créé" +
      (p.created > 1 ? "s" : "");
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (p) {
        show(p);
        if (p.status !== "en_cours") {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 500);
}());
