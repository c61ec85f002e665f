// Riverhead console: live charts as inline SVG, no libraries, no network but the console.
"use strict";

var PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

function pollChart(url, everyMs, render) {
  function tick() {
    fetch(url, {cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (data) { if (!data.error) { render(data); } })
      .catch(function () { /* the next tick retries */ })
      .finally(function () { setTimeout(tick, everyMs); });
  }
  document.addEventListener("DOMContentLoaded", tick);
}

function svgEl(name, attrs) {
  var el = document.createElementNS("http://www.w3.org/2000/svg", name);
  for (var k in attrs) { el.setAttribute(k, attrs[k]); }
  return el;
}

function fmt(v) {
  if (Math.abs(v) >= 1e6) { return (v / 1e6).toFixed(1) + "M"; }
  if (Math.abs(v) >= 1e3) { return (v / 1e3).toFixed(1) + "k"; }
  return (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100).toString();
}

// series: {name: [[unixSeconds, value], ...]}; draws one polyline per series.
function drawLines(svg, series, opts) {
  opts = opts || {};
  while (svg.firstChild) { svg.removeChild(svg.firstChild); }
  var W = 800, H = 220, L = 64, B = 20, T = 10;
  var names = Object.keys(series || {});
  var xs = [], ys = [0];
  names.forEach(function (n) { series[n].forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); });
  svg.setAttribute("data-points", xs.length);
  if (!xs.length) {
    var empty = svgEl("text", {x: W / 2, y: H / 2, "text-anchor": "middle", "class": "empty"});
    empty.textContent = "waiting for samples…";
    svg.appendChild(empty);
    return;
  }
  var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
  var y1 = Math.max.apply(null, ys) || 1;
  if (x1 === x0) { x1 = x0 + 1; }
  function px(x) { return L + (x - x0) / (x1 - x0) * (W - L - 5); }
  function py(y) { return H - B - y / y1 * (H - B - T); }
  [0, 0.5, 1].forEach(function (f) {
    svg.appendChild(svgEl("line", {x1: L, x2: W, y1: py(y1 * f), y2: py(y1 * f), "class": "grid"}));
    var label = svgEl("text", {x: L - 4, y: py(y1 * f) + 4, "text-anchor": "end", "class": "axis"});
    label.textContent = fmt(y1 * f) + (opts.unit || "");
    svg.appendChild(label);
  });
  var legend = opts.legend ? document.getElementById(opts.legend) : null;
  if (legend) { legend.innerHTML = ""; }
  names.forEach(function (n, i) {
    var color = PALETTE[i % PALETTE.length];
    var pts = series[n].map(function (p) { return px(p[0]).toFixed(1) + "," + py(p[1]).toFixed(1); });
    svg.appendChild(svgEl("polyline", {points: pts.join(" "), fill: "none", stroke: color, "stroke-width": 2, "data-series": n}));
    if (series[n].length === 1) {  // one sample so far: a dot, a line needs two
      var p0 = series[n][0];
      svg.appendChild(svgEl("circle", {cx: px(p0[0]), cy: py(p0[1]), r: 3, fill: color}));
    }
    if (legend) {
      var item = document.createElement("span");
      var last = series[n].length ? series[n][series[n].length - 1][1] : 0;
      item.innerHTML = '<i style="background:' + color + '"></i>';
      item.appendChild(document.createTextNode(n + " " + fmt(last) + (opts.unit || "")));
      legend.appendChild(item);
    }
  });
}

// bars: [[label, value]]
function drawBars(svg, bars) {
  while (svg.firstChild) { svg.removeChild(svg.firstChild); }
  var W = 800, H = 220, B = 20, T = 10;
  svg.setAttribute("data-points", bars.length);
  if (!bars.length) { return; }
  var max = Math.max.apply(null, bars.map(function (b) { return b[1]; })) || 1;
  var w = W / bars.length;
  bars.forEach(function (b, i) {
    var h = b[1] / max * (H - B - T);
    var rect = svgEl("rect", {x: i * w + 2, y: H - B - h, width: Math.max(w - 4, 1), height: h, "class": "bar"});
    var title = svgEl("title", {});
    title.textContent = b[0] + ": " + fmt(b[1]);
    rect.appendChild(title);
    svg.appendChild(rect);
  });
  var label = svgEl("text", {x: 4, y: T + 10, "class": "axis"});
  label.textContent = "max " + fmt(max);
  svg.appendChild(label);
  [[0, "start"], [bars.length - 1, "end"]].forEach(function (e) {
    var x = e[1] === "start" ? 2 : W - 2;
    var tick = svgEl("text", {x: x, y: H - 4, "text-anchor": e[1], "class": "axis"});
    tick.textContent = bars[e[0]][0];
    svg.appendChild(tick);
  });
}

function cell(row, text) {
  var td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "–" : String(text);
  row.appendChild(td);
}

function fillTable(id, rows) {
  var body = document.querySelector("#" + id + " tbody");
  body.innerHTML = "";
  rows.forEach(function (cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (c) { cell(tr, c); });
    body.appendChild(tr);
  });
}

function hhmm(ms) { return new Date(ms).toISOString().substr(11, 8); }

function renderShop(data) {
  document.getElementById("shop-records").textContent = data.records;
  var rev = data.revenue || [];
  drawBars(document.getElementById("revenue-chart"),
           rev.map(function (w) { return [hhmm(w.window_start), w.revenue]; }));
  if (rev.length) {
    var last = rev[rev.length - 1];
    document.getElementById("latest-revenue").textContent = last.revenue.toFixed(2);
    document.getElementById("latest-purchases").textContent = last.purchases;
  }
  var top = data.top;
  fillTable("top-products", top ? top.products.map(function (p, i) { return [i + 1, p.product_id, p.count]; }) : []);
  document.getElementById("top-window").textContent = top ? hhmm(top.window_start) + "–" + hhmm(top.window_end) : "";
  var f = data.funnel;
  function pct(a, b) { return b ? (100 * a / b).toFixed(1) + "%" : "–"; }
  fillTable("funnel", [["views", f.views, ""], ["carts", f.carts, pct(f.carts, f.views)],
                       ["purchases", f.purchases, pct(f.purchases, f.carts)]]);
  document.getElementById("funnel-sessions").textContent = f.sessions;
  fillTable("fraud-alerts", (data.alerts || []).map(function (a) {
    return [new Date(a.ts).toISOString().replace("T", " ").substr(0, 19), a.rule, a.user_id, a.card, a.details];
  }));
}
