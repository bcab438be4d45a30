/* Dossier tab pages: conditional blocks shown without reloading the page (the server decides
   again on save; this only spares the user a round trip), and the confirmation dialog of the
   workflow's irreversible buttons. */
"use strict";
(function () {
  /* Irreversible transitions: without scripts, the form's check box must be ticked (the server
     refuses otherwise). With them, the check box is hidden and a dialog asks instead; its
     "Confirmer" ticks the box and sends the form. */
  var dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") { return; }
  var pending = null;
  var forms = document.querySelectorAll("form[data-irreversible]");
  Array.prototype.forEach.call(forms, function (form) {
    var box = form.querySelector(".sillon-confirm");
    var check = box && box.querySelector("input[type=checkbox]");
    if (!check) { return; }
    box.hidden = true;
    check.required = false;
    form.addEventListener("submit", function (event) {
      if (check.checked) { return; }
      event.preventDefault();
      if (!form.checkValidity()) { form.reportValidity(); return; }
      pending = {form: form, check: check, opener: event.submitter || form.querySelector("button[type=submit]")};
      document.getElementById("confirm-dialog-title").textContent = form.dataset.confirmTitle + " ?";
      document.getElementById("confirm-dialog-text").textContent = box.querySelector("label").textContent;
      dialog.showModal();
      document.getElementById("confirm-dialog-cancel").focus();
    });
  });
  document.getElementById("confirm-dialog-ok").addEventListener("click", function () {
    if (!pending) { return; }
    pending.check.checked = true;
    dialog.close();
    pending.form.submit();
  });
  document.getElementById("confirm-dialog-cancel").addEventListener("click", function () {
    dialog.close();
  });
  dialog.addEventListener("close", function () {
    if (pending && !pending.check.checked && pending.opener) { pending.opener.focus(); }
    if (pending && !pending.check.checked) { pending = null; }
  });
})();

(function () {
  var form = document.getElementById("tab-form");
  if (!form) { return; }

  function ageOn(birth, day) {
    var age = day.getFullYear() - birth.getFullYear();
    var m = day.getMonth() - birth.getMonth();
    if (m < 0 || (m === 0 && day.getDate() < birth.getDate())) { age -= 1; }
    return age;
  }

  function toggleRepresentative() {
    var block = document.getElementById("representant-legal");
    var birthInput = form.querySelector("[name=apprenti_date_naissance]");
    if (!block || !birthInput) { return; }
    var emancipated = form.querySelector("[name=emancipe]");
    var ref = form.dataset.referenceDate ? new Date(form.dataset.referenceDate) : new Date();
    var birth = birthInput.value ? new Date(birthInput.value) : null;
    var minor = birth && !isNaN(birth.getTime()) && ageOn(birth, ref) < 18;
    var show = minor && !(emancipated && emancipated.checked);
    block.classList.toggle("d-none", !show);
  }

  form.addEventListener("change", function (event) {
    var name = event.target && event.target.name;
    if (name === "apprenti_date_naissance" || name === "emancipe") { toggleRepresentative(); }
  });
})();
