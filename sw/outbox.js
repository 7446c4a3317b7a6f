// Stub of the offline outbox (sw/outbox.js, owned by the outbox work): the shell worker calls these hooks.
self.WedSyncOutbox = { handleFetch(event) { return null; }, onSync(event) {}, onMessage(event) {} };
