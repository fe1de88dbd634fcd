/* recordings.js: the Recordings section (seed 001).
 *
 * Recording uses the microphone through MediaRecorder (Opus in WebM where
 * the browser has it); the take is played back, named and saved with
 * POST /api/v1/save_recording_details as the seed's multipart form. A
 * recording saved without a transcript is transcribed by silo in the
 * background: while a recent one still has none, the list is polled
 * every two seconds until it appears. The list is
 * GET /api/v1/user_recordings/{user} (the window, newest first); items
 * are kept by session id and updated in place, so polling never restarts
 * a playing recording. Transcripts are read from their presigned URLs. */
import {
  $, el, api, session, segment, formatSize, formatDate, formatDuration, listState, confirmAction, say, every,
} from "./lib.js";

const POLL_MS = 2000;
const TRANSCRIBING_WINDOW_MS = 5 * 60 * 1000; /* a recording this young without a transcript may get one */
const TYPES = ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];

let wired = false;
let stopPolling = null;
let recorder = null;
let take = null; /* the Blob recorded last */
let ticker = null;
let elapsed = () => 0; /* seconds since the recording started */
const items = new Map(); /* session_id -> {li, rec, transcript, reading} */

export function show() {
  if (!wired) wire();
  const days = session.config.recordings_window_days;
  $("c-rec-window").textContent = days ? `The last ${days} days, newest first.` : "Newest first.";
  refresh();
}

export function hide() {
  if (stopPolling) stopPolling();
  stopPolling = null;
}

function wire() {
  wired = true;
  $("c-rec-start").addEventListener("click", start);
  $("c-rec-stop").addEventListener("click", () => recorder && recorder.state !== "inactive" && recorder.stop());
  $("c-rec-discard").addEventListener("click", discard);
  $("c-rec-form").addEventListener("submit", (e) => {
    e.preventDefault();
    save();
  });
}

const user = () => segment(session.me.sub);

/* ---- recording ---- */

async function start() {
  if (!window.MediaRecorder || !navigator.mediaDevices) {
    say("c-rec-status", "This browser cannot record audio.", "failed");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    say("c-rec-status", "No microphone: " + e.message, "failed");
    return;
  }
  const type = TYPES.find((t) => MediaRecorder.isTypeSupported(t));
  const chunks = [];
  recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
  recorder.addEventListener("dataavailable", (e) => { if (e.data.size) chunks.push(e.data); });
  recorder.addEventListener("stop", () => {
    clearInterval(ticker);
    stream.getTracks().forEach((t) => t.stop());
    take = new Blob(chunks, { type: recorder.mimeType || type || "audio/webm" });
    $("c-rec-preview").src = URL.createObjectURL(take);
    $("c-rec-form").hidden = false;
    $("c-rec-name").value = "Recording " + new Date().toLocaleString();
    $("c-rec-name").focus();
    $("c-rec-name").select();
    $("c-rec-start").disabled = false;
    $("c-rec-stop").disabled = true;
    say("c-rec-status", `Recorded ${formatDuration(elapsed())}. Name it and save it.`);
  });
  discard();
  recorder.start(1000);
  const began = performance.now();
  elapsed = () => (performance.now() - began) / 1000;
  ticker = setInterval(tick, 250);
  $("c-rec-start").disabled = true;
  $("c-rec-stop").disabled = false;
  $("c-rec-stop").focus();
  say("c-rec-status", "Recording…");
}


function tick() {
  const s = elapsed();
  $("c-rec-time").textContent = formatDuration(Math.floor(s));
  $("c-rec-time").dataset.seconds = String(Math.floor(s));
}

