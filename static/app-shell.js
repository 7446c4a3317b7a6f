// WedSync Hub page shell: registers the service worker, offers "Update ready — reload" when a new version is
// waiting (it only takes over when the photographer taps it, and every open page reloads onto the new files),
// and marks pages the worker served from its saved copies. Kept tiny: every page on a phone loads it.
(() => {
  const d = document;
  const note = (cls, text, button, onClick) => {
    const el = d.createElement("p");
    el.className = cls;
    el.setAttribute("role", "status");
    el.textContent = text;
    if (button) {
      const b = d.createElement("button");
      b.type = "button";
      b.textContent = button;
      b.onclick = onClick;
      el.append(" ", b);
    }
    (d.getElementById("main") || d.body).prepend(el);
    return el;
  };
  const reload = () => location.reload();
  d.addEventListener("click", (e) => e.target.closest("[data-reload]") && reload());

  const saved = d.querySelector('meta[name="wedsync-saved-at"]');
  if (saved) {
    // In the studio's time zone, on its clock (12-hour with its US date style), as the server writes times.
    const studio = d.documentElement.dataset;
    const twelve = studio.dateStyle === "mm/dd/yyyy";
    const clock = { hour: twelve ? "numeric" : "2-digit", minute: "2-digit", hourCycle: twelve ? "h12" : "h23" };
    let at;
    try {
      at = new Date(saved.content).toLocaleTimeString("en-US", { ...clock, timeZone: studio.timezone || undefined });
    } catch (e) {
      at = new Date(saved.content).toLocaleTimeString("en-US", clock);
    }
    const why = navigator.onLine ? "the signal is too weak to load the latest" : "you're offline";
    note("saved-note", `Saved at ${at} — ${why}`, "Reload", reload);
  }

  // After an htmx change (a note, a status, an outbox action) focus goes to the changed region's heading (or the
  // region itself), not <body>, and a polite live region says what happened: the outbox's words for a change kept on
  // the phone, else the sending form's data-announce, else the new region's (which can name the new value). Searches and "load more" (GETs) keep focus.
  let changed = null;
  d.addEventListener("htmx:beforeSwap", (e) => {
    const cfg = e.detail.requestConfig;
    const from = (cfg && cfg.triggeringEvent && cfg.triggeringEvent.target) || e.detail.elt; // the form that sent it
    changed = cfg && cfg.verb !== "get" ? { id: e.detail.target.id, target: e.detail.target, elt: from } : null;
  });
  d.addEventListener("htmx:afterSettle", (e) => {
    const c = changed;
    changed = null;
    if (!c) return;
    const region = (c.id && d.getElementById(c.id)) || (c.target.isConnected ? c.target : null);
    if (!region) return;
    const box = region.closest("section, main") || region;
    const heading = box.querySelector("h1, h2, h3") || box;
    if (!heading.hasAttribute("tabindex")) heading.setAttribute("tabindex", "-1");
    heading.focus();
    const xhr = e.detail.xhr;
    const form = c.elt && c.elt.closest && c.elt.closest("form[data-announce]");
    const words = xhr && xhr.getResponseHeader("x-outbox") === "queued"
      ? "Saved on this phone — will send when you're back online"
      : (form || region).getAttribute("data-announce");
    const live = d.getElementById("announce");
    if (!words || !live || region.querySelector('[role="alert"]')) return;
    live.textContent = "";
    setTimeout(() => (live.textContent = words), 50); // a fresh text node, so the same words are said again
  });

  // The Search tab: the client list with its search box focused. On the list already, focus it inside the tap
  // (phones raise the keyboard only for a focus made by a tap); from elsewhere, the list opens on #search.
  const searchBox = () => d.querySelector('main input[name="q"]');
  d.addEventListener("click", (e) => {
    const box = e.target.closest("[data-search-tab]") && searchBox();
    if (!box) return;
    e.preventDefault();
    box.focus();
    box.select();
  });
  if (location.hash === "#search" && searchBox()) searchBox().focus();

  // A form sent back with errors (an edit the server refused) opens on its first field to fix.
  const invalid = d.querySelector('main form [aria-invalid="true"]');
  if (invalid) invalid.focus();

  const sw = navigator.serviceWorker;
  // Signing out forgets every saved copy of this photographer's pages: htmx's Back-button snapshots here, the
  // worker's saved pages by message (the worker also does it when it sees the POST; this covers one it can't see).
  d.addEventListener("submit", (e) => {
    if (!e.target.matches('form[action="/logout"]')) return;
    try {
      sessionStorage.removeItem("htmx-history-cache");
    } catch (err) {}
    if (sw && sw.controller) sw.controller.postMessage({ type: "forget-pages" });
  });
  if (!sw) return;
  // An import that ended while this page is open (the worker got its push): a small banner, unless this is its page.
  sw.addEventListener("message", (e) => {
    const m = e.data || {};
    if (m.type !== "push:notice" || new URL(m.url).pathname === location.pathname) return;
    const old = d.querySelector(".push-banner");
    if (old) old.remove();
    const view = d.createElement("a");
    view.className = "button";
    view.href = m.url;
    view.textContent = "View";
    note("update-banner push-banner", `${m.title}: ${m.body} — `).append(view);
  });
  let controlled = !!sw.controller;
  sw.addEventListener("controllerchange", () => {
    // The first install takes control quietly; after that a change means a new version: load its files.
    if (controlled) reload();
    controlled = true;
  });
  // After the load event: on a first visit the worker's precache must not compete with the page's own files.
  const register = () => sw.register("/sw.js").then((reg) => {
    let shown = false;
    const offer = (worker) => {
      if (!worker || !sw.controller || shown) return;
      shown = true;
      note("update-banner", "Update ready —", "reload", () => worker.postMessage({ type: "skip-waiting" }));
    };
    offer(reg.waiting);
    reg.addEventListener("updatefound", () => {
      const worker = reg.installing;
      worker.addEventListener("statechange", () => worker.state === "installed" && offer(worker));
    });
  });
  if (d.readyState === "complete") register();
  else addEventListener("load", register);
})();
