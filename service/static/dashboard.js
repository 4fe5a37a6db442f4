// chipcast dashboard: plain JS, no libraries, same-origin requests only (works offline).
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var HISTORY_POINTS = 60;
  var HBM = "hbm_revenue";
  var MEMORY = ["micron_revenue", "skhynix_revenue", "wsts_memory_sales_annual"];
  var $ = function (id) { return document.getElementById(id); };
  var keyInput = $("apikey");
  keyInput.value = sessionStorage.getItem("chipcast-key") || "";

  function api(path) {
    var headers = { "Accept": "application/json" };
    if (keyInput.value) { headers["X-API-Key"] = keyInput.value; }
    return fetch(path, { headers: headers }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) {
          var msg = body && body.error ? body.error.message : ("HTTP " + r.status);
          throw new Error(msg);
        }
        return body;
      });
    });
  }

  function fmt(x, digits) {
    if (x === null || x === undefined) { return "–"; }
    var d = digits === undefined ? (Math.abs(x) >= 100 ? 0 : 2) : digits;
    return x.toLocaleString(undefined, { minimumFractionDigits: d, maximumFractionDigits: d });
  }
  function band(iv) { return iv ? fmt(iv.lo) + " – " + fmt(iv.hi) : "–"; }
  function pct(x) { return x === null || x === undefined ? "–" : fmt(x, 1) + "%"; }
  function pctBand(iv) { return iv ? pct(iv.lo) + " – " + pct(iv.hi) : "–"; }

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

  function drawChart(history, forecast) {
    var box = $("chart");
    box.textContent = "";
    var W = 900, H = 340, L = 70, R = 20, T = 15, B = 35;
    var hist = history.observations.slice(-HISTORY_POINTS).filter(function (o) { return o.value !== null; });
    var pts = forecast.points;
    var ts = function (d) { return Date.parse(d); };
    var xs = hist.map(function (o) { return ts(o.ds); }).concat(pts.map(function (p) { return ts(p.ds); }));
    var ys = hist.map(function (o) { return o.value; });
    pts.forEach(function (p) {
      ys.push(p.value);
      ["80", "95"].forEach(function (lv) {
        var iv = p.intervals[lv];
        if (iv) { ys.push(iv.lo, iv.hi); }
      });
    });
    ys = ys.filter(function (y) { return y !== null && isFinite(y); });
    if (!xs.length || !ys.length) { box.textContent = "No data to draw."; return; }
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    var pad = (y1 - y0) * 0.05 || 1;
    y0 -= pad; y1 += pad;
    var sx = function (t) { return L + (W - L - R) * (x1 === x0 ? 0.5 : (t - x0) / (x1 - x0)); };
    var sy = function (y) { return T + (H - T - B) * (1 - (y - y0) / (y1 - y0)); };
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img" });
    for (var i = 0; i <= 4; i++) {
      var yv = y0 + (y1 - y0) * i / 4;
      svg.appendChild(el("line", { x1: L, x2: W - R, y1: sy(yv), y2: sy(yv), "class": "grid" }));
      svg.appendChild(el("text", { x: L - 6, y: sy(yv) + 4, "text-anchor": "end" }, fmt(yv, Math.abs(yv) >= 100 ? 0 : 1)));
    }
    var firstYear = new Date(x0).getUTCFullYear(), lastYear = new Date(x1).getUTCFullYear();
    var step = Math.max(1, Math.ceil((lastYear - firstYear + 1) / 10));
    for (var yr = firstYear; yr <= lastYear + 1; yr += step) {
      var t = Date.UTC(yr, 0, 1);
      if (t < x0 || t > x1) { continue; }
      svg.appendChild(el("line", { x1: sx(t), x2: sx(t), y1: H - B, y2: H - B + 4, "class": "axis" }));
      svg.appendChild(el("text", { x: sx(t), y: H - B + 16, "text-anchor": "middle" }, String(yr)));
    }
    svg.appendChild(el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis" }));
    ["95", "80"].forEach(function (lv) {
      var upper = [], lower = [];
      pts.forEach(function (p) {
        var iv = p.intervals[lv];
        if (iv && iv.lo !== null && iv.hi !== null) {
          upper.push(sx(ts(p.ds)) + "," + sy(iv.hi));
          lower.unshift(sx(ts(p.ds)) + "," + sy(iv.lo));
        }
      });
      if (upper.length) { svg.appendChild(el("polygon", { points: upper.concat(lower).join(" "), "class": "b" + lv })); }
    });
    var line = function (arr, cls) {
      var d = arr.map(function (a) { return sx(a[0]) + "," + sy(a[1]); }).join(" ");
      if (arr.length) { svg.appendChild(el("polyline", { points: d, "class": cls })); }
    };
    line(hist.map(function (o) { return [ts(o.ds), o.value]; }), "hist");
    var fcLine = pts.filter(function (p) { return p.value !== null; }).map(function (p) { return [ts(p.ds), p.value]; });
    if (hist.length && fcLine.length) { fcLine.unshift([ts(hist[hist.length - 1].ds), hist[hist.length - 1].value]); }
    line(fcLine, "fc");
    svg.appendChild(el("text", { x: 8, y: T + 8 }, forecast.unit));
    box.appendChild(svg);
  }

  function fillTable(id, rows) {
    var body = $(id).tBodies[0];
    body.textContent = "";
    rows.forEach(function (cells) {
      var tr = document.createElement("tr");
      if (cells.className) { tr.className = cells.className; }
      cells.values.forEach(function (v) {
        var td = document.createElement("td");
        if (v !== null && typeof v === "object") {
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

  function showOutlook(o) {
    fillTable("outlook", o.years.map(function (y) {
      return { values: [String(y.year), fmt(y.value), band(y.intervals["80"]), band(y.intervals["95"]),
        pct(y.growth_pct), pctBand(y.growth_intervals["80"]),
        (y.published_periods || 0) + " + " + (y.forecast_periods || 0)] };
    }));
  }

  function showLeaderboard(b) {
    $("lbh").textContent = "(champion " + b.champion + ", primary horizon " + b.primary_horizon + ")";
    var rows = b.leaderboard.filter(function (r) { return r.horizon === b.primary_horizon; });
    fillTable("leaderboard", rows.map(function (r) {
      return { className: r.champion ? "champion" : "",
        values: [r.model, String(r.horizon), fmt(r.mase, 3), fmt(r.smape, 3), fmt(r.coverage_80, 2),
          fmt(r.coverage_95, 2), String(r.windows === null ? "–" : r.windows), r.uses_drivers ? "yes" : "no"] };
    }));
  }

  // HBM revenue is modelled per calendar year: bars for the 95% and 80% intervals, the median joined by a
  // line, and the dated market-size estimates the model was calibrated on as diamonds.
  function drawYearly(points, estimates, unit) {
    var box = $("chart");
    box.textContent = "";
    var W = 900, H = 340, L = 70, R = 20, T = 15, B = 35;
    var years = points.map(function (p) { return p.year; }).concat(estimates.map(function (e) { return e.year; }));
    var ys = [0];
    points.forEach(function (p) {
      ys.push(p.value);
      ["80", "95"].forEach(function (lv) {
        var iv = p.intervals[lv];
        if (iv) { ys.push(iv.lo, iv.hi); }
      });
    });
    estimates.forEach(function (e) { ys.push(e.value); });
    ys = ys.filter(function (y) { return y !== null && isFinite(y); });
    if (!points.length) { box.textContent = "No data to draw."; return; }
    var x0 = Math.min.apply(null, years) - 0.6, x1 = Math.max.apply(null, years) + 0.6;
    var raw = (Math.max.apply(null, ys) || 1) / 4, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var tick = [1, 2, 2.5, 5, 10].map(function (m) { return m * mag; }).filter(function (t) { return t >= raw; })[0];
    var y0 = 0, y1 = tick * 4;
    var sx = function (yr) { return L + (W - L - R) * (yr - x0) / (x1 - x0); };
    var sy = function (y) { return T + (H - T - B) * (1 - (y - y0) / (y1 - y0)); };
    var svg = el("svg", { viewBox: "0 0 " + W + " " + H, role: "img" });
    for (var i = 0; i <= 4; i++) {
      var yv = y0 + (y1 - y0) * i / 4;
      svg.appendChild(el("line", { x1: L, x2: W - R, y1: sy(yv), y2: sy(yv), "class": "grid" }));
      svg.appendChild(el("text", { x: L - 6, y: sy(yv) + 4, "text-anchor": "end" }, fmt(yv, 0)));
    }
    var seen = {};
    years.forEach(function (yr) {
      if (seen[yr]) { return; }
      seen[yr] = true;
      svg.appendChild(el("text", { x: sx(yr), y: H - B + 16, "text-anchor": "middle" }, String(yr)));
    });
    svg.appendChild(el("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis" }));
    var half = { "95": 0.18, "80": 0.11 };
    ["95", "80"].forEach(function (lv) {
      points.forEach(function (p) {
        var iv = p.intervals[lv];
        if (!iv || iv.lo === null || iv.hi === null) { return; }
        var w = sx(p.year + half[lv]) - sx(p.year - half[lv]);
        svg.appendChild(el("rect", { x: sx(p.year - half[lv]), y: sy(iv.hi), width: w,
          height: Math.max(1, sy(iv.lo) - sy(iv.hi)), "class": "b" + lv }));
      });
    });
    var med = points.filter(function (p) { return p.value !== null; });
    svg.appendChild(el("polyline", { points: med.map(function (p) { return sx(p.year) + "," + sy(p.value); }).join(" "),
      "class": "fc" }));
    med.forEach(function (p) {
      var dot = el("circle", { cx: sx(p.year), cy: sy(p.value), r: 4, "class": "fc-dot" });
      dot.appendChild(el("title", {}, p.year + ": " + fmt(p.value) + " " + unit + " (median)"));
      svg.appendChild(dot);
    });
    var perYear = {};
    estimates.forEach(function (e) {
      var cx = sx(e.year), cy = sy(e.value), d = 5;
      var k = perYear[e.year] = (perYear[e.year] || 0) + 1;
      var mark = el("polygon", { points: [cx + "," + (cy - d), (cx + d) + "," + cy, cx + "," + (cy + d),
        (cx - d) + "," + cy].join(" "), "class": "est" });
      mark.appendChild(el("title", {}, e.year + ": " + fmt(e.value) + " " + unit + " estimated by " + e.by));
      svg.appendChild(mark);
      // labels of estimates for the same year alternate sides so they never overlap
      svg.appendChild(el("text", { x: k % 2 ? cx + 8 : cx - 8, y: cy + 4, "text-anchor": k % 2 ? "start" : "end" }, e.by));
    });
    svg.appendChild(el("text", { x: 8, y: T + 8 }, unit));
    box.appendChild(svg);
  }

  function showHbmOutlook(o) {
    fillTable("outlook", o.years.map(function (y) {
      return { values: [String(y.year), fmt(y.value), band(y.intervals["80"]), band(y.intervals["95"]),
        pct(y.growth_pct), "–", "modelled"] };
    }));
  }

  function showAssumptions(a, sources) {
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
    var fillList = function (id, items) {
      var ul = $(id);
      ul.textContent = "";
      items.forEach(function (t) {
        var li = document.createElement("li");
        li.textContent = t;
        ul.appendChild(li);
      });
    };
    fillList("limits", a.limits);
    fillList("sources", sources);
  }

  function showView(isHbm) {
    var head = $("outlook").tHead.rows[0].cells;
    head[1].textContent = isHbm ? "Median" : "Total";
    head[6].textContent = isHbm ? "Basis" : "Periods (published + forecast)";
    $("assumptions-section").hidden = !isHbm;
    $("leaderboard-section").hidden = isHbm;
    $("legend-hbm").hidden = !isHbm;
    $("legend-series").hidden = isHbm;
  }

  function loadHbm() {
    setStatus("Loading " + HBM + "…");
    Promise.all([api("v1/forecasts/" + HBM), api("v1/forecasts/" + HBM + "/outlook")]).then(function (r) {
      var fc = r[0], o = r[1];
      $("title").textContent = fc.name;
      $("meta").textContent = "Model " + fc.model_name + " (" + fc.formula + ") · version " + fc.model.version +
        " · trained " + fc.model.trained_at + " · data vintage " + (fc.model.data_vintage || "–") + " · unit " + fc.unit;
      var estimates = o.assumptions.hbm_content.calibration.filter(function (c) {
        return c.hbm_usd_bn !== null && c.hbm_usd_bn !== undefined;
      }).map(function (c) { return { year: c.year, value: c.hbm_usd_bn, by: c.estimate_by || "estimate" }; });
      showView(true);
      drawYearly(fc.points, estimates, fc.unit);
      showHbmOutlook(o);
      showAssumptions(o.assumptions, o.sources);
      setStatus("");
    }).catch(function (e) { setStatus(e.message, true); });
  }

  function load(id) {
    if (!id) { return; }
    if (id === HBM) { loadHbm(); return; }
    setStatus("Loading " + id + "…");
    var enc = encodeURIComponent(id);
    Promise.all([
      api("v1/series/" + enc + "/history"),
      api("v1/forecasts/" + enc),
      api("v1/forecasts/" + enc + "/outlook"),
      api("v1/backtests/" + enc)
    ]).then(function (r) {
      var fc = r[1];
      $("title").textContent = fc.name;
      $("meta").textContent = "Model " + fc.model_name + " · version " + fc.model.version + " · trained " +
        fc.model.trained_at + " · data vintage " + (fc.model.data_vintage || "–") + " · unit " + fc.unit;
      showView(false);
      drawChart(r[0], fc);
      showOutlook(r[2]);
      showLeaderboard(r[3]);
      setStatus("");
    }).catch(function (e) { setStatus(e.message, true); });
  }

  function init() {
    api("v1/series?forecast=true").then(function (list) {
      var sel = $("series");
      sel.textContent = "";
      var modelled = (list.modelled || []).map(function (m) {
        return { id: m.id, name: m.name + ", " + m.model_name };
      });
      var memory = list.series.filter(function (s) { return MEMORY.indexOf(s.id) >= 0; }).concat(modelled);
      var others = list.series.filter(function (s) { return MEMORY.indexOf(s.id) < 0; });
      var all = memory.concat(others);
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
      if (!all.length) { setStatus("No forecast series: is a champion model loaded?", true); return; }
      var wanted = location.hash.slice(1);
      if (wanted && all.some(function (s) { return s.id === wanted; })) { sel.value = wanted; }
      load(sel.value);
    }).catch(function (e) { setStatus(e.message, true); });
  }

  $("series").addEventListener("change", function (e) { location.hash = e.target.value; load(e.target.value); });
  keyInput.addEventListener("change", function () {
    sessionStorage.setItem("chipcast-key", keyInput.value);
    init();
  });
  init();
}());
