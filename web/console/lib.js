/* lib.js: what every section of the console shares.
 *
 * The session token lives in sessionStorage under "silo.token" (the key
 * the /gallery page uses too, so the embedded gallery shares it) and goes
 * out as a Bearer header on every call. api() turns each of silo's error
 * shapes ({"detail"}, OpenAI's {"error": {"message"}}, seed 004's
 * {"success": false, "message"}, S3's XML) into an ApiError with a
 * readable message. Values from the server reach the page through
 * textContent and properties only, never as HTML. */

export const TOKEN_KEY = "silo.token";
const NOTICE_KEY = "silo.console.notice";

export const $ = (id) => document.getElementById(id);

/* The signed-in state: config (/api/console/config), me (/api/console/me). */
export const session = { config: null, me: null };

export function token() { return sessionStorage.getItem(TOKEN_KEY); }
export function setToken(t) { sessionStorage.setItem(TOKEN_KEY, t); }

/* Forgets everything this tab holds and starts over at the sign-in page,
 * with notice (may be empty) shown there. */
export function signOut(notice) {
  sessionStorage.clear();
  if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
  history.replaceState(null, "", "/");
  location.reload();
}

export function takeNotice() {
  const n = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  return n || "";
}

/* Creates an element: attrs is {class, text, on<event>, dataset, other
 * attributes}; children are nodes or strings (text). */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

export class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

/* The readable message of an error answer. */
function errorMessage(doc, status) {
  if (doc && typeof doc === "object") {
    if (typeof doc.detail === "string") return doc.detail;
    if (doc.error && typeof doc.error.message === "string") return doc.error.message;
    if (typeof doc.message === "string") return doc.message;
  }
  if (typeof doc === "string") {
    const m = doc.match(/<Message>([^<]*)<\/Message>/);
    if (m) return m[1];
    if (doc.trim() && doc.length < 300) return doc.trim();
  }
  return status ? `the server answered ${status}` : "no answer";
}

/* Calls the API. opts: json (a body to send as JSON), form (FormData),
 * raw (resolve with the Response instead of its parsed body), headers,
 * auth (false: no session Bearer header, and a 401 does not end the
 * session).
 * Rejects with an ApiError for any non-2xx answer. */
export async function api(method, path, opts = {}) {
  const headers = { ...opts.headers };
  const t = token();
  if (t && opts.auth !== false) headers.Authorization = "Bearer " + t;
  let body;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    body = opts.form;
  }
  let r;
  try {
    r = await fetch(path, { method, headers, body });
  } catch (e) {
    throw new ApiError("cannot reach silo: " + e.message, 0, null);
  }
  if (r.ok && opts.raw) return r;
  const type = r.headers.get("Content-Type") || "";
  const doc = type.includes("json") ? await r.json().catch(() => null) : await r.text().catch(() => "");
  if (!r.ok || (doc && doc.success === false)) {
    const error = new ApiError(errorMessage(doc, r.status), r.status, doc);
    if (r.status === 401 && opts.auth !== false && t) signOut("Your session has ended (" + error.message + "). Sign in again.");
    throw error;
  }
  return doc;
}

/* A path segment (or a key, keeping its slashes) for a URL path. */
export const segment = (s) => encodeURIComponent(s);
export const keyPath = (key) => key.split("/").map(encodeURIComponent).join("/");

/* ---- formatting ---- */

export function formatSize(bytes) {
  if (bytes === null || bytes === undefined || isNaN(bytes)) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let n = Number(bytes);
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
}

/* A limit from silo's settings (sizes there are powers of 1024): "2 MiB". */
export function formatLimit(bytes) {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let n = Number(bytes);
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (Number.isInteger(n) ? n : n.toFixed(1)) + " " + units[i];
}

export function formatDuration(seconds) {
  if (typeof seconds !== "number" || !isFinite(seconds)) return "";
  const s = Math.round(seconds);
  const two = (x) => (x < 10 ? "0" : "") + x;
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
}

export function formatDate(value) {
  if (value === null || value === undefined || value === "") return "";
  const d = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  return isNaN(d) ? "" : d.toLocaleString();
}

/* The claims of a JWT, or {} for an API key or anything unreadable. */
export function jwtClaims(t) {
  try {
    const part = t.split(".")[1];
    const text = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(text, (c) => c.charCodeAt(0))));
  } catch (e) {
    return {};
  }
}

/* ---- shared pieces of UI ---- */

/* Shows a list's error (or clears it with ""), and its empty state. */
export function listState(prefix, { error, count }) {
  if (error !== undefined) $(prefix + "-error").textContent = error;
  if (count !== undefined) {
    $(prefix + "-empty").hidden = count > 0;
    const table = $(prefix + "-table");
    if (table) table.hidden = count === 0;
  }
}

/* Sets a status line: kind "" (neutral), "ok" or "failed". */
export function say(id, text, kind = "") {
  const e = $(id);
  e.textContent = text;
  e.dataset.kind = kind;
}

/* Asks with the confirmation dialog; resolves true when confirmed. */
export function confirmAction(text, action = "Delete") {
  const dialog = $("c-confirm");
  $("c-confirm-text").textContent = text;
  $("c-confirm-ok").textContent = action;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    $("c-confirm-cancel").focus();
  });
}

/* Wires a drop zone and its file input: onFiles(FileList) for either. */
export function dropzone(zone, input, onFiles) {
  const over = (e) => {
    e.preventDefault();
    zone.classList.add("over");
  };
  zone.addEventListener("dragenter", over);
  zone.addEventListener("dragover", over);
  zone.addEventListener("dragleave", (e) => { if (!zone.contains(e.relatedTarget)) zone.classList.remove("over"); });
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files.length) onFiles(e.dataTransfer.files);
  });
  input.addEventListener("change", () => {
    if (input.files.length) onFiles(input.files);
    input.value = "";
  });
}

/* Offers text (or a Blob) as a download named filename. */
export function saveFile(data, filename, type = "text/plain") {
  const blob = data instanceof Blob ? data : new Blob([data], { type });
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/* Copies text; falls back to selecting input for a manual copy. */
export async function copyText(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (e) {
    if (input) {
      input.focus();
      input.select();
    }
    return false;
  }
}

/* Calls fn every ms, a run never overlapping the one before, until the
 * returned function is called. */
export function every(ms, fn) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    try { await fn(); } catch (e) { /* each section shows its own errors */ }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, ms);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
