/* L'employeur tab: autofill from the IDCC and the SIRET, billing block shown when required.
   Plain JS, no framework. The server repeats every check and fills the convention's details
   itself on save: nothing here is trusted. */
(function () {
  "use strict";

  var form = document.getElementById("tab-form");
  var config = document.getElementById("employeur-config");
  if (!form || !config || form.getAttribute("data-tab") !== "employeur") {
    return;
  }

  function input(name) {
    return form.elements.namedItem(name);
  }

  function editable(el) {
    return el && !el.disabled && !el.readOnly;
  }

  // --- a small status line next to a field -------------------------------------------------
  function status(name, text, kind) {
    var holder = document.getElementById("field-" + name);
    if (!holder) {
      return;
    }
    var line = document.getElementById("lookup-status-" + name);
    if (!line) {
      line = document.createElement("small");
      line.id = "lookup-status-" + name;
      line.className = "form-text sillon-lookup-status";
      line.setAttribute("role", "status");
      line.setAttribute("aria-live", "polite");
      holder.appendChild(line);
    }
    line.textContent = text || "";
    line.classList.remove("text-muted", "text-success", "text-danger");
    line.classList.add(kind === "error" ? "text-danger" : kind === "ok" ? "text-success" : "text-muted");
  }

  // GET a JSON look-up; calls done(httpStatus, body) with body null when it is not JSON.
  function lookup(url, param, value, done) {
    var target = url + (url.indexOf("?") < 0 ? "?" : "&") + param + "=" + encodeURIComponent(value);
    fetch(target, {
      credentials: "same-origin",
      headers: {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"}
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (type.indexOf("application/json") < 0) {
        done(response.status, null);
        return null;
      }
      return response.json().then(function (body) { done(response.status, body); });
    }).catch(function () {
      done(0, null);
    });
  }

  var UNAVAILABLE = "Recherche impossible pour le moment : saisissez les informations.";

  // --- IDCC → convention collective, branche, OPCO (read-only) -------------------------------
  var idccUrl = config.getAttribute("data-idcc-url");
  var idccInput = input("idcc");
  var lastIdcc = idccInput ? idccInput.value : "";
  var idccRequest = 0;

  function showConvention(libelle, branche, opco) {
    var pairs = [["convention-libelle", libelle], ["convention-branche", branche],
                 ["convention-opco", opco]];
    pairs.forEach(function (pair) {
      var el = document.getElementById(pair[0]);
      if (el) {
        el.textContent = pair[1] || "—";
      }
    });
  }

  function lookupIdcc() {
    if (!idccUrl || !editable(idccInput)) {
      return;
    }
    var value = idccInput.value.replace(/\s+/g, "");
    if (value === lastIdcc) {
      return;
    }
    lastIdcc = value;
    if (!value) {
      showConvention(null, null, null);
      status("idcc", "", "info");
      return;
    }
    if (/^\d{1,3}$/.test(value)) {
      value = ("0000" + value).slice(-4);  // IDCC codes keep their leading zeros
      idccInput.value = value;
      lastIdcc = value;
    }
    var request = ++idccRequest;
    status("idcc", "Recherche de la convention collective…", "info");
    lookup(idccUrl, "idcc", value, function (code, body) {
      if (request !== idccRequest) {
        return;  // a newer value was typed meanwhile
      }
      if (code === 200 && body) {
        var opco = body.opco_nom ? body.opco_nom + (body.opco_code ? " (" + body.opco_code + ")" : "")
                                 : body.opco_code;
        showConvention(body.libelle, body.branche, opco);
        status("idcc", "Convention collective trouvée.", "ok");
      } else {
        showConvention(null, null, null);
        status("idcc", body && body.message ? body.message : UNAVAILABLE, code ? "error" : "info");
      }
    });
  }

  if (idccInput) {
    idccInput.addEventListener("blur", lookupIdcc);
    idccInput.addEventListener("change", lookupIdcc);
  }

  // --- SIRET → the establishment known to Sillon, or the company directory ------------------
  var siretUrl = config.getAttribute("data-siret-url");
  var siretInput = input("employeur_siret");
  var lastSiret = siretInput ? siretInput.value.replace(/[\s.\-]/g, "") : "";
  var siretRequest = 0;
  // Answer key → input name. Only empty inputs are filled: what the user typed stays.
  var SIRET_FIELDS = {
    denomination: "employeur_denomination",
    adresse_numero: "employeur_adresse_numero",
    adresse_voie: "employeur_adresse_voie",
    adresse_complement: "employeur_adresse_complement",
    code_postal: "employeur_code_postal",
    commune: "employeur_commune",
    naf: "naf",
    idcc: "idcc",
    type_employeur: "type_employeur",
    effectif: "employeur_effectif"
  };

  function fillEmpty(name, value) {
    var el = input(name);
    if (!editable(el) || value === null || value === undefined || value === "" || el.value) {
      return false;
    }
    value = String(value);
    if (el.tagName === "SELECT") {
      var known = Array.prototype.some.call(el.options, function (o) { return o.value === value; });
      if (!known) {
        return false;
      }
    }
    el.value = value;
    el.dispatchEvent(new Event("change", {bubbles: true}));
    return true;
  }

  function lookupSiret() {
    if (!siretUrl || !editable(siretInput)) {
      return;
    }
    var value = siretInput.value.replace(/[\s.\-]/g, "");
    if (value === lastSiret) {
      return;
    }
    lastSiret = value;
    if (!value) {
      status("employeur_siret", "", "info");
      return;
    }
    if (!/^\d{14}$/.test(value)) {
      status("employeur_siret", "Le SIRET compte 14 chiffres.", "error");
      return;
    }
    var request = ++siretRequest;
    status("employeur_siret", "Recherche de l'établissement…", "info");
    lookup(siretUrl, "siret", value, function (code, body) {
      if (request !== siretRequest) {
        return;
      }
      if (code === 200 && body) {
        var filled = 0;
        Object.keys(SIRET_FIELDS).forEach(function (key) {
          if (fillEmpty(SIRET_FIELDS[key], body[key])) {
            filled += 1;
          }
        });
        lookupIdcc();
        var origin = body.source === "annuaire" ? "Établissement trouvé dans l'annuaire des entreprises"
                                                : "Établissement connu de Sillon";
        status("employeur_siret", origin + (filled ? " : " + filled + " champ" + (filled > 1 ? "s" : "") +
               " vide" + (filled > 1 ? "s" : "") + " complété" + (filled > 1 ? "s" : "") +
               ", vérifiez-les." : " : aucun champ vide à compléter."), "ok");
      } else {
        status("employeur_siret", body && body.message ? body.message : UNAVAILABLE,
               code === 400 ? "error" : "info");
      }
    });
  }

  if (siretInput) {
    siretInput.addEventListener("blur", lookupSiret);
    siretInput.addEventListener("change", lookupSiret);
  }

  // --- billing block: professionalisation, public employer (type > 20) or Monaco ------------
  var billing = document.getElementById("facturation");
  var typeInput = input("type_employeur");
  var monacoInput = input("employeur_monaco");
  var dispositifInput = input("dispositif");
  var billingFields = (config.getAttribute("data-billing-fields") || "").split(/\s+/).filter(Boolean);

  function billingRequired() {
    var dispositif = dispositifInput ? dispositifInput.value : config.getAttribute("data-dispositif");
    var type = typeInput ? parseInt(typeInput.value, 10) : NaN;
    return dispositif === "professionnalisation" || (!isNaN(type) && type >= 21) ||
      Boolean(monacoInput && monacoInput.checked);
  }

  function markRequired(name, required) {
    var el = input(name);
    var label = form.querySelector('label[for="' + name + '"]');
    if (el) {
      el.setAttribute("aria-required", required ? "true" : "false");
    }
    if (!label) {
      return;
    }
    var mark = label.querySelector(".required-mark");
    label.classList.toggle("required", required);
    if (required && !mark) {
      mark = document.createElement("span");
      mark.className = "required-mark";
      mark.setAttribute("aria-hidden", "true");
      mark.textContent = "*";
      label.appendChild(document.createTextNode(" "));
      label.appendChild(mark);
    } else if (!required && mark) {
      mark.remove();
    }
  }

  function toggleBilling() {
    if (!billing) {
      return;
    }
    var required = billingRequired();
    billing.classList.toggle("d-none", !required);
    billingFields.forEach(function (name) { markRequired(name, required); });
  }

  [typeInput, monacoInput, dispositifInput].forEach(function (el) {
    if (el) {
      el.addEventListener("change", toggleBilling);
    }
  });
  toggleBilling();
}());
