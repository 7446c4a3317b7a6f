/* WedSync Hub offline outbox, run inside the service worker (served at /sw-outbox.js, imported by /sw.js).
 *
 * What a photographer does without signal (a note, a status, a new lead, "Sync changes") is kept in IndexedDB and
 * replayed exactly once. Hand-written rather than Workbox's background sync, whose queue is the thing to beat:
 *   - Workbox replays only after a network failure and treats any 4xx/5xx answer as done (workbox#2599): here only a
 *     2xx (or the server's redirect after a save) removes an item; 409 and 422 keep it as "needs you" with the
 *     server's words, 401/403 keep everything and ask to sign in, 5xx and 429 retry with backoff, never dropped.
 *   - Workbox hides its queue (#2623): here GET /outbox/list is answered from IndexedDB, and every page's badge counts
 *     what is waiting.
 *   - On Safari Workbox replays only when the worker happens to start (#2386): here the page asks for a replay on
 *     `online`, on open and on becoming visible, besides Background Sync's `sync` event where it exists.
 * Exactly once: every request carries an Idempotency-Key (the form's, or one made here), and the server stores the
 * first answer per key for at least 7 days, so a re-send after a lost answer is harmless. Replays run one at a
 * time: one promise chain in this worker (every tab talks to the same worker) plus a Web Lock where the browser has
 * one (a second worker instance during an update); an item is marked "sending" before it goes out, and a worker
 * killed mid-send simply sends it again under the same key.
 * Order: items replay in the order they were made; an item that needs the photographer holds back the later items
 * for the same client (or lead, or integration), and a new request for a client with items still waiting is queued
 * behind them instead of overtaking them.
 * What may be queued is the page's to say, not this worker's (it knows no URLs and no element ids): a form marked
 * data-outbox-kind="note|status|lead|sync|edit" names its group (data-outbox-group, e.g. "client:42"; none means a group
 * of its own), where the pending copy goes (data-outbox-target, a selector, else the form's hx-target, and
 * data-outbox-swap) and, for a status, the id of the badge that shows it at once (data-outbox-badge).
 * static/outbox.js sends them with the request: htmx as X-Outbox-Kind / -Group / -Target / -Swap / -Badge headers;
 * a plain form post can't carry headers, so a marked form's fields also carry _outbox_kind / _outbox_group, taken
 * out here before the body is kept or sent. A POST that names no kind goes to the network untouched.
 */
