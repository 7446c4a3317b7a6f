/* WedSync Hub service worker (served at /sw.js, root scope, no-cache).
 *
 * The server puts `self.SHELL = {version, precache, offline}` above this file, built from the same content-hash
 * manifest as the pages' <script>/<link> URLs, so the worker's bytes change whenever any shell file changes.
 *
 * Hand-written rather than Workbox: the rules are few (network-first pages with a 3 s timeout, a 50-entry LRU of
 * pages, cache-first hashed assets, update on the user's reload) and Workbox would need a build step and a CDN or
 * vendored runtime several times the size of this file.
 */
importScripts("/sw-outbox.js", "/sw-book.js");

const VERSION = self.SHELL.version;
const SHELL_CACHE = "wedsync-shell-" + VERSION;
// Pages are cached per version: a saved page links the hashed assets of its own deploy, which only that
// version's shell cache holds. A new version re-fetches the saved pages rather than serving mismatched ones.
const PAGES_CACHE = "wedsync-pages-" + VERSION;
const PAGES_MAX = 50;
const NETWORK_TIMEOUT_MS = 3000;
const SAVED_AT_HEADER = "x-wedsync-saved-at";
// The pages a photographer uses at a venue: the dashboard, the client list (any search), each client and its edit
// form, and the new-lead form (the outbox keeps what is typed into them offline; the page script gives each send a
// fresh key; an edit made on a saved form's older version meets the conflict screen, never overwrites in silence).
const KEEP = /^\/(clients\/(\d+(\/edit)?|new)?)?$/;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(SHELL_CACHE).then((cache) =>
      // "reload" skips the HTTP cache for the offline page; hashed assets are immutable, so either way is exact.
      // The outbox screen and the empty layout are kept signed out (no cookie): the same for whoever is signed in, with
      // no CSRF token.
      cache.addAll([
        ...self.SHELL.precache,
        new Request(self.SHELL.offline, { cache: "reload" }),
        new Request(self.SHELL.outbox, { cache: "reload", credentials: "omit" }),
        new Request(self.SHELL.layout, { cache: "reload", credentials: "omit" }),
      ]),
    ),
  );
  // No skipWaiting here: an update waits until the photographer taps "Reload", so no page ever runs half on
  // the old files and half on the new ones.
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      if (self.registration.navigationPreload) await self.registration.navigationPreload.enable();
      const names = await caches.keys();
      await Promise.all(names.filter((n) => n.startsWith("wedsync-shell-") && n !== SHELL_CACHE).map((n) => caches.delete(n)));
      await self.clients.claim();
      // Not awaited: fetches wait while a worker is activating, and the pages reloading onto this version must
      // not wait for up to 50 page downloads on a weak signal.
      resavePages(names.filter((n) => n.startsWith("wedsync-pages-") && n !== PAGES_CACHE));
      self.WedSyncBook.refresh(true).catch(() => {}); // the client book, for offline search (not awaited either)
    })(),
  );
});

// Re-save the pages the photographer had saved under the previous version, now linking this version's assets
// (their old assets are gone). Best effort: offline, or signed out meanwhile, they are dropped.
async function resavePages(oldNames) {
  const forgets = forgotten;
  for (const name of oldNames) {
    const old = await caches.open(name);
    for (const request of await old.keys()) {
      try {
        const response = await fetch(request.url, { credentials: "same-origin", redirect: "manual" });
        if (forgets !== forgotten) return;
        if (cacheable(response)) await savePage(request.url, response);
      } catch (e) {
        /* offline: nothing to re-save */
      }
    }
    await caches.delete(name);
  }
}

self.addEventListener("message", (event) => {
  const type = (event.data && event.data.type) || "";
  // A page opened: its account's book is kept fresh (another account's is wiped first).
  if (type === "outbox:hello") event.waitUntil(self.WedSyncBook.hello(event.data.account || "").catch(() => {}));
  if (type.startsWith("outbox:")) return self.WedSyncOutbox.onMessage(event);
  if (type.startsWith("book:")) return self.WedSyncBook.onMessage(event);
  if (type === "skip-waiting") return self.skipWaiting();
  if (type === "forget-pages") event.waitUntil(forgetPages());
});

