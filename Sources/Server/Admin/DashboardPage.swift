/// `GET /` on the admin address: the dashboard. One self-contained page (inline CSS and script, no external
/// asset, no build step) shipped in the binary. It polls `stats.json` every second and computes everything from
/// the difference between two polls: calls/s, the share of non-OK calls and p50/p99 latency per route (from the
/// histogram buckets, over the last few seconds), drawn as small canvas charts over the last minutes; endpoint
/// health per cluster; the recent non-OK calls. Text from the proxy (grpc-message comes from upstreams) is only
/// ever set with `textContent`, never parsed as HTML.
///
/// For tests and scripts the page exposes what it drew: `document.body.dataset.polls` (polls answered),
/// `dataset.points` (points drawn over all charts) and `window.dashboard` (the series it computed).
enum DashboardPage {
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>grpc-web-proxy dashboard</title>
<style>
  :root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #ffffff; --panel: #f8f9fb;
          --calls: #2563eb; --errors: #dc2626; --p50: #059669; --p99: #d97706; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 16px; padding: 10px 18px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 16px; margin: 0; }
  header .status { color: var(--muted); }
  header .status.stale { color: var(--errors); font-weight: 600; }
  main { padding: 12px 18px; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 14px 0 6px; }
  .route { display: grid; grid-template-columns: 220px repeat(3, 1fr); gap: 10px; align-items: stretch;
           padding: 8px 0; border-top: 1px solid var(--line); }
  .route .name { font-weight: 600; word-break: break-all; }
  .route .name small { display: block; font-weight: 400; color: var(--muted); }
  .chart { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: 4px 6px; min-width: 0; }
  .chart .label { display: flex; justify-content: space-between; color: var(--muted); font-size: 11px; }
  .chart .label b { color: var(--fg); font-weight: 600; }
  .chart canvas { display: block; width: 100%; height: 56px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 3px 8px 3px 0; border-bottom: 1px solid var(--line); white-space: nowrap; }
  td.message { max-width: 240px; overflow: hidden; text-overflow: ellipsis; }
  th { color: var(--muted); font-weight: 500; }
  .num { text-align: right; font-variant-numeric: tabular-nums; }
  .state { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px; font-weight: 600; }
  .state.healthy { background: #dcfce7; color: #166534; }
  .state.ejected { background: #fef3c7; color: #92400e; }
  .state.unhealthy { background: #fee2e2; color: #991b1b; }
  .empty { color: var(--muted); }
  .columns { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.6fr); gap: 24px; }
</style>
</head>
<body data-polls="0" data-points="0">
<header><h1>grpc-web-proxy</h1><span class="status" id="status">connecting…</span></header>
<main>
  <h2>Routes <span class="empty" id="window"></span></h2>
  <div id="routes"><p class="empty">No route yet.</p></div>
  <div class="columns">
    <section><h2>Endpoints</h2><div id="clusters"></div></section>
    <section><h2>Recent non-OK calls</h2><div id="failed"></div></section>
  </div>
</main>
<script>
"use strict";
const POLL_MS = 1000;
const HISTORY_MS = 5 * 60 * 1000;   // what the charts keep: the last five minutes
const MIN_SPAN_MS = 30 * 1000;      // a young history still spans half a minute, so points are not stretched
const LATENCY_WINDOW = 5;           // polls whose histogram deltas make one latency point (smoother quantiles)
const STATUS = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
  "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
  "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"];

// Per route: raw samples (totals at each poll) and the series drawn from them.
const routes = new Map();
const dashboard = { polls: 0, points: 0, routes, last: null };
window.dashboard = dashboard;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (k === "class") e.className = v; else e.setAttribute(k, v); }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// The q-quantile (seconds) of per-bucket counts, linear inside the bucket; null without observations.
function quantile(counts, bounds, q) {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] > 0 && seen + counts[i] >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1];
      const upper = i < bounds.length ? bounds[i] : bounds[bounds.length - 1];
      return lower + (upper - lower) * Math.min(1, Math.max(0, (rank - seen) / counts[i]));
    }
    seen += counts[i];
  }
  return bounds[bounds.length - 1];
}

function routeEntry(r) {
  const key = r.route + "\u0000" + r.cluster;
  let entry = routes.get(key);
  if (!entry) {
    entry = { route: r.route, cluster: r.cluster, samples: [], calls: [], errors: [], p50: [], p99: [], view: null };
    routes.set(key, entry);
  }
  return entry;
}

// Samples are {t, ...}; series points are [t, value].
function timeOf(item) { return Array.isArray(item) ? item[0] : item.t; }

