/* Behaviour the templates used to write inline (the Content-Security-Policy allows no inline
   script, see portal/security_headers.py), read from data attributes:
   - data-confirm="question" on a button or a link: ask first, do nothing if refused;
   - data-model-action="name" on Flask-Admin's « Avec la sélection » items: run the bulk action
     (`modelActions` is built by Flask-Admin's actions.js from its JSON data blocks);
   - placeholder links (href="#", Flask-Admin's href="javascript:void(0)") never navigate: the
     CSP would refuse a javascript: URL and log a violation.
   One listener on the document, in the capture phase, so it runs before Bootstrap's. */
"use strict";
(function () {
  function closest(target, selector) {
    return target && target.closest ? target.closest(selector) : null;
  }

  document.addEventListener("click", function (event) {
    var asking = closest(event.target, "[data-confirm]");
    if (asking && !window.confirm(asking.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    var action = closest(event.target, "[data-model-action]");
    if (action) {
      event.preventDefault();
      if (window.modelActions) {
        window.modelActions.execute(action.getAttribute("data-model-action"));
      }
      return;
    }
    if (closest(event.target, 'a[href="#"], a[href^="javascript:"]')) {
      event.preventDefault();
    }
  }, true);
})();
