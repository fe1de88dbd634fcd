// console.spec.mjs: drives the silo console (/) in Debian's Chromium with
// playwright-core, section by section, as a person would, at desktop and
// phone sizes. Screenshots go to $ARTIFACTS_DIR.
//
// Run by tests/blackbox/test_console_browser.py, which starts silo (with
// the test OpenID provider configured), the video host, and passes:
// SILO_API, LOGIN_URL (the one-time admin link silo serve printed),
// USER_TOKEN (a plain user's JWT), CLIP (a WAV), FAKE_AUDIO (what the fake
// microphone plays), VIDEO_URL, DELIVER_URL (a presigned PUT),
// BAD_DELIVER_URL (a closed port), UPLOAD_LIMIT, ARTIFACTS_DIR (and
// CHROMIUM, default /usr/bin/chromium). Prints one line per step; exits
// non-zero on the first failure. Every wait is for a condition, bounded
// by STEP_MS; none is a fixed sleep.
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const api = env("SILO_API");
const loginUrl = env("LOGIN_URL");
const userToken = env("USER_TOKEN");
const clip = env("CLIP");
const fakeAudio = env("FAKE_AUDIO");
const videoUrl = env("VIDEO_URL");
const deliverUrl = env("DELIVER_URL");
const badDeliverUrl = env("BAD_DELIVER_URL");
const uploadLimit = Number(env("UPLOAD_LIMIT"));
const artifacts = env("ARTIFACTS_DIR");
const STEP_MS = 45000;
const TRANSCRIPT_MS = 120000;
const EXPECTED_WORDS = ["he", "was", "not", "an", "ill", "disposed", "young", "man"];

mkdirSync(artifacts, { recursive: true });
const started = Date.now();
const step = (name) => console.log(`step ${((Date.now() - started) / 1000).toFixed(1)}s ${name}`);
const check = (cond, message) => {
  if (!cond) throw new Error(`check failed: ${message}`);
};
const shot = async (page, name, fullPage = true) => {
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0)); /* the sticky header stays on top */
  await page.screenshot({ path: join(artifacts, name), fullPage });
};

async function apiCall(token, method, path, body) {
  const r = await fetch(api + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let doc = null;
  try { doc = JSON.parse(text); } catch (e) { doc = text; }
  return { status: r.status, doc };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${fakeAudio}`,
  ],
});

/* Console errors, except the browser's own line for each answer of 4xx the
 * steps provoke on purpose (refused uploads, the used link, validation). */
const consoleErrors = [];
const serverErrors = [];
function watch(page, label) {
  page.setDefaultTimeout(STEP_MS);
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) {
      consoleErrors.push(`${label}: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => consoleErrors.push(`${label}: ${e}`));
  page.on("response", (r) => { if (r.status() >= 500) serverErrors.push(`${r.status()} ${r.url()}`); });
  return page;
}

async function newPage(options = {}, label = "desktop") {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...options });
  return watch(await context.newPage(), label);
}

const section = async (page, name) => {
  await page.click(`#c-nav a[data-section=${name}]`);
  await page.waitForSelector(`#c-${name}:not([hidden])`);
};

/* Drops files (name, type, bytes) on a drop zone as a person dragging them would. */
async function dropFiles(page, selector, files) {
  const transfer = await page.evaluateHandle((list) => {
    const dt = new DataTransfer();
    for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0))], f.name, { type: f.type }));
    return dt;
  }, files.map((f) => ({ name: f.name, type: f.type, data: Buffer.from(f.bytes).toString("base64") })));
  await page.dispatchEvent(selector, "dragenter", { dataTransfer: transfer });
  await page.dispatchEvent(selector, "drop", { dataTransfer: transfer });
}