function update(stats) {
  const bounds = stats.bucket_bounds_s;
  for (const r of stats.routes) {
    const entry = routeEntry(r);
    const sample = { t: stats.time_ms, calls: r.calls, errors: r.errors, buckets: r.buckets };
    const prev = entry.samples[entry.samples.length - 1];
    // A total that went down means the process restarted: start the series again.
    if (prev && sample.calls < prev.calls) { entry.samples = []; entry.calls = []; entry.errors = []; entry.p50 = []; entry.p99 = []; }
    else if (prev && sample.t > prev.t) {
      const dt = (sample.t - prev.t) / 1000;
      const dCalls = sample.calls - prev.calls;
      entry.calls.push([sample.t, dCalls / dt]);
      entry.errors.push([sample.t, dCalls > 0 ? 100 * (sample.errors - prev.errors) / dCalls : 0]);
      const base = entry.samples[Math.max(0, entry.samples.length - LATENCY_WINDOW)];
      const delta = sample.buckets.map((c, i) => c - base.buckets[i]);
      const p50 = quantile(delta, bounds, 0.5), p99 = quantile(delta, bounds, 0.99);
      if (p50 !== null) { entry.p50.push([sample.t, p50 * 1000]); entry.p99.push([sample.t, p99 * 1000]); }
    }
    entry.samples.push(sample);
    entry.inFlight = r.in_flight;
    const oldest = stats.time_ms - HISTORY_MS;
    for (const list of [entry.samples, entry.calls, entry.errors, entry.p50, entry.p99]) {
      while (list.length > 0 && timeOf(list[0]) < oldest) list.shift();
    }
  }
  dashboard.last = stats;
}

function draw(canvas, seriesList, now, fixedMax) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr)), h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, w, h);
  let first = now;
  for (const s of seriesList) if (s.points.length) first = Math.min(first, s.points[0][0]);
  const span = Math.min(HISTORY_MS, Math.max(MIN_SPAN_MS, now - first));
  let max = fixedMax || 0;
  for (const s of seriesList) for (const [, v] of s.points) max = Math.max(max, v);
  if (max <= 0) max = 1;
  g.strokeStyle = "#e4e7ec"; g.lineWidth = 1;
  g.beginPath(); g.moveTo(0, h - 0.5); g.lineTo(w, h - 0.5); g.stroke();
  let drawn = 0;
  for (const s of seriesList) {
    if (!s.points.length) continue;
    // The top 12 px hold the scale label, so no line runs through it.
    const x = t => w - (now - t) / span * w, y = v => h - 2 - (v / max) * (h - 14 * dpr);
    g.beginPath();
    s.points.forEach(([t, v], i) => { if (i === 0) g.moveTo(x(t), y(v)); else g.lineTo(x(t), y(v)); });
    if (s.fill) {
      g.lineTo(x(s.points[s.points.length - 1][0]), h); g.lineTo(x(s.points[0][0]), h); g.closePath();
      g.fillStyle = s.color + "33"; g.fill();
      g.beginPath();
      s.points.forEach(([t, v], i) => { if (i === 0) g.moveTo(x(t), y(v)); else g.lineTo(x(t), y(v)); });
    }
    g.strokeStyle = s.color; g.lineWidth = 1.5 * dpr; g.stroke();
    // A single point is a dot, so a young series is visible at once.
    for (const [t, v] of s.points.slice(-1)) { g.fillStyle = s.color; g.fillRect(x(t) - 2 * dpr, y(v) - 2 * dpr, 4 * dpr, 4 * dpr); }
    drawn += s.points.length;
  }
  // The scale: the top of the chart, in the chart's unit.
  g.fillStyle = "#98a2b3"; g.font = (10 * dpr) + "px system-ui, sans-serif"; g.textBaseline = "top";
  g.fillText(max >= 100 ? max.toFixed(0) : max.toPrecision(2), 2 * dpr, 1 * dpr);
  return drawn;
}

function fmt(v, digits) { return v === null || v === undefined ? "–" : v.toFixed(digits); }
function last(list) { return list.length ? list[list.length - 1][1] : null; }

function chartBox(title, cls) {
  const value = el("b", {}, "–");
  const canvas = el("canvas", { class: "chart-canvas " + cls, width: "300", height: "56" });
  return { box: el("div", { class: "chart" }, el("div", { class: "label" }, el("span", {}, title), value), canvas), value, canvas };
}

