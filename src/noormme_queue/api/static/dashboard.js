// noormme-queue dashboard. No framework, no build step. Every value from the API is written
// with textContent or as an SVG attribute, never parsed as HTML.
"use strict";

(() => {
  const API = document.body.dataset.api || "/api/queue";
  const TOKEN_KEY = "noormme-queue-token";
  const POLL_MS = 2000;
  const PAGE = 20;
  const STATUSES = ["pending", "processing", "completed", "failed", "cancelled"];
  const KIND_BADGES = {
    claimed: "processing", completed: "completed", failed: "failed", lease_expired: "failed",
    retry_scheduled: "pending", retried: "pending", released: "pending", cancelled: "cancelled",
  };
  const $ = (id) => document.getElementById(id);

  const state = {
    status: "",
    type: "",
    queue: "",
    cursors: [null], // cursor of each page seen; the last is the current page's
    nextCursor: null,
    selected: null,
    paused: false,
    timer: null,
    busy: false,
  };

  // -- token -------------------------------------------------------------------------------
  (function takeTokenFromUrl() {
    const url = new URL(window.location.href);
    const given = url.searchParams.get("token");
    if (given) {
      sessionStorage.setItem(TOKEN_KEY, given);
      url.searchParams.delete("token");
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
  })();

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || `HTTP ${status}`);
      this.status = status;
    }
  }

  async function api(path, options = {}) {
    // The dashboard says who it is: a job's timeline tells its clicks from other API calls.
    const headers = { Accept: "application/json", "X-Queue-Client": "dashboard" };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    const t = token();
    if (t) headers.Authorization = `Bearer ${t}`;
    const response = await fetch(API + path, {
      method: options.method || "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      cache: "no-store",
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok || !body || body.success !== true) throw new ApiError(response.status, body);
    return body.data;
  }

  function needToken() {
    $("login").hidden = false;
    $("forget-token").hidden = true;
    setText("updated", "token needed");
    $("token-input").focus();
  }

  // -- small DOM helpers -----------------------------------------------------------------------
  function setText(id, value) {
    $(id).textContent = value === null || value === undefined ? "" : String(value);
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function json(value) {
    return value === null || value === undefined ? "—" : JSON.stringify(value, null, 2);
  }

  function when(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
  }

  function badge(status) {
    const b = el("span", status, "badge");
    if (STATUSES.includes(status)) b.classList.add(status);
    return b;
  }

  let toastTimer = null;
  function toast(message, isError) {
    const node = $("toast");
    node.textContent = message;
    node.classList.toggle("error", Boolean(isError));
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, 4000);
  }

  function banner(message) {
    const node = $("banner");
    node.hidden = !message;
    node.textContent = message || "";
  }

  // -- stats, chart, memory queues -------------------------------------------------------------
  function renderStats(data) {
    const p = data.persistent;
    setText("count-total", p.total);
    for (const s of STATUSES) setText(`count-${s}`, p[s]);
    const st = data.status;
    setText(
      "worker",
      st.started
        ? `worker ${st.worker_id || ""} · ${st.in_flight}/${st.concurrency} running · ${st.database}`
        : `no worker in this process · ${st.database}`,
    );
    if (st.unhandled_types && st.unhandled_types.length) {
      banner(`Pending jobs with no handler here: ${st.unhandled_types.join(", ")}`);
    } else {
      banner("");
    }
    renderChart(data.throughput);
    renderMemory(data.memory);
  }

  const SVG = "http://www.w3.org/2000/svg";
  function renderChart(points) {
    const svg = $("chart");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const width = 600, height = 140, pad = 4;
    const max = Math.max(1, ...points.map((p) => p.completed + p.failed));
    setText("chart-max", `peak ${max}/min`);
    const slot = width / Math.max(1, points.length);
    const bar = Math.max(1, slot - 2);
    const scale = (height - pad) / max;
    // a faint baseline and a half-way line
    for (const y of [height - 0.5, height - (height - pad) / 2]) {
      const line = document.createElementNS(SVG, "line");
      line.setAttribute("x1", "0"); line.setAttribute("x2", String(width));
      line.setAttribute("y1", String(y)); line.setAttribute("y2", String(y));
      line.setAttribute("class", "grid");
      svg.appendChild(line);
    }
    points.forEach((p, i) => {
      const x = i * slot + 1;
      const g = document.createElementNS(SVG, "g");
      const title = document.createElementNS(SVG, "title");
      title.textContent = `${when(p.start)}: ${p.completed} completed, ${p.failed} failed`;
      g.appendChild(title);
      const done = p.completed * scale, bad = p.failed * scale;
      for (const [h, y, cls] of [[done, height - done, "completed"], [bad, height - done - bad, "failed"]]) {
        if (h <= 0) continue;
        const r = document.createElementNS(SVG, "rect");
        r.setAttribute("x", x.toFixed(1)); r.setAttribute("width", bar.toFixed(1));
        r.setAttribute("y", y.toFixed(1)); r.setAttribute("height", Math.max(1, h).toFixed(1));
        r.setAttribute("class", `bar ${cls}`);
        g.appendChild(r);
      }
      // an invisible full-height target so the tooltip shows on empty minutes too
      const hit = document.createElementNS(SVG, "rect");
      hit.setAttribute("x", (i * slot).toFixed(1)); hit.setAttribute("width", slot.toFixed(1));
      hit.setAttribute("y", "0"); hit.setAttribute("height", String(height));
      hit.setAttribute("class", "hit");
      g.appendChild(hit);
      svg.appendChild(g);
    });
  }

  function renderMemory(memory) {
    const body = $("memory");
    const rows = Object.values(memory).map((q) => {
      const tr = document.createElement("tr");
      const cells = [q.name, q.kind, q.concurrency, q.queued, q.running, q.completed, q.failed,
        q.timed_out, q.throughput.toFixed(2),
        q.p95_duration === null ? "—" : `${(q.p95_duration * 1000).toFixed(0)} ms`];
      for (const c of cells) tr.appendChild(el("td", c));
      if (q.paused) tr.classList.add("paused");
      return tr;
    });
    body.replaceChildren(...rows);
  }

  // -- queues (stored: the same in every process) ----------------------------------------------
  function limitsText(limits) {
    const parts = [];
    if (limits.concurrency !== null) parts.push(`at most ${limits.concurrency} at once`);
    if (limits.rate) parts.push(`${limits.rate.text}`);
    return parts.length ? parts.join(", ") : "no limits";
  }

  function cell(child) {
    const td = document.createElement("td");
    td.appendChild(child);
    return td;
  }

  function renderQueues(data) {
    const rows = data.queues.map((q) => {
      const tr = document.createElement("tr");
      tr.dataset.queue = q.name;
      tr.classList.toggle("paused", q.paused);
      const name = el("button", q.name, "link mono");
      name.type = "button";
      name.title = `list the jobs of ${q.name}`;
      name.addEventListener("click", () => filterBy(state.status, state.type, q.name));
      tr.appendChild(cell(name));
      const st = el("span", q.paused ? "paused" : "running", "badge");
      st.classList.add(q.paused ? "cancelled" : "completed");
      st.dataset.testid = "queue-state";
      tr.appendChild(cell(st));
      for (const s of STATUSES) tr.appendChild(el("td", q[s]));
      const types = document.createElement("td");
      types.className = "types";
      for (const t of q.types) {
        const line = el("div");
        line.appendChild(el("span", t.type, "mono"));
        line.appendChild(el("span", ` ${limitsText(t.limits)}`, "muted"));
        line.title = `defined by ${t.defined_by}, ${when(t.updated_at)}`;
        types.appendChild(line);
      }
      if (!q.types.length) types.textContent = "—";
      tr.appendChild(types);
      const action = el("button", q.paused ? "Resume" : "Pause", q.paused ? "" : "ghost");
      action.type = "button";
      action.dataset.testid = q.paused ? "resume-queue" : "pause-queue";
      action.addEventListener("click", () => setQueuePaused(q.name, !q.paused));
      tr.appendChild(cell(action));
      return tr;
    });
    $("queues").replaceChildren(...rows);
    $("queues-empty").hidden = rows.length > 0;
    $("queue-names").replaceChildren(...data.queues.map((q) => {
      const option = document.createElement("option");
      option.value = q.name;
      return option;
    }));
  }

  async function setQueuePaused(name, pause) {
    try {
      const path = `/queues/${encodeURIComponent(name)}/${pause ? "pause" : "resume"}`;
      const done = await api(path, { method: "POST" });
      const now = done.queue.paused ? "paused" : "running";
      toast(done.changed ? `queue ${name} ${now}` : `queue ${name} was ${now} already`);
      await refresh();
    } catch (e) {
      handle(e);
    }
  }

  // -- schedules -------------------------------------------------------------------------------
  function renderSchedules(schedules) {
    const rows = schedules.map((s) => {
      const tr = document.createElement("tr");
      tr.dataset.schedule = s.name;
      if (s.paused) tr.classList.add("paused");
      tr.appendChild(el("td", s.name, "mono"));
      tr.appendChild(el("td", s.job_type));
      tr.appendChild(el("td", s.description));
      const next = el("td", s.paused ? "paused" : when(s.next_run_at));
      next.dataset.testid = "schedule-next";
      if (!s.paused) next.title = `then ${s.upcoming.slice(1).map(when).join(", ")}`;
      tr.appendChild(next);
      tr.appendChild(el("td", when(s.last_run_at)));
      const outcome = document.createElement("td");
      outcome.dataset.testid = "schedule-outcome";
      outcome.appendChild(s.last_status ? badge(s.last_status) : el("span", "—", "muted"));
      tr.appendChild(outcome);
      const actions = document.createElement("td");
      const toggle = el("button", s.paused ? "Resume" : "Pause", "ghost");
      toggle.type = "button";
      toggle.dataset.testid = "schedule-toggle";
      toggle.addEventListener("click", () => steer(s.name, s.paused ? "resume" : "pause"));
      const run = el("button", "Run now", "ghost");
      run.type = "button";
      run.dataset.testid = "schedule-run";
      run.addEventListener("click", () => steer(s.name, "run"));
      actions.append(toggle, run);
      tr.appendChild(actions);
      return tr;
    });
    $("schedules").replaceChildren(...rows);
    $("schedules-empty").hidden = rows.length > 0;
  }

  async function steer(name, action) {
    try {
      const data = await api(`/schedules/${encodeURIComponent(name)}/${action}`, { method: "POST" });
      toast(action === "run" ? `${name}: job ${data.id} enqueued` : `${name} ${action}d`);
      await refresh();
    } catch (e) {
      handle(e);
    }
  }

  // -- jobs list -------------------------------------------------------------------------------
  function jobsQuery() {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (state.status) q.set("status", state.status);
    if (state.type) q.set("type", state.type);
    if (state.queue) q.set("queue", state.queue);
    const cursor = state.cursors[state.cursors.length - 1];
    if (cursor) q.set("cursor", cursor);
    return `/jobs?${q}`;
  }

  function renderJobs(page) {
    const rows = page.jobs.map((job) => {
      const tr = document.createElement("tr");
      tr.dataset.jobId = job.id;
      tr.tabIndex = 0;
      if (state.selected === job.id) tr.classList.add("selected");
      tr.appendChild(el("td", job.id, "mono"));
      tr.appendChild(el("td", job.type));
      tr.appendChild(el("td", job.queue, "mono"));
      const s = document.createElement("td");
      s.appendChild(badge(job.status));
      tr.appendChild(s);
      tr.appendChild(el("td", job.priority));
      tr.appendChild(el("td", `${job.attempts}/${job.max_attempts}`));
      tr.appendChild(el("td", when(job.created_at)));
      tr.appendChild(el("td", job.error ? job.error.slice(0, 80) : "", "error"));
      tr.addEventListener("click", () => select(job.id));
      tr.addEventListener("keydown", (e) => { if (e.key === "Enter") select(job.id); });
      return tr;
    });
    $("jobs").replaceChildren(...rows);
    $("jobs-empty").hidden = rows.length > 0;
    state.nextCursor = page.next_cursor;
    $("older").disabled = !page.next_cursor;
    $("newer").disabled = state.cursors.length <= 1;
    const filter = [state.status || "all statuses", state.type ? `type ${state.type}` : "",
      state.queue ? `queue ${state.queue}` : ""].filter(Boolean).join(", ");
    setText("page-info", `page ${state.cursors.length} · ${filter}`);
  }

  // -- job detail ------------------------------------------------------------------------------
  function renderDetail(job) {
    $("detail").hidden = false;
    setText("detail-id", job.id);
    const status = $("detail-status");
    status.textContent = job.status;
    status.className = STATUSES.includes(job.status) ? `badge ${job.status}` : "badge";
    $("retry-btn").disabled = !["failed", "cancelled"].includes(job.status);
    $("cancel-btn").disabled = !["pending", "processing"].includes(job.status);
    const fields = [
      ["type", job.type], ["queue", job.queue], ["limit key", job.limit_key || "—"],
      ["priority", job.priority],
      ["attempts", `${job.attempts} of ${job.max_attempts}`],
      ["run at", when(job.run_at)], ["created", when(job.created_at)],
      ["started", when(job.started_at)], ["finished", when(job.finished_at)],
      ["worker", job.worker_id || "—"], ["unique key", job.unique_key || "—"],
      ["schedule", job.schedule || "—"],
      ["timeout", job.timeout === null ? "—" : `${job.timeout} s`],
      ["retry policy", job.retry_policy ? JSON.stringify(job.retry_policy) : "default"],
    ];
    const dl = $("detail-fields");
    dl.replaceChildren(...fields.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
    setText("detail-payload", json(job.payload));
    setText("detail-result", json(job.result));
    setText("detail-progress", json(job.progress));
    setText("detail-error", job.error || "—");
    const last = job.history[job.history.length - 1]; // the latest run's, if it failed
    setText("detail-traceback", last && last.traceback ? last.traceback : "—");
    const rows = job.history.map((a) => {
      const tr = document.createElement("tr");
      for (const c of [a.attempt, a.outcome, when(a.started_at), when(a.finished_at),
        a.worker_id || "—", a.error || ""]) tr.appendChild(el("td", c));
      if (a.traceback) {
        const details = el("details");
        details.appendChild(el("summary", "traceback"));
        details.appendChild(el("pre", a.traceback, "traceback"));
        tr.lastChild.appendChild(details);
      }
      return tr;
    });
    $("detail-history").replaceChildren(...rows);
  }

  // -- job timeline: each event as text, never markup ----------------------------------------
  function unixTime(seconds) {
    return typeof seconds === "number" ? when(new Date(seconds * 1000).toISOString()) : "—";
  }

  function describe(e) {
    const d = e.detail || {};
    const parts = [];
    if (e.kind === "lease_expired") parts.push(`lost by ${e.worker || "an unknown worker"}`);
    else if (e.worker) parts.push(`on ${e.worker}`);
    if (e.attempt !== null && e.attempt !== undefined) parts.push(`attempt ${e.attempt}`);
    if ("retry_at" in d) parts.push(`runs at ${unixTime(d.retry_at)}`);
    if ("run_at" in d) parts.push(`due ${unixTime(d.run_at)}`);
    if ("schedule" in d) parts.push(`schedule ${d.schedule}`);
    if (d.timed_out) parts.push("timed out");
    if (e.by) parts.push(`by ${e.by}`);
    return parts.join(", ");
  }

  function renderTimeline(timeline) {
    const items = timeline.events.map((e) => {
      const li = el("li", undefined, `event ${e.kind}`);
      li.dataset.kind = e.kind;
      li.appendChild(el("span", when(e.at), "at"));
      li.appendChild(el("span", e.kind, `badge ${KIND_BADGES[e.kind] || ""}`));
      li.appendChild(el("span", describe(e), "what"));
      const error = (e.detail || {}).error || (e.detail || {}).error_type;
      if (error) li.appendChild(el("div", error, "error"));
      return li;
    });
    if (!items.length) items.push(el("li", "no events (a job from before timelines)", "muted"));
    $("detail-timeline").replaceChildren(...items);
  }

  async function loadDetail(id) {
    const path = `/jobs/${encodeURIComponent(id)}`;
    const [job, timeline] = await Promise.all([api(path), api(`${path}/events`)]);
    if (state.selected !== id) return; // another job was chosen meanwhile
    renderDetail(job);
    renderTimeline(timeline);
  }

  async function select(id) {
    state.selected = id;
    for (const tr of $("jobs").children) tr.classList.toggle("selected", tr.dataset.jobId === id);
    try {
      await loadDetail(id);
    } catch (e) {
      handle(e);
    }
  }

  async function act(path, method, done) {
    if (!state.selected) return;
    try {
      const job = await api(`/jobs/${encodeURIComponent(state.selected)}${path}`, { method });
      await loadDetail(job.id);
      toast(`${job.id} ${done} (now ${job.status})`);
      await refresh();
    } catch (e) {
      handle(e);
    }
  }

  // -- refresh loop ----------------------------------------------------------------------------
  function handle(error) {
    if (error instanceof ApiError && error.status === 401) {
      stop();
      needToken();
      return;
    }
    toast(error.message || String(error), true);
  }

  async function refresh() {
    if (state.busy) return;
    state.busy = true;
    try {
      const [stats, queues, page, schedules, workers, activity] = await Promise.all([
        api("/stats"), api("/queues"), api(jobsQuery()), api("/schedules"), api("/workers"),
        api("/activity"),
      ]);
      renderStats(stats);
      renderQueues(queues);
      renderJobs(page);
      renderSchedules(schedules);
      window.NoormmePanels.renderWorkers(workers);
      window.NoormmePanels.renderActivity(activity);
      if (state.selected) {
        try {
          await loadDetail(state.selected);
        } catch (e) {
          if (e instanceof ApiError && e.status === 404) closeDetail();
          else throw e;
        }
      }
      $("login").hidden = true;
      $("forget-token").hidden = !token();
      setText("updated", `updated ${new Date().toLocaleTimeString()}`);
      document.body.dataset.ready = "true";
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        handle(e);
      } else {
        setText("updated", e.status === 422 ? "check the filters" : "connection problem, retrying…");
        banner(e.message || String(e));
      }
    } finally {
      state.busy = false;
    }
  }

  function stop() {
    clearTimeout(state.timer);
    state.timer = null;
  }

  function loop() {
    stop();
    if (state.paused) return;
    refresh().finally(() => {
      if (!state.paused && $("login").hidden) state.timer = setTimeout(loop, POLL_MS);
    });
  }

  function closeDetail() {
    state.selected = null;
    $("detail").hidden = true;
    for (const tr of $("jobs").children) tr.classList.remove("selected");
  }

  function filterBy(status, type, queue) {
    state.status = status;
    state.type = type;
    state.queue = queue;
    state.cursors = [null];
    $("filter-status").value = status;
    $("filter-type").value = type;
    $("filter-queue").value = queue;
    loop();
  }

  const filterForm = () =>
    filterBy($("filter-status").value, $("filter-type").value.trim(), $("filter-queue").value.trim());

  // -- wiring ----------------------------------------------------------------------------------
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value);
    $("token-input").value = "";
    $("login").hidden = true;
    loop();
  });
  $("forget-token").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    stop();
    needToken();
  });
  $("pause").addEventListener("click", () => {
    state.paused = !state.paused;
    $("pause").textContent = state.paused ? "Resume" : "Pause";
    $("pause").setAttribute("aria-pressed", String(state.paused));
    if (state.paused) { stop(); setText("updated", "paused"); } else loop();
  });
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    filterForm();
  });
  $("filter-status").addEventListener("change", filterForm);
  for (const button of document.querySelectorAll(".count")) {
    button.addEventListener("click", () => filterBy(button.dataset.status, state.type, state.queue));
  }
  $("older").addEventListener("click", () => {
    if (!state.nextCursor) return;
    state.cursors.push(state.nextCursor);
    loop();
  });
  $("newer").addEventListener("click", () => {
    if (state.cursors.length > 1) state.cursors.pop();
    loop();
  });
  $("detail-close").addEventListener("click", closeDetail);
  $("retry-btn").addEventListener("click", () => act("/retry", "POST", "retried"));
  $("cancel-btn").addEventListener("click", () => act("", "DELETE", "cancelled"));
  $("cleanup-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const raw = $("cleanup-days").value;
    const body = raw === "" ? {} : { older_than_days: Number(raw) };
    if (!window.confirm("Remove old completed and cancelled jobs?")) return;
    try {
      const result = await api("/cleanup", { method: "POST", body });
      toast(`removed ${result.removed} job(s)`);
      await refresh();
    } catch (err) {
      handle(err);
    }
  });

  loop();
})();
