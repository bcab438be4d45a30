/* Behaviour the templates used to write inline (the Content-Security-Policy allows no inline
   script, see portal/security_headers.py), read from data attributes:
   - data-confirm="question" on a button or a link: ask first, do nothing if refused;
   - data-model-action="name" on Flask-Admin's « Avec la sélection » items: run the bulk action
     (`modelActions` is built by Flask-Admin's actions.js from its JSON data blocks);
   - placeholder links (href="#", Flask-Admin's href="javascript:void(0)") never navigate: the
     CSP would refuse a javascript: URL and log a violation.
   One listener on the document, in the capture phase, so it runs before Bootstrap's.
   Also: a region that scrolls because its content is wider or taller than it (a wide table in
   .table-responsive on a phone, the financing chart) takes the keyboard focus while, and only
   while, it overflows, so that it can be scrolled without a mouse (WCAG 2.1.1). */
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

  var SCROLLING = /^(auto|scroll)$/;

  function markScrollableRegions() {
    var candidates = document.body.querySelectorAll("div, ol, ul, section, pre, table");
    for (var i = 0; i < candidates.length; i++) {
      var el = candidates[i], style = window.getComputedStyle(el);
      var scrolls = (SCROLLING.test(style.overflowX) && el.scrollWidth > el.clientWidth + 1) ||
                    (SCROLLING.test(style.overflowY) && el.scrollHeight > el.clientHeight + 1);
      if (scrolls && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
        el.setAttribute("data-sillon-scroll-focus", "");
      } else if (!scrolls && el.hasAttribute("data-sillon-scroll-focus")) {
        el.removeAttribute("tabindex");
        el.removeAttribute("data-sillon-scroll-focus");
      }
    }
  }

  var pending = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(pending);
    pending = window.setTimeout(markScrollableRegions, 150);
  });
  window.addEventListener("load", markScrollableRegions);  // after fonts and widgets
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", markScrollableRegions);
  } else {
    markScrollableRegions();
  }
})();
