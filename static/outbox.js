// WedSync Hub outbox, page side (the engine is in the service worker, sw/outbox.js). Kept tiny: it hands the worker
// the CSRF token and who is signed in, tells it which requests it may keep (the forms marked data-outbox-kind), asks
// it to replay on open, `online` and becoming visible (Safari and Firefox have no Background Sync), and shows the
// badge and each saved change's state.
(() => {
  const sw = navigator.serviceWorker;
  const d = document;
  const me = d.currentScript;
  if (!sw || !me) return;
  const post = (m) => sw.ready.then((r) => r.active && r.active.postMessage(m));
  const replay = () => post({ type: "outbox:replay" });
  const token = () => {
    try {
      return JSON.parse(d.body.getAttribute("hx-headers"))["x-csrftoken"];
    } catch (e) {
      return "";
    }
  };
  // A fresh Idempotency-Key in every form: after an offline save the same form must make a new request, and a
  // saved copy of a page repeats the keys it was saved with.
  const freshKeys = (root) =>
    root.querySelectorAll('input[name="idempotency_key"]').forEach((i) => (i.value = crypto.randomUUID()));
  if (d.querySelector('meta[name="wedsync-saved-at"]')) freshKeys(d);
  // The page, not the worker, says which forms may be kept offline: a form with data-outbox-kind sends its kind,
  // its group (changes kept in order, e.g. "client:42"), where its pending copy goes (data-outbox-target and -swap)
  // and, for a status, the id of the badge showing it (data-outbox-badge). htmx sends them as X-Outbox-* headers;
  // a plain form post can't carry headers (nor can one sent before htmx has loaded), so, when a worker will see it,
  // the form's own fields carry _outbox_kind / _outbox_group too, and the worker takes them out again.
  d.addEventListener("htmx:configRequest", (e) => {
    const f = e.detail.elt.closest("form[data-outbox-kind]");
    const o = f ? f.dataset : {};
    for (const k of ["Kind", "Group", "Target", "Swap", "Badge"]) {
      const v = o["outbox" + k];
      if (v) e.detail.headers["X-Outbox-" + k] = v;
    }
  });
  d.addEventListener("formdata", (e) => {
    const f = e.target;
    if (!sw.controller || !f.matches("form[data-outbox-kind]")) return;
    e.formData.append("_outbox_kind", f.dataset.outboxKind);
    if (f.dataset.outboxGroup) e.formData.append("_outbox_group", f.dataset.outboxGroup);
  });
  d.addEventListener("htmx:afterRequest", (e) => {
    const xhr = e.detail.xhr;
    const form = e.detail.elt.closest("form");
    if (xhr && form && xhr.getResponseHeader("x-outbox") === "queued") {
      form.reset();
      freshKeys(form);
    }
  });
  const words = { sending: "Sending…", sent: "Sent", needs_you: "Needs you — open the outbox" };
  sw.addEventListener("message", (e) => {
    const m = e.data;
    if (!m || m.type !== "outbox:state") return;
    d.querySelectorAll("[data-outbox-count]").forEach((b) => {
      b.textContent = m.count;
      b.hidden = !m.count;
      b.classList.toggle("needs-you", !!(m.needsYou || m.signIn));
    });
    d.querySelectorAll(".outbox-pending[data-outbox-item]").forEach((el) => {
      const s = m.states[el.dataset.outboxItem];
      const small = el.querySelector("small");
      if (s && words[s] && small) small.textContent = words[s];
    });
    const list = d.getElementById("outbox-list");
    // Refresh the outbox screen, but not under the photographer's fingers while they edit an item.
    if (list && window.htmx && !list.contains(d.activeElement)) htmx.trigger(list, "outbox-changed");
  });
  addEventListener("online", replay);
  d.addEventListener("visibilitychange", () => d.visibilityState === "visible" && replay());
  // The worker's precached outbox screen (opened offline before any signed-in one) is signed out: its token and
  // "nobody" are not this phone's, so it only asks for the state and a replay.
  addEventListener("load", () =>
    post(d.querySelector('meta[name="wedsync-shell"]') ? { type: "outbox:replay" } : {
      type: "outbox:hello", csrf: token(), account: me.dataset.account || "", noSync: !("SyncManager" in window),
      // How the studio writes times, for the outbox screen (the worker renders it).
      timeZone: d.documentElement.dataset.timezone || "", dateStyle: d.documentElement.dataset.dateStyle || "",
    }),
  );
})();
