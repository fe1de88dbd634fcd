// gallery.spec.mjs: drives the /gallery page in Debian's Chromium with
// playwright-core, as a person would: sign in with a pasted token, import
// a video from a URL and watch it become ready, play it and seek, delete
// it through the confirmation dialog, then look at the page on a
// phone-sized screen. Screenshots go to $ARTIFACTS_DIR.
//
// Run by tests/blackbox/test_gallery_browser.py, which starts silo and the
// video host and passes: SILO_API, SILO_TOKEN, SILO_EMAIL, VIDEO_URL,
// VIDEO_URL_2, ARTIFACTS_DIR (and CHROMIUM, default /usr/bin/chromium).
// Prints one line per step; exits non-zero on the first failure. Each run
// gets a new, empty Chromium profile: playwright-core launches Chromium
// with a --user-data-dir of its own in a fresh temporary folder and
// removes it afterwards (it refuses the flag from the caller).
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const api = env("SILO_API");
const token = env("SILO_TOKEN");
const email = env("SILO_EMAIL");
const videoUrl = env("VIDEO_URL");
const videoUrl2 = env("VIDEO_URL_2");
const artifacts = env("ARTIFACTS_DIR");
const STEP_MS = 30000;

mkdirSync(artifacts, { recursive: true });
const started = Date.now();
const step = (name) => console.log(`step ${((Date.now() - started) / 1000).toFixed(1)}s ${name}`);
const check = (cond, message) => {
  if (!cond) throw new Error(`check failed: ${message}`);
};

async function gallery() {
  const r = await fetch(`${api}/api/auth/video/gallery`, { headers: { Authorization: `Bearer ${token}` } });
  return (await r.json()).data;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
  ],
});
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  const ranged = [];
  page.on("response", (r) => { if (r.status() === 206) ranged.push(r.url()); });

  step("open /gallery");
  await page.goto(`${api}/gallery`);
  await page.waitForSelector("#sign-in:not([hidden])");
  await page.screenshot({ path: join(artifacts, "01-sign-in.png") });

  step("sign in with a pasted token");
  await page.fill("#token", token);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector("#app:not([hidden])");
  check((await page.inputValue("#import-email")) === email, "the email is taken from the token");
  check((await page.evaluate(() => sessionStorage.getItem("silo.token"))) === token, "token kept in sessionStorage");

  step("import a video from a URL");
  await page.fill("#import-url", videoUrl);
  await page.fill("#import-title", "Browser clip");
  await page.click("#import-button");
  await page.waitForSelector("#import-status:not([hidden])");
  await page.screenshot({ path: join(artifacts, "02-importing.png") });
  await page.waitForFunction(() => document.querySelector("#import-text").textContent.startsWith("Imported"));
  const card = page.locator(".card", { hasText: "Browser clip" });
  await card.waitFor();
  await page.waitForFunction(() => {
    const c = [...document.querySelectorAll(".card")].find((e) => e.textContent.includes("Browser clip"));
    const img = c && c.querySelector(".poster img");
    return c && c.dataset.status === "ready" && img && img.complete && img.naturalWidth > 0;
  });
  const facts = await card.locator(".facts").innerText();
  check(/ready/i.test(facts) && /KB|MB/.test(facts) && /0:0[34]/.test(facts), `card shows status, size, duration: ${facts}`);
  await page.screenshot({ path: join(artifacts, "03-gallery.png") });

  step("play and seek");
  await card.locator("button.play").click();
  await page.waitForSelector("#player-dialog[open]");
  await page.waitForFunction(() => document.querySelector("#player").readyState >= 1);
  const duration = await page.evaluate(() => document.querySelector("#player").duration);
  check(duration > 3 && duration < 5, `duration ${duration}`);
  const seeked = await page.evaluate(() => new Promise((resolve, reject) => {
    const v = document.querySelector("#player");
    const timer = setTimeout(() => reject(new Error("no seeked event")), 15000);
    v.addEventListener("seeked", () => { clearTimeout(timer); resolve(v.currentTime); }, { once: true });
    v.pause();
    v.currentTime = 2.5;
  }));
  check(Math.abs(seeked - 2.5) < 0.3, `currentTime after seek ${seeked}`);
  await page.waitForFunction(() => document.querySelector("#player").readyState >= 2);
  check(ranged.length > 0, "the player fetched byte ranges (206) from the S3 endpoint");
  await page.screenshot({ path: join(artifacts, "04-player.png") });
  await page.click("#player-close");

  step("delete with confirmation");
  await card.locator("button.delete").click();
  await page.waitForSelector("#confirm-dialog[open]");
  await page.screenshot({ path: join(artifacts, "05-confirm-delete.png") });
  await page.click("#confirm-cancel");
  check((await card.count()) === 1, "cancel keeps the video");
  await card.locator("button.delete").click();
  await page.click("#confirm-delete");
  await card.waitFor({ state: "detached" });
  check((await gallery()).totalCount === 0, "the API no longer lists the video");
  await page.waitForSelector("#empty:not([hidden])");
  check(consoleErrors.length === 0, `no console errors: ${consoleErrors.join(" | ")}`);
  await context.close();

  step("phone-sized screen");
  const r = await fetch(`${api}/api/auth/video/download`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ videoUrl: videoUrl2, userEmail: email, title: "Phone clip" }),
  });
  check(r.status === 200, `import for the phone view: ${r.status}`);
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  page = await phone.newPage();
  page.setDefaultTimeout(STEP_MS);
  await page.goto(`${api}/gallery`);
  await page.fill("#token", token);
  await page.click("#sign-in-form button[type=submit]");
  await page.waitForSelector(".card[data-status=ready]");
  await page.waitForFunction(() => {
    const img = document.querySelector(".card .poster img");
    return img && img.complete && img.naturalWidth > 0;
  });
  const layout = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    card: document.querySelector(".card").getBoundingClientRect().width,
  }));
  check(layout.scroll <= layout.inner, `no sideways scrolling on a phone: ${JSON.stringify(layout)}`);
  check(layout.card > layout.inner * 0.85, `cards take the phone's width: ${JSON.stringify(layout)}`);
  await page.screenshot({ path: join(artifacts, "06-phone.png"), fullPage: true });
  await phone.close();
  step("done");
} catch (error) {
  console.log(`FAILED: ${error.message}`);
  if (page) await page.screenshot({ path: join(artifacts, "failure.png") }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