self.addEventListener("sync", (event) => self.WedSyncOutbox.onSync(event));

// Web Push (jobs/notify.py, when an import ends): a notification (always: iOS drops a subscription whose pushes show
// none), and a banner in every open page of the app (static/app-shell.js), which may be on another screen.
const ICON = self.SHELL.precache.find((u) => /\/icons\/icon-192\./.test(u)) || "/static/icons/icon-192.png";

function sameSite(url) {
  try {
    const parsed = new URL(url, self.location.origin);
    return parsed.origin === self.location.origin ? parsed.href : null;
  } catch (e) {
    return null;
  }
}

self.addEventListener("push", (event) => {
  let notice = {};
  try {
    notice = (event.data && event.data.json()) || {};
  } catch (e) {
    /* not ours: show the plain notice below */
  }
  const title = String(notice.title || "WedSync");
  const body = String(notice.body || "");
  const url = sameSite(notice.url || "/jobs/") || sameSite("/jobs/");
  event.waitUntil(
    (async () => {
      await self.registration.showNotification(title, { body, icon: ICON, badge: ICON, tag: String(notice.tag || "wedsync"), data: { url } });
      for (const page of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) {
        page.postMessage({ type: "push:notice", title, body, url });
      }
    })(),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = sameSite((event.notification.data || {}).url || "/jobs/");
  event.waitUntil(
    (async () => {
      const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = pages.find((page) => page.url === url);
      if (open) return open.focus();
      return self.clients.openWindow(url);
    })(),
  );
});

// A file shared from another app (the manifest's share_target) arrives as a top-level POST with no CSRF token.
// The worker keeps the file on the phone and opens the upload page, whose script sends it with the page's token
// (static/share.js): the server never takes a file from a post it can't tell from a forged one.
const SHARE_URL = "/share";
const SHARE_CACHE = "wedsync-share";
const SHARED_FILE = "/imports/shared/file";

async function receiveShare(request) {
  try {
    const form = await request.formData();
    const file = form.getAll("file").find((f) => typeof f !== "string");
    if (file) {
      const headers = { "content-type": file.type || "application/octet-stream", "x-filename": encodeURIComponent(file.name || "shared") };
      await (await caches.open(SHARE_CACHE)).put(SHARED_FILE, new Response(file, { headers }));
    }
  } catch (e) {
    /* nothing readable was shared: the upload page asks for the file */
  }
  return Response.redirect("/imports/shared", 303);
}

self.addEventListener("fetch", (event) => {
  if (event.request.method === "POST" && new URL(event.request.url).pathname === SHARE_URL) {
    event.respondWith(receiveShare(event.request));
    return;
  }
  const outbox = self.WedSyncOutbox.handleFetch(event);
  if (outbox) {
    event.respondWith(outbox);
    return;
  }
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method !== "GET") {
    // Signing out: forget every saved page at once (even offline), so the next person on this phone sees nothing.
    if (request.method === "POST" && url.pathname === "/logout") event.respondWith(signOut(event));
    return; // other POSTs go to the network untouched and are never cached
  }
  if (request.mode === "navigate") {
    // Reaching the sign-in page means nobody is signed in here any more (signed out, or the session ended).
    if (url.pathname === "/login" || url.pathname === "/signup") event.waitUntil(forgetPages());
    event.respondWith(navigate(event, url));
    return;
  }
  // A search typed into the client list (htmx asks for the list fragment): answered from the book when offline.
  if (url.pathname === "/clients/" && request.headers.get("hx-request") === "true" && !url.searchParams.has("cursor")) {
    event.respondWith(listFragment(request, url));
    return;
  }
  if (url.pathname.startsWith("/static/")) event.respondWith(asset(request));
});