function renderRoutes(now) {
  const host = document.getElementById("routes");
  if (routes.size && host.querySelector(".empty")) host.textContent = "";
  let points = 0;
  for (const entry of [...routes.values()].sort((a, b) => (a.route + a.cluster).localeCompare(b.route + b.cluster))) {
    if (!entry.view) {
      const calls = chartBox("calls/s", "calls"), errors = chartBox("non-OK %", "errors"), latency = chartBox("p50 / p99 ms", "latency");
      const inFlight = el("small", { class: "in-flight" }, "");
      const name = el("div", { class: "name" }, entry.route || "(no route)", el("small", {}, "cluster " + (entry.cluster || "–")), inFlight);
      const row = el("div", { class: "route", "data-route": entry.route }, name, calls.box, errors.box, latency.box);
      host.append(row);
      entry.view = { calls, errors, latency, inFlight };
    }
    const v = entry.view;
    v.inFlight.textContent = entry.inFlight + " in flight";
    v.calls.value.textContent = fmt(last(entry.calls), 1);
    v.errors.value.textContent = fmt(last(entry.errors), 1);
    v.latency.value.textContent = fmt(last(entry.p50), 1) + " / " + fmt(last(entry.p99), 1);
    points += draw(v.calls.canvas, [{ points: entry.calls, color: "#2563eb", fill: true }], now);
    points += draw(v.errors.canvas, [{ points: entry.errors, color: "#dc2626", fill: true }], now, 5);
    points += draw(v.latency.canvas, [{ points: entry.p99, color: "#d97706" }, { points: entry.p50, color: "#059669" }], now);
  }
  return points;
}

function renderClusters(stats) {
  const host = document.getElementById("clusters");
  const table = el("table", {}, el("tr", {}, el("th", {}, "cluster"), el("th", {}, "endpoint"), el("th", {}, "state"),
    el("th", { class: "num" }, "calls"), el("th", { class: "num" }, "conns"), el("th", { class: "num" }, "ejections")));
  for (const c of stats.clusters) {
    for (const e of c.endpoints) {
      const state = el("span", { class: "state " + e.state }, e.state + (e.ejected_workers ? " (" + e.ejected_workers + "/" + stats.workers + ")" : ""));
      table.append(el("tr", { "data-endpoint": e.address, "data-state": e.state }, el("td", {}, c.name), el("td", {}, e.address),
        el("td", {}, state), el("td", { class: "num" }, e.active_calls), el("td", { class: "num" }, e.connections_open),
        el("td", { class: "num" }, e.ejections)));
    }
    if (!c.endpoints.length) table.append(el("tr", {}, el("td", {}, c.name), el("td", { class: "empty", colspan: "5" }, "no endpoint resolved")));
  }
  host.replaceChildren(table);
}

function renderFailed(stats) {
  const host = document.getElementById("failed");
  if (!stats.recent_failed_calls.length) { host.replaceChildren(el("p", { class: "empty" }, "None.")); return; }
  const table = el("table", {}, el("tr", {}, el("th", {}, "time"), el("th", {}, "route"), el("th", {}, "status"),
    el("th", { class: "num" }, "ms"), el("th", {}, "message"), el("th", {}, "request id")));
  for (const f of stats.recent_failed_calls) {
    const time = new Date(f.time_ms).toISOString().slice(11, 23);
    table.append(el("tr", { "data-status": f.grpc_status }, el("td", {}, time), el("td", { title: f.path }, f.route || f.path),
      el("td", {}, (STATUS[f.grpc_status] || f.grpc_status) + " (" + f.grpc_status + ")"),
      el("td", { class: "num" }, fmt(f.duration_ms, 1)), el("td", { class: "message", title: f.grpc_message }, f.grpc_message), el("td", {}, f.request_id)));
  }
  host.replaceChildren(table);
}

function render() {
  const stats = dashboard.last;
  if (!stats) return;
  const points = renderRoutes(stats.time_ms);
  renderClusters(stats);
  renderFailed(stats);
  dashboard.points = points;
  document.body.dataset.points = String(points);
  document.body.dataset.polls = String(dashboard.polls);
  document.getElementById("window").textContent = "(last " + Math.round(HISTORY_MS / 60000) + " min)";
  document.title = "grpc-web-proxy dashboard · " + points + " points";
}

async function poll() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("stats.json", { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const stats = await response.json();
    dashboard.polls++;
    update(stats);
    render();
    status.className = "status";
    status.textContent = "updated " + new Date(stats.time_ms).toLocaleTimeString() + " · " + stats.workers + " worker(s)"
      + (stats.workers_missing ? " · " + stats.workers_missing + " did not answer" : "");
  } catch (error) {
    status.className = "status stale";
    status.textContent = "cannot reach the proxy (" + error.message + "); retrying";
  } finally {
    setTimeout(poll, POLL_MS);
  }
}
poll();
</script>
</body>
</html>
"""#
}
