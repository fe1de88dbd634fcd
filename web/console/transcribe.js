/* transcribe.js: the Transcribe section (seed 000).
 *
 * One audio file goes to POST /v1/audio/transcriptions with the chosen
 * response format (text, SRT, WebVTT, JSON with segment and word times);
 * optionally silo also PUTs the result to a presigned URL the user gives
 * (upload_presigned_url), and with "in the background" (async=true) the
 * answer is the queued transcription, followed in the list below. The
 * list is GET /v1/audio/transcriptions (the caller's own, newest first),
 * polled while any is queued or in progress; "View" reads one with its
 * result from GET /v1/audio/transcriptions/{id}. */
import {
  $, el, api, session, segment, formatDate, formatSize, formatLimit, listState, dropzone, saveFile, say, every,
} from "./lib.js";

const POLL_MS = 2000;
const PAGE = 20;
const EXTENSIONS = { text: "txt", srt: "srt", vtt: "vtt", json: "json", verbose_json: "json" };

let wired = false;
let chosen = null;
let shown = null; /* {text, format, id} of the result on screen */
let after = null;
let stopPolling = null;

export function show() {
  if (!wired) wire();
  refresh(true);
}

export function hide() {
  if (stopPolling) stopPolling();
  stopPolling = null;
}

function wire() {
  wired = true;
  dropzone($("c-tr-drop"), $("c-tr-file"), (list) => choose(list[0]));
  $("c-tr-form").addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  $("c-tr-refresh").addEventListener("click", () => refresh(true));
  $("c-tr-more").addEventListener("click", () => refresh(false));
  $("c-tr-download").addEventListener("click", () => {
    if (shown) saveFile(shown.text, `${shown.name}.${EXTENSIONS[shown.format] || "txt"}`, shown.format.includes("json") ? "application/json" : "text/plain");
  });
}

function choose(file) {
  chosen = file;
  const max = session.config.limits.transcription_max_size;
  $("c-tr-form-error").textContent = file.size > max
    ? `This file is ${formatSize(file.size)}; transcriptions take up to ${formatLimit(max)}.` : "";
  $("c-tr-chosen").textContent = `${file.name} (${formatSize(file.size)})`;
}

/* Text for the result panel: verbose JSON as timed lines. */
function present(result, format) {
  if (typeof result === "string") return result;
  if (format === "verbose_json" && Array.isArray(result.segments)) {
    const t = (s) => new Date(s * 1000).toISOString().slice(11, 23);
    return result.segments.map((s) => `[${t(s.start)} → ${t(s.end)}] ${s.text.trim()}`).join("\n") +
      "\n\n" + JSON.stringify(result, null, 2);
  }
  if (format === "json" && typeof result.text === "string") return result.text;
  return JSON.stringify(result, null, 2);
}

function showResult(result, format, name, delivery) {
  const text = typeof result === "string" ? result : JSON.stringify(result, null, 2);
  shown = { text, format, name: name.replace(/\.[^.]*$/, "") || "transcript" };
  $("c-tr-result").textContent = present(result, format);
  $("c-tr-result").dataset.format = format;
  $("c-tr-result-title").textContent = `Result (${format}) of ${name}`;
  $("c-tr-delivery").textContent = delivery ? describeDelivery(delivery) : "";
  $("c-tr-result-panel").hidden = false;
}

function describeDelivery(d) {
  const where = d.url_host ? `to ${d.url_host}` : `to ${d.store || "the default store"}/${d.bucket || ""} ${d.key || ""}`;
  return `Delivery ${where}: ${d.status}${d.error ? " (" + d.error + ")" : ""}.`;
}

