/* WedSync Hub offline client book, run inside the service worker (served at /sw-book.js, imported by /sw.js).
 *
 * The studio's whole client list (both partners' names, wedding date, venue, phones, emails, status, id) is kept in
 * IndexedDB, so a couple never opened on this phone can still be searched for and opened at a venue with no signal.
 *   - Refreshed with what changed since the last refresh (GET /book/changes?since=<cursor>, webapp/routes/book.py):
 *     when the worker activates, when a page opens (at most every REFRESH_MS), after the outbox sent something, and on
 *     a page's "book:refresh" message. Never the whole book again unless the server says so (full: true).
 *   - Compact: records are arrays (field order: webapp/queries/book.py BOOK_COLUMNS), kept in BUCKETS buckets by id,
 *     each bucket one gzip'd JSON value (CompressionStream). 20,000 clients as objects with keys took ~4× the space.
 *   - Searched with the server's rules: each record carries its search words as the server's search holds them
 *     (accents folded, split at punctuation, phones as E.164 digits), and a typed query is folded and split the same
 *     way here; every typed word must be the start of one of the client's words, or the whole word when punctuation
 *     follows it (migrations/0009, 0011, 0018). The decoded book stays in memory while the worker lives, so a search
 *     is one scan of pre-folded strings.
 *   - Private: signing out, reaching the sign-in page, or a page naming another account wipes it (sw.js forgetPages).
 * Hand-written: a sync library (RxDB, PouchDB) would be larger than this file and needs its own server protocol.
 */
