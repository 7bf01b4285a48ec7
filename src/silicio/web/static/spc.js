// silicio SPC page: the control charts and the capability histogram, drawn with plotly.js from the
// page's model (#page-data). A file of its own: the Content-Security-Policy runs no inline script.
// Loaded with defer: it runs once plotly.js and dashboard.js (end of the body) have loaded.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  const source = document.getElementById("page-data");
  if (!source || typeof Plotly === "undefined") return;
  const page = JSON.parse(source.textContent);
  const words = document.getElementById("page-text");
  const text = words ? JSON.parse(words.textContent) : {};
  function t(s) { return text[s] || s; }
  const config = { displaylogo: false, responsive: true };
  const margin = { l: 70, r: 20, t: 10, b: 50 };

  function controlChart(id, points, title) {
    const x = points.map(function (p) { return p.point; });
    const label = points.map(function (p) { return p.subgroup + " (" + t("phase") + " " + p.phase + ")"; });
    const line = function (key, name, colour, dash) {
      return { type: "scatter", mode: "lines", name: name, x: x, y: points.map(function (p) { return p[key]; }),
               line: { color: colour, dash: dash, width: 1, shape: "hvh" }, hoverinfo: "skip" };
    };
    const flagged = points.filter(function (p) { return p.rules.length; });
    const traces = [
      { type: "scatter", mode: "lines+markers", name: title, x: x, y: points.map(function (p) { return p.value; }),
        text: label, marker: { color: "#0f5fa8", size: 5 }, line: { color: "#0f5fa8", width: 1 },
        hovertemplate: t("point") + " %{x}<br>%{text}<br>%{y:,.4~g}<extra></extra>" },
      line("center", "centre", "#2ca02c", "solid"), line("ucl", "UCL", "#d62728", "dash"),
      line("lcl", "LCL", "#d62728", "dash"),
      { type: "scatter", mode: "markers", name: "violation", x: flagged.map(function (p) { return p.point; }),
        y: flagged.map(function (p) { return p.value; }),
        text: flagged.map(function (p) { return p.subgroup + "<br>" + t("rules") + " " + p.rules.join(", "); }),
        marker: { color: "#d62728", size: 10, symbol: "circle-open", line: { width: 2 } },
        hovertemplate: t("point") + " %{x}<br>%{text}<br>%{y:,.4~g}<extra></extra>" },
    ];
    const shapes = [];
    // Points keep their index when a long chart is sampled: a phase II point is one past the baseline.
    if (points.length && page.baseline <= points[points.length - 1].point) {
      const edge = page.baseline - 0.5;
      shapes.push({ type: "line", x0: edge, x1: edge, yref: "paper", y0: 0, y1: 1, line: { color: "#888", dash: "dot" },
                    label: { text: t("phase II →"), textposition: "end", font: { size: 10, color: "#555" } } });
    }
    Plotly.newPlot(id, traces, { margin: margin, hovermode: "closest", shapes: shapes, legend: { orientation: "h" },
                                 xaxis: { title: { text: t("point") }, automargin: true },
                                 yaxis: { title: { text: title }, automargin: true } }, config);
  }

  controlChart("control-chart", page.points, page.location_chart);
  controlChart("dispersion-chart", page.dispersion, page.dispersion_chart);

  const h = page.histogram;
  const centres = h.counts.map(function (c, i) { return (h.edges[i] + h.edges[i + 1]) / 2; });
  const widths = h.counts.map(function (c, i) { return h.edges[i + 1] - h.edges[i]; });
  const shapes = [];
  function limit(x, label) {
    if (x === null || x === undefined) return;
    shapes.push({ type: "line", x0: x, x1: x, yref: "paper", y0: 0, y1: 1, line: { color: "#d62728", width: 2 },
                  label: { text: label, textposition: "end", textangle: 0, yanchor: "bottom", font: { size: 10, color: "#d62728" } } });
  }
  if (page.capability) { limit(page.capability.lsl, "LSL"); limit(page.capability.usl, "USL"); }
  Plotly.newPlot("capability-histogram", [{ type: "bar", x: centres, y: h.counts, width: widths,
    marker: { color: "#0f5fa8" }, hovertemplate: "%{x:,.4~g}: %{y}<extra></extra>" }],
    { margin: { l: 60, r: 20, t: 28, b: 50 }, shapes: shapes, bargap: 0, xaxis: { title: { text: page.units || "" }, automargin: true },
      yaxis: { title: { text: t("results") }, automargin: true } }, config);
});
