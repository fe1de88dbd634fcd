/* settings.js: the Settings section (seed 001's user settings).
 *
 * GET /api/v1/user_settings/{user} gives the stored object (with the
 * known fields it lacks filled in) or the defaults (X-Settings-Source
 * tells which). The form edits the three documented fields: macro phrases
 * (trigger and expansion; a phrase without expansion is kept as a plain
 * string), custom vocabulary (one entry a line) and transcription
 * profiles (name, language, model, punctuate; a profile's other keys are
 * kept). Every other key of the stored object is kept as it was. Saving
 * (POST /api/v1/user_settings) replaces the whole object; the form checks
 * what the server would refuse first and shows the server's field errors
 * at the field. The raw JSON view saves whatever object it holds. */
import { $, el, api, session, segment, say } from "./lib.js";

const LANGUAGE = /^[a-z]{2}$/;
let wired = false;
let stored = {};

export function show() {
  if (!wired) wire();
  load();
}

function wire() {
  wired = true;
  $("c-set-add-macro").addEventListener("click", () => addMacro({ trigger: "", expansion: "" }).querySelector("input").focus());
  $("c-set-add-profile").addEventListener("click", () => addProfile({}).querySelector("input").focus());
  $("c-set-reload").addEventListener("click", load);
  $("c-set-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const doc = fromForm();
    if (doc) save(doc, "c-set-status");
  });
  $("c-set-json-save").addEventListener("click", () => {
    let doc;
    try {
      doc = JSON.parse($("c-set-json").value);
    } catch (e) {
      $("c-set-json-error").textContent = "Not valid JSON: " + e.message;
      return;
    }
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
      $("c-set-json-error").textContent = "Settings must be a JSON object: { … }.";
      return;
    }
    $("c-set-json-error").textContent = "";
    save(doc, "c-set-status");
  });
}

async function load() {
  say("c-set-status", "");
  $("c-set-error").textContent = "";
  let r;
  try {
    r = await api("GET", `/api/v1/user_settings/${segment(session.me.sub)}`, { raw: true });
  } catch (e) {
    $("c-set-error").textContent = "Cannot read your settings: " + e.message;
    return;
  }
  stored = await r.json();
  const source = r.headers.get("X-Settings-Source");
  $("c-set-source").textContent = source === "stored" ? "Your saved settings." : "Defaults: nothing saved yet.";
  $("c-set-source").dataset.source = source || "";
  toForm(stored);
}

/* ---- the form ---- */

function removable(li, label) {
  li.append(el("button", { type: "button", class: "link remove", "aria-label": label,
    onclick: () => li.remove() }, "Remove"));
  return li;
}

function addMacro(m) {
  const li = el("li", { class: "row macro" },
    el("label", {}, "Trigger", el("input", { class: "trigger", value: m.trigger || "" })),
    el("label", {}, "Becomes", el("input", { class: "expansion", value: m.expansion || "" })),
    el("p", { class: "error field-error" }));
  $("c-set-macros").append(removable(li, "Remove this phrase"));
  return li;
}

function addProfile(p) {
  const li = el("li", { class: "row profile" },
    el("label", {}, "Name", el("input", { class: "p-name", value: p.name || "" })),
    el("label", {}, "Language", el("input", { class: "p-language", value: p.language || "", maxlength: "2" })),
    el("label", {}, "Model", el("input", { class: "p-model", value: p.model || "" })),
    el("label", { class: "check" }, el("input", { type: "checkbox", class: "p-punctuate",
      checked: p.punctuate !== false }), "Punctuate"),
    el("p", { class: "error field-error" }));
  li.extra = p; /* the profile's other keys */
  $("c-set-profiles").append(removable(li, "Remove this profile"));
  return li;
}

function toForm(doc) {
  $("c-set-macros").replaceChildren();
  for (const m of Array.isArray(doc.macro_phrases) ? doc.macro_phrases : []) {
    addMacro(typeof m === "string" ? { trigger: m } : m || {});
  }
  $("c-set-vocab").value = (Array.isArray(doc.custom_vocabulary) ? doc.custom_vocabulary : []).join("\n");
  $("c-set-profiles").replaceChildren();
  for (const p of Array.isArray(doc.transcription_profiles) ? doc.transcription_profiles : []) addProfile(p || {});
  $("c-set-json").value = JSON.stringify(doc, null, 2);
  $("c-set-json-error").textContent = "";
  for (const e of document.querySelectorAll("#c-set-form .field-error, #c-set-vocab-error")) e.textContent = "";
}

function fieldError(li, input, message) {
  li.querySelector(".field-error").textContent = message;
  input.setAttribute("aria-invalid", "true");
  return false;
}

/* The settings object the form describes, or null after showing what is
 * wrong at the fields. */
function fromForm() {
  let ok = true;
  for (const e of document.querySelectorAll("#c-set-form [aria-invalid]")) e.removeAttribute("aria-invalid");
  for (const e of document.querySelectorAll("#c-set-form .field-error")) e.textContent = "";
  const macros = [];
  for (const li of $("c-set-macros").children) {
    const trigger = li.querySelector(".trigger");
    const expansion = li.querySelector(".expansion").value.trim();
    if (!trigger.value.trim()) ok = fieldError(li, trigger, "Say what triggers this phrase.");
    else macros.push(expansion ? { trigger: trigger.value.trim(), expansion } : trigger.value.trim());
  }
  const vocab = $("c-set-vocab").value.split("\n").map((v) => v.trim()).filter(Boolean);
  const dupes = vocab.filter((v, i) => vocab.indexOf(v) !== i);
  $("c-set-vocab-error").textContent = dupes.length ? "Listed twice: " + [...new Set(dupes)].join(", ") : "";
  if (dupes.length) {
    $("c-set-vocab").setAttribute("aria-invalid", "true");
    ok = false;
  }
  const profiles = [];
  const names = new Set();
  for (const li of $("c-set-profiles").children) {
    const name = li.querySelector(".p-name");
    const language = li.querySelector(".p-language");
    const n = name.value.trim();
    const lang = language.value.trim();
    if (!n) ok = fieldError(li, name, "A profile needs a name.");
    else if (names.has(n)) ok = fieldError(li, name, `Another profile is named “${n}”.`);
    else if (lang && !LANGUAGE.test(lang)) ok = fieldError(li, language, "Language is a two-letter code such as en.");
    names.add(n);
    const p = { ...li.extra, name: n, language: lang || "en", model: li.querySelector(".p-model").value.trim() || "default",
      punctuate: li.querySelector(".p-punctuate").checked };
    profiles.push(p);
  }
  if (!ok) {
    $("c-set-error").textContent = "Some fields need a look (marked below).";
    const first = document.querySelector("#c-set-form [aria-invalid=true]");
    if (first) first.focus();
    return null;
  }
  $("c-set-error").textContent = "";
  return { ...stored, macro_phrases: macros, custom_vocabulary: vocab, transcription_profiles: profiles };
}

async function save(doc, status) {
  say(status, "Saving…");
  try {
    stored = await api("POST", "/api/v1/user_settings", { json: doc });
    toForm(stored);
    $("c-set-error").textContent = "";
    $("c-set-source").textContent = "Your saved settings.";
    $("c-set-source").dataset.source = "stored";
    say(status, "Saved.", "ok");
  } catch (e) {
    const field = e.body && e.body.field;
    $("c-set-error").textContent = "Not saved: " + e.message;
    if (field === "custom_vocabulary") $("c-set-vocab-error").textContent = e.message;
    say(status, "", "");
  }
}