const clipBytes = readFileSync(clip);
let page;
let apiKey;
try {
  // ---------------------------------------------------------------- sign-in
  step("the sign-in page");
  page = await newPage();
  await page.goto(api + "/");
  await page.waitForSelector("#c-signin:not([hidden])");
  check(await page.isVisible("#c-oidc-button"), "the OpenID Connect button is offered");
  check((await page.textContent("#c-oidc-button")).includes("Test IdP"), "it names the provider");
  await shot(page, "01-sign-in.png");

  step("the one-time link signs the admin in");
  await page.goto(loginUrl);
  await page.waitForSelector("#c-nav:not([hidden])");
  check(!page.url().includes("login="), `the code left the address: ${page.url()}`);
  check(await page.evaluate(() => !!sessionStorage.getItem("silo.token")), "the session token is in the tab");
  check((await page.textContent("#c-who-name")) === "dev@example.com", "signed in as dev");
  check(await page.isVisible("#c-nav-admin"), "an admin sees the Admin section");
  const adminToken = await page.evaluate(() => sessionStorage.getItem("silo.token"));
  /* What the page weighs: every byte of its own it loaded (uncompressed). */
  const weight = () => page.evaluate(() => {
    performance.setResourceTimingBufferSize(10000); /* the API calls to come would fill the default 250 */
    const own = performance.getEntriesByType("resource").filter((e) => new URL(e.name).origin === location.origin &&
      /^\/(console\/|gallery)/.test(new URL(e.name).pathname));
    const files = own.map((e) => new URL(e.name).pathname);
    return { bytes: performance.getEntriesByType("navigation")[0].decodedBodySize +
      own.reduce((sum, e) => sum + e.decodedBodySize, 0), files: files.length + 1 };
  });
  const firstLoad = await weight();
  console.log(`page weight: ${firstLoad.bytes} bytes in ${firstLoad.files} files (signed in, every section's code)`);
  check(firstLoad.bytes < 120000, `the console stays small: ${firstLoad.bytes} bytes`);

  step("the same link a second time is refused");
  const again = await newPage({}, "second-use");
  await again.goto(loginUrl);
  await again.waitForSelector("#c-signin:not([hidden])");
  await again.waitForFunction(() => document.querySelector("#c-signin-error").textContent.includes("used already"));
  check(!again.url().includes("login="), "the refused code left the address too");
  check(await again.evaluate(() => !sessionStorage.getItem("silo.token")), "no session from a used link");
  await shot(again, "02-link-used.png");
  await again.context().close();

  // ------------------------------------------------------------------ files
  step("files: drop five files, two refused by type, one by size, one by content");
  await section(page, "files");
  await page.waitForSelector("#c-files-empty:not([hidden]), #c-files-table:not([hidden])");
  await dropFiles(page, "#c-files-drop", [
    { name: "clip.wav", type: "audio/wav", bytes: clipBytes },
    { name: "notes.txt", type: "text/plain", bytes: Buffer.from("hello from the console\n") },
    { name: "tool.exe", type: "application/x-msdownload", bytes: Buffer.from("MZ\x90\x00binary") },
    { name: "big.bin", type: "application/octet-stream", bytes: Buffer.alloc(uploadLimit + 4096, 7) },
    { name: "photo.png", type: "image/png", bytes: Buffer.concat([Buffer.from("PK\x03\x04"), Buffer.alloc(600, 1)]) },
  ]);
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("#c-uploads .upload")];
    return rows.length === 5 && rows.every((r) => r.dataset.state === "done" || r.dataset.state === "failed");
  });
  const uploads = Object.fromEntries(await page.$$eval("#c-uploads .upload", (rows) =>
    rows.map((r) => [r.querySelector(".upload-name").textContent, { state: r.dataset.state,
      text: r.querySelector(".upload-text").textContent, bar: r.querySelector("progress").value,
      max: r.querySelector("progress").max }])));
  check(uploads["clip.wav"].state === "done" && uploads["clip.wav"].bar === uploads["clip.wav"].max &&
    uploads["clip.wav"].max >= clipBytes.length, `clip.wav uploaded with its progress bar full: ${JSON.stringify(uploads["clip.wav"])}`);
  check(uploads["notes.txt"].state === "done", "notes.txt uploaded");
  check(uploads["tool.exe"].state === "failed" && /may not be uploaded/.test(uploads["tool.exe"].text), `type refused: ${uploads["tool.exe"].text}`);
  check(uploads["big.bin"].state === "failed" && /upload limit/.test(uploads["big.bin"].text), `size refused: ${uploads["big.bin"].text}`);
  check(uploads["photo.png"].state === "failed" && /application\/zip is not allowed/.test(uploads["photo.png"].text), `content refused: ${uploads["photo.png"].text}`);
  await shot(page, "03-files-upload.png");

  step("files: folders, paging with the continuation token");
  await page.click("#c-files-rows button.folder-link >> text=uploads/");
  await page.click("#c-files-rows button.folder-link >> text=dev/");
  await page.waitForFunction(() => document.querySelectorAll("#c-files-rows tr[data-key]").length === 2);
  for (let i = 0; i < 11; i++) {
    const form = new FormData();
    form.append("file", new Blob([`note ${i}\n`], { type: "text/plain" }), `extra-${String(i).padStart(2, "0")}.txt`);
    const r = await fetch(`${api}/api/v1/s3/upload`, { method: "POST", headers: { Authorization: `Bearer ${adminToken}` }, body: form });
    check(r.status === 200, `extra upload ${i}: ${r.status}`);
  }
  await page.selectOption("#c-files-size", "10");
  await page.waitForFunction(() => document.querySelectorAll("#c-files-rows tr[data-key]").length === 10);
  check(await page.isVisible("#c-files-more"), "a first page of 10 offers more");
  await page.click("#c-files-more");
  await page.waitForFunction(() => document.querySelectorAll("#c-files-rows tr[data-key]").length === 13);
  check(await page.isHidden("#c-files-more"), "the last page offers no more");
  check((await page.textContent("#c-crumbs")).includes("uploads") , "the folder trail shows where we are");

  step("files: details, download, a link valid five minutes");
  const notesRow = page.locator("#c-files-rows tr", { hasText: "notes.txt" });
  await notesRow.locator("button.details").click();
  await page.waitForSelector("#c-file-dialog[open]");
  await page.waitForSelector("#c-file-download:not([aria-disabled])");
  const meta = await page.textContent("#c-file-meta");
  check(meta.includes("original_filename") && meta.includes("notes.txt") && meta.includes("text/plain"), `metadata shown: ${meta}`);
  const downloadHref = await page.getAttribute("#c-file-download", "href");
  check((await (await fetch(downloadHref)).text()) === "hello from the console\n", "the download link gives the bytes");
  await page.selectOption("#c-file-expiry", "300");
  await page.click("#c-file-share button[type=submit]");
  await page.waitForSelector("#c-file-link-box:not([hidden])");
  const link = await page.inputValue("#c-file-link");
  check(/X-Amz-Expires=300/.test(link), `the link lasts 300 s: ${link}`);
  check((await (await fetch(link)).text()) === "hello from the console\n", "the shared link works");
  await shot(page, "04-file-details.png", false);
  await page.click("#c-file-close");

  step("files: delete with confirmation");
  await notesRow.locator("button.delete").click();
  await page.waitForSelector("#c-confirm[open]");
  await page.click("#c-confirm-cancel");
  check(await notesRow.count() === 1, "cancel keeps the file");
  await notesRow.locator("button.delete").click();
  await page.click("#c-confirm-ok");
  await notesRow.waitFor({ state: "detached" });
  const listed = await apiCall(adminToken, "GET", "/api/v1/s3/files?prefix=uploads/dev/");
  check(!listed.doc.files.some((f) => f.metadata.original_filename === "notes.txt"), "the API no longer lists it");
  await shot(page, "05-files.png");

  // ------------------------------------------------------------- recordings
  step("recordings: record from the microphone, name it, save it");
  await section(page, "recordings");
  await page.waitForSelector("#c-rec-empty:not([hidden])");
  await page.click("#c-rec-start");
  await page.waitForFunction(() => Number(document.querySelector("#c-rec-time").dataset.seconds || 0) >= 6);
  await page.click("#c-rec-stop");
  await page.waitForSelector("#c-rec-form:not([hidden])");
  await page.fill("#c-rec-name", "");
  await page.click("#c-rec-save");
  await page.waitForFunction(() => document.querySelector("#c-rec-name-error").textContent.includes("name"));
  await page.fill("#c-rec-name", "Standup take");
  await page.fill("#c-rec-tags", "console, test");
  await page.click("#c-rec-save");
  const recording = page.locator(".recording", { hasText: "Standup take" });
  await recording.waitFor();

  step("recordings: the transcript appears when silo has transcribed it");
  await page.waitForSelector(".recording[data-transcript=ready]", { timeout: TRANSCRIPT_MS });
  const transcript = (await recording.locator(".transcript-text").textContent()).toLowerCase();
  const heard = EXPECTED_WORDS.filter((w) => transcript.split(/\s+/).includes(w));
  check(heard.length >= 3, `the transcript has the clip's words: "${transcript}"`);
  const facts = await recording.locator(".facts").textContent();
  check(/0:0[5-9]/.test(facts) && facts.includes("#console"), `duration and tags shown: ${facts}`);
  const audio = await recording.locator("audio").evaluate((a) => new Promise((resolve) => {
    a.preload = "metadata";
    a.addEventListener("loadedmetadata", () => resolve({ duration: a.duration, type: a.currentSrc }), { once: true });
    a.addEventListener("error", () => resolve({ error: a.error && a.error.code }), { once: true });
    a.load();
  }));
  check(!audio.error && (audio.duration > 4 || audio.duration === Infinity), `the player loads the recording: ${JSON.stringify(audio)}`);
  await recording.locator("summary").click();
  check((await recording.locator(".meta").textContent()).includes("audio/webm"), "its metadata is shown");
  await shot(page, "06-recordings.png");

  step("recordings: delete with confirmation");
  await recording.locator("button.delete").click();
  await page.click("#c-confirm-ok");
  await recording.waitFor({ state: "detached" });
  await page.waitForSelector("#c-rec-empty:not([hidden])");
  check((await apiCall(adminToken, "GET", "/api/v1/user_recordings/dev")).doc.length === 0, "the API lists none");

  // --------------------------------------------------------------- settings
  step("settings: the form checks fields, saves, and reload shows what is stored");
  await section(page, "settings");
  await page.waitForFunction(() => document.querySelector("#c-set-source").dataset.source === "default");
  await page.click("#c-set-add-macro");
  await page.fill("#c-set-macros li:last-child .trigger", "sig");
  await page.fill("#c-set-macros li:last-child .expansion", "Best regards, Dev");
  await page.click("#c-set-add-macro"); /* left empty: refused */
  await page.fill("#c-set-vocab", "silo\nPocketSphinx\nsilo");
  await page.click("#c-set-add-profile");
  await page.fill("#c-set-profiles li:last-child .p-name", "meetings");
  await page.fill("#c-set-profiles li:last-child .p-language", "e1");
  await page.click("#c-set-save");
  await page.waitForFunction(() => document.querySelector("#c-set-error").textContent.includes("need a look"));
  const errors = await page.$$eval("#c-set-form .field-error, #c-set-vocab-error", (e) => e.map((x) => x.textContent).join(" | "));
  check(/triggers this phrase/.test(errors) && /Listed twice: silo/.test(errors) && /two-letter code/.test(errors), `validation messages: ${errors}`);
  await page.click("#c-set-macros li:last-child .remove");
  await page.fill("#c-set-vocab", "silo\nPocketSphinx");
  await page.fill("#c-set-profiles li:last-child .p-language", "de");
  await page.click("#c-set-save");
  await page.waitForFunction(() => document.querySelector("#c-set-status").textContent === "Saved.");
  await page.click("#c-set-reload");
  await page.waitForFunction(() => document.querySelector("#c-set-source").dataset.source === "stored");
  check(await page.inputValue("#c-set-macros li:first-child .expansion") === "Best regards, Dev", "the phrase is stored");
  check(await page.inputValue("#c-set-vocab") === "silo\nPocketSphinx", "the vocabulary is stored");
  check(await page.inputValue("#c-set-profiles li:last-child .p-language") === "de", "the profile is stored");
  const stored = (await apiCall(adminToken, "GET", "/api/v1/user_settings/dev")).doc;
  check(JSON.stringify(stored.macro_phrases) === JSON.stringify([{ trigger: "sig", expansion: "Best regards, Dev" }]), `API: ${JSON.stringify(stored)}`);
  check(stored.transcription_profiles.map((p) => p.name).join() === "default,meetings", "API: both profiles");

  step("settings: the raw JSON view");
  check((await page.inputValue("#c-set-json")).includes("Best regards, Dev"), "the raw view shows what is stored");
  await page.fill("#c-set-json", "{oops");
  await page.click("#c-set-json-save");
  await page.waitForFunction(() => document.querySelector("#c-set-json-error").textContent.includes("Not valid JSON"));
  await page.fill("#c-set-json", JSON.stringify({ ...stored, theme: "dark", custom_vocabulary: "not a list" }));
  await page.click("#c-set-json-save");
  await page.waitForFunction(() => document.querySelector("#c-set-error").textContent.includes("custom_vocabulary"));
  await page.fill("#c-set-json", JSON.stringify({ ...stored, theme: "dark" }));
  await page.click("#c-set-json-save");
  await page.waitForFunction(() => document.querySelector("#c-set-status").textContent === "Saved.");
  check((await apiCall(adminToken, "GET", "/api/v1/user_settings/dev")).doc.theme === "dark", "the raw save overwrote");
  await shot(page, "07-settings.png");

  // ------------------------------------------------------------- transcribe
  step("transcribe: drop a clip, SRT, delivered to a presigned URL, download");
  await section(page, "transcribe");
  await page.waitForSelector("#c-tr-empty:not([hidden])");
  await dropFiles(page, "#c-tr-drop", [{ name: "clip.wav", type: "audio/wav", bytes: clipBytes }]);
  await page.waitForFunction(() => document.querySelector("#c-tr-chosen").textContent.startsWith("clip.wav"));
  await page.selectOption("#c-tr-format", "srt");
  await page.fill("#c-tr-deliver", deliverUrl);
  await page.click("#c-tr-submit");
  await page.waitForSelector("#c-tr-result-panel:not([hidden])", { timeout: TRANSCRIPT_MS });
  const srt = await page.textContent("#c-tr-result");
  check(/^1\n00:00:0\d,\d{3} --> 00:00:0\d,\d{3}\n/.test(srt) && /young|man|disposed/.test(srt), `SRT with timestamps: ${srt}`);
  check((await page.textContent("#c-tr-delivery")).includes("delivered"), "delivered to the presigned URL");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#c-tr-download")]);
  check(download.suggestedFilename() === "clip.srt", `download named ${download.suggestedFilename()}`);
  check(readFileSync(await download.path(), "utf8") === srt, "the download is the result");

  step("transcribe: in the background, with timestamps, followed in the list");
  await page.setInputFiles("#c-tr-file", { name: "later.wav", mimeType: "audio/wav", buffer: clipBytes });
  await page.selectOption("#c-tr-format", "verbose_json");
  await page.fill("#c-tr-deliver", badDeliverUrl);
  await page.check("#c-tr-async");
  await page.click("#c-tr-submit");
  await page.waitForFunction(() => document.querySelector("#c-tr-status").textContent.startsWith("Queued as tr_"));
  const laterRow = page.locator("#c-tr-rows tr", { hasText: "later.wav" });
  await laterRow.waitFor();
  await page.waitForSelector("#c-tr-rows tr[data-status=completed] >> text=later.wav", { timeout: TRANSCRIPT_MS });
  await laterRow.locator("button.view").click();
  await page.waitForFunction(() => document.querySelector("#c-tr-result").dataset.format === "verbose_json");
  const verbose = await page.textContent("#c-tr-result");
  check(/\[00:00:0\d\.\d{3} → 00:00:0\d\.\d{3}\]/.test(verbose), `segments with times: ${verbose.slice(0, 200)}`);
  check((await page.textContent("#c-tr-rows")).includes("clip.wav"), "both transcriptions are listed");
  await shot(page, "08-transcribe.png");

  // ----------------------------------------------------------------- videos
  step("videos: the gallery as a section, importing a video");
  await section(page, "videos");
  await page.waitForSelector("#import-form");
  check(await page.inputValue("#import-email") === "dev@example.com", "the gallery took the console's session");
  await page.fill("#import-url", videoUrl);
  await page.fill("#import-title", "Console clip");
  await page.click("#import-button");
  await page.waitForFunction(() => document.querySelector("#import-text").textContent.startsWith("Imported"));
  await page.waitForFunction(() => {
    const c = [...document.querySelectorAll(".card")].find((e) => e.textContent.includes("Console clip"));
    const img = c && c.querySelector(".poster img");
    return c && c.dataset.status === "ready" && img && img.complete && img.naturalWidth > 0;
  });
  await shot(page, "09-videos.png");
  const withGallery = await weight();
  console.log(`page weight: ${withGallery.bytes} bytes in ${withGallery.files} files (with the gallery's page and script)`);

  // ------------------------------------------------------------------ admin
  step("admin: health and live charts from /metrics");
  check((await apiCall(userToken, "GET", "/api/console/me")).status === 200, "the plain user is seen once");
  await section(page, "admin");
  await page.waitForSelector("#c-health li[data-kind=ok] >> text=database");
  check((await page.textContent("#c-health-status")) === "ready", "ready");
  await page.waitForFunction(() => ["rps", "p99", "bytes_in", "bytes_out", "uploads"].every((id) =>
    Number(document.querySelector("#c-chart-" + id).dataset.points || 0) >= (id === "uploads" ? 4 : 3)), null, { timeout: 30000 });
  const rps = await page.getAttribute("#c-chart-rps polyline", "points");
  check(rps.split(" ").length >= 3, `a line of several points: ${rps}`);
  check(/\/s$/.test(await page.textContent("#c-chart-rps-value")), "the current rate is shown");

  step("admin: users and API keys (shown once, used, revoked)");
  await page.waitForSelector("#c-users-rows tr[data-sub=dev]");
  await page.waitForSelector("#c-users-rows tr[data-sub=gina]");
  await page.fill("#c-key-name", "bad/name");
  await page.click("#c-key-create");
  await page.waitForFunction(() => document.querySelector("#c-key-error").textContent.startsWith("Name:"));
  await page.fill("#c-key-name", "console-worker");
  await page.click("#c-key-create");
  await page.waitForSelector("#c-key-new:not([hidden])");
  apiKey = await page.inputValue("#c-key-value");
  check(/^silo_[0-9a-f]{64}$/.test(apiKey), "the new key is shown");
  const keyRow = page.locator("#c-keys-rows tr", { hasText: "console-worker" });
  await keyRow.waitFor();
  check((await keyRow.getAttribute("data-state")) === "active", "listed as active");

  step("paste the API key in another tab: a plain user, no Admin section");
  const keyPage = await newPage({}, "api-key");
  await keyPage.goto(api + "/");
  await keyPage.fill("#c-token", apiKey);
  await keyPage.click("#c-paste-form button[type=submit]");
  await keyPage.waitForSelector("#c-nav:not([hidden])");
  check((await keyPage.textContent("#c-who-name")) === "console-worker", "signed in as the key's name");
  check(await keyPage.isHidden("#c-nav-admin"), "no Admin section for a plain key");
  await keyPage.context().close();
  await keyRow.locator("button.revoke").click();
  await page.waitForSelector("#c-confirm[open]");
  await page.click("#c-confirm-ok");
  await page.waitForSelector("#c-keys-rows tr[data-state=revoked] >> text=console-worker");
  check((await apiCall(apiKey, "GET", "/api/console/me")).status === 401, "the revoked key is refused");

  step("admin: jobs filtered by state, cancelled and retried");
  await page.selectOption("#c-jobs-state", "done");
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("#c-jobs-rows tr")];
    return rows.length > 0 && rows.every((r) => r.dataset.state === "done");
  });
  await page.selectOption("#c-jobs-state", "");
  const jobRow = page.locator("#c-jobs-rows tr[data-kind=deliver_result]").first();
  await jobRow.waitFor();
  const jobId = await jobRow.getAttribute("data-id");
  const jobById = () => page.locator(`#c-jobs-rows tr[data-id="${jobId}"]`);
  const settled = async (states) => page.waitForFunction(([id, wanted]) => {
    const r = document.querySelector(`#c-jobs-rows tr[data-id="${id}"]`);
    return r && wanted.includes(r.dataset.state);
  }, [jobId, states], { timeout: STEP_MS });
  /* Its delivery fails at every try: after the last one (about 15 s after
   * it was queued) it is dead, which is where this starts. */
  await settled(["dead"]);
  const [retried] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/admin/jobs/${jobId}/retry`)),
    jobById().locator("button.retry").click(),
  ]);
  check((await retried.json()).state === "queued", "retried: queued again");
  await settled(["queued", "running"]);
  const [cancelled] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/api/admin/jobs/${jobId}/cancel`)),
    jobById().locator("button.cancel").click().then(() => page.click("#c-confirm-ok")),
  ]);
  check(["cancelled", "cancelling"].includes((await cancelled.json()).state), "cancelled");
  await settled(["cancelled"]);
  await page.selectOption("#c-jobs-state", "cancelled");
  await page.waitForSelector(`#c-jobs-rows tr[data-id="${jobId}"][data-state=cancelled]`);
  await shot(page, "10-admin.png");

  step("every section by keyboard; every control has a label");
  for (const name of ["files", "recordings", "settings", "transcribe", "videos", "admin"]) {
    await page.focus(`#c-nav a[data-section=${name}]`);
    await page.keyboard.press("Enter");
    await page.waitForSelector(`#c-${name}:not([hidden])`);
    check(await page.evaluate(() => document.activeElement.id) === "c-main", `${name}: focus moves to the content`);
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll("input, select, textarea, button, a.button")]
      .filter((e) => e.type !== "hidden" && e.getClientRects().length > 0)
      .filter((e) => (e.tagName === "BUTTON" || e.tagName === "A")
        ? !(e.textContent.trim() || e.getAttribute("aria-label"))
        : !((e.labels && e.labels.length) || e.getAttribute("aria-label") || e.getAttribute("aria-labelledby")))
      .map((e) => e.id || e.className || e.outerHTML.slice(0, 80)));
    check(unlabelled.length === 0, `${name}: unlabelled controls: ${unlabelled.join(", ")}`);
  }

  // ------------------------------------------------------------------- OIDC
  step("sign in with the OpenID provider (code flow with PKCE): a plain user");
  const oidc = await newPage({}, "oidc");
  await oidc.goto(api + "/");
  await oidc.click("#c-oidc-button");
  await oidc.waitForSelector("#c-nav:not([hidden])");
  check(oidc.url() === api + "/", `the code and state left the address: ${oidc.url()}`);
  check((await oidc.textContent("#c-who-name")) === "olivia@example.com", "signed in as the provider's user");
  check(await oidc.isHidden("#c-nav-admin"), "no Admin section for a plain user");
  await oidc.goto(api + "/#/admin");
  await oidc.waitForSelector("#c-admin-denied:not([hidden])");
  check(await oidc.isHidden("#c-admin-body"), "the admin section shows nothing");
  const refused = await oidc.evaluate(async () => (await fetch("/api/admin/users", {
    headers: { Authorization: "Bearer " + sessionStorage.getItem("silo.token") } })).status);
  check(refused === 403, `the admin API refuses the plain user: ${refused}`);
  await oidc.goto(api + "/#/files");
  await oidc.waitForSelector("#c-files-empty:not([hidden])");
  await shot(oidc, "11-oidc-user.png");
  await oidc.context().close();

  step("sign out clears the tab");
  await page.click("#c-sign-out");
  await page.waitForSelector("#c-signin:not([hidden])");
  check(await page.evaluate(() => sessionStorage.length) === 0, "nothing left in sessionStorage");
  check(await page.isHidden("#c-nav"), "the sections are gone");
  await page.context().close();

  // ------------------------------------------------------------------ phone
  step("a phone-sized screen, signed in with a pasted token");
  page = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true }, "phone");
  await page.goto(api + "/");
  await page.fill("#c-token", userToken);
  await page.click("#c-paste-form button[type=submit]");
  await page.waitForSelector("#c-nav:not([hidden])");
  check(await page.isHidden("#c-nav-admin"), "gina is not an admin");
  const ready = {
    files: "#c-files-empty:not([hidden])",
    recordings: "#c-rec-empty:not([hidden])",
    settings: "#c-set-source[data-source=default]",
    transcribe: "#c-tr-empty:not([hidden])",
    videos: "#empty:not([hidden])",
  };
  for (const [name, selector] of Object.entries(ready)) {
    await section(page, name);
    await page.waitForSelector(selector);
    const layout = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }));
    check(layout.scroll <= layout.inner, `${name}: no sideways scrolling on a phone: ${JSON.stringify(layout)}`);
    await shot(page, `phone-${name}.png`);
  }
  await page.context().close();

  check(serverErrors.length === 0, `no 5xx answers: ${serverErrors.join(" | ")}`);
  check(consoleErrors.length === 0, `no console errors: ${consoleErrors.join(" | ")}`);
  step("done");
} catch (error) {
  console.log(`FAILED: ${error.message}`);
  if (page) await page.screenshot({ path: join(artifacts, "failure.png"), fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