(() => {
  "use strict";

  const DB_NAME = "wedsync-outbox";
  const PAGE_CACHE = "wedsync-outbox-page";
  const LOCK = "wedsync-outbox-replay";
  const SYNC_TAG = "wedsync-outbox";
  const KEEP_SENT = 20; // the last few sent items stay listed as "sent", for reassurance
  const BACKOFF_MS = [1000, 2000, 5000, 15000, 30000, 60000, 300000];
  const PAGE_TIMEOUT_MS = 3000;
  const SAVED_ONLINE = "Saved on this phone — sending now";
  const SAVED_OFFLINE = "Saved on this phone — will send when you're back online";
  const SIGN_IN = "Saved on this phone — sign in to send it";
  const SERVER_TROUBLE = "Saved on this phone — WedSync had a problem, will try again shortly";
  // The kinds of change this worker knows how to show (the page marks which forms make them; see the top).
  const KINDS = new Set(["note", "status", "lead", "sync", "edit"]);
  const FORM_FIELDS = ["_outbox_kind", "_outbox_group"]; // a plain form post's kind and group, never sent on
  const HIDDEN_FIELDS = new Set(["_csrf_token", "idempotency_key", "version", "kind", "status"]);
  const SYNC_LABELS = {
    full_import: "Import everything",
    incremental_sync: "Sync changes",
    export_to_crm: "Send new leads to Light Blue",
  };

  /* ---------- IndexedDB: a few lines of promise wrapping (a library would be a second file to vendor) ---------- */
  // The opener of one database, shared with the client book (sw/book.js): opened once, reopened after another
  // version of the worker closed it, forgotten on failure so the next call tries again.
  self.WedSyncIdb = {
    opener(name, upgrade) {
      let opening = null;
      return () => {
        if (!opening) {
          opening = new Promise((resolve, reject) => {
            const req = indexedDB.open(name, 1);
            req.onupgradeneeded = () => upgrade(req.result);
            req.onsuccess = () => {
              req.result.onversionchange = () => {
                req.result.close();
                opening = null;
              };
              resolve(req.result);
            };
            req.onerror = () => {
              opening = null;
              reject(req.error);
            };
          });
        }
        return opening;
      };
    },
  };
  const openDb = self.WedSyncIdb.opener(DB_NAME, (db) => {
    // Auto-increment ids are creation order: replay order is key order.
    db.createObjectStore("items", { keyPath: "id", autoIncrement: true });
    db.createObjectStore("meta");
  });
  async function idb(store, mode, fn, durability) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode, { durability: durability || "strict" });
      const req = fn(tx.objectStore(store));
      let result;
      if (req) req.onsuccess = () => (result = req.result);
      tx.oncomplete = () => resolve(result);
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  }
  const allItems = () => idb("items", "readonly", (s) => s.getAll());
  const getItem = (id) => idb("items", "readonly", (s) => s.get(id));
  // A saved change is written durably (flushed to disk before we say "Saved on this phone"). Progress marks
  // ("sending", "sent", back-off) are relaxed: losing one in a crash only means a re-send under the same key.
  const putItem = (item) => idb("items", "readwrite", (s) => s.put(item));
  const markItem = (item) => idb("items", "readwrite", (s) => s.put(item), "relaxed");
  const deleteItem = (id) => idb("items", "readwrite", (s) => s.delete(id));
  const getMeta = () => idb("meta", "readonly", (s) => s.get("state")).then((m) => m || {});
  const setMeta = (patch) =>
    idb("meta", "readwrite", (s) => {
      const got = s.get("state");
      got.onsuccess = () => s.put(Object.assign({}, got.result || {}, patch), "state");
    });

  /* ---------- helpers ---------- */
  const esc = (v) =>
    String(v == null ? "" : v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const unescape = (s) =>
    s.replace(/&(amp|lt|gt|quot|#39|#34|#x27);/g, (_, e) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", "#34": '"', "#x27": "'" })[e]);
  const newKey = () => (self.crypto.randomUUID ? self.crypto.randomUUID() : String(Date.now()) + Math.random().toString(36).slice(2));
  const unsent = (i) => i.state !== "sent";
  const fields = (item) => Object.fromEntries(new URLSearchParams(item.body));
  function setField(item, name, value) {
    const p = new URLSearchParams(item.body);
    p.set(name, value);
    item.body = p.toString();
  }
  function rekey(item) {
    item.key = newKey();
    setField(item, "idempotency_key", item.key);
  }
  // What the page said about this request (headers from htmx, fields from a plain form post), or null.
  function routeFor(headers, params) {
    const said = (name) => headers.get("x-outbox-" + name) || params.get("_outbox_" + name) || "";
    const kind = said("kind");
    if (!KINDS.has(kind)) return null;
    const group = said("group") || kind + ":" + newKey();
    const target = said("target") || (headers.get("hx-target") ? "#" + headers.get("hx-target") : "");
    const clientId = (group.match(/^client:(\d+)$/) || [])[1] || null;
    return { kind, group, clientId, target, swap: said("swap") || "afterbegin", badge: said("badge") };
  }
  // The server's message, as the page would show it (every error the app renders is a role="alert" paragraph).
  function serverMessage(text, fallback) {
    const m = text.match(/role="alert">([\s\S]*?)</);
    if (m) return unescape(m[1].trim());
    if (text && text.length < 300 && !text.includes("<")) return text.trim();
    return fallback;
  }
  function html(body, status, headers) {
    return new Response(body, { status: status || 200, headers: Object.assign({ "content-type": "text/html; charset=utf-8", "cache-control": "no-store" }, headers || {}) });
  }

  /* ---------- what the page sees: badge state, broadcast to every window ---------- */
  let broadcastTimer = null;
  function broadcast() {
    // Coalesced: a 50-item replay changes state 100 times; pages need the latest picture, not every step.
    if (broadcastTimer) return;
    broadcastTimer = setTimeout(async () => {
      broadcastTimer = null;
      const message = await stateMessage();
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      windows.forEach((w) => w.postMessage(message));
    }, 50);
  }
  async function stateMessage() {
    const [items, meta] = await Promise.all([allItems(), getMeta()]);
    const states = {};
    items.forEach((i) => (states[i.id] = i.state));
    return {
      type: "outbox:state",
      count: items.filter(unsent).length,
      needsYou: items.filter((i) => i.state === "needs_you").length,
      signIn: !!meta.signIn,
      states,
    };
  }

  /* ---------- capture: a replayable request from a page ---------- */
  async function capture(event) {
    const request = event.request;
    let body = await request.clone().text();
    const params = new URLSearchParams(body);
    const route = routeFor(request.headers, params);
    if (!route) return fetch(request); // no kind named: the network, as if this worker weren't here
    if (FORM_FIELDS.some((f) => params.has(f))) {
      FORM_FIELDS.forEach((f) => params.delete(f));
      body = params.toString();
    }
    const htmx = request.headers.get("hx-request") === "true";
    const meta = await getMeta();
    const csrf = request.headers.get("x-csrftoken") || params.get("_csrf_token") || "";
    if (csrf && csrf !== meta.csrf) await setMeta({ csrf });
    const item = {
      createdAt: Date.now(),
      method: "POST",
      url: new URL(request.url).pathname,
      body,
      key: params.get("idempotency_key") || "",
      csrf,
      kind: route.kind,
      group: route.group,
      clientId: route.clientId,
      account: meta.account || "",
      state: "pending",
      attempts: 0,
      nextAt: 0,
      problem: null,
    };
    if (!item.key) rekey(item); // never replay without a key
    const items = await allItems();
    const waiting = items.filter((i) => unsent(i) && i.group === item.group);
    if (waiting.length) {
      // Queued behind this client's earlier changes; not sent yet, so a clash with their keys can be fixed here.
      if (items.some((i) => i.key === item.key)) rekey(item);
      return queue(item, route, htmx, self.navigator.onLine ? SAVED_ONLINE : SAVED_OFFLINE, true);
    }
    if (self.navigator.onLine === false) return queue(item, route, htmx, SAVED_OFFLINE, true);
    let response;
    try {
      response = await fetch(request.url, {
        method: "POST",
        body,
        headers: sendHeaders(item, csrf, htmx || request.mode === "navigate"),
        credentials: "same-origin",
        // A navigation takes the server's redirect as it is; an XHR (htmx) must be given a followed answer.
        redirect: request.mode === "navigate" ? "manual" : "follow",
        cache: "no-store",
      });
    } catch (e) {
      // It may or may not have reached the server: the item keeps this key, so a replay can't apply it twice.
      return queue(item, route, htmx, SAVED_OFFLINE, true);
    }
    if (response.status === 401 || response.status === 403) {
      // The session ended (or the form's token did): keep the change rather than lose it on the sign-in page.
      await setMeta({ signIn: true });
      return queue(item, route, htmx, SIGN_IN, false);
    }
    if (response.status >= 500) {
      // WedSync had a bad moment (a 5xx is never stored against the key): keep the change and try again later.
      item.attempts = 1;
      item.nextAt = Date.now() + BACKOFF_MS[0];
      item.note = "WedSync had a problem — will try again";
      const answer = await queue(item, route, htmx, SERVER_TROUBLE, false);
      scheduleRetry(item.nextAt);
      return answer;
    }
    return response; // saved, or the server's own answer (e.g. the form again with its message)
  }

  function sendHeaders(item, csrf, htmxAnswer) {
    const headers = { "content-type": "application/x-www-form-urlencoded", "idempotency-key": item.key };
    if (csrf) headers["x-csrftoken"] = csrf;
    // HX-Request: the server answers a missing session with 401 rather than a redirect to the sign-in page, which
    // a service worker can't tell apart from the redirect after a successful save.
    if (htmxAnswer) headers["hx-request"] = "true";
    return headers;
  }

  async function queue(item, route, htmx, words, replaySoon) {
    item.id = await putItem(item);
    broadcast();
    if (self.registration.sync && !(await getMeta()).noSync) {
      self.registration.sync.register(SYNC_TAG).catch(() => {});
    }
    if (replaySoon && self.navigator.onLine !== false) replay(false);
    if (!htmx) return Response.redirect("/outbox?saved=" + item.id, 303);
    return pendingFragment(item, route, words);
  }

  // What htmx swaps in at once for a saved change: the optimistic version, marked pending, put where the page said.
  function pendingFragment(item, route, words) {
    const f = fields(item);
    const attrs = `class="outbox-pending" data-outbox-item="${item.id}"`;
    const headers = { "x-outbox": "queued", "hx-reswap": route.swap };
    if (route.target) headers["hx-retarget"] = route.target;
    if (item.kind === "note") {
      return html(`<li ${attrs}><p>${esc(f.body)}</p><small>${esc(words)}</small></li>`, 200, headers);
    }
    if (item.kind === "status") {
      return html(
        `<p ${attrs}>Status “${esc(f.status)}”: <small>${esc(words)}</small></p>` +
          (route.badge
            ? `<span id="${esc(route.badge)}" class="badge ${esc(f.status)} pending" data-testid="status" hx-swap-oob="true">${esc(f.status)}</span>`
            : ""),
        200,
        headers,
      );
    }
    return html(`<p ${attrs}>${esc(describe(item))}: <small>${esc(words)}</small></p>`, 200, headers);
  }

  // "Alex Smith & Sam Jones, 2027-06-12": an edit of the couple in a line.
  function couple(f) {
    const one = [f.partner1_first, f.partner1_last].filter(Boolean).join(" ");
    const two = [f.partner2_first, f.partner2_last].filter(Boolean).join(" ");
    return [two ? `${one} & ${two}` : one, f.wedding_date, f.venue].filter(Boolean).join(", ");
  }

  function describe(item) {
    const f = fields(item);
    if (item.kind === "note") return `Note: “${f.body}”`;
    if (item.kind === "status") return `Status → ${f.status}`;
    if (item.kind === "edit") return "Edit: " + couple(f);
    if (item.kind === "lead") {
      const one = [f.partner1_first, f.partner1_last].filter(Boolean).join(" ");
      const two = [f.partner2_first, f.partner2_last].filter(Boolean).join(" ");
      return "New lead: " + (two ? `${one} & ${two}` : one);
    }
    return SYNC_LABELS[f.kind] || "Start an import";
  }

  /* ---------- signing out with no signal ---------- */
  // The sign-out POST that could not reach the server: its form body (with that session's CSRF token) is kept and
  // sent before anything else once there is a signal (the next page opened, or the next replay), so the server
  // ends the session before it could show anyone the signed-in pages again.
  let logoutPending = null; // a promise of the kept body, read once per worker life
  const pendingLogout = () => logoutPending || (logoutPending = getMeta().then((m) => m.logout || null));
  async function signedOut(body) {
    logoutPending = Promise.resolve(body);
    // Forget the session this phone held (its CSRF token, and the outbox screen's copy with the signed-in header);
    // saved changes stay, waiting for their account to sign in again ("Sign in to send N saved changes").
    await setMeta(body ? { logout: body, csrf: "", signIn: true } : { logout: null });
    // A navigation preload would go out with the old session cookie alongside the kept sign-out, and the server
    // re-saving that session as it answers could outlive the sign-out: no preloads until it is sent.
    const preload = self.registration.navigationPreload;
    if (preload) await (body ? preload.disable() : preload.enable());
    await caches.delete(PAGE_CACHE);
    broadcast();
  }
  async function sendLogout() {
    const body = await pendingLogout();
    if (!body) return;
    try {
      await fetch("/logout", {
        method: "POST", body, credentials: "same-origin", redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
    } catch (e) {
      return; // still no signal
    }
    await signedOut(null); // any answer: the session is gone (or was already)
  }

  /* ---------- replay ---------- */
  let chain = Promise.resolve();
  let timer = null;
  function replay(force) {
    const run = chain.then(() => (self.navigator.locks ? self.navigator.locks.request(LOCK, () => runOnce(force)) : runOnce(force)));
    chain = run.catch(() => {});
    return run;
  }
  function scheduleRetry(at) {
    clearTimeout(timer);
    timer = setTimeout(() => replay(false), Math.max(0, at - Date.now()));
  }

  async function runOnce(force) {
    await sendLogout();
    const meta = await getMeta();
    const items = (await allItems()).filter(unsent); // key order = creation order
    const blocked = new Set();
    const result = { sent: 0, retry: false };
    let soonest = Infinity;
    for (const stored of items) {
      // Re-read: the photographer may have discarded or edited it while earlier items were sending.
      const item = await getItem(stored.id);
      if (!item || !unsent(item) || blocked.has(item.group)) continue;
      if (item.state === "needs_you" || (item.account && meta.account && item.account !== meta.account)) {
        blocked.add(item.group);
        continue;
      }
      if (!force && item.nextAt > Date.now()) {
        blocked.add(item.group);
        soonest = Math.min(soonest, item.nextAt);
        continue;
      }
      const outcome = await send(item, meta);
      if (outcome === "sent") result.sent++;
      else if (outcome === "network" || outcome === "server" || outcome === "auth") {
        // No signal, server trouble or no session: nothing else will get through now either.
        result.retry = outcome !== "auth";
        if (outcome !== "auth") soonest = Math.min(soonest, (await getItem(item.id) || item).nextAt);
        break;
      } else blocked.add(item.group); // needs you, or waiting: later items of this client wait behind it
      if (outcome === "later") soonest = Math.min(soonest, (await getItem(item.id) || item).nextAt);
    }
    if (result.sent) await setMeta({ signIn: false });
    // What was just sent changed clients: the offline book catches up now rather than at its next turn.
    if (result.sent && self.WedSyncBook) self.WedSyncBook.refresh(true).catch(() => {});
    await pruneSent();
    broadcast();
    if (soonest < Infinity) scheduleRetry(soonest);
    return result;
  }

  async function send(item, meta) {
    item.state = "sending";
    item.sendingSince = Date.now();
    await markItem(item);
    broadcast();
    // The freshest token: a token belongs to one session, so after signing in again the one saved with the item is stale.
    const csrf = meta.csrf || item.csrf;
    for (let rekeys = 0; ; rekeys++) {
      let response;
      try {
        response = await fetch(item.url, {
          method: item.method,
          body: item.body,
          headers: sendHeaders(item, csrf, true),
          credentials: "same-origin",
          redirect: "manual",
          cache: "no-store",
        });
      } catch (e) {
        return backoff(item, "No signal yet — will try again", "network");
      }
      const status = response.status;
      const text = response.type === "opaqueredirect" ? "" : await response.text();
      if (response.type === "opaqueredirect" || (status >= 200 && status < 400)) {
        await delivered(item, text);
        return "sent";
      }
      if (status === 401 || status === 403) {
        item.state = "pending";
        await putItem(item);
        await setMeta({ signIn: true });
        return "auth";
      }
      if (status === 422 && /Idempotency-Key with different content/.test(text) && rekeys < 2) {
        // The server holds this key for a different request (a key reused from a saved copy of the page): so this
        // change was certainly never applied under it, and a fresh key is safe.
        rekey(item);
        await putItem(item);
        continue;
      }
      if (status === 409 && /data-version="\d+"/.test(text)) {
        const theirs = {
          status: (text.match(/data-status="([^"]*)"/) || [])[1] || "",
          summary: unescape((text.match(/data-summary="([^"]*)"/) || [])[1] || ""),
          version: Number(text.match(/data-version="(\d+)"/)[1]),
        };
        return needsYou(item, { type: "conflict", message: serverMessage(text, "This client was changed on another device."), theirs });
      }
      if (status === 409 || status === 429) return backoff(item, "Still being processed — will try again", "later");
      if (status >= 500) return backoff(item, "WedSync had a problem — will try again", "server");
      const type = status === 422 ? "invalid" : "other";
      return needsYou(item, { type, message: serverMessage(text, `The server refused this change (${status}).`) });
    }
  }

  async function backoff(item, words, outcome) {
    item.state = "pending";
    item.attempts = (item.attempts || 0) + 1;
    const base = BACKOFF_MS[Math.min(item.attempts - 1, BACKOFF_MS.length - 1)];
    item.nextAt = Date.now() + base + Math.floor(Math.random() * base * 0.2);
    item.note = words;
    await putItem(item);
    return outcome;
  }

  async function needsYou(item, problem) {
    item.state = "needs_you";
    item.problem = problem;
    await putItem(item);
    return "needs_you";
  }

  async function delivered(item, text) {
    item.state = "sent";
    item.sentAt = Date.now();
    item.problem = null;
    await markItem(item);
    if (!("version" in fields(item))) return;
    // My own later status changes and edits of this client were made on top of the version this one started from: move
    // them onto the version it produced, so they don't look like a change from another device. They were never
    // sent (they wait behind this one), so changing their body under a fresh key is safe.
    const now = text.match(/data-version="(\d+)"/);
    if (!now) return;
    const from = fields(item).version;
    for (const later of await allItems()) {
      if (later.id > item.id && unsent(later) && later.group === item.group && "version" in fields(later) && fields(later).version === from) {
        setField(later, "version", now[1]);
        rekey(later);
        await putItem(later);
      }
    }
  }

  async function pruneSent() {
    const sent = (await allItems()).filter((i) => i.state === "sent");
    for (const old of sent.slice(0, Math.max(0, sent.length - KEEP_SENT))) await deleteItem(old.id);
  }

  /* ---------- the outbox screen: /outbox (page shell) and /outbox/list (from IndexedDB) ---------- */
  async function outboxPage(event) {
    const network = Promise.resolve(event.preloadResponse).then((r) => r || fetch(event.request));
    let t;
    const slow = new Promise((resolve) => (t = setTimeout(resolve, PAGE_TIMEOUT_MS, null)));
    try {
      const response = await Promise.race([network, slow]);
      if (response) {
        if (response.status === 200 && response.type === "basic" && !response.redirected) {
          const copy = response.clone();
          event.waitUntil(caches.open(PAGE_CACHE).then((c) => c.put("/outbox", copy)));
        }
        return response;
      }
    } catch (e) {
      /* offline: the saved copy below */
    } finally {
      clearTimeout(t);
    }
    const saved = await caches.match("/outbox", { cacheName: PAGE_CACHE });
    if (saved) return saved;
    // Never opened online on this phone: the copy the worker precached at install (signed out, but the same styled
    // page with its header, htmx and working buttons: the list and its actions are answered here).
    const shell = self.SHELL && (await caches.match(self.SHELL.outbox, { cacheName: "wedsync-shell-" + self.SHELL.version }));
    if (shell) {
      // Marked, so its page script doesn't hand over its (signed-out) CSRF token and account as the phone's own.
      const headers = new Headers(shell.headers);
      for (const name of ["content-encoding", "content-length", "etag"]) headers.delete(name);
      const body = (await shell.text()).replace("<head>", '<head><meta name="wedsync-shell" content="outbox">');
      return new Response(body, { status: 200, headers });
    }
    return html(
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<title>Outbox · WedSync Hub</title></head><body><main id="main"><h1>Outbox</h1>${await listHtml()}</main></body></html>`,
    );
  }

  // A moment as the studio writes it, the same way the server does (webapp/studio.py, show_when): in its time zone
  // and date style, which signed-in pages hand over (<html data-timezone data-date-style>, the "hello" message and
  // /outbox/list's query). Before any signed-in page was opened: this phone's zone and "14 Jun 2027".
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function when(ms, meta, part) {
    const style = meta.dateStyle || "dd mon yyyy";
    const options = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    let parts;
    try {
      parts = new Intl.DateTimeFormat("en-US", { ...options, timeZone: meta.timeZone || undefined }).formatToParts(new Date(ms));
    } catch (e) {
      parts = new Intl.DateTimeFormat("en-US", options).formatToParts(new Date(ms)); // an unknown zone: this phone's
    }
    const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
    const date =
      style === "dd/mm/yyyy" ? `${p.day}/${p.month}/${p.year}`
      : style === "mm/dd/yyyy" ? `${p.month}/${p.day}/${p.year}`
      : style === "yyyy-mm-dd" ? `${p.year}-${p.month}-${p.day}`
      : `${p.day} ${MONTHS[Number(p.month) - 1]} ${p.year}`;
    const hour = Number(p.hour) % 24;
    const time = style === "mm/dd/yyyy" ? `${hour % 12 || 12}:${p.minute} ${hour >= 12 ? "PM" : "AM"}` : `${String(hour).padStart(2, "0")}:${p.minute}`;
    return part === "time" ? time : `${date} ${time}`;
  }

  async function listHtml() {
    const [items, meta] = await Promise.all([allItems(), getMeta()]);
    const waiting = items.filter(unsent);
    let out = "";
    if (meta.signIn && waiting.length) {
      out += `<p class="outbox-signin" role="alert">Sign in to send ${waiting.length} saved change${waiting.length === 1 ? "" : "s"}. <a href="/login">Sign in</a></p>`;
    }
    if (!items.length) return out + `<p class="muted" data-testid="outbox-empty">Nothing is waiting to be sent.</p>`;
    out += `<ul class="list outbox">`;
    for (const item of items) out += itemHtml(item, meta);
    return out + "</ul>";
  }

  function itemHtml(item, meta) {
    const f = fields(item);
    const id = item.id;
    const where = item.clientId ? ` <a href="/clients/${esc(item.clientId)}">open client</a>` : "";
    const states = { pending: "Pending", sending: "Sending…", sent: "Sent", needs_you: "Needs you" };
    let out = `<li class="outbox-item ${item.state}" data-outbox-item="${id}" data-state="${item.state}">`;
    out += `<p class="what">${esc(describe(item))}${where}</p>`;
    let detail = item.state === "pending" ? item.note || "Will send when you're back online" : "";
    if (unsent(item) && item.account && meta.account && item.account !== meta.account) {
      // Never sent into someone else's account: it waits for the person who made it to sign in on this phone.
      detail = "Saved by another account on this phone — it will send when they sign in";
    }
    if (item.state === "sent") detail = "Sent at " + when(item.sentAt, meta, "time");
    out += `<p class="state"><strong>${states[item.state]}</strong>${detail ? " — " + esc(detail) : ""} <small>saved <span data-testid="outbox-saved-at">${esc(when(item.createdAt, meta))}</span></small></p>`;
    const act = (action, label, extra) =>
      `<button type="button" hx-post="/outbox/items/${id}/${action}" hx-target="#outbox-list"${extra || ""}>${label}</button>`;
    const p = item.problem;
    if (item.state === "needs_you" && p && p.type === "conflict") {
      out +=
        `<div class="conflict"><p><strong>Changed on another device.</strong> ${esc(p.message)}</p>` +
        `<dl><dt>Theirs</dt><dd data-testid="theirs">${esc(p.theirs.summary || p.theirs.status)}</dd>` +
        `<dt>Yours</dt><dd data-testid="yours">${esc(item.kind === "edit" ? couple(f) : f.status)}</dd></dl>` +
        act("keep-mine", "Keep mine", ' class="primary"') + " " + act("discard", "Use theirs") + "</div>";
    } else if (item.state === "needs_you" && p) {
      out += `<p class="error" role="alert">${esc(p.message)}</p>`;
      const editable = Object.keys(f).filter((k) => !HIDDEN_FIELDS.has(k));
      if (editable.length) {
        out += `<form class="outbox-edit" hx-post="/outbox/items/${id}/edit" hx-target="#outbox-list"><details><summary>Edit</summary>`;
        for (const k of editable) {
          const label = esc(k.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase()));
          out += k === "body"
            ? `<label>${label} <textarea name="${esc(k)}" rows="3">${esc(f[k])}</textarea></label>`
            : `<label>${label} <input name="${esc(k)}" value="${esc(f[k])}"></label>`;
        }
        out += `<button type="submit" class="primary">Send again</button></details></form>`;
      }
      out += act("retry", "Try again") + " " + act("discard", "Discard", ' hx-confirm="Discard this change? It will not be sent."');
    } else if (item.state === "pending") {
      out += act("retry", "Send now") + " " + act("discard", "Discard", ' hx-confirm="Discard this change? It will not be sent."');
    }
    return out + "</li>";
  }

  async function itemAction(event, id, action) {
    const item = await getItem(id);
    if (item && item.state !== "sending") {
      if (action === "discard") await deleteItem(id);
      else if (action === "retry" || action === "keep-mine" || action === "edit") {
        if (action === "keep-mine" && item.problem && item.problem.theirs) {
          // Re-send on top of their version, under a new key: the old key's answer (the 409) is stored for good.
          setField(item, "version", String(item.problem.theirs.version));
          rekey(item);
        }
        if (action === "edit") {
          const form = new URLSearchParams(await event.request.text());
          for (const [k, v] of form) if (!HIDDEN_FIELDS.has(k) && k in fields(item)) setField(item, k, v);
          rekey(item);
        }
        if (action === "retry" && item.state === "needs_you" && item.problem && item.problem.type !== "other") {
          // The same request would get the same answer; "Try again" after a 409/422 means resend as it is now.
          rekey(item);
        }
        Object.assign(item, { state: "pending", problem: null, nextAt: 0, note: "" });
        await putItem(item);
      }
    }
    broadcast();
    await replay(true).catch(() => {});
    return html(await listHtml());
  }

  // The outbox screen names the studio's time zone and date style in its list's address (the page's own "hello" may
  // come after htmx asks for the list).
  async function studioFrom(url) {
    const timeZone = url.searchParams.get("timezone");
    const dateStyle = url.searchParams.get("date_style");
    if (timeZone && dateStyle) await setMeta({ timeZone, dateStyle });
  }

  /* ---------- the hooks sw.js calls ---------- */
  function handleFetch(event) {
    const request = event.request;
    const url = new URL(request.url);
    if (url.origin !== self.location.origin) return null;
    if (request.method === "GET") {
      if (url.pathname === "/outbox/list") return studioFrom(url).then(listHtml).then((body) => html(body));
      if (url.pathname === "/outbox" && request.mode === "navigate") return outboxPage(event);
      return null;
    }
    if (request.method !== "POST") return null;
    // Signing out: forget the kept copy of the outbox screen (it shows the signed-in header). Saved changes stay:
    // they are the photographer's work, and wait for their account (see runOnce).
    if (url.pathname === "/logout") {
      event.waitUntil(caches.delete(PAGE_CACHE));
      return null;
    }
    const action = url.pathname.match(/^\/outbox\/items\/(\d+)\/(retry|discard|keep-mine|edit)$/);
    if (action) return itemAction(event, Number(action[1]), action[2]);
    if (request.headers.has("x-outbox-kind")) return capture(event);
    // A plain form post names its kind in its body, which can only be read here asynchronously: so every form
    // navigation is answered here, and one that names no kind is passed to the network as it is.
    const form = /^application\/x-www-form-urlencoded/.test(request.headers.get("content-type") || "");
    return request.mode === "navigate" && form ? capture(event) : null;
  }

  function onSync(event) {
    if (event.tag !== SYNC_TAG) return;
    // Rejecting tells the browser to fire `sync` again later (with its own backoff) while items are still waiting.
    event.waitUntil(
      replay(true).then((r) => {
        if (r && r.retry) throw new Error("outbox: will retry");
      }),
    );
  }

  function onMessage(event) {
    const data = event.data || {};
    const source = event.source;
    const work = (async () => {
      if (data.type === "outbox:hello") {
        // App open: the page hands over the current CSRF token and who is signed in, then asks for a replay.
        const patch = { csrf: data.csrf || "", account: data.account || "", noSync: !!data.noSync };
        if (data.account && data.timeZone && data.dateStyle) Object.assign(patch, { timeZone: data.timeZone, dateStyle: data.dateStyle });
        const meta = await getMeta();
        if (patch.account && meta.account !== patch.account) patch.signIn = false;
        if (!patch.csrf) delete patch.csrf;
        await setMeta(patch);
        if (source) source.postMessage(await stateMessage());
        if (data.account) await replay(true);
      } else if (data.type === "outbox:replay") {
        await replay(true);
      } else if (data.type === "outbox:state" && source) {
        source.postMessage(await stateMessage());
      }
    })();
    if (event.waitUntil) event.waitUntil(work.catch(() => {}));
  }

  self.WedSyncOutbox = { handleFetch, onSync, onMessage, replay, signedOut, pendingLogout, sendLogout, when };
})();
