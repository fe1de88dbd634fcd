/* files.js: the Files section (seeds 002 and 003).
 *
 * Browsing: GET /api/v1/s3/files lists keys under a prefix in byte
 * order, a page at a time (continuation token); the folders of the
 * current level are the first segments after the prefix of the keys seen
 * so far, so "Load more" may add folders as well as files.
 * Uploading: each dropped file gets a presigned POST form from
 * POST /api/upload/presigned-url (its size is part of the request, so an
 * oversized file is refused before a byte is sent), goes straight to the
 * S3 endpoint with XMLHttpRequest (for its upload progress), and is then
 * checked and indexed by POST /api/upload/complete, which refuses bytes
 * of a type not allowed (415) and deletes them. Details, share links
 * with a chosen lifetime and deletion go through the seed 002 routes. */
import {
  $, el, api, session, keyPath, formatSize, formatLimit, formatDate, listState, confirmAction, dropzone, copyText,
} from "./lib.js";

const PARALLEL_UPLOADS = 3;
let wired = false;
let prefix = "";
let continuation = null;
let folders = new Set();
let files = [];
let loading = null;
let opened = null; /* the file shown in the details dialog */

export function show() {
  if (!wired) wire();
  const limits = session.config.limits;
  $("c-files-limits").textContent = `Up to ${formatLimit(limits.max_upload_size)} each. Allowed types: ` +
    session.config.upload_types.split(",").join(", ") + ".";
  load(true);
}

function wire() {
  wired = true;
  dropzone($("c-files-drop"), $("c-files-input"), (list) => uploadAll(Array.from(list)));
  $("c-files-more").addEventListener("click", () => load(false));
  $("c-files-size").addEventListener("change", () => load(true));
  $("c-file-close").addEventListener("click", () => $("c-file-dialog").close());
  $("c-file-share").addEventListener("submit", (e) => {
    e.preventDefault();
    makeLink();
  });
  $("c-file-copy").addEventListener("click", async () => {
    const ok = await copyText($("c-file-link").value, $("c-file-link"));
    $("c-file-copy").textContent = ok ? "Copied" : "Press Ctrl+C";
    setTimeout(() => { $("c-file-copy").textContent = "Copy"; }, 1500);
  });
}

/* ---- browsing ---- */

function navigate(to) {
  prefix = to;
  load(true).then(() => $("c-crumbs").querySelector("[aria-current]").focus());
}

function load(reset) {
  if (reset) {
    continuation = null;
    folders = new Set();
    files = [];
  }
  const q = new URLSearchParams({ prefix, max_keys: $("c-files-size").value });
  if (continuation) q.set("continuation_token", continuation);
  const me = loading = api("GET", "/api/v1/s3/files?" + q).then((doc) => {
    if (me !== loading) return;
    for (const f of doc.files) {
      const rest = f.key.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash >= 0) folders.add(rest.slice(0, slash + 1));
      else files.push(f);
    }
    continuation = doc.is_truncated ? doc.next_continuation_token : null;
    listState("c-files", { error: "" });
    render();
  }).catch((e) => {
    listState("c-files", { error: "Cannot list your files: " + e.message });
  });
  return me;
}

function render() {
  const crumbs = $("c-crumbs");
  crumbs.replaceChildren();
  const parts = prefix ? prefix.slice(0, -1).split("/") : [];
  const trail = [["All files", ""]].concat(parts.map((p, i) => [p, parts.slice(0, i + 1).join("/") + "/"]));
  trail.forEach(([label, to], i) => {
    if (i) crumbs.append(el("span", { class: "sep", "aria-hidden": "true" }, "/"));
    const last = i === trail.length - 1;
    crumbs.append(el("button", { type: "button", class: "link", "aria-current": last ? "location" : null,
      onclick: () => navigate(to) }, label));
  });
  const rows = $("c-files-rows");
  rows.replaceChildren();
  for (const folder of [...folders].sort()) {
    rows.append(el("tr", { class: "folder" },
      el("td", { colspan: "5" }, el("button", { type: "button", class: "link folder-link",
        onclick: () => navigate(prefix + folder) }, folder))));
  }
  for (const f of files) rows.append(fileRow(f));
  listState("c-files", { count: folders.size + files.length });
  $("c-files-more").hidden = !continuation;
}

function displayName(f) {
  return (f.metadata && f.metadata.original_filename) || f.key.slice(prefix.length);
}

function fileRow(f) {
  const name = displayName(f);
  return el("tr", { dataset: { key: f.key } },
    el("td", { class: "name", "data-label": "Name" }, el("span", { text: name }),
      el("small", { class: "key", text: f.key })),
    el("td", { "data-label": "Size" }, formatSize(f.size)),
    el("td", { "data-label": "Type" }, f.content_type || ""),
    el("td", { "data-label": "Modified" }, formatDate(f.last_modified)),
    el("td", { class: "row-actions" },
      el("button", { type: "button", class: "secondary details", onclick: () => details(f),
        "aria-label": "Details of " + name }, "Details"),
      el("button", { type: "button", class: "danger delete", onclick: () => remove(f),
        "aria-label": "Delete " + name }, "Delete")));
}

/* ---- details, links ---- */

