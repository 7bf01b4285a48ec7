// silicio spatial pages: the defect layer on the wafer page's bin map, and the charts of the
// signatures and inline-defects pages, drawn with plotly.js from the page's model (#page-data).
// A file of its own (the Content-Security-Policy runs no inline script), loaded with defer: it
// runs once plotly.js and dashboard.js have loaded and dashboard.js has drawn the bin map.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  const source = document.getElementById("page-data");
  if (!source || typeof Plotly === "undefined") return;
  const page = JSON.parse(source.textContent);
  // The charts' words in the page's language (#page-text: silicio.web.i18n.CHART_TEXT translated).
  const words = document.getElementById("page-text");
  const text = words ? JSON.parse(words.textContent) : {};
  function t(s) { return text[s] || s; }
  const config = { displaylogo: false, responsive: true };
  const margin = { l: 60, r: 20, t: 10, b: 80 };
  const palette = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
                   "#bcbd22", "#7f7f7f"];
  function draw(id, traces, layout) {
    const element = document.getElementById(id);
    if (!element) return null;
    Plotly.newPlot(element, traces, Object.assign({ margin: margin, hovermode: "closest" }, layout), config);
    return element;
  }
  function linkPoints(element) {
    if (!element) return;
    element.on("plotly_click", function (event) {
      const url = event.points.length && event.points[0].customdata;
      if (url) window.location.href = url;
    });
  }
  // Stacked bars of wafers per signature over categories (lots, or equipment).
  function stacked(id, rows, category, value) {
    const categories = [], signatures = [];
    rows.forEach(function (r) {
      if (categories.indexOf(category(r)) < 0) categories.push(category(r));
      if (signatures.indexOf(r.signature) < 0) signatures.push(r.signature);
    });
    const traces = signatures.map(function (sig, i) {
      const y = categories.map(function (c) {
        const hit = rows.filter(function (r) { return category(r) === c && r.signature === sig; })[0];
        return hit ? value(hit) : 0;
      });
      return { type: "bar", name: sig, x: categories, y: y, marker: { color: palette[i % palette.length] } };
    });
    draw(id, traces, { barmode: "stack", xaxis: { type: "category" }, yaxis: { title: t("share of wafers (%)") },
                       legend: { orientation: "h" } });
  }

  // The wafer page: the inline defects as a layer of the bin map, one trace per step and class.
  function defectLayer() {
    const spatial = page.spatial;
    const element = document.getElementById("bin-map");
    if (!spatial || !spatial.defects || !spatial.defects.length || !element) return;
    const groups = {};
    spatial.defects.forEach(function (d) {
      const key = (d.step_id ? d.step_id + " " : "") + (d.classname || (t("class") + " " + d.classnumber));
      (groups[key] = groups[key] || []).push(d);
    });
    const traces = Object.keys(groups).sort().map(function (key, i) {
      const points = groups[key];
      return { type: "scatter", mode: "markers", name: key, x: points.map(function (d) { return d.x; }),
        y: points.map(function (d) { return d.y; }),
        text: points.map(function (d) { return t("defect") + " " + (d.defectid === null ? "" : d.defectid) + " · " + key +
          (d.failed === null ? "" : " · " + (d.failed ? t("die failed") : t("die passed"))); }),
        hovertemplate: "x %{x}, y %{y}<br>%{text}<extra></extra>",
        marker: { symbol: "x", size: 9, color: palette[i % palette.length], line: { width: 1, color: "#000" } } };
    });
    function add() {
      if (!element._fullLayout) { window.setTimeout(add, 50); return; }
      Plotly.addTraces(element, traces);
      Plotly.relayout(element, { showlegend: true, legend: { orientation: "h", y: -0.15 } });
    }
    add();
  }

  const pages = {
    wafer: defectLayer,
    signatures: function () {
      const bins = page.pareto;
      linkPoints(draw("signature-pareto", [
        { type: "bar", name: t("wafers"), x: bins.map(function (b) { return b.signature; }),
          y: bins.map(function (b) { return b.wafers; }), customdata: bins.map(function (b) { return b.url; }),
          marker: { color: "#0f5fa8" } },
        { type: "scatter", mode: "lines+markers", name: t("cumulative %"), yaxis: "y2",
          x: bins.map(function (b) { return b.signature; }), y: bins.map(function (b) { return b.cumulative_percent; }),
          marker: { color: "#444" } },
      ], { xaxis: { type: "category" }, yaxis: { title: t("wafers") },
           yaxis2: { overlaying: "y", side: "right", range: [0, 105], title: t("cumulative %") },
           legend: { orientation: "h" }, margin: { l: 60, r: 60, t: 10, b: 80 } }));
      stacked("signature-trend", page.by_lot, function (r) { return r.lot_id; }, function (r) { return 100 * r.share; });
      stacked("signature-equipment", page.by_equipment, function (r) { return r.equipment + " " + r.name; },
              function (r) { return 100 * r.share; });
    },
    inline: function () {
      const rows = page.classes.filter(function (r) { return r.classname !== "all"; });
      const names = rows.map(function (r) { return (r.step_id ? r.step_id + " " : "") + (r.classname || r.classnumber); });
      draw("kill-ratios", [
        { type: "bar", name: t("kill ratio"), x: names, y: rows.map(function (r) { return r.kill_ratio; }),
          marker: { color: "#d62728" } },
        { type: "bar", name: t("capture rate"), x: names, y: rows.map(function (r) { return r.capture_rate; }),
          marker: { color: "#0f5fa8" } },
      ], { barmode: "group", xaxis: { type: "category" }, yaxis: { title: t("fraction") }, legend: { orientation: "h" } });
    },
  };
  const kind = document.body.dataset.page;
  if (pages[kind]) pages[kind]();
});
