/* videos.js: the Videos section is the /gallery page itself.
 *
 * On first opening, the gallery's markup is read from /gallery (its
 * header's account box, kept hidden, its main content, its dialogs and its
 * card template) and its own script /gallery/gallery.js is loaded. The
 * script finds the token the console stored under the key it reads, signs
 * itself in and behaves exactly as on /gallery: list, import from a URL
 * with progress, play, download, share links, delete. One implementation
 * serves both places. */
import { $, el } from "./lib.js";

let loaded = false;

export async function show() {
  if (loaded) return;
  loaded = true;
  const root = $("c-videos-embed");
  try {
    const r = await fetch("/gallery");
    if (!r.ok) throw new Error(`the gallery answered ${r.status}`);
    const page = new DOMParser().parseFromString(await r.text(), "text/html");
    const account = el("div", { hidden: true });
    account.append(document.importNode(page.getElementById("who"), true));
    root.append(account);
    for (const node of Array.from(page.querySelector("main").children)) root.append(document.importNode(node, true));
    for (const id of ["player-dialog", "confirm-dialog", "card-template"]) {
      root.append(document.importNode(page.getElementById(id), true));
    }
    document.body.append(el("script", { src: "/gallery/gallery.js" }));
  } catch (e) {
    loaded = false;
    $("c-videos-error").textContent = "Cannot load the gallery: " + e.message;
  }
}