async function listFragment(request, url) {
  const received = performance.now();
  const network = fetch(request);
  let timer;
  const slow = new Promise((resolve) => {
    timer = setTimeout(resolve, NETWORK_TIMEOUT_MS, null);
  });
  try {
    const first = await Promise.race([network, slow]);
    if (first && first.status < 500) return first;
    return (await self.WedSyncBook.listResponse(url, true, received)) || first || (await network);
  } catch (e) {
    return (await self.WedSyncBook.listResponse(url, true, received)) || Response.error();
  } finally {
    clearTimeout(timer);
  }
}

// The freshest copy this phone holds of a page: its saved copy, or, for the client list (any search) and a client,
// the client book when that was saved later (or the page never was: a couple never opened on this phone).
async function fallback(url, key) {
  const list = url.pathname === "/clients/";
  const client = url.pathname.match(/^\/clients\/(\d+)$/);
  if (!list && !client) return savedPage(key);
  const cache = await caches.open(PAGES_CACHE);
  const hit = await cache.match(key);
  const pageAt = hit ? Date.parse(hit.headers.get(SAVED_AT_HEADER) || "") || 0 : -1;
  if (pageAt >= (await self.WedSyncBook.savedAtMs())) return savedPage(key);
  const fromBook = list ? await self.WedSyncBook.listResponse(url, false) : await self.WedSyncBook.clientResponse(Number(client[1]));
  return fromBook || savedPage(key);
}

// With no signal the sign-out still happens on this phone: saved pages go, the outbox forgets the session's token,
// the request is kept for the server (sent first thing when the signal is back), and the page says so, instead of
// the browser's "no internet" page with the photographer apparently still signed in.
async function signOut(event) {
  const body = await event.request.clone().text();
  const forgetting = Promise.all([forgetPages(), forgetPush(), caches.delete(SHARE_CACHE)]);
  let timer;
  const slow = new Promise((resolve, reject) => {
    timer = setTimeout(reject, 2 * NETWORK_TIMEOUT_MS, new Error("slow"));
  });
  try {
    const response = await Promise.race([fetch(event.request), slow]);
    await forgetting;
    await self.WedSyncOutbox.signedOut(null);
    return response;
  } catch (e) {
    await forgetting;
    await self.WedSyncOutbox.signedOut(body);
    return signedOutPage();
  } finally {
    clearTimeout(timer);
  }
}

// Signing out also turns this phone's notifications off: the studio's import notices must not keep arriving for
// whoever uses the phone next. The push service forgets the subscription, so the server's next notice to it gets 410
// and its row goes (jobs/notify.py). Offline, the browser may not reach the push service: never wait on it long.
async function forgetPush() {
  try {
    const sub = await self.registration.pushManager.getSubscription();
    if (sub) await Promise.race([sub.unsubscribe(), new Promise((resolve) => setTimeout(resolve, NETWORK_TIMEOUT_MS))]);
  } catch (e) {
    // No push support, or the push service unreachable: nothing more this phone can do.
  }
}

