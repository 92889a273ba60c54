// noormme-queue dashboard: the live workers panel and the per-queue charts of the last hour
// (throughput and failures, wait from due to start). dashboard.js fetches /workers and
// /activity on each poll and hands the data here. Every value is written with textContent
// or as a number in an SVG attribute, never parsed as HTML.
"use strict";

window.NoormmePanels = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  function clock(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString();
  }

  function seconds(value) {
    if (value === null || value === undefined) return "—";
    if (value < 1) return `${Math.round(value * 1000)} ms`;
    if (value < 120) return `${value.toFixed(1)} s`;
    return `${(value / 60).toFixed(1)} min`;
  }

  // -- workers ---------------------------------------------------------------------------------
  function renderWorkers(workers) {
    const now = Date.now();
    const rows = workers.map((w) => {
      const tr = document.createElement("tr");
      tr.dataset.worker = w.id;
      tr.appendChild(el("td", w.id, "mono"));
      tr.appendChild(el("td", w.host));
      tr.appendChild(el("td", w.pid));
      const running = el("td", `${w.jobs.length}/${w.concurrency}`);
      running.dataset.testid = "worker-running";
      tr.appendChild(running);
      tr.appendChild(el("td", w.queues === null ? "all" : w.queues.join(", ")));
      tr.appendChild(el("td", w.types.length ? w.types.join(", ") : "—", "types"));
      const jobs = el("td", w.jobs.length ? w.jobs.join(" ") : "—", "mono");
      tr.appendChild(jobs);
      tr.appendChild(el("td", clock(w.started_at)));
      const age = Math.max(0, (now - new Date(w.heartbeat_at).getTime()) / 1000);
      const beat = el("td", `${age.toFixed(0)} s ago`);
      beat.title = `taken for dead after ${clock(w.expires_at)}`;
      tr.appendChild(beat);
      const skew = el("td", `${w.clock_skew >= 0 ? "+" : ""}${w.clock_skew.toFixed(2)} s`);
      if (Math.abs(w.clock_skew) > 2) skew.className = "error";
      tr.appendChild(skew);
      return tr;
    });
    $("workers").replaceChildren(...rows);
    $("workers-empty").hidden = rows.length > 0;
  }

  // -- charts ----------------------------------------------------------------------------------
  const W = 300, H = 44;

  function throughputChart(points) {
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none",
      class: "spark", role: "img", "aria-label": "completed and failed per minute" });
    const max = Math.max(1, ...points.map((p) => p.completed + p.failed));
    const slot = W / Math.max(1, points.length);
    const bar = Math.max(1, slot - 1);
    const scale = (H - 2) / max;
    chart.appendChild(svg("line", { x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5, class: "grid" }));
    points.forEach((p, i) => {
      const g = svg("g");
      const title = svg("title");
      title.textContent = `${clock(p.start)}: ${p.completed} completed, ${p.failed} failed`;
      g.appendChild(title);
      const done = p.completed * scale, bad = p.failed * scale;
      for (const [h, y, cls] of [[done, H - done, "completed"], [bad, H - done - bad, "failed"]]) {
        if (h <= 0) continue;
        g.appendChild(svg("rect", { x: (i * slot).toFixed(1), width: bar.toFixed(1),
          y: y.toFixed(1), height: Math.max(1, h).toFixed(1), class: `bar ${cls}` }));
      }
      g.appendChild(svg("rect", { x: (i * slot).toFixed(1), width: slot.toFixed(1), y: 0,
        height: H, class: "hit" }));
      chart.appendChild(g);
    });
    return { chart, max };
  }

  function latencyChart(points) {
    const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none",
      class: "spark", role: "img", "aria-label": "wait from due to start per minute" });
    const waits = points.filter((p) => p.wait_max !== null);
    const max = Math.max(0.001, ...waits.map((p) => p.wait_max));
    const slot = W / Math.max(1, points.length);
    const y = (v) => (H - 2 - (v / max) * (H - 4)).toFixed(1);
    chart.appendChild(svg("line", { x1: 0, x2: W, y1: H - 0.5, y2: H - 0.5, class: "grid" }));
    const avg = [], peak = [];
    points.forEach((p, i) => {
      if (p.wait_avg === null) return;
      const x = (i * slot + slot / 2).toFixed(1);
      avg.push(`${x},${y(p.wait_avg)}`);
      peak.push(`${x},${y(p.wait_max)}`);
      const dot = svg("circle", { cx: x, cy: y(p.wait_avg), r: 1.6, class: "wait" });
      const title = svg("title");
      title.textContent = `${clock(p.start)}: ${p.started} started, wait ${seconds(p.wait_avg)}` +
        ` on average, ${seconds(p.wait_max)} at most`;
      dot.appendChild(title);
      chart.appendChild(dot);
    });
    if (peak.length > 1) chart.appendChild(svg("polyline", { points: peak.join(" "), class: "peak" }));
    if (avg.length > 1) chart.appendChild(svg("polyline", { points: avg.join(" "), class: "avg" }));
    return { chart, max: waits.length ? max : null };
  }

  function renderActivity(queues) {
    const rows = queues.map((q) => {
      const tr = document.createElement("tr");
      tr.dataset.activityQueue = q.queue;
      tr.appendChild(el("td", q.queue, "mono"));
      const total = (key) => q.points.reduce((sum, p) => sum + p[key], 0);
      const [completed, failed, started] = ["completed", "failed", "started"].map(total);
      const through = throughputChart(q.points);
      const tdT = document.createElement("td");
      tdT.className = "chart-cell";
      tdT.appendChild(through.chart);
      tdT.appendChild(el("div", `${completed} completed · ${failed} failed · peak ${through.max}/min`, "muted"));
      tr.appendChild(tdT);
      const wait = latencyChart(q.points);
      const tdL = document.createElement("td");
      tdL.className = "chart-cell";
      tdL.appendChild(wait.chart);
      const waited = q.points.reduce((sum, p) => sum + (p.wait_avg === null ? 0 : p.wait_avg * p.started), 0);
      tdL.appendChild(el("div", started ?
        `${started} started · mean wait ${seconds(waited / started)} · max ${seconds(wait.max)}` :
        "nothing started", "muted"));
      tr.appendChild(tdL);
      return tr;
    });
    $("activity").replaceChildren(...rows);
    $("activity-empty").hidden = rows.length > 0;
  }

  return { renderWorkers, renderActivity };
})();
