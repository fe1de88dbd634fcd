/* gallery.js: the /gallery page of seed 004.
 *
 * Signs in with a pasted token (kept in sessionStorage, sent as a Bearer
 * header), lists the caller's videos from GET /api/auth/video/gallery and
 * keeps the list fresh by polling it (every second while something is
 * being imported, every few seconds otherwise). Cards are kept by videoId
 * and updated in place, so a poll never restarts a playing video or
 * reloads a poster. Imports go through POST /api/auth/video/download;
 * while one runs, the processing card's bytes received show its progress.
 * Every value from the server reaches the page through textContent or a
 * property, never as HTML. */
(function () {
  "use strict";

  var TOKEN_KEY = "silo.token";
  var FAST_POLL_MS = 1000;
  var SLOW_POLL_MS = 5000;

  var $ = function (id) { return document.getElementById(id); };
  var cards = new Map(); /* videoId -> {el, video} */
  var pollTimer = null;
  var importing = 0;
  var lastProcessing = 0;

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  /* The claims of a JWT, or {} for an API key or anything unreadable. */
  function claims(t) {
    try {
      var part = t.split(".")[1];
      if (!part) return {};
      var text = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
      return JSON.parse(decodeURIComponent(Array.prototype.map.call(text, function (c) {
        return "%" + ("00" + c.charCodeAt(0).toString(16)).slice(-2);
      }).join("")));
    } catch (e) {
      return {};
    }
  }

  function api(method, path, body) {
    var options = { method: method, headers: { Authorization: "Bearer " + token() } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (doc) {
        if (response.status === 401) signOut("Your token was refused: " + (doc.message || doc.detail || "unauthorized"));
        if (!response.ok || doc.success === false) {
          var error = new Error(doc.message || doc.detail || ("HTTP " + response.status));
          error.status = response.status;
          throw error;
        }
        return doc;
      });
    });
  }

  /* ---- formatting ---- */

  function formatSize(bytes) {
    if (bytes === null || bytes === undefined || isNaN(bytes)) return "";
    var units = ["B", "KB", "MB", "GB", "TB"];
    var i = 0;
    var n = Number(bytes);
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)) + " " + units[i];
  }

  function formatDuration(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds)) return "";
    var s = Math.round(seconds);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var two = function (x) { return (x < 10 ? "0" : "") + x; };
    return h ? h + ":" + two(m) + ":" + two(r) : m + ":" + two(r);
  }

  function formatDate(iso) {
    var d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleString();
  }

  /* ---- sign in and out ---- */

  function signIn(t) {
    sessionStorage.setItem(TOKEN_KEY, t);
    var c = claims(t);
    $("who-name").textContent = c.email || c.sub || "signed in";
    $("who").hidden = false;
    $("sign-in").hidden = true;
    $("app").hidden = false;
    if (c.email && !$("import-email").value) $("import-email").value = c.email;
    refresh();
  }

  function signOut(reason) {
    sessionStorage.removeItem(TOKEN_KEY);
    clearTimeout(pollTimer);
    pollTimer = null;
    cards.forEach(function (card) { card.el.remove(); });
    cards.clear();
    $("who").hidden = true;
    $("app").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = reason || "";
  }

  /* ---- the gallery ---- */

  function schedule() {
    clearTimeout(pollTimer);
    if (!token()) return;
    pollTimer = setTimeout(refresh, importing || lastProcessing ? FAST_POLL_MS : SLOW_POLL_MS);
  }

  function refresh() {
    if (!token()) return Promise.resolve();
    return api("GET", "/api/auth/video/gallery").then(function (doc) {
      $("gallery-error").textContent = "";
      render(doc.data);
    }).catch(function (error) {
      $("gallery-error").textContent = "Cannot load your videos: " + error.message;
    }).then(schedule);
  }

  function render(data) {
    var list = $("videos");
    var seen = new Set();
    /* Fast while something is on its way: an import, or a poster. */
    var recent = Date.now() - 60000;
    lastProcessing = data.processingCount + data.videos.filter(function (v) {
      return v.status === "ready" && !v.posterUrl && Date.parse(v.updatedAt) > recent;
    }).length;
    $("counts").textContent = data.totalCount + " videos · " + data.readyCount + " ready · " +
      data.processingCount + " processing · " + data.failedCount + " failed";
    data.videos.forEach(function (video, index) {
      seen.add(video.videoId);
      var card = cards.get(video.videoId);
      if (!card) {
        card = { el: makeCard(video), video: video };
        cards.set(video.videoId, card);
      }
      updateCard(card, video);
      if (list.children[index] !== card.el) list.insertBefore(card.el, list.children[index] || null);
    });
    cards.forEach(function (card, id) {
      if (!seen.has(id)) {
        card.el.remove();
        cards.delete(id);
      }
    });
    $("empty").hidden = data.videos.length > 0;
  }

  function makeCard(video) {
    var el = $("card-template").content.firstElementChild.cloneNode(true);
    el.dataset.videoId = video.videoId;
    el.querySelector(".poster").addEventListener("click", function () { play(el.dataset.videoId); });
    el.querySelector(".play").addEventListener("click", function () { play(el.dataset.videoId); });
    el.querySelector(".delete").addEventListener("click", function () { confirmDelete(el.dataset.videoId); });
    el.querySelector(".share").addEventListener("click", function (event) { copyShare(el.dataset.videoId, event.target); });
    return el;
  }

  function updateCard(card, video) {
    var el = card.el;
    var previous = card.video;
    card.video = video;
    var ready = video.status === "ready";
    el.dataset.status = video.status;
    el.querySelector(".title").textContent = video.title;
    var status = el.querySelector(".status");
    status.textContent = video.status;
    status.className = "status status-" + video.status;
    var meta = video.metadata || {};
    el.querySelector(".size").textContent = formatSize(meta.size);
    el.querySelector(".duration").textContent = formatDuration(meta.duration);
    el.querySelector(".created").textContent = formatDate(video.createdAt);
    /* Presigned URLs change on every poll: keep the first one that works. */
    var img = el.querySelector(".poster img");
    if (video.posterUrl && (!img.getAttribute("src") || !previous.posterUrl)) img.src = video.posterUrl;
    el.querySelector(".poster").disabled = !ready;
    el.querySelector(".play").disabled = !ready;
    el.querySelector(".share").disabled = !ready;
    var download = el.querySelector(".download");
    if (ready && video.downloadUrl) {
      if (!download.getAttribute("href")) download.href = video.downloadUrl;
      download.removeAttribute("aria-disabled");
    } else {
      download.removeAttribute("href");
      download.setAttribute("aria-disabled", "true");
    }
    var line = el.querySelector(".progress-line");
    line.hidden = video.status !== "processing";
    if (video.status === "processing") {
      var bar = line.querySelector("progress");
      var received = video.progress ? video.progress.bytesReceived : 0;
      var total = video.progress ? video.progress.bytesTotal : null;
      if (total) {
        bar.max = total;
        bar.value = received;
      } else {
        bar.removeAttribute("value");
      }
      line.querySelector(".progress-text").textContent = received
        ? formatSize(received) + (total ? " of " + formatSize(total) : "") + " received"
        : "waiting for the video…";
    }
    var error = el.querySelector(".card-error");
    error.hidden = !video.error;
    error.textContent = video.error || "";
  }

  /* ---- playing ---- */

  function play(videoId) {
    var card = cards.get(videoId);
    if (!card || card.video.status !== "ready") return;
    var player = $("player");
    $("player-title").textContent = card.video.title;
    player.poster = card.video.posterUrl || "";
    player.src = card.video.streamUrl || card.video.downloadUrl;
    player.dataset.videoId = videoId;
    $("player-dialog").showModal();
    player.play().catch(function () { /* autoplay may be refused; the controls are there */ });
  }

  function closePlayer() {
    var player = $("player");
    player.pause();
    player.removeAttribute("src");
    player.load();
    if ($("player-dialog").open) $("player-dialog").close();
  }

  /* ---- deleting ---- */

  function confirmDelete(videoId) {
    var card = cards.get(videoId);
    if (!card) return;
    var dialog = $("confirm-dialog");
    $("confirm-text").textContent = "Delete “" + card.video.title + "”? Its file, poster and share links go for good.";
    dialog.returnValue = "";
    dialog.onclose = function () {
      if (dialog.returnValue !== "delete") return;
      card.el.classList.add("busy");
      api("DELETE", "/api/auth/video/delete", { userId: claims(token()).sub || undefined, videoId: videoId })
        .then(function () {
          card.el.remove();
          cards.delete(videoId);
          return refresh();
        })
        .catch(function (error) {
          card.el.classList.remove("busy");
          $("gallery-error").textContent = "Cannot delete: " + error.message;
        });
    };
    dialog.showModal();
  }

  function copyShare(videoId, button) {
    var card = cards.get(videoId);
    if (!card || !card.video.shareUrl) return;
    var done = function () {
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = "Copy link"; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(card.video.shareUrl).then(done, function () { window.prompt("Share link", card.video.shareUrl); });
    } else {
      window.prompt("Share link", card.video.shareUrl);
    }
  }

  /* ---- importing ---- */

  function startImport(event) {
    event.preventDefault();
    var body = { videoUrl: $("import-url").value.trim(), userEmail: $("import-email").value.trim() };
    var title = $("import-title").value.trim();
    if (title) body.title = title;
    var status = $("import-status");
    var text = $("import-text");
    var bar = $("import-progress");
    status.hidden = false;
    status.className = "import-status";
    bar.hidden = false;
    bar.removeAttribute("value");
    text.textContent = "Importing " + body.videoUrl + "…";
    $("import-button").disabled = true;
    importing++;
    refresh();
    api("POST", "/api/auth/video/download", body).then(function (doc) {
      bar.hidden = true;
      status.classList.add("ok");
      text.textContent = (doc.data.alreadyStored ? "Already in your gallery: " : "Imported: ") + doc.data.title +
        " (" + formatSize(doc.data.size) + ")";
      $("import-url").value = "";
      $("import-title").value = "";
    }).catch(function (error) {
      bar.hidden = true;
      status.classList.add("failed");
      text.textContent = "Import failed: " + error.message;
    }).then(function () {
      importing--;
      $("import-button").disabled = false;
      refresh();
    });
  }

  /* ---- wiring ---- */

  /* Runs once the markup is there: at DOMContentLoaded on /gallery, at
   * once when the console loads this script into its Videos section. */
  function start() {
    $("sign-in-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var t = $("token").value.trim();
      if (t) {
        $("token").value = "";
        signIn(t);
      }
    });
    $("sign-out").addEventListener("click", function () { signOut(""); });
    $("import-form").addEventListener("submit", startImport);
    $("player-close").addEventListener("click", closePlayer);
    $("player-dialog").addEventListener("close", closePlayer);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
    if (token()) signIn(token());
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
