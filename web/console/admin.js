/* admin.js: the Admin section, for admins only (the server refuses its
 * /api/admin/... routes to anyone else with 403 whatever this page does).
 *
 * Health is GET /readyz (database and every store). The charts read
 * GET /metrics, Prometheus text, every few seconds: request rate and
 * bytes in and out are the change of the counters between two reads;
 * p99 latency comes from the change of the duration histogram's buckets
 * (the bucket where 99% of the requests of the interval are reached,
 * interpolated linearly inside it, as Prometheus' histogram_quantile
 * does); uploads in flight is the gauge. Users, API keys (the secret of a
 * new key is shown once) and jobs (filtered by state, retried, cancelled)
 * use the admin routes. */
import { $, el, api, session, formatDate, formatSize, listState, confirmAction, copyText, every } from "./lib.js";

const POLL_MS = 3000;
const POINTS = 40;
const CHARTS = [
  { id: "rps", label: "Requests per second", format: (v) => v.toFixed(1) + "/s" },
  { id: "p99", label: "p99 latency", format: (v) => (v >= 1 ? v.toFixed(2) + " s" : Math.round(v * 1000) + " ms") },
  { id: "bytes_in", label: "Bytes in", format: (v) => formatSize(v) + "/s" },
  { id: "bytes_out", label: "Bytes out", format: (v) => formatSize(v) + "/s" },
  { id: "uploads", label: "Uploads in flight", format: (v) => String(Math.round(v)) },
];

let wired = false;
let stopPolling = null;
let previous = null; /* the last parsed scrape, with its time */
const series = Object.fromEntries(CHARTS.map((c) => [c.id, []]));
let usersAfter = null;
let jobsBefore = null;

export function show() {
  const admin = session.me && session.me.admin;
  $("c-admin-denied").hidden = admin;
  $("c-admin-body").hidden = !admin;
  if (!admin) return;
  if (!wired) wire();
  health();
  scrape();
  users(true);
  keys();
  jobs(true);
  if (!stopPolling) stopPolling = every(POLL_MS, () => Promise.all([health(), scrape(), jobs(true, true)]));
}

export function hide() {
  if (stopPolling) stopPolling();
  stopPolling = null;
}

function wire() {
  wired = true;
  const box = $("c-charts");
  for (const c of CHARTS) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", `0 0 ${POINTS - 1} 30`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", c.label);
    svg.id = "c-chart-" + c.id;
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("vector-effect", "non-scaling-stroke");
    svg.append(line);
    box.append(el("figure", { class: "chart" },
      el("figcaption", {}, el("span", {}, c.label), el("strong", { id: "c-chart-" + c.id + "-value" }, "…")), svg));
  }
  $("c-users-more").addEventListener("click", () => users(false));
  $("c-jobs-more").addEventListener("click", () => jobs(false));
  $("c-jobs-state").addEventListener("change", () => jobs(true));
  $("c-key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    createKey();
  });
  $("c-key-copy").addEventListener("click", async () => {
    const ok = await copyText($("c-key-value").value, $("c-key-value"));
    $("c-key-copy").textContent = ok ? "Copied" : "Press Ctrl+C";
  });
}

/* ---- health and metrics ---- */

async function health() {
  let doc;
  try {
    const r = await fetch("/readyz");
    doc = await r.json();
  } catch (e) {
    $("c-health-error").textContent = "Cannot read /readyz: " + e.message;
    return;
  }
  $("c-health-error").textContent = "";
  $("c-health-status").textContent = doc.status;
  $("c-health-status").dataset.kind = doc.status === "ready" ? "ok" : "failed";
  const list = $("c-health");
  list.replaceChildren();
  for (const [name, state] of Object.entries(doc.checks || {})) {
    list.append(el("li", { dataset: { kind: state === "ok" ? "ok" : "failed" } },
      el("span", {}, name), el("strong", {}, state)));
  }
}

/* Prometheus text to {name: [{labels, value}]}; comments skipped. */
function parseMetrics(text) {
  const out = {};
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    for (const l of (m[3] || "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    (out[m[1]] = out[m[1]] || []).push({ labels, value: Number(m[4]) });
  }
  return out;
}

const total = (samples) => (samples || []).reduce((s, x) => s + x.value, 0);

/* Cumulative bucket counts of the duration histogram summed over every
 * series, by upper bound. */
function buckets(metrics) {
  const byLe = new Map();
  for (const s of metrics.silo_http_request_duration_seconds_bucket || []) {
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) || 0) + s.value);
  }
  return byLe;
}