async function submit() {
  $("c-tr-form-error").textContent = "";
  if (!chosen) {
    $("c-tr-form-error").textContent = "Choose an audio file first.";
    $("c-tr-file").focus();
    return;
  }
  const format = $("c-tr-format").value;
  const language = $("c-tr-language").value.trim();
  const deliver = $("c-tr-deliver").value.trim();
  const background = $("c-tr-async").checked;
  if (language && !/^[a-z]{2}$/.test(language)) {
    $("c-tr-form-error").textContent = "Language is a two-letter code such as en.";
    $("c-tr-language").focus();
    return;
  }
  const form = new FormData();
  form.append("file", chosen, chosen.name);
  form.append("model", "whisper-1");
  form.append("response_format", format);
  if (language) form.append("language", language);
  if (format === "verbose_json") form.append("timestamp_granularities[]", "segment");
  if (deliver) form.append("upload_presigned_url", deliver);
  if (background) form.append("async", "true");
  $("c-tr-submit").disabled = true;
  say("c-tr-status", background ? "Sending…" : "Transcribing… (this takes about as long as the audio)");
  try {
    const r = await api("POST", "/v1/audio/transcriptions", { form, raw: true });
    const id = r.headers.get("X-Silo-Transcription-Id");
    if (r.status === 202) {
      const doc = await r.json();
      say("c-tr-status", `Queued as ${doc.id}; it shows in the list below.`, "ok");
    } else {
      const json = (r.headers.get("Content-Type") || "").includes("json");
      const body = json ? await r.json() : await r.text();
      const delivery = json ? body.delivery : r.headers.get("X-Silo-Delivery-Status") &&
        { status: r.headers.get("X-Silo-Delivery-Status"), url_host: r.headers.get("X-Silo-Delivery-Host"),
          store: r.headers.get("X-Silo-Delivery-Store"), bucket: r.headers.get("X-Silo-Delivery-Bucket"),
          key: r.headers.get("X-Silo-Delivery-Key") };
      showResult(body, format, chosen.name, delivery);
      say("c-tr-status", `Done (${id}).`, "ok");
    }
    refresh(true);
  } catch (e) {
    say("c-tr-status", "", "");
    $("c-tr-form-error").textContent = "Cannot transcribe: " + e.message;
  } finally {
    $("c-tr-submit").disabled = false;
  }
}

/* ---- the list ---- */

async function refresh(reset) {
  if (reset) after = null;
  const q = new URLSearchParams({ limit: String(PAGE) });
  if (after) q.set("after", after);
  let doc;
  try {
    doc = await api("GET", "/v1/audio/transcriptions?" + q);
  } catch (e) {
    listState("c-tr", { error: "Cannot list your transcriptions: " + e.message });
    return;
  }
  const rows = $("c-tr-rows");
  if (reset) rows.replaceChildren();
  for (const t of doc.data) rows.append(row(t));
  after = doc.has_more ? doc.last_id : null;
  $("c-tr-more").hidden = !after;
  listState("c-tr", { error: "", count: rows.children.length });
  const busy = doc.data.some((t) => t.status === "queued" || t.status === "in_progress");
  if (busy && !stopPolling) stopPolling = every(POLL_MS, () => refresh(true));
  if (!busy && reset && stopPolling) hide();
}

function row(t) {
  const delivery = t.delivery ? t.delivery.status : "";
  return el("tr", { dataset: { id: t.id, status: t.status } },
    el("td", { "data-label": "File" }, t.filename || t.id, el("small", { class: "key", text: t.id })),
    el("td", { "data-label": "Status" }, el("span", { class: "status status-" + t.status, text: t.status.replace("_", " ") })),
    el("td", { "data-label": "Format" }, t.response_format || ""),
    el("td", { "data-label": "Created" }, formatDate(t.created_at)),
    el("td", { "data-label": "Delivery" }, delivery),
    el("td", { class: "row-actions" },
      el("button", { type: "button", class: "secondary view", disabled: t.status !== "completed",
        "aria-label": "View the transcription of " + (t.filename || t.id), onclick: () => view(t) }, "View")));
}

async function view(t) {
  try {
    const doc = await api("GET", `/v1/audio/transcriptions/${segment(t.id)}`);
    showResult(doc.result, doc.response_format, t.filename || t.id, doc.delivery);
    $("c-tr-result").focus();
  } catch (e) {
    listState("c-tr", { error: "Cannot read it: " + e.message });
  }
}