(() => {
  "use strict";

  const DB_NAME = "wedsync-book";
  const BUCKETS = 64;
  const REFRESH_MS = 3 * 60 * 1000;
  const PAGE_ROWS = 50; // as the server's list (webapp/queries/clients.py PAGE_SIZE)
  const UPCOMING_DAYS = 60; // as the list's "Next 60 days"
  // A record's fields (webapp/queries/book.py BOOK_COLUMNS).
  const ID = 0, P1F = 1, P1L = 2, P2F = 3, P2L = 4, DATE = 5, VENUE = 6, PH1 = 7, PH2 = 8, EM1 = 9, EM2 = 10, STATUS = 11, WORDS = 12;

  /* ---------- IndexedDB ---------- */
  const openDb = self.WedSyncIdb.opener(DB_NAME, (db) => {
    db.createObjectStore("buckets");
    db.createObjectStore("meta");
  });
  async function tx(stores, mode, fn) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const t = db.transaction(stores, mode);
      const out = fn(t);
      t.oncomplete = () => resolve(out && out.result);
      t.onerror = t.onabort = () => reject(t.error);
    });
  }
  async function readBuckets(keys) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const t = db.transaction("buckets", "readonly");
      const store = t.objectStore("buckets");
      const got = keys.map((b) => store.get(b));
      t.oncomplete = () => resolve(got.map((q) => q.result));
      t.onerror = t.onabort = () => reject(t.error);
    });
  }
  const readMeta = () => tx("meta", "readonly", (t) => t.objectStore("meta").get("state")).then((m) => m || null);

  /* ---------- buckets: gzip'd JSON arrays of records ---------- */
  async function pack(records) {
    const stream = new Blob([JSON.stringify(records)]).stream().pipeThrough(new CompressionStream("gzip"));
    return new Response(stream).arrayBuffer();
  }
  async function unpack(buffer) {
    const stream = new Blob([buffer]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  /* ---------- the book in memory (decoded once per worker life, dropped on every write) ---------- */
  let generation = 0; // bumped by every write and wipe: a load or refresh that started before it is stale
  let memory = null; // {generation, meta, rows (name order), byId}
  const sortKey = (r) => {
    const one = (r[P1F] + " " + r[P1L]).trim();
    const two = (r[P2F] + " " + r[P2L]).trim();
    return (two ? one + " & " + two : one).toLowerCase();
  };
  async function load() {
    const gen = generation;
    if (memory && memory.generation === gen) return memory;
    const [meta, buffers] = await Promise.all([readMeta(), tx("buckets", "readonly", (t) => t.objectStore("buckets").getAll())]);
    if (!meta) return null;
    const unsorted = [];
    for (const bucket of await Promise.all((buffers || []).map(unpack))) for (const r of bucket) unsorted.push(r);
    // Name order, as the server's list (sort_name, id).
    const keys = unsorted.map(sortKey);
    const order = unsorted.map((_, i) => i);
    order.sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : unsorted[a][ID] - unsorted[b][ID]));
    const rows = order.map((i) => unsorted[i]);
    const byId = new Map(rows.map((r) => [r[ID], r]));
    // Every client's words in one string, " smith sam 447700900123 " after another: a typed word's start is found
    // with one native indexOf over the lot (" " + typed), and starts[] says whose words a position is in.
    const hays = rows.map((r) => " " + r[WORDS] + " ");
    const starts = new Int32Array(rows.length + 1);
    for (let i = 0, at = 0; i <= rows.length; i++) {
      starts[i] = at;
      if (i < rows.length) at += hays[i].length;
    }
    const loaded = { generation: gen, meta, rows, byId, hays, starts, all: hays.join("") };
    if (gen === generation) memory = loaded;
    return loaded;
  }

  /* ---------- refresh ---------- */
  let chain = Promise.resolve();
  let lastTry = 0;
  function refresh(force) {
    const run = chain.then(() => (force || Date.now() - lastTry >= REFRESH_MS ? refreshOnce() : null));
    chain = run.catch(() => {});
    return run;
  }
  async function refreshOnce() {
    lastTry = Date.now();
    const gen = generation;
    const meta = await readMeta();
    let cursor = meta ? meta.cursor : "";
    let full = null; // decided by the first page
    const changes = new Map(); // id → its record now, or null once deleted (a later page wins)
    const report = { asked: [], rows: [], deleted: [] }; // what was asked and answered, for the page that asked
    let last = null;
    for (let pages = 0; pages < 1000; pages++) {
      let response;
      try {
        response = await fetch("/book/changes?since=" + encodeURIComponent(cursor || ""), {
          credentials: "same-origin", redirect: "manual", cache: "no-store", headers: { accept: "application/json" },
        });
      } catch (e) {
        lastTry = 0; // no signal: the next page opened (likely back online) tries again
        throw e;
      }
      // Signed out (a redirect to sign in) or the server in trouble: keep what we have, try again later.
      if (!response.ok || !(response.headers.get("content-type") || "").startsWith("application/json")) return null;
      const page = await response.json();
      report.asked.push(cursor || "");
      if (generation !== gen) return null; // wiped (signed out) meanwhile
      if (full === null) full = page.full || !meta || meta.account !== page.account;
      for (const id of page.deleted) {
        report.deleted.push(id);
        changes.set(id, null);
      }
      for (const r of page.rows) {
        report.rows.push(r[ID]);
        changes.set(r[ID], r);
      }
      cursor = page.cursor;
      last = page;
      if (!page.more) break;
    }
    if (!last) return null;
    // Only the buckets holding a change are read and rewritten (all of them for a whole book), each compressed
    // before the transaction: IndexedDB commits a transaction left waiting on anything else.
    const touched = full ? [...Array(BUCKETS).keys()] : [...new Set([...changes.keys()].map((id) => id % BUCKETS))];
    const stored = full ? [] : await readBuckets(touched);
    let count = full ? 0 : meta.count;
    const packed = await Promise.all(touched.map(async (b, i) => {
      const old = stored[i] ? await unpack(stored[i]) : [];
      const byId = new Map(old.map((r) => [r[ID], r]));
      for (const [id, r] of changes) if (id % BUCKETS === b) (r ? byId.set(id, r) : byId.delete(id));
      count += byId.size - old.length;
      return [b, byId.size ? await pack([...byId.values()]) : null];
    }));
    if (generation !== gen) return null;
    const state = { cursor, at: last.at, studio: last.studio, account: last.account, count };
    if (touched.length) memory = null;
    else if (memory) memory.meta = state; // nothing changed but the time it was checked ("saved at")
    await tx(["buckets", "meta"], "readwrite", (t) => {
      const store = t.objectStore("buckets");
      if (full) store.clear();
      for (const [b, value] of packed) value ? store.put(value, b) : store.delete(b);
      t.objectStore("meta").put(state, "state");
    });
    // After the write: a load that read the old buckets meanwhile is not kept as the current copy.
    if (touched.length) {
      generation++;
      memory = null;
    }
    return Object.assign(report, { full, count });
  }

  async function wipe() {
    generation++;
    memory = null;
    await tx(["buckets", "meta"], "readwrite", (t) => {
      t.objectStore("buckets").clear();
      t.objectStore("meta").clear();
    });
  }

  // A page names who is signed in ("outbox:hello"): another account's book is wiped before anything shows it.
  async function hello(account) {
    const meta = await readMeta();
    if (meta && account && String(meta.account) !== String(account)) await wipe();
    if (account) await refresh(!meta);
  }

  /* ---------- search, as the server's (webapp/search.py search_terms; search_query in migrations/0018) ---------- */
  const EXTRA = { ß: "ss", æ: "ae", œ: "oe", ø: "o", ł: "l", đ: "d", ð: "d", þ: "th", ı: "i" }; // unaccent's, not NFD's
  const fold = (s) => s.toLowerCase().normalize("NFD").replace(/\p{M}+/gu, "").replace(/[ßæœøłđðþı]/g, (c) => EXTRA[c]);
  const WORD = /([^\s\p{P}\p{S}]+)([\p{P}\p{S}]?)/gu;

  // A typed phone number becomes the E.164 digits phones are searched by ("07700 900123" → "447700900123").
  function terms(typed, studio) {
    typed = typed.replace(/[\x00-\x1f\x7f]/g, " ");
    const stripped = typed.trim().replace(/[ \-().]/g, "");
    const digits = stripped.replace(/^\+/, "");
    if (digits.length < 5 || !/^\d+$/.test(digits)) return typed;
    if (stripped.startsWith("+")) return digits;
    if (digits.startsWith("00")) return digits.slice(2);
    const cc = (studio && studio.country_code) || "";
    const trunk = (studio && studio.trunk) || "";
    if (!cc) return digits;
    return cc + (trunk && digits.startsWith(trunk) ? digits.slice(trunk.length) : digits);
  }

  // The indexes (in name order) of the clients whose words hold every needle: " smi" (a word's start) or " ann "
  // (a whole word, typed with punctuation after it). The longest needle is looked for first, in the whole book's
  // words at once; the others only in the words of the clients it was found in.
  function matching(book, needles) {
    const { all, hays, starts } = book;
    const first = needles.reduce((a, b) => (b.length > a.length ? b : a));
    const others = needles.filter((n) => n !== first);
    const found = [];
    for (let at = all.indexOf(first); at !== -1; ) {
      let lo = 0;
      let hi = hays.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid] <= at) lo = mid;
        else hi = mid - 1;
      }
      if (others.every((n) => hays[lo].includes(n))) found.push(lo);
      at = all.indexOf(first, starts[lo + 1]); // on to the next client
    }
    return found;
  }

  function needlesOf(typed, studio) {
    const needles = [];
    for (const m of fold(terms(typed, studio)).matchAll(WORD)) needles.push(" " + m[1] + (m[2] ? " " : ""));
    return needles;
  }

  // The studio's calendar day (its time zone), as YYYY-MM-DD.
  function today(studio, plusDays) {
    const d = new Date(Date.now() + (plusDays || 0) * 86400000);
    try {
      return new Intl.DateTimeFormat("en-CA", { timeZone: studio.timezone, year: "numeric", month: "2-digit", day: "2-digit" }).format(d);
    } catch (e) {
      return d.toISOString().slice(0, 10);
    }
  }

  async function search(typed, upcoming) {
    const book = await load();
    if (!book) return null;
    const studio = book.meta.studio || {};
    let found;
    if (!typed.trim()) {
      found = book.rows;
    } else {
      const needles = needlesOf(typed.trim(), studio);
      // Only punctuation: the server's query matches nobody.
      found = needles.length ? matching(book, needles).map((i) => book.rows[i]) : [];
    }
    if (upcoming) {
      const from = today(studio, 0);
      const until = today(studio, UPCOMING_DAYS);
      found = found.filter((r) => r[DATE] && r[DATE] >= from && r[DATE] <= until);
      found.sort((a, b) => (a[DATE] < b[DATE] ? -1 : a[DATE] > b[DATE] ? 1 : a[ID] - b[ID]));
    }
    return { book, found };
  }

  /* ---------- what the pages show ---------- */
  const esc = (v) =>
    String(v == null ? "" : v).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  // A wedding date as the server's `local` filter writes it (webapp/studio.py show_when: the studio's date style).
  function showDate(iso, style, long) {
    const [y, m, d] = iso.split("-");
    const date =
      style === "dd/mm/yyyy" ? `${d}/${m}/${y}`
      : style === "mm/dd/yyyy" ? `${m}/${d}/${y}`
      : style === "yyyy-mm-dd" ? iso
      : `${d} ${MONTHS[Number(m) - 1]} ${y}`;
    return long ? DAYS[new Date(Date.UTC(+y, +m - 1, +d)).getUTCDay()] + " " + date : date;
  }
  // As the server writes them (webapp/models.py couple_name and couple_initials), so a row reads the same offline.
  const coupleName = (r) => {
    const one = [r[P1F], r[P1L]].filter(Boolean).join(" ");
    if (!r[P2F] && !r[P2L]) return one || "(no name)";
    if (r[P1L] && r[P1L] === r[P2L] && r[P1F] && r[P2F]) return `${r[P1F]} & ${r[P2F]} ${r[P1L]}`;
    const two = [r[P2F], r[P2L]].filter(Boolean).join(" ");
    return one ? `${one} & ${two}` : two;
  };
  const initials = (r) => {
    const first = (r[P1F] || r[P1L] || "").slice(0, 1);
    const second = (r[P2F] || r[P2L] || "").slice(0, 1) || (r[P1F] ? (r[P1L] || "").slice(0, 1) : "");
    return (first + second).toUpperCase() || "?";
  };
  function savedAt(book) {
    const s = book.meta.studio || {};
    return self.WedSyncOutbox.when(Date.parse(book.meta.at), { timeZone: s.timezone, dateStyle: s.date_style }, "time");
  }

  function rowsHtml(book, found, typed, upcoming) {
    const style = (book.meta.studio || {}).date_style;
    // No role="status" on the note: the list is already the polite live region, and a role on an <li> breaks the list.
    let out = `<li class="saved-note book-note" data-testid="book-note">Searching the copy saved at ${esc(savedAt(book))} — you're offline</li>`;
    for (const r of found.slice(0, PAGE_ROWS)) {
      out +=
        `<li class="client"><a href="/clients/${r[ID]}"><span class="avatar ${esc(r[STATUS])}" aria-hidden="true">${esc(initials(r))}</span><span class="name">${esc(coupleName(r))}</span>` +
        `<span class="meta">${r[DATE] ? esc(showDate(r[DATE], style)) : "No date yet"}${r[VENUE] ? " · " + esc(r[VENUE]) : ""}</span>` +
        `<span class="badge ${esc(r[STATUS])}">${esc(r[STATUS])}</span></a></li>`;
    }
    if (found.length > PAGE_ROWS) {
      out += `<li class="empty muted" data-testid="book-more">${found.length - PAGE_ROWS} more match — type more of a name to narrow the list.</li>`;
    }
    if (!found.length) {
      out += typed.trim()
        ? `<li class="empty muted"><span data-testid="no-match">No clients match “${esc(typed.trim())}”${upcoming ? " in the next 60 days" : ""}.</span> ` +
          `Try fewer letters or one word: a first or last name, the start of an email, the venue, or a phone number.</li>`
        : `<li class="empty muted">No clients saved on this phone.</li>`;
    }
    return out;
  }
  const listHtml = (book, found, typed, upcoming) =>
    `<ul id="client-list" class="list clients" aria-live="polite" data-book="saved">${rowsHtml(book, found, typed, upcoming)}</ul>`;

  // The app's layout around a page made here: the server's own empty layout (/shell, precached signed out: the same
  // header, tab bar, icons, stylesheet and scripts as every page), with the studio's zone and date style for the
  // scripts' times, and marked as a worker's page (static/outbox.js then hands over no token or account).
  async function layout(book, title, body) {
    const s = book.meta.studio || {};
    const cached = await caches.match(self.SHELL.layout, { cacheName: SHELL_CACHE });
    const shell = cached
      ? await cached.text()
      : `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>WedSync Hub</title></head><body><main id="main"><!--wedsync:main--></main></body></html>`;
    // Functions as replacements: a "$" typed into a client's name is text, not a replacement pattern.
    return shell
      .replace(/<html lang="en"[^>]*>/, () => `<html lang="en" data-timezone="${esc(s.timezone)}" data-date-style="${esc(s.date_style)}">`)
      .replace(/<title>[^<]*<\/title>/, () => `<title>${esc(title)} · WedSync Hub</title><meta name="wedsync-shell" content="book">`)
      .replace("<!--wedsync:main-->", () => body);
  }
  const htmlResponse = (body) =>
    new Response(body, { status: 200, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "x-wedsync-book": "saved" } });

  // GET /clients/?q=… answered from the book: the whole page, or (htmx) the list fragment.
  // ``received``: when the worker got the request; the time to answer is sent back (x-wedsync-book-ms, the bench).
  async function listResponse(url, fragment, received) {
    const typed = (url.searchParams.get("q") || "").slice(0, 100);
    const upcoming = url.searchParams.get("upcoming") === "true";
    const result = await search(typed, upcoming);
    if (!result) return null;
    const { book, found } = result;
    if (fragment) {
      const answer = htmlResponse(listHtml(book, found, typed, upcoming));
      if (received) answer.headers.set("x-wedsync-book-ms", (performance.now() - received).toFixed(1));
      return answer;
    }
    const body =
      `<div class="row"><h1>Clients</h1><a class="button" href="/clients/new">New lead</a></div>` +
      `<form class="search" method="get" action="/clients/" role="search" hx-get="/clients/" hx-target="#client-list" hx-swap="outerHTML" hx-push-url="true" ` +
      `hx-trigger="input changed delay:250ms from:input[name=q], change from:input[name=upcoming], submit">` +
      `<input type="search" name="q" value="${esc(typed)}" maxlength="100" placeholder="Name, email, phone or venue" aria-label="Search clients" autocomplete="off">` +
      `<label class="check"><input type="checkbox" name="upcoming" value="true"${upcoming ? " checked" : ""}> Next 60 days</label></form>` +
      listHtml(book, found, typed, upcoming);
    return htmlResponse(await layout(book, "Clients", body));
  }

  // GET /clients/<id> for a couple this phone never opened: the saved fields, saying what they are.
  async function clientResponse(id) {
    const book = await load();
    const r = book && book.byId.get(id);
    if (!r) return null;
    const style = (book.meta.studio || {}).date_style;
    const fact = (label, value) => `<dt>${esc(label)}</dt><dd>${value}</dd>`;
    let facts = fact("Wedding", r[DATE] ? esc(showDate(r[DATE], style, true)) : "No date yet");
    if (r[VENUE]) facts += fact("Venue", esc(r[VENUE]));
    // As the client's page labels them: by first name when the second partner has one too.
    for (const [first, email, phone] of [[r[P1F], r[EM1], r[PH1]], [r[P2F], r[EM2], r[PH2]]]) {
      if (email) facts += fact("Email" + (r[EM2] ? ` (${first})` : ""), `<a href="mailto:${esc(email)}">${esc(email)}</a>`);
      if (phone) facts += fact("Phone" + (r[PH2] ? ` (${first})` : ""), `<a href="tel:${esc(phone)}" data-testid="phone">${esc(phone)}</a> <span class="phone-actions"><a href="sms:${esc(phone)}">Text</a></span>`);
    }
    facts += fact("Status", `<span class="badge ${esc(r[STATUS])}" data-testid="status">${esc(r[STATUS])}</span>`);
    const body =
      `<p><a href="/clients/">← Clients</a></p>` +
      `<p class="saved-note" role="status" data-testid="book-note">The copy of your client list saved at ${esc(savedAt(book))} — you're offline. ` +
      `Notes, status changes and edits need this couple's page opened once with a signal.</p>` +
      `<section class="card"><div class="client-head"><span class="avatar" aria-hidden="true">${esc(initials(r))}</span>` +
      `<h1 data-testid="couple-name">${esc(coupleName(r))}</h1></div><dl class="facts">${facts}</dl></section>`;
    return htmlResponse(await layout(book, coupleName(r), body));
  }

  // When the book was last saved (ms), for sw.js to pick the fresher of it and a saved page; 0 with no book.
  async function savedAtMs() {
    const meta = await readMeta();
    return meta ? Date.parse(meta.at) || 0 : 0;
  }

  function onMessage(event) {
    const data = event.data || {};
    const work = (async () => {
      if (data.type === "book:refresh") {
        const result = await refresh(true);
        if (event.source) event.source.postMessage({ type: "book:refreshed", result });
      }
    })();
    if (event.waitUntil) event.waitUntil(work.catch(() => {}));
  }

  self.WedSyncBook = { refresh, wipe, hello, listResponse, clientResponse, savedAtMs, onMessage, search };
})();
