/* The dashboards' charts (templates/admin/dashboard/_macros.html): each <canvas data-chart>
   carries its data as JSON (portal/dashboards/charts.py) — no inline script under the CSP.
   A click on a bar opens the dossier list that bar counts (its dataset's `links`).
   Needs the vendored Chart.js (portal/static/vendor/chartjs/chart.umd.js) loaded before. */
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") { return; }

  function draw(canvas) {
    var spec = JSON.parse(canvas.getAttribute("data-chart"));
    var horizontal = !!spec.horizontal;
    var valueAxis = horizontal ? "x" : "y";
    var scales = {x: {stacked: !!spec.stacked}, y: {stacked: !!spec.stacked}};
    scales[valueAxis].beginAtZero = true;
    scales[valueAxis].ticks = {precision: 0};
    if (spec.x_title) { scales.x.title = {display: true, text: spec.x_title}; }
    var chart = new window.Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (ds) {
          return {label: ds.label, data: ds.data, backgroundColor: ds.colour,
                  borderWidth: 0, links: ds.links};
        })
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        locale: "fr-FR",
        scales: scales,
        plugins: {
          legend: {display: spec.datasets.length > 1, position: "bottom"},
          title: {display: false, text: spec.title}
        },
        onHover: function (event, elements) {
          event.native.target.style.cursor = elements.length ? "pointer" : "default";
        },
        onClick: function (event, elements) {
          if (!elements.length) { return; }
          var element = elements[0];
          var links = spec.datasets[element.datasetIndex].links || [];
          if (links[element.index]) { window.location.assign(links[element.index]); }
        }
      }
    });
    canvas.setAttribute("data-rendered", chart.data.datasets.length ? "1" : "0");
  }

  function init() {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    for (var i = 0; i < canvases.length; i += 1) { draw(canvases[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
