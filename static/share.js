// A file shared to WedSync from another app (the manifest's share_target): the service worker kept it in Cache
// Storage (sw/sw.js); here it goes into the upload form, which is sent as if the photographer had picked the file
// and tapped "Check the file" (same CSRF token, same preview). The kept copy is deleted first: never sent twice.
(() => {
  const form = document.querySelector("form[data-share-form]");
  const status = document.querySelector("[data-share-status]");
  if (!form || !self.caches) return;
  caches.open("wedsync-share").then(async (cache) => {
    const kept = await cache.match("/imports/shared/file");
    if (!kept) return;
    const name = decodeURIComponent(kept.headers.get("x-filename") || "shared-file");
    const file = new File([await kept.blob()], name, { type: kept.headers.get("content-type") || "" });
    await cache.delete("/imports/shared/file");
    const files = new DataTransfer();
    files.items.add(file);
    form.elements.file.files = files.files;
    if (status) status.textContent = `Checking ${name}…`;
    form.submit();
  });
})();
