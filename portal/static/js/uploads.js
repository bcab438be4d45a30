/* File fields with data-max-size (bytes) and data-size-message (French, "{taille}" where the
   chosen file's size goes): a file above the limit is told next to the field as soon as it is
   chosen, and its form is not sent. The server checks the size again (it never trusts this
   page): admin_views/dossier_uploads.py, admin_views/formation_import.py. */
"use strict";
(function () {
  function sizeText(size) {
    if (size >= 1024 * 1024) {
      var tenths = Math.ceil(size * 10 / (1024 * 1024));  /* rounded up, as the server does */
      return Math.floor(tenths / 10) + "," + (tenths % 10) + " Mo";
    }
    return Math.max(1, Math.round(size / 1024)) + " Ko";
  }

  function errorBox(input) {
    var id = (input.getAttribute("aria-describedby") || "").split(" ")[0];
    var box = id ? document.getElementById(id) : null;
    if (!box) {
      box = document.createElement("div");
      box.className = "invalid-feedback w-100";
      box.id = (input.id || input.name) + "-taille";
      box.setAttribute("role", "alert");
      input.insertAdjacentElement("afterend", box);
      input.setAttribute("aria-describedby", box.id);
    }
    return box;
  }

  /* The refusal for the chosen file, or "" when it may be sent. */
  function problem(input) {
    var max = parseInt(input.getAttribute("data-max-size"), 10);
    var file = input.files && input.files[0];
    if (!file || !max || file.size <= max) { return ""; }
    return (input.getAttribute("data-size-message") || "").replace("{taille}", sizeText(file.size));
  }

  function show(input) {
    var message = problem(input);
    var box = errorBox(input);
    box.textContent = message;
    box.classList.toggle("d-block", !!message);
    input.classList.toggle("is-invalid", !!message);
    if (message) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
    box.setAttribute("data-size-refused", message ? "true" : "false");
    return message;
  }

  document.querySelectorAll("input[type=file][data-max-size]").forEach(function (input) {
    input.addEventListener("change", function () { show(input); });
    if (input.form) {
      input.form.addEventListener("submit", function (event) {
        if (show(input)) {
          event.preventDefault();
          event.stopImmediatePropagation();
          input.focus();
        }
      });
    }
  });
})();
