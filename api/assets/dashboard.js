"use strict";
// The operator dashboard's script. Everything it shows comes from the JSON API of the
// server that served the page (relative paths only), refreshed every few seconds. Data is
// only ever put into the page as text (textContent / text nodes), never parsed as HTML.
// The operator token lives in this tab's sessionStorage and travels only in the
// Authorization header.
(() => {
  const REFRESH_MS = 3000;
  const POLL_MS = 500;
  const POLL_LIMIT_MS = 10 * 60 * 1000;
  const TOKEN_KEY = "mediawarm.operatorToken";
  const JOB_STATUSES = ["pending", "running", "done", "dead"];
  const RUN_STATUSES = ["running", "succeeded", "failed", "skipped"];

  const $ = (id) => document.getElementById(id);

  // An element with text children; `props` takes className, title and data-* only.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null) continue;
      if (key === "className") node.className = value;
      else if (key === "title") node.title = String(value);
      else if (key.startsWith("data-")) node.setAttribute(key, String(value));
      else throw new Error("el: unsupported property " + key);
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
    }
    return node;
  }

  // A status badge; the class comes from a fixed list, never from the data itself.
  function badge(status, known) {
    const cls = known.includes(status) ? "status-" + status : "status-unknown";
    return el("span", { className: "badge " + cls }, status);
  }

  const numberFormat = new Intl.NumberFormat("en");
  const int = (n) => (typeof n === "number" ? numberFormat.format(n) : "–");
  const rate = (x) => (typeof x === "number" ? (x * 100).toFixed(1) + " %" : "–");

  function when(iso) {
    if (!iso) return el("span", { className: "muted" }, "–");
    const then = new Date(iso);
    const seconds = Math.round((Date.now() - then.getTime()) / 1000);
    let text;
    if (Number.isNaN(seconds)) text = iso;
    else if (seconds < 60) text = Math.max(seconds, 0) + " s ago";
    else if (seconds < 3600) text = Math.round(seconds / 60) + " min ago";
    else if (seconds < 86400) text = Math.round(seconds / 3600) + " h ago";
    else text = then.toISOString().slice(0, 16).replace("T", " ");
    return el("time", { title: iso }, text);
  }

  function brief(value, max = 160) {
    if (value === null || value === undefined) return "";
    const text = typeof value === "string" ? value : JSON.stringify(value);
    return text.length > max ? text.slice(0, max - 1) + "…" : text;
  }

  // --- the operator token ------------------------------------------------------------------

  const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

  function updateLocks(note) {
    const has = token() !== "";
    for (const id of ["warm-button", "invalidate-button", "scrape-button"]) $(id).disabled = !has;
    $("actions-locked").hidden = has;
    $("jobs-locked").hidden = has;
    $("jobs-table").hidden = !has;
    $("token-forget").disabled = !has;
    $("token-state").textContent = note || (has ? "token set for this tab" : "no token");
    if (!has) $("jobs-table").tBodies[0].replaceChildren();
  }

  function tokenRefused() {
    sessionStorage.removeItem(TOKEN_KEY);
    updateLocks("token refused (401): enter it again");
  }

  // --- the API -----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(code + ": " + message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(path, { method = "GET", body, operator = false } = {}) {
    const headers = { Accept: "application/json" };
    if (operator) headers.Authorization = "Bearer " + token();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      if (response.status === 401 && operator) tokenRefused();
      throw new ApiError(response.status, error.code || "http_" + response.status, error.message || response.statusText);
    }
    return data;
  }

  function showError(id, error) {
    const node = $(id);
    node.hidden = !error;
    node.textContent = error ? String(error.message || error) : "";
  }

  // --- sections ----------------------------------------------------------------------------

  function renderCache(body) {
    const c = body.cache;
    $("cache-backend").textContent = c.backend;
    $("cache-redis").textContent = c.redis_connected ? "connected" : "not connected";
    $("cache-hit-rate").textContent = rate(c.hit_rate);
    $("cache-hits").textContent = int(c.hits);
    $("cache-misses").textContent = int(c.misses);
    $("cache-memory").textContent = int(c.memory_cache_size);
    $("cache-redis-keys").textContent = c.redis_keys === null ? "–" : int(c.redis_keys);
    const rows = Object.entries(c.categories || {}).map(([name, s]) => {
      const meter = el("meter", {});
      meter.min = 0;
      meter.max = 1;
      meter.value = s.hit_rate;
      return el("tr", { "data-category": name },
        el("td", {}, name),
        el("td", { className: "num" }, int(s.hits)),
        el("td", { className: "num" }, int(s.misses)),
        el("td", { className: "rate" }, meter, " ", rate(s.hit_rate)));
    });
    $("cache-categories").tBodies[0].replaceChildren(...rows);
  }

  function renderHot(body) {
    const items = body.keys.map((k) => el("li", { title: k.category }, el("code", {}, k.key)));
    $("hot-keys").replaceChildren(...items);
    $("hot-empty").hidden = items.length > 0;
  }

  function renderQueue(body) {
    $("queue-depth").textContent = int(body.depth);
    $("queue-max-depth").textContent = int(body.max_depth);
    const rows = Object.entries(body.kinds).map(([kind, n]) =>
      el("tr", { "data-kind": kind },
        el("td", {}, kind),
        el("td", { className: "num" }, int(n.pending)),
        el("td", { className: "num" }, int(n.running)),
        el("td", { className: "num" }, int(n.done)),
        el("td", { className: "num" }, int(n.dead))));
    $("queue-kinds").tBodies[0].replaceChildren(...rows);
  }

  function jobDetail(job) {
    return job.error ? job.error : brief(job.result);
  }

  function renderJobs(body) {
    const rows = body.jobs.map((job) =>
      el("tr", { "data-job-id": job.id, "data-status": job.status },
        el("td", { title: job.id }, el("code", {}, job.id.slice(-8))),
        el("td", {}, job.kind),
        el("td", { className: "status" }, badge(job.status, JOB_STATUSES)),
        el("td", { className: "num" }, job.attempts + " / " + job.max_attempts),
        el("td", {}, when(job.created_at)),
        el("td", {}, when(job.finished_at)),
        el("td", { className: job.error ? "error-text" : "result" }, jobDetail(job))));
    $("jobs-table").tBodies[0].replaceChildren(...rows);
  }

  function renderSources(body) {
    const rows = body.sources.map((s) => {
      const run = s.last_run;
      const cells = [
        el("td", {}, el("strong", {}, s.name), s.enabled ? "" : el("span", { className: "muted" }, " (disabled)")),
        el("td", {}, s.kind),
        el("td", {}, s.schedule ? el("code", {}, s.schedule) : el("span", { className: "muted" }, "–")),
      ];
      if (run) {
        cells.push(
          el("td", {}, when(run.started_at)),
          el("td", { className: "status" }, badge(run.status, RUN_STATUSES)),
          el("td", { className: "num" }, int(run.pages_fetched)),
          el("td", { className: "num" }, int(run.articles_new)),
          el("td", { className: "num" }, int(run.articles_updated)),
          el("td", { className: "error-text" }, run.error_detail || run.error || ""));
      } else {
        cells.push(el("td", { className: "muted" }, "never"), el("td", {}), el("td", {}), el("td", {}), el("td", {}), el("td", {}));
      }
      return el("tr", { "data-source": s.name }, ...cells);
    });
    $("sources-table").tBodies[0].replaceChildren(...rows);
    $("sources-empty").hidden = rows.length > 0;

    const select = $("scrape-source");
    const chosen = select.value;
    const names = body.sources.filter((s) => s.kind !== "import").map((s) => s.name);
    const current = Array.from(select.options).map((o) => o.value);
    if (names.join("\n") !== current.join("\n")) {
      select.replaceChildren(...names.map((name) => {
        const option = el("option", {}, name);
        option.value = name;
        return option;
      }));
      if (names.includes(chosen)) select.value = chosen;
    }
  }

  // --- refreshing --------------------------------------------------------------------------

  async function section(errorId, load, render) {
    try {
      render(await load());
      showError(errorId, null);
      return true;
    } catch (error) {
      showError(errorId, error);
      return false;
    }
  }

  let refreshing = null;
  function refresh() {
    if (refreshing) return refreshing;
    const parts = [
      section("cache-error", () => api("/api/v1/media/cache/stats"), renderCache),
      section("hot-error", () => api("/api/v1/media/cache/hot?limit=10"), renderHot),
      section("queue-error", () => api("/api/v1/queue/stats"), renderQueue),
      section("sources-error", () => api("/api/v1/sources", { operator: Boolean(token()) }), renderSources),
    ];
    if (token()) {
      parts.push(section("jobs-error", () => api("/api/v1/jobs?limit=15", { operator: true }), renderJobs));
    } else {
      showError("jobs-error", null);
    }
    refreshing = Promise.all(parts).then((results) => {
      const failed = results.filter((ok) => !ok).length;
      const time = new Date().toLocaleTimeString("en-GB");
      $("refresh-state").textContent = failed
        ? "updated " + time + ", " + failed + " section(s) failed"
        : "updated " + time;
      document.body.setAttribute("data-refreshed", String(Date.now()));
    }).finally(() => {
      refreshing = null;
    });
    return refreshing;
  }

  async function loop() {
    await refresh();
    setTimeout(loop, REFRESH_MS);
  }

  // --- actions -----------------------------------------------------------------------------

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function setEntry(entry, kind, status, id, detail) {
    entry.setAttribute("data-status", status);
    const parts = [badge(status, JOB_STATUSES), " ", el("strong", {}, kind)];
    if (id) parts.push(" ", el("code", { title: id }, id.slice(-8)));
    if (detail) parts.push(" ", el("span", { className: status === "dead" || status === "refused" ? "error" : "muted" }, brief(detail, 120)));
    entry.replaceChildren(...parts);
  }

  async function runJob(kind, path, body) {
    const entry = el("li", { "data-kind": kind });
    setEntry(entry, kind, "sending", null, "");
    $("action-log").prepend(entry);
    let id;
    try {
      id = (await api(path, { method: "POST", body, operator: true })).job_id;
    } catch (error) {
      setEntry(entry, kind, "refused", null, error.message);
      return;
    }
    entry.setAttribute("data-job-id", id);
    setEntry(entry, kind, "pending", id, "");
    refresh();
    const deadline = Date.now() + POLL_LIMIT_MS;
    while (Date.now() < deadline) {
      await sleep(POLL_MS);
      let job;
      try {
        job = await api("/api/v1/jobs/" + encodeURIComponent(id), { operator: true });
      } catch (error) {
        setEntry(entry, kind, "unknown", id, error.message);
        return;
      }
      setEntry(entry, kind, job.status, id, jobDetail(job));
      if (job.status === "done" || job.status === "dead") break;
    }
    refresh();
  }

  $("warm-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runJob("warm", "/api/v1/jobs/warm", { top_n: Number($("warm-top-n").value) });
  });

  $("invalidate-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const patterns = $("invalidate-patterns").value.split(/[\s,]+/).filter((p) => p !== "");
    runJob("invalidate", "/api/v1/jobs/invalidate", { patterns });
  });

  $("scrape-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runJob("scrape", "/api/v1/jobs/scrape", {
      source: $("scrape-source").value,
      refresh: $("scrape-refresh").checked,
    });
  });

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token-input").value.trim();
    $("token-input").value = "";
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    updateLocks();
    refresh();
  });

  $("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    updateLocks();
  });

  updateLocks();
  loop();
})();
