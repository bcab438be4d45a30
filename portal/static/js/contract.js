/* Le contrat: the remuneration grid follows the dates and the SMC without reloading the page.
   The server recomputes it again on save (it never trusts this page). */
"use strict";
(function () {
  var form = document.getElementById("tab-form");
  var grid = document.getElementById("remuneration-grid");
  if (!form || !grid) { return; }
  var status = document.getElementById("grid-status");
  var readonly = !!form.querySelector("input[name='remuneration-0-percent'][disabled]");

  function fr(n, digits) {
    return Number(n).toLocaleString("fr-FR", {minimumFractionDigits: digits, maximumFractionDigits: digits});
  }
  function dmy(iso) { var p = iso.split("-"); return p[2] + "/" + p[1] + "/" + p[0]; }

  function rebuild(periods) {
    var body = grid.querySelector("tbody");
    var kept = {};
    body.querySelectorAll("tr[data-row]").forEach(function (tr, i) {
      var pct = tr.querySelector("input[name$='-percent']");
      if (pct && pct.value) { kept[i] = pct.value; }
    });
    body.innerHTML = "";
    if (!periods.length) {
      body.innerHTML = '<tr class="empty"><td colspan="6" class="text-muted">Renseignez la date de naissance de l\u2019alternant\u00b7e et les dates du contrat pour obtenir la grille.</td></tr>';
      return;
    }
    periods.forEach(function (p, i) {
      var keep = kept[i] && parseFloat(String(kept[i]).replace(",", ".")) >= parseFloat(p.percent);
      var pct = keep ? String(kept[i]).replace(",", ".") : p.percent;
      var amount = (parseFloat(pct) * parseFloat(p.reference_monthly) / 100).toFixed(2).replace(".", ",");
      pct = String(parseFloat(pct)).replace(".", ",");
      var tr = document.createElement("tr");
      tr.dataset.row = i + 1; tr.dataset.reference = p.reference_monthly; tr.dataset.minimum = p.percent;
      tr.innerHTML = "<td>du " + dmy(p.start) + " au " + dmy(p.end) + "</td><td>" + p.contract_year +
        (p.contract_year === 1 ? "<sup>re</sup>" : "<sup>e</sup>") + " année</td><td>" + p.age_band +
        "</td><td class=\"minimum\">" + fr(p.percent, 0) + " % du " + p.base + " = " + fr(p.monthly_amount, 2) +
        " €</td><td><input class=\"form-control form-control-sm\" type=\"text\" inputmode=\"decimal\" name=\"remuneration-" + i +
        "-percent\" value=\"" + pct + "\"" + (readonly ? " disabled" : "") + "></td><td><input class=\"form-control form-control-sm\" type=\"text\" inputmode=\"decimal\" name=\"remuneration-" + i +
        "-monthly_amount\" value=\"" + amount + "\"" + (readonly ? " disabled" : "") + "></td>";
      body.appendChild(tr);
    });
  }

  function refresh() {
    var start = form.querySelector("[name=date_debut_contrat]").value;
    var end = form.querySelector("[name=date_fin_contrat]").value;
    var smc = form.querySelector("[name=salaire_minimum_conventionnel]").value;
    if (!start || !end) { return; }
    var url = grid.dataset.url + "?start=" + encodeURIComponent(start) + "&end=" + encodeURIComponent(end) +
      "&smc=" + encodeURIComponent(smc || "");
    status.textContent = "Calcul de la grille…";
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
      .then(function (res) {
        if (!res.ok) { status.textContent = res.body.message || "Grille non recalculée."; return; }
        rebuild(res.body.periods);
        status.textContent = res.body.message || "";
      })
      .catch(function () { status.textContent = "Grille non recalculée : elle le sera à l\u2019enregistrement."; });
  }

  // Percent ↔ amount on the same row.
  grid.addEventListener("change", function (event) {
    var input = event.target, tr = input.closest("tr[data-row]");
    if (!tr) { return; }
    var ref = parseFloat(tr.dataset.reference);
    var pct = tr.querySelector("input[name$='-percent']"), amount = tr.querySelector("input[name$='-monthly_amount']");
    var value = parseFloat(String(input.value).replace(",", "."));
    if (isNaN(value) || !ref) { return; }
    if (input === pct) { amount.value = (value * ref / 100).toFixed(2).replace(".", ","); }
    else { pct.value = (value * 100 / ref).toFixed(2).replace(".", ","); }
  });
  form.addEventListener("change", function (event) {
    var name = event.target && event.target.name;
    if (name === "date_debut_contrat" || name === "date_fin_contrat" || name === "salaire_minimum_conventionnel") { refresh(); }
  });
})();