/* The q-quantile of the requests between two bucket readings, or null. */
function quantile(q, before, after) {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => after.get(le) - (before.get(le) || 0));
  const all = counts[counts.length - 1];
  if (!(all > 0)) return null;
  const rank = q * all;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i] >= rank) {
      const lower = i ? bounds[i - 1] : 0;
      const below = i ? counts[i - 1] : 0;
      if (bounds[i] === Infinity) return lower;
      const inBucket = counts[i] - below;
      return lower + (bounds[i] - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1);
    }
  }
  return null;
}

async function scrape() {
  let metrics;
  try {
    const r = await fetch("/metrics");
    if (!r.ok) throw new Error(String(r.status));
    metrics = parseMetrics(await r.text());
  } catch (e) {
    $("c-metrics-error").textContent = "Cannot read /metrics: " + e.message;
    return;
  }
  $("c-metrics-error").textContent = "";
  const now = performance.now();
  const reading = {
    at: now,
    requests: total(metrics.silo_http_requests_total),
    bytesIn: total(metrics.silo_http_request_bytes_total),
    bytesOut: total(metrics.silo_http_response_bytes_total),
    buckets: buckets(metrics),
  };
  const uploads = total(metrics.silo_uploads_in_flight);
  if (previous) {
    const seconds = Math.max((now - previous.at) / 1000, 0.001);
    push("rps", Math.max(reading.requests - previous.requests, 0) / seconds);
    push("p99", quantile(0.99, previous.buckets, reading.buckets));
    push("bytes_in", Math.max(reading.bytesIn - previous.bytesIn, 0) / seconds);
    push("bytes_out", Math.max(reading.bytesOut - previous.bytesOut, 0) / seconds);
  }
  push("uploads", uploads);
  previous = reading;
  for (const c of CHARTS) draw(c);
}

function push(id, value) {
  const s = series[id];
  s.push(value);
  if (s.length > POINTS) s.shift();
}

function draw(chart) {
  const values = series[chart.id];
  const known = values.filter((v) => v !== null);
  const max = Math.max(...known, 0) || 1;
  /* Spread over the width until there are POINTS readings, then scroll. */
  const step = (POINTS - 1) / Math.max(values.length - 1, 1);
  const points = values.map((v, i) => `${(i * step).toFixed(2)},${(30 - ((v === null ? 0 : v) / max) * 28 - 1).toFixed(2)}`);
  const svg = $("c-chart-" + chart.id);
  svg.querySelector("polyline").setAttribute("points", points.join(" "));
  svg.dataset.points = String(values.length);
  const last = known.length ? known[known.length - 1] : null;
  $("c-chart-" + chart.id + "-value").textContent = last === null ? "–" : chart.format(last);
}

/* ---- users ---- */

async function users(reset) {
  if (reset) usersAfter = null;
  const q = new URLSearchParams({ limit: "50" });
  if (usersAfter) q.set("after", usersAfter);
  let doc;
  try {
    doc = await api("GET", "/api/admin/users?" + q);
  } catch (e) {
    listState("c-users", { error: "Cannot list users: " + e.message });
    return;
  }
  const rows = $("c-users-rows");
  if (reset) rows.replaceChildren();
  for (const u of doc.users) {
    rows.append(el("tr", { dataset: { sub: u.sub } },
      el("td", { "data-label": "User" }, u.sub), el("td", { "data-label": "Email" }, u.email || ""),
      el("td", { "data-label": "First seen" }, formatDate(u.first_seen)),
      el("td", { "data-label": "Last seen" }, formatDate(u.last_seen))));
  }
  usersAfter = doc.next_after;
  $("c-users-more").hidden = !usersAfter;
  listState("c-users", { error: "", count: rows.children.length });
}

/* ---- API keys ---- */

async function keys() {
  let doc;
  try {
    doc = await api("GET", "/api/admin/api-keys");
  } catch (e) {
    $("c-key-error").textContent = "Cannot list API keys: " + e.message;
    return;
  }
  const rows = $("c-keys-rows");
  rows.replaceChildren();
  for (const k of doc.api_keys) {
    const revoked = !!k.revoked_at;
    rows.append(el("tr", { dataset: { id: k.id, state: revoked ? "revoked" : "active" } },
      el("td", { "data-label": "Name" }, k.name), el("td", { "data-label": "Role" }, k.role),
      el("td", { "data-label": "Id" }, el("code", {}, k.id)),
      el("td", { "data-label": "Created" }, formatDate(k.created_at)),
      el("td", { "data-label": "State" }, revoked ? "revoked " + formatDate(k.revoked_at) : "active"),
      el("td", { class: "row-actions" }, revoked ? "" : el("button", { type: "button", class: "danger revoke",
        "aria-label": "Revoke the key " + k.name, onclick: () => revokeKey(k) }, "Revoke"))));
  }
  $("c-keys-empty").hidden = doc.api_keys.length > 0;
  $("c-keys-table").hidden = doc.api_keys.length === 0;
}

