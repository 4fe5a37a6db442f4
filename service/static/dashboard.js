// chipcast dashboard: plain JS, no libraries, same-origin requests only (works offline, CSP 'self').
//
// State lives in the URL hash (#series=capex_meta&view=growth&poll=60), so Back/Forward and bookmarks restore
// a view. Every resource on screen is re-checked every `poll` seconds with If-None-Match: an unchanged
// resource costs a 304 and nothing is redrawn. Numbers come from the API's one forecast shape (intervals are
// lists of {level, lo, hi}); the page never recomputes a calendar year (that rule lives in the server).
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var DEFAULT_POLL = 60;
  var HBM = "hbm_revenue";
  var MEMORY = ["micron_revenue", "skhynix_revenue", "wsts_memory_sales_annual"];
  var HISTORY_YEARS = { monthly: 8, quarterly: 10, annual: 30 };
  var MONTHS = { monthly: 1, quarterly: 3, annual: 12 };
  // the chart is drawn in CSS pixels at the width it is shown (text stays 12 px on a phone), redrawn on resize
  var W = 900, H = 380, L = 64, R = 18, T = 34, B = 34;
  var $ = function (id) { return document.getElementById(id); };

  var keyInput = $("apikey");
  keyInput.value = sessionStorage.getItem("chipcast-key") || "";

  var catalog = {};          // id -> catalog row (published and modelled series)
  var etags = {};            // url -> ETag of the body on screen
  var bodies = {};           // url -> last body
  var state = { series: null, view: "levels", poll: DEFAULT_POLL };
  var current = null;        // {id, urls: {name: url}} of what is on screen
  var shown = null;          // {name, columns, rows}: what the chart shows, for the CSV download
  var pollTimer = null;
  var assumptions = null;    // HBM assumptions when the model has them (then scenarios run too)
  var scenarioYears = [];

  // ---------------------------------------------------------------------------------------- requests

  function headers(extra) {
    var h = { "Accept": "application/json" };
    if (keyInput.value) { h["X-API-Key"] = keyInput.value; }
    Object.keys(extra || {}).forEach(function (k) { h[k] = extra[k]; });
    return h;
  }

  function failure(r, body) {
    var msg = body && body.error ? body.error.message : ("HTTP " + r.status);
    var err = new Error(msg);
    err.status = r.status;
    return err;
  }

  // GET a JSON resource; with `conditional`, revalidate the copy on screen (304: unchanged, null body)
  function get(url, conditional) {
    var extra = conditional && etags[url] ? { "If-None-Match": etags[url] } : {};
    return fetch(url, { headers: headers(extra), cache: "no-store" }).then(function (r) {
      if (r.status === 304) { return null; }
      return r.json().then(function (body) {
        if (!r.ok) { throw failure(r, body); }
        var tag = r.headers.get("ETag");
        if (tag) { etags[url] = tag; }
        bodies[url] = body;
        return body;
      });
    });
  }

  function post(url, payload) {
    return fetch(url, { method: "POST", headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(payload), cache: "no-store" }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) { throw failure(r, body); }
        return body;
      });
    });
  }

  // ---------------------------------------------------------------------------------------- formatting

  function fmt(x, digits) {
    if (x === null || x === undefined || !isFinite(x)) { return "–"; }
    var d = digits === undefined ? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2) : digits;
    return x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  }
  function pct(x, digits) { return x === null || x === undefined ? "–" : fmt(x, digits === undefined ? 1 : digits) + "%"; }
  function band(iv, f) { f = f || fmt; return iv ? f(iv.lo) + " – " + f(iv.hi) : "–"; }
  function bandAt(intervals, level) {
    return (intervals || []).filter(function (b) { return b.level === level; })[0] || null;
  }
  var MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function period(ds, freq) {
    var d = new Date(ds + "T00:00:00Z"), y = d.getUTCFullYear(), m = d.getUTCMonth();
    if (freq === "annual") { return String(y); }
    if (freq === "quarterly") { return "Q" + (Math.floor(m / 3) + 1) + " " + y; }
    return MONTH_NAMES[m] + " " + y;
  }
  function day(ds) {
    if (!ds) { return "–"; }
    var d = new Date(ds + "T00:00:00Z");
    return d.getUTCDate() + " " + MONTH_NAMES[d.getUTCMonth()] + " " + d.getUTCFullYear();
  }
  function addMonths(ds, n) {
    var d = new Date(ds + "T00:00:00Z");
    d.setUTCMonth(d.getUTCMonth() + n);
    return d.toISOString().slice(0, 10);
  }
  function el(name, attrs, text) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function setStatus(text, isError) {
    var s = $("status");
    s.textContent = text;
    s.className = isError ? "error" : "muted";
  }

  // ---------------------------------------------------------------------------------------- axes

  // round tick steps: 1, 2, 2.5 or 5 times a power of ten
  function niceStep(span, n) {
    var raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = [1, 2, 2.5, 5, 10].filter(function (k) { return k * mag >= raw - 1e-12; })[0];
    return m * mag;
  }
  function niceTicks(lo, hi, n) {
    if (!(hi > lo)) { hi = lo + (Math.abs(lo) || 1); }
    var step = niceStep(hi - lo, n || 5);
    var a = Math.floor(lo / step + 1e-9) * step, b = Math.ceil(hi / step - 1e-9) * step, out = [];
    for (var v = a; v <= b + step / 2; v += step) { out.push(Number(v.toPrecision(12))); }
    return { ticks: out, step: step, lo: out[0], hi: out[out.length - 1] };
  }
  function tickLabel(v, step) {
    var d = step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step) - 1e-9) + (step * Math.pow(10, Math.ceil(-Math.log10(step))) % 1 ? 1 : 0));
    return v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
  }

  // a frame: y axis with round ticks and the unit above the plot (never on a tick), x axis in years
  function frame(svg, yLo, yHi, unit, xs, sx, opts) {
    opts = opts || {};
    // a series that cannot go below zero (sales, revenue, capex) never gets an axis below zero
    var t = niceTicks(opts.nonNegative ? Math.max(0, yLo) : yLo, yHi, W < 600 ? 4 : 5);
    var labels = t.ticks.map(function (v) { return tickLabel(v, t.step) + (opts.suffix || ""); });
    // the left margin fits the longest tick label (about 7 px a character at 12 px)
    L = Math.max(40, 10 + 7 * Math.max.apply(null, labels.map(function (s) { return s.length; })));
    var sy = function (y) { return T + (H - T - B) * (1 - (y - t.lo) / (t.hi - t.lo)); };
    t.ticks.forEach(function (v, i) {
      svg.appendChild(el("line", { x1: L, x2: W - R, y1: sy(v), y2: sy(v), "class": v === 0 ? "zero" : "grid" }));
      svg.appendChild(el("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end", "class": "ytick" }, labels[i]));
    });
    svg.appendChild(el("text", { x: 4, y: 15, "class": "unit" }, unit));
    svg.appendChild(el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis" }));
    if (opts.years) {
      // as many year labels as fit (about 48 px each), on whole multiples so they never run into each other
      var first = opts.years[0], last = opts.years[1], fit = Math.max(2, Math.floor((W - L - R) / 48));
      var every = Math.max(1, Math.ceil((last - first + 1) / fit));
      for (var yr = first; yr <= last; yr++) {
        if ((yr - first) % every) { continue; }
        var x = opts.yearX(yr);
        if (x < L - 1 || x > W - R + 1) { continue; }
        svg.appendChild(el("line", { x1: x, x2: x, y1: H - B, y2: H - B + 4, "class": "axis" }));
        svg.appendChild(el("text", { x: x, y: H - B + 18, "text-anchor": "middle", "class": "xtick" }, String(yr)));
      }
    }
    return { sy: sy, lo: t.lo, hi: t.hi, clamp: function (y) { return Math.max(t.lo, Math.min(t.hi, y)); } };
  }

  // a path that breaks at every null (a missing period is a gap, never a line drawn through it)
  function gapPath(pts) {
    var d = "", pen = false;
    pts.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || !isFinite(p[1])) { pen = false; return; }
      d += (pen ? " L" : (d ? " M" : "M")) + p[0].toFixed(1) + "," + p[1].toFixed(1);
      pen = true;
    });
    return d;
  }

  // ---------------------------------------------------------------------------------------- hover values

  function hoverLayer(svg, points) {
    // points: [{x, y, title, lines: [..]}] sorted by x
    var guide = el("line", { x1: 0, x2: 0, y1: T, y2: H - B, "class": "hover-line", visibility: "hidden" });
    var dot = el("circle", { r: 4, cx: 0, cy: 0, "class": "hover-dot", visibility: "hidden" });
    var area = el("rect", { x: L, y: T, width: W - L - R, height: H - T - B, "class": "hover-area" });
    svg.appendChild(guide);
    svg.appendChild(dot);
    svg.appendChild(area);
    var tip = $("tooltip");
    function hide() {
      guide.setAttribute("visibility", "hidden");
      dot.setAttribute("visibility", "hidden");
      tip.hidden = true;
    }
    function show(evt) {
      if (!points.length) { return; }
      var m = svg.getScreenCTM();
      if (!m) { return; }
      var x = (evt.clientX - m.e) / m.a;
      var best = points[0];
      points.forEach(function (p) { if (Math.abs(p.x - x) < Math.abs(best.x - x)) { best = p; } });
      guide.setAttribute("x1", best.x);
      guide.setAttribute("x2", best.x);
      guide.setAttribute("visibility", "visible");
      if (best.y !== null && isFinite(best.y)) {
        dot.setAttribute("cx", best.x);
        dot.setAttribute("cy", best.y);
        dot.setAttribute("visibility", "visible");
      }
      tip.textContent = "";
      var head = document.createElement("b");
      head.textContent = best.title;
      tip.appendChild(head);
      best.lines.forEach(function (line) {
        var div = document.createElement("div");
        div.textContent = line;
        tip.appendChild(div);
      });
      tip.hidden = false;
      var wrap = $("chart").getBoundingClientRect();
      var left = evt.clientX - wrap.left + 12;
      if (left + tip.offsetWidth > wrap.width) { left = evt.clientX - wrap.left - tip.offsetWidth - 12; }
      tip.style.left = Math.max(0, left) + "px";
      tip.style.top = Math.max(0, evt.clientY - wrap.top - tip.offsetHeight - 8) + "px";
    }
    area.addEventListener("pointermove", show);
    area.addEventListener("pointerdown", show);
    area.addEventListener("pointerleave", hide);
  }

  function legend(items) {
    var p = $("legend");
    p.textContent = "";
    items.forEach(function (it) {
      var span = document.createElement("span");
      var sw = document.createElement("span");
      sw.className = "sw " + it[0];
      span.appendChild(sw);
      span.appendChild(document.createTextNode(it[1]));
      p.appendChild(span);
    });
  }

  function newSvg() {
    var box = $("chart");
    W = Math.max(300, Math.min(1100, Math.round(box.clientWidth || 900)));
    H = W < 600 ? 300 : 380;
    L = W < 600 ? 48 : 64;
    box.textContent = "";
    $("tooltip").hidden = true;
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img" });
    box.appendChild(svg);
    return svg;
  }

  // ---------------------------------------------------------------------------------------- levels view

  // published history on a regular grid (gaps stay empty), then the forecast fan
  function historyGrid(history, freq, years) {
    var obs = history ? history.observations : [];
    if (!obs.length) { return []; }
    var step = MONTHS[freq], last = obs[obs.length - 1].ds;
    var start = addMonths(last, -12 * years + step);
    if (start < obs[0].ds) { start = obs[0].ds; }
    var byDs = {};
    obs.forEach(function (o) { byDs[o.ds] = o; });
    var out = [];
    for (var ds = start; ds <= last; ds = addMonths(ds, step)) {
      var o = byDs[ds];
      out.push({ ds: ds, value: o ? o.value : null, published: o ? o.published : null });
    }
    return out;
  }

  // The 95% then 80% bands over the forecast periods (drawn once they span minBand periods), the history
  // with its gaps left open, and the forecast line joined to the last actual; returns that last actual.
  function drawFan(svg, sx, sy, hist, fc, value, bandOf, minBand) {
    var t = function (ds) { return Date.parse(ds + "T00:00:00Z"); };
    [95, 80].forEach(function (lv) {
      var upper = [], lower = [];
      fc.forEach(function (o) {
        var b = bandOf(o, lv);
        if (b && b.lo !== null && b.hi !== null) {
          upper.push(sx(t(o.ds)).toFixed(1) + "," + sy(b.hi).toFixed(1));
          lower.unshift(sx(t(o.ds)).toFixed(1) + "," + sy(b.lo).toFixed(1));
        }
      });
      if (upper.length >= minBand) { svg.appendChild(el("polygon", { points: upper.concat(lower).join(" "), "class": "b" + lv })); }
    });
    svg.appendChild(el("path", { d: gapPath(hist.map(function (o) { return [sx(t(o.ds)), value(o) === null ? null : sy(value(o))]; })),
      "class": "hist" }));
    var lastObs = null;
    hist.forEach(function (o) { if (value(o) !== null) { lastObs = o; } });
    var line = fc.filter(function (o) { return value(o) !== null; }).map(function (o) { return [t(o.ds), value(o)]; });
    if (lastObs && line.length) { line.unshift([t(lastObs.ds), value(lastObs)]); }
    if (line.length) {
      svg.appendChild(el("polyline", { points: line.map(function (a) { return sx(a[0]).toFixed(1) + "," + sy(a[1]).toFixed(1); }).join(" "),
        "class": "fc" }));
    }
    return lastObs;
  }

  function drawLevels(history, fc) {
    var freq = fc.frequency, unit = fc.unit;
    var grid = historyGrid(history, freq, HISTORY_YEARS[freq] || 8);
    var pts = fc.points, nowcast = {};
    (fc.data.nowcast || []).forEach(function (d) { nowcast[d] = true; });
    if (!grid.length && freq === "annual") { drawYears(null, fc, fc.outlook); return; }
    var t = function (ds) { return Date.parse(ds + "T00:00:00Z"); };
    var xs = grid.map(function (o) { return t(o.ds); }).concat(pts.map(function (p) { return t(p.ds); }));
    var ys = [];
    grid.forEach(function (o) { if (o.value !== null) { ys.push(o.value); } });
    pts.forEach(function (p) {
      ys.push(p.value);
      p.intervals.forEach(function (b) { ys.push(b.lo, b.hi); });
    });
    ys = ys.filter(function (y) { return y !== null && isFinite(y); });
    if (!xs.length || !ys.length) { $("chart").textContent = "No data to draw."; shown = null; return; }
    var histVals = grid.map(function (o) { return o.value; }).filter(function (v) { return v !== null; });
    var nonNegative = histVals.concat(pts.map(function (p) { return p.value; })).every(function (v) { return v === null || v >= 0; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var sx = function (ms) { return L + (W - L - R) * (x1 === x0 ? 0.5 : (ms - x0) / (x1 - x0)); };
    var yLo = Math.min.apply(null, ys), yHi = Math.max.apply(null, ys), pad = (yHi - yLo) * 0.04;
    var svg = newSvg();
    var f = frame(svg, yLo - pad, yHi + pad, unit, xs, sx, {
      nonNegative: nonNegative, years: [new Date(x0).getUTCFullYear(), new Date(x1).getUTCFullYear() + 1],
      yearX: function (yr) { return sx(Date.UTC(yr, 0, 1)); } });
    var sy = function (y) { return f.sy(f.clamp(y)); };
    var lastObs = drawFan(svg, sx, sy, grid, pts, function (o) { return o.value; },
      function (p, lv) { return bandAt(p.intervals, lv); }, 1);
    pts.forEach(function (p) {
      if (nowcast[p.ds] && p.value !== null) {
        var c = el("circle", { cx: sx(t(p.ds)), cy: sy(p.value), r: 5, "class": "nowcast" });
        c.appendChild(el("title", {}, period(p.ds, freq) + ": nowcast " + fmt(p.value) + " " + unit));
        svg.appendChild(c);
      }
    });
    if (lastObs) {
      var lx = sx(t(lastObs.ds)), ly = sy(lastObs.value);
      svg.appendChild(el("line", { x1: lx, x2: lx, y1: T, y2: H - B, "class": "last-actual-line" }));
      svg.appendChild(el("circle", { cx: lx, cy: ly, r: 5, "class": "last-actual" }));
      svg.appendChild(el("text", { x: lx - 6, y: T + 12, "text-anchor": "end", "class": "last-actual-label" },
        "last actual " + period(lastObs.ds, freq)));
    }
    var hover = grid.filter(function (o) { return o.value !== null || true; }).map(function (o) {
      return { x: sx(t(o.ds)), y: o.value === null ? null : sy(o.value), title: period(o.ds, freq),
        lines: o.value === null ? ["not published (a gap in the source)"] :
          ["published " + fmt(o.value) + " " + unit + (o.published ? " (" + day(o.published) + ")" : "")] };
    });
    pts.forEach(function (p) {
      var lines = [(nowcast[p.ds] ? "nowcast " : "forecast ") + fmt(p.value) + " " + unit];
      p.intervals.forEach(function (b) { lines.push(b.level + "%: " + band(b)); });
      hover.push({ x: sx(t(p.ds)), y: p.value === null ? null : sy(p.value), title: period(p.ds, freq), lines: lines });
    });
    hoverLayer(svg, hover);
    var items = [["hist", "published"], ["last", "last actual"], ["fc", "forecast"], ["b80", "80%"], ["b95", "95%"]];
    if ((fc.data.nowcast || []).length) { items.splice(2, 0, ["nowcast", "nowcast from " + (fc.data.nowcast_indicator || "an indicator")]); }
    legend(items);
    var levels = fc.levels;
    var cols = ["ds", "kind", "value (" + unit + ")"];
    levels.forEach(function (lv) { cols.push("lo_" + lv, "hi_" + lv); });
    var rows = grid.map(function (o) {
      var r = [o.ds, o.value === null ? "missing" : "published", o.value];
      levels.forEach(function () { r.push(null, null); });
      return r;
    });
    pts.forEach(function (p) {
      var r = [p.ds, nowcast[p.ds] ? "nowcast" : "forecast", p.value];
      levels.forEach(function (lv) { var b = bandAt(p.intervals, lv); r.push(b ? b.lo : null, b ? b.hi : null); });
      rows.push(r);
    });
    shown = { name: fc.series_id + "_levels", columns: cols, rows: rows };
  }

  // ---------------------------------------------------------------------------------------- growth view

  function drawGrowth(history, fc) {
    var freq = fc.frequency, per = 12 / MONTHS[freq];
    var all = historyGrid(history, freq, (HISTORY_YEARS[freq] || 8) + 1);
    var byDs = {};
    all.forEach(function (o) { byDs[o.ds] = o.value; });
    fc.points.forEach(function (p) { if (!(p.ds in byDs)) { byDs[p.ds] = null; } });
    var fcByDs = {};
    fc.points.forEach(function (p) { fcByDs[p.ds] = p; });
    var yoy = function (now, before) { return now === null || before === null || before === undefined || !before ? null : 100 * (now / before - 1); };
    var hist = all.slice(per).map(function (o) { return { ds: o.ds, g: yoy(o.value, byDs[addMonths(o.ds, -12)]) }; });
    var fcg = fc.points.map(function (p) {
      var prev = addMonths(p.ds, -12), base = byDs[prev], basePublished = base !== null && base !== undefined;
      if (!basePublished && fcByDs[prev]) { base = fcByDs[prev].value; }
      var out = { ds: p.ds, g: yoy(p.value, base), bands: {} };
      if (basePublished) {  // exact: the base is a published figure, so the band divides by a constant
        p.intervals.forEach(function (b) { out.bands[b.level] = { lo: yoy(b.lo, base), hi: yoy(b.hi, base) }; });
      }
      return out;
    });
    var t = function (ds) { return Date.parse(ds + "T00:00:00Z"); };
    var xs = hist.map(function (o) { return t(o.ds); }).concat(fcg.map(function (o) { return t(o.ds); }));
    var ys = [0];
    hist.forEach(function (o) { if (o.g !== null) { ys.push(o.g); } });
    fcg.forEach(function (o) {
      if (o.g !== null) { ys.push(o.g); }
      Object.keys(o.bands).forEach(function (lv) { ys.push(o.bands[lv].lo, o.bands[lv].hi); });
    });
    ys = ys.filter(function (y) { return y !== null && isFinite(y); });
    if (!xs.length) { $("chart").textContent = "Not enough history for year-on-year growth."; shown = null; return; }
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var sx = function (ms) { return L + (W - L - R) * (x1 === x0 ? 0.5 : (ms - x0) / (x1 - x0)); };
    var svg = newSvg();
    var f = frame(svg, Math.min.apply(null, ys), Math.max.apply(null, ys), "% year on year", xs, sx, {
      suffix: "%", years: [new Date(x0).getUTCFullYear(), new Date(x1).getUTCFullYear() + 1],
      yearX: function (yr) { return sx(Date.UTC(yr, 0, 1)); } });
    var lastObs = drawFan(svg, sx, f.sy, hist, fcg, function (o) { return o.g; },
      function (o, lv) { return o.bands[lv]; }, 2);
    if (lastObs) {
      svg.appendChild(el("circle", { cx: sx(t(lastObs.ds)), cy: f.sy(lastObs.g), r: 5, "class": "last-actual" }));
    }
    var hover = hist.map(function (o) {
      return { x: sx(t(o.ds)), y: o.g === null ? null : f.sy(o.g), title: period(o.ds, freq),
        lines: [o.g === null ? "no year-on-year figure (a gap)" : "published growth " + pct(o.g)] };
    });
    fcg.forEach(function (o) {
      var lines = ["forecast growth " + pct(o.g)];
      Object.keys(o.bands).forEach(function (lv) { lines.push(lv + "%: " + band(o.bands[lv], pct)); });
      hover.push({ x: sx(t(o.ds)), y: o.g === null ? null : f.sy(o.g), title: period(o.ds, freq), lines: lines });
    });
    hoverLayer(svg, hover);
    legend([["hist", "published growth"], ["last", "last actual"], ["fc", "forecast growth"],
      ["b80", "80% (over a published base)"], ["b95", "95%"]]);
    var rows = hist.map(function (o) { return [o.ds, "published", o.g, null, null]; });
    fcg.forEach(function (o) { var b = o.bands[80]; rows.push([o.ds, "forecast", o.g, b ? b.lo : null, b ? b.hi : null]); });
    shown = { name: fc.series_id + "_growth", columns: ["ds", "kind", "yoy_pct", "lo_80_pct", "hi_80_pct"], rows: rows };
  }

  // ---------------------------------------------------------------------------------------- calendar years

  function drawYears(outlook, fc, years, estimates) {
    years = years || (outlook ? outlook.outlook : []);
    var unit = (outlook || fc).unit, sid = (outlook || fc).series_id;
    if (!years.length) { $("chart").textContent = "No calendar year to show."; shown = null; return; }
    var rows = [];
    var first = years[0];
    if (first.prior_year_value !== null && first.prior_year_value !== undefined) {
      rows.push({ year: first.year - 1, value: first.prior_year_value, kind: "published", bands: {}, growth: null });
    }
    years.forEach(function (y) {
      var bands = {};
      y.intervals.forEach(function (b) { bands[b.level] = b; });
      rows.push({ year: y.year, value: y.value, kind: y.published_periods ? "published + forecast" : "forecast",
        bands: bands, growth: y.growth_pct, pub: y.published_periods, fcn: y.forecast_periods });
    });
    estimates = estimates || [];
    var ys = [0];
    rows.forEach(function (r) {
      ys.push(r.value);
      Object.keys(r.bands).forEach(function (lv) { ys.push(r.bands[lv].lo, r.bands[lv].hi); });
    });
    estimates.forEach(function (e) { ys.push(e.value); });
    ys = ys.filter(function (y) { return y !== null && isFinite(y); });
    var allYears = rows.map(function (r) { return r.year; }).concat(estimates.map(function (e) { return e.year; }));
    var y0 = Math.min.apply(null, allYears) - 0.6, y1 = Math.max.apply(null, allYears) + 0.6;
    var sx = function (yr) { return L + (W - L - R) * (yr - y0) / (y1 - y0); };
    var svg = newSvg();
    var f = frame(svg, 0, Math.max.apply(null, ys) * 1.08, unit, [], sx, { nonNegative: true,
      years: [Math.ceil(y0), Math.floor(y1)], yearX: sx });
    var half = Math.min(28, 0.3 * (sx(1) - sx(0)));
    var points = [];
    rows.forEach(function (r) {
      if (r.value === null) { return; }
      var x = sx(r.year);
      if (r.kind === "published") {  // a published year is a figure: a bar
        svg.appendChild(el("rect", { x: x - half, y: f.sy(r.value), width: 2 * half,
          height: Math.max(0, f.sy(0) - f.sy(r.value)), "class": "bar-pub" }));
      } else {  // a forecast year is a distribution: its 95% and 80% ranges, and the point forecast
        [95, 80].forEach(function (lv) {
          var b = r.bands[lv];
          if (!b || b.lo === null || b.hi === null) { return; }
          var w = lv === 95 ? half : half * 0.6;
          svg.appendChild(el("rect", { x: x - w, y: f.sy(b.hi), width: 2 * w, height: Math.max(1, f.sy(b.lo) - f.sy(b.hi)),
            "class": "b" + lv }));
        });
        points.push([x, f.sy(r.value)]);
      }
      if (r.growth !== null && r.growth !== undefined) {
        var top = r.bands[95] ? r.bands[95].hi : r.value;
        svg.appendChild(el("text", { x: x, y: f.sy(top) - 6, "text-anchor": "middle", "class": "growth" },
          (r.growth >= 0 ? "+" : "") + fmt(r.growth, 1) + "%"));
      }
    });
    if (points.length) {
      svg.appendChild(el("polyline", { points: points.map(function (m) { return m[0].toFixed(1) + "," + m[1].toFixed(1); }).join(" "),
        "class": "fc" }));
      points.forEach(function (m) { svg.appendChild(el("circle", { cx: m[0], cy: m[1], r: 4, "class": "fc-dot" })); });
    }
    var perYear = {};
    estimates.forEach(function (e) {
      var cx = sx(e.year), cy = f.sy(e.value), d = 5, k = perYear[e.year] = (perYear[e.year] || 0) + 1;
      var mark = el("polygon", { points: [cx + "," + (cy - d), (cx + d) + "," + cy, cx + "," + (cy + d), (cx - d) + "," + cy].join(" "),
        "class": "est" });
      mark.appendChild(el("title", {}, e.year + ": " + fmt(e.value) + " " + unit + " estimated by " + e.by));
      svg.appendChild(mark);
      // labels of estimates for one year stack to the right of the mark, so none runs off the chart
      svg.appendChild(el("text", { x: cx + 8, y: cy + 4 - 13 * (k - 1), "text-anchor": "start", "class": "est-label" }, e.by));
    });
    hoverLayer(svg, rows.map(function (r) {
      var lines = [r.kind + " " + fmt(r.value) + " " + unit];
      [80, 95].forEach(function (lv) { if (r.bands[lv]) { lines.push(lv + "%: " + band(r.bands[lv])); } });
      if (r.growth !== null && r.growth !== undefined) { lines.push("growth " + pct(r.growth)); }
      if (r.fcn) { lines.push(r.pub + " published + " + r.fcn + " forecast periods"); }
      return { x: sx(r.year), y: r.value === null ? null : f.sy(r.value), title: String(r.year), lines: lines };
    }));
    var items = [["pub", "published year"], ["fc", "forecast year: point forecast (with published periods)"], ["b80", "80%"],
      ["b95", "95%"]];
    if (estimates.length) { items.push(["est", "dated market-size estimates (calibration)"]); }
    legend(items);
    shown = { name: sid + "_years", columns: ["year", "kind", "value (" + unit + ")", "lo_80", "hi_80", "lo_95", "hi_95", "growth_pct"],
      rows: rows.map(function (r) {
        var b8 = r.bands[80] || {}, b9 = r.bands[95] || {};
        return [r.year, r.kind, r.value, b8.lo, b8.hi, b9.lo, b9.hi, r.growth];
      }) };
  }

  // ---------------------------------------------------------------------------------------- tables

  function fillTable(id, rows) {
    var body = $(id).tBodies[0];
    body.textContent = "";
    rows.forEach(function (cells) {
      var tr = document.createElement("tr");
      if (cells.className) { tr.className = cells.className; }
      cells.values.forEach(function (v) {
        var td = document.createElement("td");
        if (v !== null && typeof v === "object" && v.node) {
          td.appendChild(v.node);
          td.className = v.cls || "";
        } else if (v !== null && typeof v === "object") {
          td.textContent = v.text;
          td.className = v.cls || "";
        } else {
          td.textContent = v;
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function showOutlook(o, modelled) {
    fillTable("outlook", o.outlook.map(function (y) {
      return { values: [String(y.year), fmt(y.value), band(bandAt(y.intervals, 80)), band(bandAt(y.intervals, 95)),
        pct(y.growth_pct), band(bandAt(y.growth_intervals, 80), pct),
        modelled ? "modelled" : (y.published_periods || 0) + " + " + (y.forecast_periods || 0)] };
    }));
  }

  function showLeaderboard(b) {
    if (!b) { $("leaderboard-section").hidden = true; return; }
    $("leaderboard-section").hidden = false;
    var served = b.leaderboard.filter(function (r) { return r.served; })[0];
    $("lbh").textContent = "(served: " + (served ? served.model : b.method.name) + " = champion; primary horizon " +
      b.primary_horizon + ")";
    var rows = b.leaderboard.filter(function (r) { return r.horizon === b.primary_horizon; });
    fillTable("leaderboard", rows.map(function (r) {
      return { className: r.served ? "champion" : "",
        values: [r.model, String(r.horizon), fmt(r.mase, 3), fmt(r.smape, 3), fmt(r.coverage_80, 2),
          fmt(r.coverage_95, 2), r.windows === null ? "–" : String(r.windows), r.role,
          { text: r.note || "", cls: "wrap" }] };
    }));
  }

  function showMeta(fc) {
    $("title").textContent = fc.name;
    var m = fc.model || {};
    $("meta").textContent = "Method " + fc.method.name + " (" + fc.method.description + ") · model version " +
      (m.version || "–") + " · trained " + (m.trained_at || "–") + " · data as of " + (m.as_of || "–") + " · unit " + fc.unit;
    var p = $("freshness");
    p.textContent = "";
    var d = fc.data;
    if (fc.method.name === "structural") {
      p.textContent = "Modelled, never published: no history; the capex it is built on was last published " + day(d.last_published) + ".";
      return;
    }
    var text = "Last actual: " + period(d.last_observation, fc.frequency) + " (published " + day(d.last_published) +
      ") · next release expected " + day(d.next_expected_release) + " · ";
    p.appendChild(document.createTextNode(text));
    var stale = document.createElement("span");
    stale.className = d.staleness_days > 0 ? "stale" : "";
    stale.textContent = d.staleness_days > 0 ? d.staleness_days + " days overdue" : "up to date";
    stale.id = "staleness";
    p.appendChild(stale);
    if ((d.nowcast || []).length) {
      p.appendChild(document.createTextNode(" · nowcast " + d.nowcast.map(function (x) { return period(x, fc.frequency); }).join(", ") +
        " from " + (d.nowcast_indicator || "an indicator")));
    }
  }

  // ---------------------------------------------------------------------------------------- HBM assumptions

  function estimatesOf(a) {
    return a ? a.hbm_content.calibration.filter(function (c) { return c.hbm_usd_bn !== null && c.hbm_usd_bn !== undefined; })
      .map(function (c) { return { year: c.year, value: c.hbm_usd_bn, by: c.estimate_by || "estimate" }; }) : [];
  }

  function showAssumptions(a) {
    $("formula").textContent = a.formula + " · capex driver " + a.capex_driver;
    var rows = [];
    [a.accelerator_share, a.hbm_content].forEach(function (p) {
      rows.push({ className: "param", values: [p.name, fmt(p.value, 3), fmt(p.low, 3) + " – " + fmt(p.high, 3),
        { text: p.unit, cls: "wrap" }, { text: p.how, cls: "wrap" }] });
      p.calibration.forEach(function (c) {
        var what = c.hbm_usd_bn !== null && c.hbm_usd_bn !== undefined ?
          fmt(c.hbm_usd_bn, 1) + " US$ bn estimated by " + (c.estimate_by || "?") + (c.stated ? " on " + c.stated : "") :
          "NVIDIA DC " + fmt(c.nvidia_dc_usd_m, 0) + " / capex " + fmt(c.capex_usd_m, 0) + " US$ m";
        rows.push({ className: "sub", values: [String(c.year), fmt(c.ratio, 3), "", { text: what, cls: "wrap" },
          { text: c.source, cls: "wrap" }] });
      });
    });
    fillTable("assumptions", rows);
    fillTable("elasticities", Object.keys(a.elasticities).map(function (k) {
      var e = a.elasticities[k];
      return { values: [k, fmt(e.value, 2) + (e.estimate !== e.value ? " (OLS " + fmt(e.estimate, 2) + ")" : ""),
        fmt(e.se, 2), String(e.n), e.periods] };
    }));
    var ul = $("limits");
    ul.textContent = "";
    a.limits.forEach(function (t) {
      var li = document.createElement("li");
      li.textContent = t;
      ul.appendChild(li);
    });
  }

  // ---------------------------------------------------------------------------------------- track record

  function showTrackRecord(tr, fc) {
    if (!tr) { $("track-section").hidden = true; return; }
    $("track-section").hidden = false;
    var method = fc ? fc.method.name : null;
    $("track-note").textContent = "At each 1 June and 1 December the data allows, the served method was run on the data " +
      "known that day; beside it, the growth that happened (as known today). Plain references are scored the same way.";
    fillTable("track-summary", tr.summary.map(function (s) {
      return { className: s.model === method ? "champion" : "", values: [s.question, s.model, String(s.origins),
        s.first_year + "–" + s.last_year, fmt(s.mae_pp, 1), fmt(s.bias_pp, 1), pct(s.hit_80 === null ? null : 100 * s.hit_80, 0),
        pct(s.hit_95 === null ? null : 100 * s.hit_95, 0)] };
    }));
    var mine = tr.rows.filter(function (r) { return r.model === method; });
    if (!mine.length) { mine = tr.rows; }
    mine = mine.slice().sort(function (a, b) { return a.origin < b.origin ? 1 : a.origin > b.origin ? -1 : 0; }).slice(0, 16);
    fillTable("track-rows", mine.map(function (r) {
      var hit = r.hit_80 === null ? "not yet" : r.hit_80 ? "yes" : "no";
      return { values: [day(r.origin), r.year + " (" + r.horizon + " year)", pct(r.forecast_growth_pct),
        band(bandAt(r.growth_intervals, 80), pct), r.actual_growth_latest_pct === null ? "not yet" : pct(r.actual_growth_latest_pct),
        r.error_pp === null ? "–" : fmt(r.error_pp, 1), { text: hit, cls: r.hit_80 === false ? "down" : r.hit_80 ? "up" : "" }] };
    }));
  }

  // ---------------------------------------------------------------------------------------- scenarios

  function bar(value, max, cls) {
    var span = document.createElement("span");
    span.className = "bar " + (cls || "");
    span.style.width = Math.max(1, Math.round(80 * (value || 0) / (max || 1))) + "px";
    return { node: span };
  }

  function showScenario(res) {
    var sc = res.scenario;
    $("scenario-description").textContent = "Scenario '" + sc.name + "': " + sc.description;
    if (!scenarioYears.length) { scenarioYears = res.capex.map(function (c) { return c.year; }); }
    fillTable("scenario-capex", res.capex.map(function (c) {
      return { values: [String(c.year), fmt(c.baseline / 1000, 1), fmt(c.scenario / 1000, 1), fmt(c.multiplier, 2) + "x"] };
    }));
    var rows = [];
    Object.keys(res.targets).forEach(function (sid) {
      var t = res.targets[sid], scen = {};
      t.scenario.outlook.forEach(function (y) { scen[y.year] = y; });
      var max = 0;
      t.baseline.outlook.concat(t.scenario.outlook).forEach(function (y) { max = Math.max(max, y.value || 0); });
      t.baseline.outlook.forEach(function (b) {
        var s = scen[b.year];
        if (!s) { return; }
        var change = b.value ? 100 * (s.value / b.value - 1) : null;
        rows.push({ className: sid === HBM ? "hbm" : "", values: [sid + " (" + t.baseline.unit + ")", String(b.year), fmt(b.value),
          band(bandAt(b.intervals, 80)), fmt(s.value), band(bandAt(s.intervals, 80)),
          { text: (change >= 0 ? "+" : "") + pct(change), cls: change > 0 ? "up" : change < 0 ? "down" : "" },
          bar(s.value, max)] });
      });
    });
    fillTable("scenario-targets", rows);
    var box = $("scenario-statements-box"), ul = $("scenario-statements");
    ul.textContent = "";
    box.hidden = !sc.statements || !sc.statements.length;
    (sc.statements || []).forEach(function (s) {
      var li = document.createElement("li");
      li.className = s.used ? "used" : "";
      li.textContent = (s.used ? "used: " : "left out: ") + s.company + ", " + (s.date_stated || "undated") + ", " +
        s.period_covered + ": " + s.statement + " (" + s.basis + (s.flags.length ? "; " + s.flags.join(", ") : "") + ") — " +
        s.reason + ". Source: " + s.source_url;
      ul.appendChild(li);
    });
  }

  function runScenario(payload) {
    $("scenario-description").textContent = "Running the scenario…";
    return post("v1/scenarios", payload).then(showScenario).catch(function (e) {
      $("scenario-description").textContent = e.message;
      $("scenario-description").className = "error";
    }).then(function () {
      if ($("scenario-description").className === "error") { return; }
      $("scenario-description").className = "muted";
    });
  }

  function sliderPayload() {
    var v = Number($("capex-slider").value), values = {};
    scenarioYears.forEach(function (y) { values[String(y)] = v; });
    return { name: "capex " + (v >= 0 ? "+" : "") + v + "% vs baseline",
      capex: { mode: "relative_to_baseline_pct", values: values } };
  }

  $("capex-slider").addEventListener("input", function () {
    var v = Number($("capex-slider").value);
    $("capex-value").textContent = (v >= 0 ? "+" : "") + v + "%";
  });
  $("capex-slider").addEventListener("change", function () {
    $("scenario-name").value = "custom";
    if (scenarioYears.length) { runScenario(sliderPayload()); }
  });
  $("scenario-name").addEventListener("change", function () {
    var name = $("scenario-name").value;
    if (name === "custom") { runScenario(sliderPayload()); return; }
    $("capex-slider").value = "0";
    $("capex-value").textContent = "+0%";
    runScenario({ scenario: name });
  });

  // ---------------------------------------------------------------------------------------- CSV download

  function csvCell(v) {
    if (v === null || v === undefined) { return ""; }
    var s = String(v);
    return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  $("download").addEventListener("click", function () {
    if (!shown) { return; }
    var lines = [shown.columns.map(csvCell).join(",")].concat(shown.rows.map(function (r) { return r.map(csvCell).join(","); }));
    var blob = new Blob([lines.join("\n") + "\n"], { type: "text/csv" });
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = shown.name + ".csv";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    $("download-note").textContent = shown.rows.length + " rows, as drawn";
  });

  // ---------------------------------------------------------------------------------------- drawing a view

  function draw() {
    if (!current) { return; }
    var u = current.urls, fc = bodies[u.forecast], o = bodies[u.outlook], hist = u.history ? bodies[u.history] : null;
    if (!fc || !o) { return; }
    var modelled = catalog[current.id] && catalog[current.id].modelled;
    showMeta(fc);
    if (state.view === "years" || (modelled && state.view === "levels")) {
      drawYears(o, fc, null, current.id === HBM ? estimatesOf(assumptions) : []);
    } else if (state.view === "growth") {
      if (modelled) { drawYears(o, fc, null, []); } else { drawGrowth(hist, fc); }
    } else {
      drawLevels(hist, fc);
    }
    showOutlook(o, modelled);
    showLeaderboard(u.backtest ? bodies[u.backtest] : null);
    showTrackRecord(u.track ? bodies[u.track] : null, fc);
    $("assumptions-section").hidden = !(current.id === HBM && assumptions);
    if (current.id === HBM && assumptions) { showAssumptions(assumptions); }
  }

  function load() {
    var id = state.series, entry = catalog[id];
    if (!entry) { return Promise.resolve(); }
    var enc = encodeURIComponent(id);
    var urls = {
      forecast: "v1/forecasts/" + enc,
      outlook: "v1/forecasts/" + enc + "/outlook?horizon=" + Math.max(1, entry.max_outlook_years || 2)
    };
    if (!entry.modelled) { urls.history = "v1/series/" + enc + "/history"; }
    if (entry.backtest) { urls.backtest = "v1/backtests/" + enc; }
    if (entry.track_record) { urls.track = "v1/track-record/" + enc; }
    current = { id: id, urls: urls };
    setStatus("Loading " + id + "…");
    var names = Object.keys(urls);
    var optional = { backtest: true, track: true };  // the view stands without them
    return Promise.all(names.map(function (n) {
      if (bodies[urls[n]]) { return Promise.resolve(bodies[urls[n]]); }
      return optional[n] ? get(urls[n]).catch(function () { delete urls[n]; return null; }) : get(urls[n]);
    }))
      .then(function () {
        if (!current || current.id !== id) { return; }
        draw();
        setStatus("");
      }).catch(function (e) { setStatus(e.message, true); });
  }

  // ---------------------------------------------------------------------------------------- polling

  function pollOnce() {
    if (!current || document.hidden) { return Promise.resolve(); }
    var u = current.urls, names = Object.keys(u), changed = false, id = current.id;
    return Promise.all(names.map(function (n) {
      return get(u[n], true).then(function (body) { if (body) { changed = true; } });
    })).then(function () {
      var now = new Date().toTimeString().slice(0, 8);
      $("poll").textContent = (changed ? "updated " : "unchanged, checked ") + now + " · every " + state.poll + " s";
      if (changed && current && current.id === id) { draw(); }
    }).catch(function (e) { $("poll").textContent = "check failed: " + e.message; });
  }

  function schedulePoll() {
    if (pollTimer) { clearInterval(pollTimer); }
    pollTimer = setInterval(pollOnce, state.poll * 1000);
    $("poll").textContent = "checking every " + state.poll + " s";
  }

  // ---------------------------------------------------------------------------------------- routing

  function readHash() {
    var h = location.hash.slice(1);
    var p = new URLSearchParams(h.indexOf("=") >= 0 ? h : (h ? "series=" + h : ""));
    var poll = Number(p.get("poll"));
    var view = p.get("view");
    return { series: p.get("series"), view: ["levels", "growth", "years"].indexOf(view) >= 0 ? view : "levels",
      poll: poll > 0 ? poll : DEFAULT_POLL };
  }

  function hashFor(next) {
    var p = new URLSearchParams();
    p.set("series", next.series);
    if (next.view !== "levels") { p.set("view", next.view); }
    if (next.poll !== DEFAULT_POLL) { p.set("poll", String(next.poll)); }
    return "#" + p.toString();
  }

  function navigate(change) {
    var next = { series: state.series, view: state.view, poll: state.poll };
    Object.keys(change).forEach(function (k) { next[k] = change[k]; });
    var h = hashFor(next);
    if (location.hash !== h) { location.hash = h; } else { route(); }
  }

  function route() {
    var wanted = readHash(), ids = Object.keys(catalog);
    if (!ids.length) { return; }
    if (!wanted.series || !catalog[wanted.series]) { wanted.series = $("series").options[0].value; }
    var seriesChanged = wanted.series !== state.series, viewChanged = wanted.view !== state.view;
    var pollChanged = wanted.poll !== state.poll || !pollTimer;
    state = wanted;
    // the address always names what is shown (replaced, not pushed: Back still leaves the page as before)
    if (location.hash !== hashFor(state)) { history.replaceState(null, "", hashFor(state)); }
    $("series").value = state.series;
    $("view").value = state.view;
    if (pollChanged) { schedulePoll(); }
    if (seriesChanged) { load(); } else if (viewChanged) { draw(); }
  }

  window.addEventListener("hashchange", route);
  var resizeTimer = null, drawnWidth = 0;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      var w = $("chart").clientWidth;
      if (Math.abs(w - drawnWidth) > 20) { drawnWidth = w; draw(); }
    }, 150);
  });
  $("series").addEventListener("change", function (e) { navigate({ series: e.target.value }); });
  $("view").addEventListener("change", function (e) { navigate({ view: e.target.value }); });
  keyInput.addEventListener("change", function () {
    sessionStorage.setItem("chipcast-key", keyInput.value);
    etags = {};
    bodies = {};
    init();
  });

  // ---------------------------------------------------------------------------------------- start

  function init() {
    return get("v1/series?forecast=true").then(function (list) {
      var sel = $("series");
      sel.textContent = "";
      catalog = {};
      var modelled = (list.modelled || []).map(function (m) {
        return { id: m.id, name: m.name, modelled: true, max_outlook_years: m.max_outlook_years, track_record: false };
      });
      list.series.forEach(function (s) { catalog[s.id] = s; });
      modelled.forEach(function (m) { catalog[m.id] = m; });
      var memory = list.series.filter(function (s) { return MEMORY.indexOf(s.id) >= 0; }).concat(modelled);
      var others = list.series.filter(function (s) { return MEMORY.indexOf(s.id) < 0; });
      [["Memory and HBM", memory], ["Other forecasts", others]].forEach(function (g) {
        if (!g[1].length) { return; }
        var group = document.createElement("optgroup");
        group.label = g[0];
        g[1].forEach(function (s) {
          var opt = document.createElement("option");
          opt.value = s.id;
          opt.textContent = s.name + " (" + s.id + ")";
          group.appendChild(opt);
        });
        sel.appendChild(group);
      });
      $("model").textContent = list.model_version ? "model version " + list.model_version : "no model loaded";
      if (!Object.keys(catalog).length) { setStatus("No forecast series: is a champion model loaded?", true); return; }
      state.series = null;
      route();
      // the HBM model (and with it capex scenarios) exists only when the catalog lists hbm_revenue as modelled
      if (!catalog[HBM]) { $("scenario-section").hidden = true; return; }
      return get("v1/models/hbm/assumptions").then(function (a) {
        assumptions = a;
        $("scenario-section").hidden = !a;
        if (a) {
          if (current && current.id === HBM) { draw(); }
          $("scenario-name").value = "base";
          return runScenario({ scenario: "base" });
        }
      });
    }).catch(function (e) { setStatus(e.message, true); });
  }

  init();
}());
