// Charts of the outcomes dashboard and the patient trajectory, drawn with the vendored Chart.js.
// The numbers come from a JSON block the server renders next to the tables that hold the same numbers, so
// without JavaScript (or for a screen reader) the tables are the whole story.
(function () {
  "use strict";

  // Okabe-Ito: distinguishable with the common colour-vision deficiencies. Lines also differ by marker shape
  // and dash, so colour is never the only cue.
  var PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];
  var SHAPES = ["circle", "triangle", "rect", "rectRot", "star", "crossRot", "cross", "rectRounded"];
  var DASHES = [[], [6, 3], [2, 2], [8, 3, 2, 3], [], [6, 3], [2, 2], [8, 3, 2, 3]];

  function colour(i, alpha) {
    var hex = PALETTE[i % PALETTE.length];
    if (alpha === undefined) return hex;
    var r = parseInt(hex.slice(1, 3), 16), g = parseInt(hex.slice(3, 5), 16), b = parseInt(hex.slice(5, 7), 16);
    return "rgba(" + r + "," + g + "," + b + "," + alpha + ")";
  }

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function pct(share) {
    return share && share.pct !== null ? share.pct : null;
  }

  function shareText(share) {
    if (!share) return "";
    var p = share.pct === null ? "–" : share.pct.toFixed(1) + "%";
    return share.n + " of " + share.N + " (" + p + ")";
  }

  var BASE_OPTIONS = {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { position: "bottom", labels: { usePointStyle: true } } }
  };

  function merge(a, b) {
    var out = {};
    for (var k in a) out[k] = a[k];
    for (var j in b) out[j] = b[j];
    return out;
  }

  // --- Change from baseline over time, one line per group, CI as a shaded band ----------------------------
  // A change can be no larger than the score's range (KOOS 100, OKS 48), but a 95% CI from two or three plans
  // can be hundreds of points wide: the band is cut at the possible range, and the axis never goes beyond it,
  // so the band stays on the chart and the lines keep their scale. The table beside has the CI's real numbers.
  function clamp(value, limit) {
    return value === null || value === undefined ? null : Math.max(-limit, Math.min(limit, value));
  }

  function changeAxis(sets, limit) {
    var values = [];
    sets.forEach(function (set) { set.data.forEach(function (v) { if (v !== null) values.push(v); }); });
    var step = limit > 50 ? 10 : 5;
    var low = Math.floor(Math.min.apply(null, values.concat([0])) / step) * step;
    var high = Math.ceil(Math.max.apply(null, values.concat([0])) / step) * step;
    return { min: Math.max(-limit, low), max: Math.min(limit, high) };
  }

  function changeChart(canvas, data) {
    var select = document.querySelector("[data-measure-select]");
    var kneesSelect = document.querySelector("[data-knees-select]");
    var table = document.querySelector("[data-measure-table]");
    var labels = {};
    data.measures.forEach(function (m) { labels[m.key] = m.label; });

    // Same knees at every timepoint by default; "all available" describes different patients at each point.
    function knees() { return kneesSelect ? kneesSelect.value : "same"; }
    function axisTitle(measure) {
      return "Change from baseline: " + labels[measure] + (knees() === "same" ? " (same knees)" : " (different patients at each timepoint)");
    }
    var limits = {};
    data.measures.forEach(function (m) { limits[m.key] = m.max_change; });

    function datasets(measure) {
      var sets = [];
      var limit = limits[measure];
      data.groups.forEach(function (group, i) {
        var series = (knees() === "same" ? group.same : group.series)[measure];
        sets.push({
          label: group.label + " (upper 95% CI)", band: true, data: series.map(function (p) { return clamp(p.high, limit); }),
          borderWidth: 0, pointRadius: 0, fill: false, spanGaps: true
        });
        sets.push({
          label: group.label + " (lower 95% CI)", band: true, data: series.map(function (p) { return clamp(p.low, limit); }),
          borderWidth: 0, pointRadius: 0, fill: "-1", backgroundColor: colour(i, 0.15), spanGaps: true
        });
        sets.push({
          label: group.label, data: series.map(function (p) { return p.mean; }), n: series.map(function (p) { return p.n; }),
          borderColor: colour(i), backgroundColor: colour(i), pointStyle: SHAPES[i % SHAPES.length],
          pointRadius: 5, borderDash: DASHES[i % DASHES.length], borderWidth: 2, spanGaps: true
        });
      });
      return sets;
    }

    function filterTable(measure) {
      if (!table) return;
      var rows = table.querySelectorAll("tbody tr[data-measure]");
      for (var i = 0; i < rows.length; i++) {
        rows[i].hidden = rows[i].getAttribute("data-measure") !== measure || rows[i].getAttribute("data-knees") !== knees();
      }
    }

    var measure = select ? select.value : data.measures[0].key;
    var initial = datasets(measure);
    var axis = changeAxis(initial, limits[measure]);
    var chart = new Chart(canvas, {
      type: "line",
      data: { labels: data.timepoints, datasets: initial },
      options: merge(BASE_OPTIONS, {
        scales: { y: { min: axis.min, max: axis.max, title: { display: true, text: axisTitle(measure) } } },
        plugins: {
          legend: { position: "bottom", labels: { usePointStyle: true, filter: function (item, chartData) {
            return !chartData.datasets[item.datasetIndex].band;
          } } },
          tooltip: { filter: function (item) { return !item.dataset.band; }, callbacks: {
            label: function (ctx) {
              var n = ctx.dataset.n ? ctx.dataset.n[ctx.dataIndex] : null;
              return ctx.dataset.label + ": " + (ctx.parsed.y === null ? "–" : ctx.parsed.y.toFixed(1)) + (n !== null ? " (n=" + n + ")" : "");
            }
          } }
        }
      })
    });
    function redraw() {
      var current = select ? select.value : measure;
      chart.data.datasets = datasets(current);
      var next = changeAxis(chart.data.datasets, limits[current]);
      chart.options.scales.y.min = next.min;
      chart.options.scales.y.max = next.max;
      chart.options.scales.y.title.text = axisTitle(current);
      chart.update();
      filterTable(current);
    }
    filterTable(measure);
    if (select) select.addEventListener("change", redraw);
    if (kneesSelect) kneesSelect.addEventListener("change", redraw);
  }

  // --- Responder rates per KL grade ------------------------------------------------------------------------
  function respondersChart(canvas, data) {
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.datasets.map(function (set, i) {
          return { label: set.label, data: set.values.map(pct), shares: set.values, backgroundColor: colour(i),
                   borderColor: colour(i), borderWidth: 1 };
        })
      },
      options: merge(BASE_OPTIONS, {
        scales: { y: { min: 0, max: 100, title: { display: true, text: "OMERACT-OARSI responders (%)" } } },
        plugins: {
          legend: BASE_OPTIONS.plugins.legend,
          tooltip: { callbacks: { label: function (ctx) {
            return ctx.dataset.label + ": " + shareText(ctx.dataset.shares[ctx.dataIndex]);
          } } }
        }
      })
    });
  }

  // --- Completion funnel ---------------------------------------------------------------------------------------
  function funnelChart(canvas, data) {
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Due", data: data.due, backgroundColor: colour(5), borderColor: colour(0), borderWidth: 1 },
          { label: "Completed", data: data.completed, backgroundColor: colour(0) }
        ]
      },
      options: merge(BASE_OPTIONS, {
        indexAxis: "y",
        scales: { x: { beginAtZero: true, title: { display: true, text: "Plans (of " + data.plans + " in the cohort)" } } }
      })
    });
  }

  // --- One knee's trajectory: scores by date, injections and flags on the same time line -----------------------
  var DAY = 86400000;
  function day(iso) { return Math.round(Date.parse(iso + "T00:00:00Z") / DAY); }
  function isoDay(n) { return new Date(n * DAY).toISOString().slice(0, 10); }

  function trajectoryChart(canvas, data, knee) {
    var sets = data.measures.map(function (m, i) {
      return {
        label: m.label, yAxisID: m.key === "oks_total" ? "oks" : "y",
        data: knee.points.filter(function (p) { return p.scores[m.key] !== null; })
          .map(function (p) { return { x: day(p.date), y: p.scores[m.key], note: p.timepoint }; }),
        borderColor: colour(i), backgroundColor: colour(i), pointStyle: SHAPES[i % SHAPES.length], pointRadius: 4,
        borderDash: DASHES[i % DASHES.length], showLine: true, borderWidth: 2
      };
    });
    sets.push({
      label: "Injection", data: knee.injections.map(function (inj) { return { x: day(inj.date), y: 0, note: inj.label }; }),
      pointStyle: "triangle", pointRadius: 9, backgroundColor: "#000000", borderColor: "#000000", showLine: false
    });
    if (knee.flags.length) {
      sets.push({
        label: "Safety flag", data: knee.flags.map(function (f) { return { x: day(f.date), y: 100, note: f.label + " (" + f.status + ")" }; }),
        pointStyle: "rectRot", pointRadius: 8, backgroundColor: "#D55E00", borderColor: "#000000", showLine: false
      });
    }
    new Chart(canvas, {
      type: "scatter",
      data: { datasets: sets },
      options: merge(BASE_OPTIONS, {
        scales: {
          x: { type: "linear", ticks: { callback: function (v) { return isoDay(v); }, maxTicksLimit: 6 } },
          y: { min: 0, max: 100, title: { display: true, text: "KOOS, VAS (0-100)" } },
          oks: { position: "right", min: 0, max: 48, grid: { drawOnChartArea: false }, title: { display: true, text: "OKS (0-48)" } }
        },
        plugins: {
          legend: BASE_OPTIONS.plugins.legend,
          tooltip: { callbacks: { label: function (ctx) {
            var raw = ctx.raw;
            var value = ctx.dataset.label === "Injection" || ctx.dataset.label === "Safety flag" ? "" : ": " + raw.y.toFixed(1);
            return isoDay(raw.x) + " " + ctx.dataset.label + value + (raw.note ? " — " + raw.note : "");
          } } }
        }
      })
    });
  }

  // --- Time to knee replacement: a step line per product (Kaplan-Meier), survival in % by month -------------
  function survivalChart(canvas, data) {
    new Chart(canvas, {
      type: "line",
      data: {
        datasets: data.curves.map(function (curve, i) {
          return {
            label: curve.label, data: curve.points, stepped: "before", borderColor: colour(i), backgroundColor: colour(i),
            borderDash: DASHES[i % DASHES.length], pointStyle: SHAPES[i % SHAPES.length], pointRadius: 2, fill: false
          };
        })
      },
      options: merge(BASE_OPTIONS, {
        scales: {
          x: { type: "linear", min: 0, title: { display: true, text: "Months since the first injection" } },
          y: { min: 0, max: 100, title: { display: true, text: "% without a knee replacement" } }
        },
        plugins: {
          legend: BASE_OPTIONS.plugins.legend,
          tooltip: { callbacks: { label: function (ctx) {
            return ctx.dataset.label + ": " + ctx.raw.y.toFixed(1) + "% at " + ctx.raw.x.toFixed(1) + " months";
          } } }
        }
      })
    });
  }

  function init() {
    if (typeof Chart === "undefined") return; // the tables already say it all
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#1b1f24";
    var dashboard = readJSON("dashboard-data");
    var drawers = { change: changeChart, responders: respondersChart, funnel: funnelChart };
    var canvases = document.querySelectorAll("canvas[data-chart]");
    var knees = {};
    for (var i = 0; i < canvases.length; i++) {
      var canvas = canvases[i];
      if (canvas.getAttribute("data-drawn")) continue; // the script may be included twice on a page
      canvas.setAttribute("data-drawn", "1");
      var kind = canvas.getAttribute("data-chart");
      if (kind === "survival") {
        var curves = readJSON(canvas.getAttribute("data-source"));
        if (curves) survivalChart(canvas, curves);
      } else if (kind === "trajectory") {
        var source = canvas.getAttribute("data-source");
        var data = readJSON(source);
        knees[source] = knees[source] || 0;
        if (data && data.knees[knees[source]]) trajectoryChart(canvas, data, data.knees[knees[source]]);
        knees[source] += 1;
      } else if (dashboard && drawers[kind]) {
        drawers[kind](canvas, dashboard[kind]);
      }
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