function signedOutPage() {
  const css = self.SHELL.precache.find((u) => /\/app\.[0-9a-f]{10}\.css$/.test(u)) || "/static/app.css";
  const body =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>Signed out · WedSync Hub</title><link rel="stylesheet" href="${css}"></head><body>` +
    `<header class="top"><a class="brand" href="/">WedSync Hub</a></header><main id="main">` +
    `<section class="card narrow" data-testid="signed-out-offline"><h1>You're signed out on this phone</h1>` +
    `<p>The pages saved on this phone are gone. There's no signal, so WedSync will be told you signed out as soon as ` +
    `you're back online.</p><p>Changes waiting in the <a href="/outbox">Outbox</a> stay on this phone and are sent ` +
    `after you sign in again.</p><p><a class="button primary" href="/login">Sign in</a></p></section></main></body></html>`;
  return new Response(body, { status: 200, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" } });
}

let forgotten = 0; // bumped on every sign-out, so a re-save that started before it stops

async function forgetPages() {
  forgotten += 1;
  const names = await caches.keys();
  // The client book goes with the pages: the next person on this phone sees none of this studio's clients.
  await Promise.all([
    ...names.filter((n) => n.startsWith("wedsync-pages-")).map((n) => caches.delete(n)),
    self.WedSyncBook.wipe(),
  ]);
}

function cacheable(response) {
  // Only a real 200 page: never an error page, a redirect (to /login or elsewhere), a fragment, or a page the
  // server marked no-store.
  return (
    response &&
    response.status === 200 &&
    response.type === "basic" &&
    !response.redirected &&
    (response.headers.get("content-type") || "").startsWith("text/html") &&
    !/no-store/.test(response.headers.get("cache-control") || "")
  );
}

async function savePage(key, response, savedAt = new Date().toISOString()) {
  const headers = new Headers(response.headers);
  // The body is stored decoded: its transfer headers no longer describe it.
  for (const name of ["content-encoding", "content-length", "etag"]) headers.delete(name);
  headers.set(SAVED_AT_HEADER, savedAt);
  const copy = new Response(await response.blob(), { status: 200, statusText: "OK", headers });
  const cache = await caches.open(PAGES_CACHE);
  // Cache Storage keeps insertion order: delete + put moves a page to the end, so the oldest is first (LRU).
  await cache.delete(key);
  await cache.put(key, copy);
  const keys = await cache.keys();
  await Promise.all(keys.slice(0, Math.max(0, keys.length - PAGES_MAX)).map((k) => cache.delete(k)));
}

async function savedPage(key) {
  const cache = await caches.open(PAGES_CACHE);
  const hit = await cache.match(key);
  if (!hit) return null;
  const savedAt = hit.headers.get(SAVED_AT_HEADER) || "";
  await savePage(key, hit.clone(), savedAt); // reading it counts as opening it recently (same "saved at")
  // Tell the page it is a saved copy: a <meta> the page script turns into "Saved at 14:02 — you're offline".
  const html = (await hit.text()).replace("<head>", `<head><meta name="wedsync-saved-at" content="${savedAt}">`);
  return new Response(html, { status: 200, headers: hit.headers });
}

function offlinePage() {
  return caches.match(self.SHELL.offline, { cacheName: SHELL_CACHE });
}

async function navigate(event, url) {
  const key = url.pathname + url.search;
  const keep = KEEP.test(url.pathname);
  // Signed out with no signal: the server hears it before this page (the preload went out with the old session).
  const loggingOut = await self.WedSyncOutbox.pendingLogout();
  if (loggingOut) await self.WedSyncOutbox.sendLogout();
  // The preload request started while this worker was waking up; use it rather than asking twice.
  const network = loggingOut
    ? fetch(event.request)
    : Promise.resolve(event.preloadResponse).then((preloaded) => preloaded || fetch(event.request));
  if (keep) {
    const forgets = forgotten; // a sign-out while this page loads: don't save it afterwards
    event.waitUntil(
      network
        .then((response) => (cacheable(response) && forgets === forgotten ? savePage(key, response.clone()) : null))
        .catch(() => null),
    );
  }
  let timer;
  const slow = new Promise((resolve) => {
    timer = setTimeout(resolve, NETWORK_TIMEOUT_MS, "slow");
  });
  try {
    const first = await Promise.race([network, keep ? slow : new Promise(() => {})]);
    // Our server in trouble is, for the photographer, like no signal: the saved copy beats an error page.
    if (first !== "slow") return (keep && first.status >= 500 && (await fallback(url, key))) || first;
    // Network too slow: a saved copy now, or keep waiting for the network if there is none.
    return (await fallback(url, key)) || (await network);
  } catch (e) {
    return (keep && (await fallback(url, key))) || (await offlinePage()) || Response.error();
  } finally {
    clearTimeout(timer);
  }
}

async function asset(request) {
  const cache = await caches.open(SHELL_CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  // Only hashed names are immutable and safe to keep; a plain /static/app.css may change at the next deploy.
  if (response.ok && /\.[0-9a-f]{10}\.[a-z0-9]+$/.test(new URL(request.url).pathname)) {
    await cache.put(request, response.clone());
  }
  return response;
}
