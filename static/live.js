/* WedSync Hub live regions: keep [data-live] job progress current on a phone whose signal comes and goes.
 *
 * Server-Sent Events on a good connection; polling when EventSource fails repeatedly, on Save-Data, or on
 * 2g/slow-2g. Polls are conditional (ETag -> 304, no body). Everything pauses while the tab is hidden or the
 * phone is offline and resumes at once on `visibilitychange` / `online`. The last event id is kept and sent
 * as `last_event_id` when a fresh EventSource is opened (the browser only sends Last-Event-ID itself on its
 * own automatic reconnects), so a reconnecting phone gets exactly the events it missed.
 *
 * Poll interval (ms) by navigator.connection.effectiveType; browsers without navigator.connection (Safari,
 * Firefox) use DEFAULT_MS:
 *   4g: 2000 · 3g: 5000 · 2g / slow-2g: 15000 · saveData: 30000 · rtt > 1500 ms: at least 15000 · default: 5000
 */
(function () {
  "use strict";
  var POLL_MS = { "4g": 2000, "3g": 5000, "2g": 15000, "slow-2g": 15000 };
  var SAVE_DATA_MS = 30000, DEFAULT_MS = 5000, SLOW_RTT_MS = 1500, SSE_FAILURES_BEFORE_POLLING = 3;

  function connection() { return navigator.connection || null; }

  function pollInterval() {
    var c = connection();
    if (!c) return DEFAULT_MS;
    if (c.saveData) return SAVE_DATA_MS;
    var ms = POLL_MS[c.effectiveType] || DEFAULT_MS;
    if (c.rtt && c.rtt > SLOW_RTT_MS) ms = Math.max(ms, 15000);
    return ms;
  }

  function sseSuits(region) {
    if (!("EventSource" in window) || region.sseFailures >= SSE_FAILURES_BEFORE_POLLING) return false;
    var c = connection();
    return !(c && (c.saveData || c.effectiveType === "2g" || c.effectiveType === "slow-2g"));
  }

  function Region(el) {
    this.el = el;
    this.sseUrl = el.getAttribute("data-live");
    this.pollUrl = el.getAttribute("data-poll");
    this.lastId = null;
    this.etag = null;
    this.source = null;
    this.timer = null;
    this.sseFailures = 0;
    this.generation = 0;  // bumped by stop(): a poll answer from before it must not start a second loop
    this.finished = el.hasAttribute("data-finished");
  }

  Region.prototype.setMode = function (mode) {
    this.el.setAttribute("data-live-mode", mode);
  };

  Region.prototype.choose = function () {
    this.stop();
    if (this.finished) return this.setMode("done");
    if (document.hidden || navigator.onLine === false) return this.setMode("paused");
    if (sseSuits(this)) this.openStream(); else this.poll();
  };

  Region.prototype.stop = function () {
    this.generation += 1;
    if (this.source) { this.source.close(); this.source = null; }
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
  };

  Region.prototype.openStream = function () {
    var self = this, url = this.sseUrl;
    if (this.lastId) url += (url.indexOf("?") < 0 ? "?" : "&") + "last_event_id=" + encodeURIComponent(this.lastId);
    var source = new EventSource(url);
    this.source = source;
    this.setMode("sse");
    source.addEventListener("progress", function (e) {
      self.sseFailures = 0;
      if (e.lastEventId) self.lastId = e.lastEventId;
      self.swap(e.data);
    });
    source.addEventListener("end", function () { self.finish(); });
    source.onerror = function () {
      self.sseFailures += 1;
      // The browser retries by itself (sending Last-Event-ID); after repeated failures, or if it gave up, poll.
      if (source.readyState === EventSource.CLOSED || !sseSuits(self)) self.choose();
    };
  };

  Region.prototype.poll = function () {
    var self = this, generation = this.generation;
    if (!this.pollUrl) return this.setMode("paused");  // a list fed by SSE only; a reload shows the truth
    this.setMode("poll");
    this.el.setAttribute("data-poll-interval", String(pollInterval()));
    var headers = this.etag ? { "If-None-Match": this.etag } : {};
    fetch(this.pollUrl, { headers: headers, credentials: "same-origin", cache: "no-cache" })
      .then(function (response) {
        if (generation !== self.generation) return;  // stopped or restarted while this was in flight
        if (response.status === 200) {
          self.etag = response.headers.get("ETag");
          return response.text().then(function (html) { self.swap(html); });
        }
        if (response.status === 401 || response.status === 403 || response.status === 404) self.finish();
      })
      .catch(function () { /* offline or a dropped request: the next tick tries again */ })
      .then(function () {
        if (generation !== self.generation || self.finished || document.hidden || navigator.onLine === false) return;
        self.timer = setTimeout(function () { self.timer = null; self.poll(); }, pollInterval());
      });
  };

  Region.prototype.swap = function (html) {
    var box = document.createElement("div");
    box.innerHTML = html.trim();
    var fresh = box.firstElementChild;
    if (!fresh || !fresh.id) return;
    var current = document.getElementById(fresh.id);
    if (current) current.replaceWith(fresh); else this.el.appendChild(fresh);
    if (window.htmx) window.htmx.process(fresh);
    if (this.el.hasAttribute("data-job-region") && fresh.hasAttribute("data-finished")) {
      this.finish();
    }
  };

  // Every signal (visibility, online/offline, a connection change, which Chromium fires whenever its rtt or
  // downlink estimate moves) lands here, often several for one real change: only a change of transport
  // restarts anything, so a healthy stream stays open and a polling loop keeps its schedule.
  Region.prototype.reconsider = function () {
    var mode = this.el.getAttribute("data-live-mode");
    var live = !this.finished && !document.hidden && navigator.onLine !== false;
    if (live && mode === "sse" && this.source && sseSuits(this)) return;
    if (live && mode === "poll" && !sseSuits(this)) {
      this.el.setAttribute("data-poll-interval", String(pollInterval()));  // the next tick uses it
      return;
    }
    this.choose();
  };

  Region.prototype.finish = function () {
    if (this.finished) return;
    this.finished = true;
    this.stop();
    this.setMode("done");
    document.querySelectorAll("[data-hide-when-finished]").forEach(function (el) { el.hidden = true; });
    if (this.el.hasAttribute("data-job-region")) refreshResults();
  };

  // What only exists once a job ends (rows to look at, their download, the timeline, undo / try again) comes from
  // the job page itself: fetched once, and its #job-results section swapped in, so the page never needs a reload.
  function refreshResults() {
    var current = document.getElementById("job-results");
    if (!current) return;
    fetch(location.pathname + location.search, { credentials: "same-origin", cache: "no-cache" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var fresh = html && new DOMParser().parseFromString(html, "text/html").getElementById("job-results");
        if (!fresh) return;
        fresh = document.importNode(fresh, true);
        current.replaceWith(fresh);
        if (window.htmx) window.htmx.process(fresh);
        fresh.setAttribute("data-refreshed", "");
      })
      .catch(function () { /* offline: a reload shows them */ });
  }

  var regions = [];
  function everyRegion(fn) { regions.forEach(fn); }

  function start() {
    document.querySelectorAll("[data-live]").forEach(function (el) {
      var region = new Region(el);
      regions.push(region);
      region.choose();
    });
    document.addEventListener("visibilitychange", function () { everyRegion(function (r) { r.reconsider(); }); });
    window.addEventListener("online", function () { everyRegion(function (r) { r.sseFailures = 0; r.reconsider(); }); });
    window.addEventListener("offline", function () { everyRegion(function (r) { r.reconsider(); }); });
    var c = connection();
    if (c && c.addEventListener) c.addEventListener("change", function () { everyRegion(function (r) { r.reconsider(); }); });
  }

  window.WedSyncLive = { pollInterval: pollInterval, regions: regions };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
