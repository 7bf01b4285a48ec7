// silicio transparency page: draws each data set's chart with plotly.js from the page's model
// (#page-data, the document /api/transparency returns), labels in the page's language. The
// tables beside the charts hold the same numbers; the page reads without this script.
"use strict";

(function () {
  const source = document.getElementById("page-data");
  if (!source || typeof Plotly === "undefined") return;
  const page = JSON.parse(source.textContent);
  const spanish = document.documentElement.lang === "es-MX";
  const config = { displaylogo: false, responsive: true };
  const colour = "#0f5fa8", pooledColour = "#9aa7b4";

  function label(row) { return spanish ? row.name_es : row.name; }

  function counts(element, rows) {
    const vertical = element.hasAttribute("data-vertical");
    const names = rows.map(label), values = rows.map(function (r) { return r.organisations; });
    const trace = { type: "bar", orientation: vertical ? "v" : "h",
      x: vertical ? names : values, y: vertical ? values : names,
      marker: { color: rows.map(function (r) { return r.pooled ? pooledColour : colour; }) },
      hovertemplate: (vertical ? "%{x}: %{y:,d}" : "%{y}: %{x:,d}") + "<extra></extra>" };
    const axis = { title: { text: element.dataset.axis }, tickformat: ",d", rangemode: "tozero", automargin: true };
    const categories = { automargin: true, type: "category" };
    if (!vertical) categories.autorange = "reversed";  // the largest group on top, as in the table
    // As tall as its bars need (the stylesheet's plot height leaves a short chart half empty).
    const height = vertical ? 320 : Math.max(200, 90 + 40 * rows.length);
    element.style.height = height + "px";
    Plotly.newPlot(element, [trace], {
      margin: { l: 20, r: 20, t: 10, b: 50 }, height: height,
      xaxis: vertical ? categories : axis, yaxis: vertical ? axis : categories,
    }, config);
  }

  function nationalContent(element, rows) {
    const threshold = rows.length ? rows[0].hecho_en_mexico_min_pct : null;
    const trace = { type: "bar", x: rows.map(function (r) { return r.part_number; }),
      y: rows.map(function (r) { return r.national_content_pct; }), marker: { color: colour },
      hovertemplate: "%{x}: %{y:.1f} %<extra></extra>" };
    // The minimum as a dashed line across the plot, named above it (a label on the line would
    // sit on the bars).
    const line = { dash: "dash", color: "#a8430f", width: 2 };
    const shapes = threshold === null ? [] : [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: threshold, y1: threshold,
                                                 line: line }];
    const annotations = threshold === null ? [] : [{ xref: "paper", yref: "paper", x: 0, y: 1, xanchor: "left",
      yanchor: "bottom", showarrow: false, font: { size: 12, color: line.color },
      text: "- - " + element.dataset.thresholdLabel + " " + threshold.toFixed(1) + " %" }];
    Plotly.newPlot(element, [trace], {
      margin: { l: 60, r: 20, t: 30, b: 50 }, shapes: shapes, annotations: annotations,
      xaxis: { type: "category", automargin: true },
      yaxis: { title: { text: element.dataset.axis }, range: [0, 100], ticksuffix: " %", automargin: true },
    }, config);
  }

  document.querySelectorAll("[data-chart]").forEach(function (element) {
    const rows = page[element.dataset.chart] || [];
    if (element.dataset.chart === "national_content") nationalContent(element, rows);
    else counts(element, rows);
  });
})();
