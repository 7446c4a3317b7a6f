// Settings → "Notifications on this phone". Permission is asked only after a tap; the browser's push subscription is
// sent to WedSync, which tells this phone when an import ends (jobs/notify.py; the service worker shows it).
// "Turn off" unsubscribes here first (works offline; the server drops the row at the next notice if it never hears).
// Loaded on the Settings page only.
(() => {
  const d = document;
  const box = d.querySelector("[data-push]");
  if (!box) return;
  const [state, on, off] = ["state", "on", "off"].map((k) => box.querySelector(`[data-push-${k}]`));
  const say = (text, showOn, showOff) => {
    state.textContent = text;
    on.hidden = !showOn;
    off.hidden = !showOff;
    on.disabled = off.disabled = false;
  };
  const sw = navigator.serviceWorker;
  if (!sw || !("PushManager" in window) || !("Notification" in window)) {
    // iOS offers Web Push only to an app added to the Home Screen (16.4+), and shows no PushManager elsewhere.
    const ios = /iP(hone|ad|od)/.test(navigator.userAgent) || (/Mac/.test(navigator.platform) && navigator.maxTouchPoints > 1);
    const installed = matchMedia("(display-mode: standalone)").matches || navigator.standalone === true;
    say(ios && !installed
      ? "Add WedSync to your Home Screen to get notifications: tap Share, then “Add to Home Screen”, and open WedSync from there."
      : "This browser can't show notifications from WedSync.", false, false);
    return;
  }
  const within = (promise, why) => Promise.race([promise, new Promise((_, no) => setTimeout(no, 15000, new Error(why)))]);
  const post = (path, body) => fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-csrftoken": JSON.parse(d.body.getAttribute("hx-headers"))["x-csrftoken"] },
    body: JSON.stringify(body),
  }).then((r) => {
    if (!r.ok) throw new Error(r.status === 422 ? "its push service isn't one WedSync can send to" : `WedSync answered ${r.status}`);
  });
  const show = (sub) => Notification.permission === "denied"
    ? say("Notifications are blocked for WedSync in this browser's settings. Allow them there, then come back.", false, !!sub)
    : say(sub ? "On: this phone is told when an import ends." : "Off on this phone.", !sub, !!sub);
  const current = () => sw.getRegistration().then((reg) => (reg ? reg.pushManager.getSubscription() : null));

  on.addEventListener("click", async () => {
    on.disabled = true;
    state.textContent = "Setting up notifications…";
    try {
      const answer = await Notification.requestPermission();
      if (answer === "default") return say("Nothing changed: notifications weren't allowed. Tap to be asked again.", true, false);
      if (answer !== "granted") return show(null);
      const reg = await within(sw.ready, "the app's offline worker isn't running");
      const { key } = await (await fetch("/push/key")).json();
      const options = { userVisibleOnly: true, applicationServerKey: Uint8Array.from(atob(key.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)) };
      const subscribe = () => within(reg.pushManager.subscribe(options), "its push service didn't answer");
      const sub = await subscribe().catch(async (e) => {
        if (e.name !== "InvalidStateError") throw e;
        await (await reg.pushManager.getSubscription()).unsubscribe(); // made with an older server key
        return subscribe();
      });
      await post("/push/subscriptions", sub.toJSON());
      show(sub);
    } catch (e) {
      say(`This browser couldn't set up notifications: ${e.message || e.name}.`, true, false);
    }
  });
  off.addEventListener("click", async () => {
    off.disabled = true;
    try {
      const sub = await current();
      if (sub) {
        await sub.unsubscribe();
        await post("/push/subscriptions/delete", { endpoint: sub.endpoint }).catch(() => {});
      }
      show(null);
    } catch (e) {
      say(`Couldn't turn notifications off: ${e.message || e.name}.`, false, true);
    }
  });
  current().then((sub) => {
    show(sub);
    if (sub && Notification.permission === "granted") post("/push/subscriptions", sub.toJSON()).catch(() => {}); // the server may have dropped it
  }, () => show(null));
})();