function discard() {
  const preview = $("c-rec-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.removeAttribute("src");
  $("c-rec-form").hidden = true;
  $("c-rec-name-error").textContent = "";
  take = null;
}

async function save() {
  const name = $("c-rec-name").value.trim();
  $("c-rec-name").setAttribute("aria-invalid", String(!name));
  $("c-rec-name-error").textContent = name ? "" : "Give the recording a name.";
  if (!name || !take) return;
  const tags = $("c-rec-tags").value.split(",").map((t) => t.trim()).filter(Boolean);
  const notes = $("c-rec-notes").value.trim();
  const form = new FormData();
  form.append("metadata", JSON.stringify({ display_name: name, tags, notes: notes || null, source: "console" }));
  const ext = take.type.includes("ogg") ? "ogg" : take.type.includes("mp4") ? "m4a" : "webm";
  form.append("audio", take, "recording." + ext);
  $("c-rec-save").disabled = true;
  say("c-rec-status", "Saving…");
  try {
    const doc = await api("POST", "/api/v1/save_recording_details", { form });
    say("c-rec-status", `Saved “${name}”. Its transcript appears below when it is ready.`, "ok");
    discard();
    $("c-rec-tags").value = "";
    $("c-rec-notes").value = "";
    await refresh();
    const item = items.get(doc.session_id);
    if (item) item.li.focus();
  } catch (e) {
    say("c-rec-status", "Cannot save: " + e.message, "failed");
  } finally {
    $("c-rec-save").disabled = false;
  }
}

/* ---- the list ---- */

async function refresh() {
  let list;
  try {
    list = await api("GET", `/api/v1/user_recordings/${user()}`);
  } catch (e) {
    listState("c-rec", { error: "Cannot list your recordings: " + e.message });
    return;
  }
  listState("c-rec", { error: "", count: list.length });
  const ul = $("c-rec-list");
  const seen = new Set();
  let waiting = false;
  list.forEach((rec, index) => {
    seen.add(rec.session_id);
    let item = items.get(rec.session_id);
    if (!item) {
      item = makeItem(rec);
      items.set(rec.session_id, item);
    }
    waiting = update(item, rec) || waiting;
    if (ul.children[index] !== item.li) ul.insertBefore(item.li, ul.children[index] || null);
  });
  for (const [id, item] of items) {
    if (!seen.has(id)) {
      item.li.remove();
      items.delete(id);
    }
  }
  if (waiting && !stopPolling) stopPolling = every(POLL_MS, refresh);
  if (!waiting && stopPolling) hide();
}

function makeItem(rec) {
  const li = el("li", { class: "recording", tabindex: "-1", dataset: { session: rec.session_id } },
    el("div", { class: "rec-head" }, el("h3", { class: "rec-name" }), el("p", { class: "facts" })),
    el("audio", { controls: true, preload: "none", "aria-label": "Play " + rec.display_name }),
    el("div", { class: "transcript" }, el("h4", {}, "Transcript"), el("p", { class: "transcript-text" })),
    el("details", { class: "rec-meta" }, el("summary", {}, "Metadata"), el("dl", { class: "meta" })),
    el("div", { class: "actions" }, el("button", { type: "button", class: "danger delete",
      "aria-label": "Delete " + rec.display_name, onclick: () => remove(rec.session_id) }, "Delete")));
  return { li, rec, transcript: null, reading: false };
}

/* Updates item for rec; true while its transcript is still awaited. */
function update(item, rec) {
  const { li } = item;
  item.rec = rec;
  li.querySelector(".rec-name").textContent = rec.display_name;
  li.querySelector(".facts").textContent = [formatDate(rec.creation_date), formatDuration(rec.duration),
    formatSize(rec.size), (rec.tags || []).map((t) => "#" + t).join(" ")].filter(Boolean).join(" · ");
  const audio = li.querySelector("audio");
  if (rec.audio_url && !audio.getAttribute("src")) audio.src = rec.audio_url;
  const meta = li.querySelector(".meta");
  meta.replaceChildren();
  const facts = [["Session", rec.session_id], ["Audio", rec.audio_content_type], ["Notes", rec.notes],
    ["Audio key", rec.audio_key], ["Metadata", JSON.stringify(rec.metadata || {})]];
  for (const [k, v] of facts) if (v) meta.append(el("dt", {}, k), el("dd", {}, v));
  return showTranscript(item, rec);
}

/* Shows rec's transcript, read once it has words. A session saved without
 * one has an empty transcript.txt until silo's transcription writes it:
 * while the recording is young, an empty or missing transcript is shown as
 * on its way and read again at the next poll. True while awaited. */
function showTranscript(item, rec) {
  const { li } = item;
  const text = li.querySelector(".transcript-text");
  if (item.transcript) return false;
  const young = Date.now() - Date.parse(rec.creation_date) < TRANSCRIBING_WINDOW_MS;
  const waiting = (message) => {
    text.textContent = young ? "Transcribing…" : message;
    li.dataset.transcript = young ? "pending" : "none";
  };
  if (!rec.transcript_url) {
    waiting("No transcript.");
    return young;
  }
  if (!item.reading) {
    item.reading = true;
    fetch(rec.transcript_url)
      .then((r) => (r.ok ? r.text() : Promise.reject(new Error("the store answered " + r.status))))
      .then((t) => {
        if (!t.trim()) return waiting("No speech was recognised.");
        item.transcript = t.trim();
        text.textContent = item.transcript;
        li.dataset.transcript = "ready";
      })
      .catch((e) => { text.textContent = "Cannot load the transcript: " + e.message; })
      .finally(() => { item.reading = false; });
  }
  return young;
}

async function remove(sessionId) {
  const item = items.get(sessionId);
  if (!item) return;
  if (!await confirmAction(`Delete the recording “${item.rec.display_name}”, its audio and transcript?`)) return;
  try {
    await api("DELETE", `/api/v1/recordings/${user()}/${segment(sessionId)}`);
    item.li.remove();
    items.delete(sessionId);
    await refresh();
  } catch (e) {
    listState("c-rec", { error: "Cannot delete: " + e.message });
  }
}
