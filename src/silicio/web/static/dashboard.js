// silicio dashboard: draws a page's charts with plotly.js from the page's model, embedded as JSON
// (#page-data, the same document its /api twin returns). Pages work without this; it adds charts.
"use strict";

(function () {
  const source = document.getElementById("page-data");
  if (!source || typeof Plotly === "undefined") return;
  const page = JSON.parse(source.textContent);
  // The charts' words in the page's language (#page-text: silicio.web.i18n.CHART_TEXT translated).
  const words = document.getElementById("page-text");
  const text = words ? JSON.parse(words.textContent) : {};
  function t(s) { return text[s] || s; }
  const config = { displaylogo: false, responsive: true };
  const margin = { l: 60, r: 20, t: 10, b: 50 };
  // Axes make room for their tick labels and titles (long bin names were cut off at the bottom),
  // and a title given as text becomes {text: ...}: plotly.js 3 and later ignore the bare string.
  function roomy(layout) {
    Object.keys(layout).forEach(function (key) {
      if (!/^[xy]axis\d*$/.test(key)) return;
      const axis = Object.assign({ automargin: true }, layout[key]);
      if (typeof axis.title === "string") axis.title = { text: axis.title };
      layout[key] = axis;
    });
    ["xaxis", "yaxis"].forEach(function (key) { if (!layout[key]) layout[key] = { automargin: true }; });
    return layout;
  }
  function draw(id, traces, layout) {
    const element = document.getElementById(id);
    if (!element) return null;
    Plotly.newPlot(element, traces, roomy(Object.assign({ margin: margin, hovermode: "closest" }, layout)), config);
    return element;
  }

  // Clicking a point with a URL in customdata opens that page.
  function linkPoints(element) {
    if (!element) return;
    element.on("plotly_click", function (event) {
      const url = event.points.length && event.points[0].customdata;
      if (url) window.location.href = url;
    });
  }

  // A wafer map as a heat map: one cell per die. Colours, legend and which way X and Y grow come
  // from the page's data (silicio.yields.wafermap.map_json), the palette every renderer uses.
  function grid(map, values) {
    const x0 = Math.min(...map.x), x1 = Math.max(...map.x);
    const y0 = Math.min(...map.y), y1 = Math.max(...map.y);
    const z = [], text = [];
    for (let row = y0; row <= y1; row++) {
      z.push(new Array(x1 - x0 + 1).fill(null));
      text.push(new Array(x1 - x0 + 1).fill(""));
    }
    map.x.forEach(function (x, i) {
      z[map.y[i] - y0][x - x0] = values[i];
      text[map.y[i] - y0][x - x0] = "x " + x + ", y " + map.y[i];
    });
    const xs = [], ys = [];
    for (let x = x0; x <= x1; x++) xs.push(x);
    for (let y = y0; y <= y1; y++) ys.push(y);
    return { z: z, text: text, x: xs, y: ys };
  }

  // The wafer's edge round the dies and its flat (map_json's outline, in die coordinates): plotly
  // path shapes have no arcs, so the edge comes as a polygon. Without a flat, its note is shown.
  function outlineShapes(map) {
    const o = map.outline;
    if (!o) return [];
    const path = o.x.map(function (x, i) { return (i ? "L" : "M") + x + "," + o.y[i]; }).join(" ") + " Z";
    const shapes = [{ type: "path", path: path, line: { color: o.color, width: 1 } }];
    if (o.flat_x) {
      shapes.push({ type: "line", x0: o.flat_x[0], y0: o.flat_y[0], x1: o.flat_x[1], y1: o.flat_y[1],
                    line: { color: o.flat_color, width: 4 } });
    }
    return shapes;
  }

  function mapLayout(map) {
    const note = map.outline && map.outline.note;
    return {
      xaxis: { title: "X", autorange: map.x_grows === "left" ? "reversed" : true, constrain: "domain",
               showgrid: false, zeroline: false },
      yaxis: { title: "Y", autorange: map.y_grows === "up" ? true : "reversed", scaleanchor: "x",
               showgrid: false, zeroline: false },
      plot_bgcolor: "#ffffff",
      shapes: outlineShapes(map),
      annotations: note ? [{ text: note, xref: "paper", yref: "paper", x: 0, y: 1, xanchor: "left",
                             yanchor: "bottom", showarrow: false, font: { size: 10, color: "#666" } }] : [],
      margin: { l: 60, r: 20, t: note ? 28 : 10, b: 50 },
    };
  }

  function continuousMap(id, map, title) {
    if (!map || !map.x.length) return;
    const g = grid(map, map.value);
    return draw(id, [{ type: "heatmap", x: g.x, y: g.y, z: g.z, text: g.text, colorscale: map.colorscale,
                zmin: map.zmin, zmax: map.zmax, hovertemplate: "%{text}<br>" + title + " %{z:,.4~g}<extra></extra>",
                colorbar: { title: { text: title } } }], mapLayout(map));
  }

  // Clicking a die on a map opens its page (dieUrl: the page's URL with {x} and {y} to fill in).
  function linkDies(element, dieUrl) {
    if (!element || !dieUrl) return;
    element.on("plotly_click", function (event) {
      const point = event.points.length && event.points[0];
      // A map cell without a die says nothing; a marker of the screening layer is a die.
      if (!point || (point.data.type === "heatmap" && (point.z === null || point.z === undefined))) return;
      window.location.href = dieUrl.replace("{x}", String(point.x)).replace("{y}", String(point.y));
    });
  }

  // The dies the screening removed, as markers over the map, one legend entry (and colour) per rule:
  // clicking an entry hides or shows that rule's dies.
  function screeningTraces(layer) {
    if (!layer || !layer.x.length) return [];
    return Object.keys(layer.colors).map(function (rule) {
      const xs = [], ys = [];
      layer.rule.forEach(function (r, i) { if (r === rule) { xs.push(layer.x[i]); ys.push(layer.y[i]); } });
      return { type: "scatter", mode: "markers", x: xs, y: ys, name: rule + " (" + layer.counts[rule] + ")",
        legendgroup: "screening", legendgrouptitle: { text: "screened out" },
        marker: { symbol: "x-thin-open", size: 10, color: layer.colors[rule], line: { width: 2, color: layer.colors[rule] } },
        hovertemplate: "x %{x}, y %{y}<br>" + rule + "<extra></extra>" };
    });
  }

  // Bins drawn as categories: cell value = index of the bin's legend entry, one colour band each.
  function binMap(id, map, highlight, extra) {
    if (!map || !map.x.length) return;
    const entries = map.legend;
    const n = entries.length;
    const position = {};
    entries.forEach(function (e, i) { position[e.bin] = i; });
    const g = grid(map, map.value.map(function (v) { return position[v]; }));
    const colorscale = [];
    entries.forEach(function (e, i) { colorscale.push([i / n, e.color], [(i + 1) / n, e.color]); });
    const names = entries.map(function (e) { return e.label; });
    const label = g.z.map(function (row) { return row.map(function (v) { return v === null ? "" : names[v]; }); });
    const traces = [{ type: "heatmap", x: g.x, y: g.y, z: g.z, customdata: label, text: g.text,
      colorscale: colorscale, zmin: -0.5, zmax: n - 0.5, hovertemplate: "%{text}<br>%{customdata}<extra></extra>",
      colorbar: { tickvals: names.map(function (b, i) { return i; }), ticktext: names, title: { text: t("bin") } } }];
    if (highlight) {
      traces.push({ type: "scatter", mode: "markers", x: [highlight[0]], y: [highlight[1]], name: t("part"),
        marker: { symbol: "square-open", size: 16, color: "#000", line: { width: 3 } }, hoverinfo: "skip",
        showlegend: false });
    }
    (extra || []).forEach(function (t) { traces.push(t); });
    const layout = mapLayout(map);
    if (extra && extra.length) layout.legend = { orientation: "h", y: -0.15 };
    return draw(id, traces, layout);
  }

  function percent(v) { return v === null ? null : 100 * v; }

  const pages = {
    overview: function () {
      const groups = {};
      page.lots.forEach(function (lot) {
        const key = (lot.product || "unknown") + " · " + lot.stage;
        (groups[key] = groups[key] || []).push(lot);
      });
      const traces = Object.keys(groups).map(function (key) {
        const lots = groups[key];
        return { type: "scatter", mode: "lines+markers", name: key,
          x: lots.map(function (l) { return l.started || l.lot_id; }),
          y: lots.map(function (l) { return percent(l.final_yield); }),
          text: lots.map(function (l) { return l.lot_id; }),
          customdata: lots.map(function (l) { return l.url; }),
          hovertemplate: "%{text}<br>" + t("final yield") + " %{y:.2f}%<extra>%{fullData.name}</extra>" };
      });
      const hold = 100 * page.hold_yield;
      linkPoints(draw("yield-trend", traces, {
        yaxis: { title: t("final yield (%)") }, xaxis: { title: t("lot start") }, legend: { orientation: "h" },
        shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: hold, y1: hold,
                   line: { dash: "dash", color: "#a8430f", width: 1 } }],
      }));
    },

    lot: function () {
      const wafers = page.wafers;
      linkPoints(draw("wafer-yields", [{ type: "scatter", mode: "lines+markers",
        x: wafers.map(function (w) { return w.wafer_id || "none"; }),
        y: wafers.map(function (w) { return percent(w.final_yield); }),
        customdata: wafers.map(function (w) { return w.url; }), marker: { color: "#0f5fa8", size: 9 },
        hovertemplate: "%{x}<br>" + t("final yield") + " %{y:.2f}%<extra></extra>" }],
        { yaxis: { title: t("final yield (%)") }, xaxis: { type: "category" } }));
      continuousMap("stacked-map", page.stacked_fail_map, t("fail share"));
      const bins = page.bin_pareto;
      draw("pareto", [
        { type: "bar", name: t("parts"), x: bins.map(function (b) { return String(b.bin) + (b.name ? " " + b.name : ""); }),
          y: bins.map(function (b) { return b.count; }), marker: { color: "#d62728" } },
        { type: "scatter", mode: "lines+markers", name: t("cumulative %"), yaxis: "y2",
          x: bins.map(function (b) { return String(b.bin) + (b.name ? " " + b.name : ""); }),
          y: bins.map(function (b) { return b.cumulative_percent; }), marker: { color: "#444" } },
      ], { xaxis: { type: "category" }, yaxis: { title: t("parts") },
           // Cumulative ticks at round numbers, 0 to 100 (auto ticks fell at 19.9, 39.9 ...).
           yaxis2: { overlaying: "y", side: "right", range: [0, 105], title: t("cumulative %"),
                     tickmode: "array", tickvals: [0, 20, 40, 60, 80, 100], ticksuffix: " %" },
           legend: { orientation: "h" }, margin: { l: 60, r: 60, t: 10, b: 80 } });
    },

    wafer: function () {
      linkDies(binMap("bin-map", page.bin_map, page.highlight, screeningTraces(page.screening_layer)), page.die_url);
      linkDies(continuousMap("parametric-map", page.parametric_map, page.parametric_map ? page.parametric_map.label : ""),
               page.die_url);
      const picker = document.getElementById("test-picker");
      if (picker) picker.addEventListener("change", function () { picker.form.submit(); });
    },

    test: function () {
      const h = page.histogram;
      const centres = h.counts.map(function (c, i) { return (h.edges[i] + h.edges[i + 1]) / 2; });
      const widths = h.counts.map(function (c, i) { return h.edges[i + 1] - h.edges[i]; });
      const lines = [];
      function line(x, colour, dash, label) {
        if (x === null || x === undefined) return;
        lines.push({ type: "line", x0: x, x1: x, yref: "paper", y0: 0, y1: 1, line: { color: colour, dash: dash, width: 2 },
                     label: { text: label, textposition: "end", textangle: 0, yanchor: "bottom",
                              font: { size: 10, color: colour } } });
      }
      line(page.lo_limit, "#d62728", "solid", "LSL");
      line(page.hi_limit, "#d62728", "solid", "USL");
      line(page.pat_lo, "#ff7f0e", "dash", "PAT lo");
      line(page.pat_hi, "#ff7f0e", "dash", "PAT hi");
      draw("histogram", [{ type: "bar", x: centres, y: h.counts, width: widths, marker: { color: "#0f5fa8" },
        hovertemplate: "%{x:,.4~g}: %{y} " + t("dies") + "<extra></extra>" }],
        { shapes: lines, bargap: 0, xaxis: { title: page.units || "" }, yaxis: { title: t("dies") },
          margin: { l: 60, r: 20, t: 28, b: 50 } });
      // One trace per stage: a lot tested at wafer sort and final test has a bar (and a mean) for
      // each, side by side, never stacked on one another.
      const byStage = {};
      page.lots.forEach(function (l) { (byStage[l.stage] = byStage[l.stage] || []).push(l); });
      const stages = Object.keys(byStage);
      const stageColours = ["#0f5fa8", "#e69f00", "#009e73", "#cc79a7"];
      function lotName(l) { return l.lot_id + (page.products.length > 1 ? " " + (l.product || "") : ""); }
      const categories = [];
      page.lots.forEach(function (l) { if (categories.indexOf(lotName(l)) < 0) categories.push(lotName(l)); });
      const axis = { type: "category", categoryorder: "array", categoryarray: categories };
      linkPoints(draw("trend", stages.map(function (stage, s) {
        const lots = byStage[stage];
        return { type: "scatter", mode: "lines+markers", name: stage, x: lots.map(lotName),
          y: lots.map(function (l) { return l.mean; }), customdata: lots.map(function (l) { return l.url; }),
          marker: { color: stageColours[s % stageColours.length] },
          error_y: { type: "data", array: lots.map(function (l) { return l.std; }), visible: true },
          hovertemplate: "%{x}<br>" + t("mean") + " %{y:,.4~g}<extra>" + stage + "</extra>" };
      }), { xaxis: axis, yaxis: { title: t("mean") + " " + (page.units || "") }, legend: { orientation: "h" } }));
      linkPoints(draw("cpk", stages.map(function (stage, s) {
        const lots = byStage[stage];
        return { type: "bar", name: stage, x: lots.map(lotName), y: lots.map(function (l) { return l.cpk; }),
          customdata: lots.map(function (l) { return l.url; }), marker: { color: stageColours[s % stageColours.length] },
          hovertemplate: "%{x}<br>Cpk %{y:.3f}<extra>" + stage + "</extra>" };
      }), { barmode: "group", xaxis: axis, yaxis: { title: "Cpk" }, legend: { orientation: "h" },
            shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 1.33, y1: 1.33, line: { dash: "dot", color: "#888" } }] }));
    },

    compare: function () {
      ["a", "b"].forEach(function (key) {
        const side = page[key];
        if (!side.bin_map) return;
        if (side.wafer_id) {
          linkDies(binMap("map-" + key, side.bin_map, null),
                   "/lot/" + encodeURIComponent(side.lot_id) + "/wafer/" + encodeURIComponent(side.wafer_id) +
                   "/die/{x}/{y}?stage=" + encodeURIComponent(side.stage));
        } else {
          continuousMap("map-" + key, side.bin_map, "fail share");
        }
      });
      const edges = page.histogram_edges;
      if (edges.length) {
        const centres = page.histogram_a.map(function (c, i) { return (edges[i] + edges[i + 1]) / 2; });
        const widths = page.histogram_a.map(function (c, i) { return edges[i + 1] - edges[i]; });
        draw("compare-histogram", [
          { type: "bar", name: "A " + page.a.label, x: centres, y: page.histogram_a, width: widths, opacity: 0.6,
            marker: { color: "#0f5fa8" }, hovertemplate: "%{x:.4g}: %{y} dies<extra>A</extra>" },
          { type: "bar", name: "B " + page.b.label, x: centres, y: page.histogram_b, width: widths, opacity: 0.6,
            marker: { color: "#e69f00" }, hovertemplate: "%{x:.4g}: %{y} dies<extra>B</extra>" },
        ], { barmode: "overlay", bargap: 0, yaxis: { title: "dies" }, legend: { orientation: "h" } });
      }
      const picker = document.getElementById("compare-test");
      if (picker) picker.addEventListener("change", function () { picker.form.submit(); });
    },
  };

  const kind = document.body.dataset.page;
  if (pages[kind]) pages[kind]();
})();
