// The dashboard reads and steers the daemon through its own /api, with the credentials the browser
// already holds for this page. Everything shown from the daemon goes in as text (never as HTML).
"use strict";

const $ = (selector) => document.querySelector(selector);
// Built from origin and path, never from the page's URL as typed: a page opened as http://user:pass@host/
// would resolve relative paths with those credentials, which fetch refuses (the browser sends the cached
// ones anyway). The page's own folder, so the dashboard also works behind a proxy at a sub-path.
const BASE = window.location.origin + window.location.pathname.replace(/\/[^/]*$/, "");
let firstRender = null;
window.dashboardReady = new Promise((resolve) => { firstRender = resolve; });

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(BASE + path, init);
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  return { status: response.status, json, text };
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function say(text) { $("#message").textContent = text; }

function button(label, action) {
  const node = el("button", { type: "button", textContent: label });
  node.addEventListener("click", async () => {
    node.disabled = true;
    try { await action(); } catch (e) { say(String(e)); } finally { node.disabled = false; await refresh(); }
  });
  return node;
}

function answerText(answer) {
  if (answer.json && typeof answer.json === "object") return answer.json.error || answer.json.message || answer.text;
  return answer.text;
}

function accountRow(account) {
  const actions = el("td");
  const disabled = account.state === "disabled";
  actions.append(button(disabled ? "Enable" : "Disable", async () => {
    const answer = await api("POST", disabled ? "/api/accounts/enable" : "/api/accounts/disable", { id: account.id });
    say(answer.status < 300 ? `account ${account.id}: ${disabled ? "enabled" : "disabled"}` : answerText(answer));
  }));
  const state = el("td", {}, el("span", { className: `state ${account.state}`, textContent: account.state }));
  if (account.last_error) state.append(el("div", { className: "muted", textContent: account.last_error }));
  if (account.state === "qr") {
    state.append(el("img", { className: "qr", alt: `QR code to link ${account.id}`,
                             src: `${BASE}/api/qr/${encodeURIComponent(account.id)}.png?at=${Date.now()}` }));
    const phone = el("input", { type: "tel", placeholder: "+15551234567", ariaLabel: "phone number" });
    const form = el("form", { className: "pair" }, phone, el("button", { type: "submit", textContent: "Pair by code" }));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const answer = await api("POST", "/api/accounts/pair-phone", { id: account.id, phone: phone.value });
      say(answer.status < 300 ? `enter this code on the phone: ${answer.json.code}` : answerText(answer));
    });
    state.append(form);
  }
  const node = account.node ? el("div", { className: "muted", textContent: `node ${account.node}` }) : null;
  return el("tr", { id: `account-${account.id}` }, el("td", { textContent: account.id }, node),
            el("td", { textContent: account.type }), state, actions);
}

const jobs = {};

async function follow(jobId, where) {
  for (;;) {
    const answer = await api("GET", `/api/replays/${encodeURIComponent(jobId)}`);
    if (answer.status !== 200) { where.textContent = answerText(answer); return; }
    const job = answer.json;
    where.textContent = `replay ${job.state}: ${job.delivered} delivered, ${job.failed} failed, ${job.remaining} of ${job.total} left`;
    if (job.state !== "running" && job.state !== "queued") return;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function replay(filter, where) {
  const query = new URLSearchParams({ ...filter, wait: "false" });
  const answer = await api("POST", `/api/cache/replay?${query}`);
  if (answer.status === 202 && answer.json && answer.json.job_id) {
    jobs[JSON.stringify(filter)] = answer.json.job_id;
    follow(answer.json.job_id, where);
  } else {
    where.textContent = answer.status < 300 ? "replayed" : answerText(answer);
  }
}

function hookRow(hook, status) {
  const state = status ? status.state : (hook.active === false ? "paused" : "healthy");
  const progress = el("div", { className: "muted" });
  const actions = el("td", {},
    button(state === "paused" ? "Resume" : "Pause", async () => {
      const answer = await api("POST", "/api/hooks/update", { id: hook.id, active: state === "paused" });
      say(answer.status < 300 ? `hook ${hook.id}: ${state === "paused" ? "resumed" : "paused"}` : answerText(answer));
    }),
    button("Test", async () => {
      const answer = await api("POST", "/api/hooks/test", { id: hook.id });
      const result = answer.json || {};
      say(answer.status < 300
        ? `hook ${hook.id}: test ${result.status} (HTTP ${result.http_status ?? "—"}, ${result.latency_ms ?? "—"} ms)${result.error ? ": " + result.error : ""}`
        : answerText(answer));
    }),
    button("Replay", () => replay({ hook_id: hook.id }, progress)),
    progress);
  const name = el("td", { textContent: hook.name || hook.id },
                  el("div", { className: "muted", textContent: hook.url }));
  const error = status && status.last_error ? status.last_error : "";
  return el("tr", { id: `hook-${hook.id}` }, name,
            el("td", {}, el("span", { className: `state ${state}`, textContent: state })),
            el("td", { className: "pending", textContent: status ? String(status.pending) : "—" }),
            el("td", { className: "muted", textContent: error }), actions);
}

async function refresh() {
  const [health, accounts, hooks, hookStatus, stats] = await Promise.all([
    api("GET", "/health"), api("GET", "/api/accounts/status"), api("GET", "/api/hooks"),
    api("GET", "/api/hooks/status"), api("GET", "/api/cache/stats"),
  ]);
  $("#health").textContent = health.status === 200 ? "healthy" : `unhealthy: ${answerText(health)}`;
  const accountRows = (accounts.json || []).map(accountRow);
  $("#accounts tbody").replaceChildren(...(accountRows.length ? accountRows
    : [el("tr", {}, el("td", { colSpan: 4, className: "muted", textContent: "no accounts configured" }))]));
  const statuses = {};
  for (const entry of (hookStatus.status === 200 && Array.isArray(hookStatus.json) ? hookStatus.json : [])) {
    statuses[entry.id] = entry;
  }
  const hookRows = (Array.isArray(hooks.json) ? hooks.json : []).map((hook) => hookRow(hook, statuses[hook.id]));
  $("#hooks tbody").replaceChildren(...(hookRows.length ? hookRows
    : [el("tr", {}, el("td", { colSpan: 5, className: "muted", textContent: "no hooks configured" }))]));
  const cache = stats.json || {};
  $("#cache-summary").textContent = cache.enabled === false ? "the message cache is off"
    : `${cache.total_count ?? 0} undelivered event(s)` + Object.entries(cache.by_event_type || {})
        .map(([type, count]) => ` · ${type}: ${count}`).join("");
  firstRender();
}

$("#replay-all").addEventListener("click", () => replay({}, $("#replay-progress")));
refresh().catch((e) => { say(String(e)); firstRender(); });
setInterval(() => { refresh().catch((e) => say(String(e))); }, 5000);
