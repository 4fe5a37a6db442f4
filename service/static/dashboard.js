// chipcast dashboard: plain JS, no libraries, same-origin requests only (works offline).
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var HISTORY_POINTS = 60;
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
        td.textContent = v;
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

  function load(id) {
    if (!id) { return; }
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
      list.series.forEach(function (s) {
        var opt = document.createElement("option");
        opt.value = s.id;
        opt.textContent = s.name + " (" + s.id + ")";
        sel.appendChild(opt);
      });
      $("model").textContent = list.model_version ? "model version " + list.model_version : "no model loaded";
      if (!list.series.length) { setStatus("No forecast series: is a champion model loaded?", true); return; }
      var wanted = location.hash.slice(1);
      if (wanted && list.series.some(function (s) { return s.id === wanted; })) { sel.value = wanted; }
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
