/* Dossier tab pages: conditional blocks shown without reloading the page. The server decides
   again on save; this only spares the user a round trip. */
"use strict";
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
