/* app.js: the console's entry point: sign-in, then one section at a time.
 *
 * Sections are views of one page, chosen by the address's fragment
 * (#/files, #/recordings, ...), so the browser's back button and links
 * work. Each section module exports show() (called every time it is
 * opened) and may export hide() (stop its polling when left). The Admin
 * section is listed only for admins; its routes refuse anyone else
 * server-side anyway. */
import { $, api, session, token, setToken, signOut, takeNotice, TOKEN_KEY } from "./lib.js";
import { fromLoginLink, fromOidcRedirect, startOidc } from "./auth.js";
import * as files from "./files.js";
import * as recordings from "./recordings.js";
import * as settings from "./settings.js";
import * as transcribe from "./transcribe.js";
import * as videos from "./videos.js";
import * as admin from "./admin.js";

const sections = { files, recordings, settings, transcribe, videos, admin };
const DEFAULT_SECTION = "files";
let current = null;

function showSignIn(message) {
  $("c-loading").hidden = true;
  $("c-signin").hidden = false;
  $("c-signin-error").textContent = message || "";
  const oidc = session.config && session.config.oidc;
  $("c-oidc").hidden = !oidc;
  if (oidc) $("c-oidc-name").textContent = oidc.name;
  document.title = "Sign in · silo console";
}

function route() {
  const wanted = (location.hash.match(/^#\/([a-z]+)/) || [])[1];
  const name = sections[wanted] ? wanted : DEFAULT_SECTION;
  if (current && current !== name && sections[current].hide) sections[current].hide();
  for (const key of Object.keys(sections)) $("c-" + key).hidden = key !== name;
  for (const link of document.querySelectorAll("#c-nav a")) {
    if (link.dataset.section === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const label = document.querySelector(`#c-nav a[data-section="${name}"]`).textContent;
  document.title = label + " · silo console";
  const changed = current !== name;
  current = name;
  sections[name].show();
  if (changed) $("c-main").focus({ preventScroll: true });
}

async function enter() {
  try {
    session.me = await api("GET", "/api/console/me", { auth: false, headers: { Authorization: "Bearer " + token() } });
  } catch (e) {
    if (e.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    showSignIn((e.status === 401 ? "This credential was refused: " : "Cannot check your credential: ") + e.message);
    return;
  }
  const me = session.me;
  $("c-loading").hidden = true;
  $("c-who-name").textContent = me.email || me.sub;
  $("c-who-role").hidden = !me.admin;
  $("c-who").hidden = false;
  $("c-nav").hidden = false;
  $("c-nav-admin").hidden = !me.admin;
  window.addEventListener("hashchange", route);
  route();
}

async function boot() {
  /* A sign-in link opened in a tab already showing the console changes
   * only the fragment: start over so it is exchanged like any other. */
  window.addEventListener("hashchange", () => { if (location.hash.startsWith("#login=")) location.reload(); });
  $("c-sign-out").addEventListener("click", () => signOut(""));
  $("c-paste-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = $("c-token").value.trim();
    if (!t) return;
    $("c-token").value = "";
    setToken(t);
    $("c-signin").hidden = true;
    enter();
  });
  $("c-oidc-button").addEventListener("click", () => {
    startOidc().catch((e) => showSignIn(e.message));
  });
  try {
    const r = await fetch("/api/console/config");
    session.config = await r.json();
  } catch (e) {
    showSignIn("Cannot reach silo: " + e.message);
    return;
  }
  try {
    await fromLoginLink() || await fromOidcRedirect();
  } catch (e) {
    showSignIn(e.message);
    return;
  }
  if (token()) enter();
  else showSignIn(takeNotice());
}

boot();