async function createKey() {
  const name = $("c-key-name").value.trim();
  $("c-key-error").textContent = "";
  if (!/^[A-Za-z0-9._\-|@+:]{1,128}$/.test(name) || name === "." || name === "..") {
    $("c-key-error").textContent = "Name: 1 to 128 letters, digits or . _ - | @ + : (the key acts as this user).";
    $("c-key-name").setAttribute("aria-invalid", "true");
    $("c-key-name").focus();
    return;
  }
  $("c-key-name").removeAttribute("aria-invalid");
  try {
    const k = await api("POST", "/api/admin/api-keys", { json: { name, role: $("c-key-role").value } });
    $("c-key-value").value = k.key;
    $("c-key-copy").textContent = "Copy";
    $("c-key-new").hidden = false;
    $("c-key-value").focus();
    $("c-key-value").select();
    $("c-key-name").value = "";
    keys();
  } catch (e) {
    $("c-key-error").textContent = "Cannot create the key: " + e.message;
  }
}

async function revokeKey(k) {
  if (!await confirmAction(`Revoke the API key “${k.name}” (${k.id})? Services using it stop at once.`, "Revoke")) return;
  try {
    await api("DELETE", `/api/admin/api-keys/${encodeURIComponent(k.id)}`);
    keys();
  } catch (e) {
    $("c-key-error").textContent = "Cannot revoke: " + e.message;
  }
}

/* ---- jobs ---- */

/* quiet: a poll, which refreshes the first page only when nothing more
 * than it is shown. */
async function jobs(reset, quiet) {
  if (quiet && $("c-jobs-rows").children.length > 50) return;
  if (reset) jobsBefore = null;
  const q = new URLSearchParams({ limit: "50" });
  const state = $("c-jobs-state").value;
  if (state) q.set("state", state);
  if (jobsBefore) q.set("before", String(jobsBefore));
  let doc;
  try {
    doc = await api("GET", "/api/admin/jobs?" + q);
  } catch (e) {
    listState("c-jobs", { error: "Cannot list jobs: " + e.message });
    return;
  }
  const rows = $("c-jobs-rows");
  if (reset) rows.replaceChildren();
  for (const j of doc.jobs) rows.append(jobRow(j));
  jobsBefore = doc.next_before;
  $("c-jobs-more").hidden = !jobsBefore;
  listState("c-jobs", { error: "", count: rows.children.length });
}

function jobRow(j) {
  const actions = el("td", { class: "row-actions" });
  if (j.state === "dead" || j.state === "cancelled") {
    actions.append(el("button", { type: "button", class: "secondary retry", "aria-label": `Retry job ${j.id}`,
      onclick: () => act(j, "retry") }, "Retry"));
  }
  if (j.state === "queued" || j.state === "running") {
    actions.append(el("button", { type: "button", class: "danger cancel", "aria-label": `Cancel job ${j.id}`,
      onclick: () => act(j, "cancel") }, "Cancel"));
  }
  return el("tr", { dataset: { id: String(j.id), state: j.state, kind: j.kind } },
    el("td", { "data-label": "Id" }, String(j.id)), el("td", { "data-label": "Kind", class: "nowrap" }, j.kind),
    el("td", { "data-label": "State", class: "nowrap" }, el("span", { class: "status status-" + j.state }, j.state)),
    el("td", { "data-label": "Attempts" }, `${j.attempts}/${j.max_attempts}`),
    el("td", { "data-label": "Updated" }, formatDate(j.updated_at)),
    el("td", { "data-label": "Last error", class: "job-error" }, j.last_error || ""), actions);
}

async function act(j, action) {
  if (action === "cancel" && !await confirmAction(`Cancel job ${j.id} (${j.kind})?`, "Cancel job")) return;
  try {
    await api("POST", `/api/admin/jobs/${j.id}/${action}`);
    $("c-jobs-error").textContent = "";
  } catch (e) {
    $("c-jobs-error").textContent = `Cannot ${action} job ${j.id}: ${e.message}`;
  }
  jobs(true);
}