async function details(f) {
  opened = f;
  $("c-file-title").textContent = displayName(f);
  $("c-file-error").textContent = "";
  $("c-file-link-box").hidden = true;
  const meta = $("c-file-meta");
  meta.replaceChildren();
  const download = $("c-file-download");
  download.removeAttribute("href");
  download.setAttribute("aria-disabled", "true");
  $("c-file-dialog").showModal();
  try {
    const [m, link] = await Promise.all([
      api("GET", `/api/v1/s3/file/${keyPath(f.key)}/metadata`),
      api("GET", `/api/v1/s3/file/${keyPath(f.key)}/url`),
    ]);
    const facts = [["Key", m.key], ["Bucket", m.bucket], ["Size", formatSize(m.size) + ` (${m.size} bytes)`],
      ["Type", m.content_type], ["Modified", formatDate(m.last_modified)], ["ETag", m.etag]];
    for (const [k, v] of Object.entries(m.metadata || {})) facts.push([k, v]);
    for (const [k, v] of facts) meta.append(el("dt", {}, k), el("dd", {}, v === null ? "" : String(v)));
    download.href = link.url;
    download.setAttribute("download", displayName(f));
    download.removeAttribute("aria-disabled");
  } catch (e) {
    $("c-file-error").textContent = "Cannot read this file's details: " + e.message;
  }
}

async function makeLink() {
  if (!opened) return;
  const seconds = $("c-file-expiry").value;
  try {
    const link = await api("GET", `/api/v1/s3/file/${keyPath(opened.key)}/url?expires_in=${seconds}`);
    $("c-file-link").value = link.url;
    $("c-file-link-expiry").textContent = "Works until " + formatDate(link.expires_at) + ".";
    $("c-file-link-box").hidden = false;
    $("c-file-link").select();
  } catch (e) {
    $("c-file-error").textContent = "Cannot make a link: " + e.message;
  }
}

async function remove(f) {
  if (!await confirmAction(`Delete “${displayName(f)}”? It cannot be brought back.`)) return;
  try {
    await api("DELETE", `/api/v1/s3/file/${keyPath(f.key)}`);
    files = files.filter((x) => x.key !== f.key);
    render();
  } catch (e) {
    listState("c-files", { error: "Cannot delete: " + e.message });
  }
}

/* ---- uploading ---- */

function uploadRow(file) {
  const bar = el("progress", { max: "1", value: "0", "aria-label": "Upload of " + file.name });
  const text = el("span", { class: "upload-text" }, "waiting…");
  const li = el("li", { class: "upload", dataset: { state: "waiting" } },
    el("span", { class: "upload-name", text: file.name }), bar, text);
  $("c-uploads").prepend(li);
  return {
    progress(loaded, total) {
      li.dataset.state = "sending";
      bar.max = total;
      bar.value = loaded;
      text.textContent = `${formatSize(loaded)} of ${formatSize(total)}`;
    },
    done(message) {
      li.dataset.state = "done";
      bar.value = bar.max;
      text.textContent = message;
    },
    fail(message) {
      li.dataset.state = "failed";
      bar.hidden = true;
      text.textContent = message;
    },
  };
}

/* What a refusal from silo means for the person uploading. */
function refusal(e, file) {
  const limit = formatLimit(session.config.limits.max_upload_size);
  if (e.status === 413) return `Refused: larger than the upload limit (${limit}).`;
  if (e.status === 415) return "Refused: " + e.message + ".";
  if (e.status === 400 && e.body && e.body.field === "contentType") {
    return `Refused: files of type ${file.type || "unknown"} may not be uploaded.`;
  }
  if (e.status === 400 && e.body && e.body.field === "size") return `Refused: larger than the upload limit (${limit}).`;
  return "Failed: " + e.message;
}

/* Posts the form fields and then the file to the S3 endpoint. */
function postForm(grant, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(grant.fields)) form.append(k, v);
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", grant.url);
    xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else {
        const m = (xhr.responseText || "").match(/<Message>([^<]*)<\/Message>/);
        reject(new Error("the store refused it: " + (m ? m[1] : xhr.status)));
      }
    });
    xhr.addEventListener("error", () => reject(new Error("the upload was interrupted")));
    xhr.send(form);
  });
}

async function upload(file) {
  const row = uploadRow(file);
  const limits = session.config.limits;
  if (file.size === 0) return row.fail("Refused: the file is empty.");
  if (file.size > limits.max_upload_size) {
    const bytes = (n) => n.toLocaleString("en") + " bytes";
    return row.fail(`Refused: ${bytes(file.size)} is over the upload limit of ${bytes(limits.max_upload_size)}.`);
  }
  let grant;
  try {
    grant = await api("POST", "/api/upload/presigned-url", {
      json: { filename: file.name, contentType: file.type || "application/octet-stream", size: file.size },
    });
    await postForm(grant, file, (loaded, total) => row.progress(loaded, total));
    const done = await api("POST", "/api/upload/complete", { json: { key: grant.key } });
    row.done(`Uploaded (${formatSize(done.size)}, ${done.content_type})`);
    return true;
  } catch (e) {
    row.fail(e.status ? refusal(e, file) : "Failed: " + e.message);
    return false;
  }
}

async function uploadAll(list) {
  const queue = list.slice();
  let any = false;
  const worker = async () => {
    while (queue.length) any = (await upload(queue.shift())) || any;
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_UPLOADS, queue.length) }, worker));
  if (any) load(true);
}
