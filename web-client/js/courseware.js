// Courseware in the browser: the host uploads slides once as images; every page of the lesson
// fetches all pages ahead (each page is immutable, named by its digest) and keeps them in
// memory, so a page turn — one small `slide` message (docs/PROTOCOL.md, Courseware) — shows the
// page at once, even on a link too weak for video. No UI here beyond the <img> it fills.

/** Where a page's image is served. */
export const pageUrl = (digest) => `/api/courseware/pages/${digest}`;

/** Tries before a page is given up for now (a weak link drops requests), and the first wait. */
const TRIES = 5;
const RETRY_MS = 1000;

export class Courseware extends EventTarget {
  constructor(token) {
    super();
    this.token = token;
    this.decks = new Map(); // deck id -> deck
    this.images = new Map(); // page digest -> object URL of its fetched image
    this.inflight = new Map(); // page digest -> Promise of its object URL
    this.fetching = null; // the fetch-ahead loop, while it runs
  }

  /** Uploads image files as a deck (the host's join token); resolves with the deck. */
  async upload(title, files) {
    const form = new FormData();
    form.append('title', title);
    for (const f of files) form.append('page', f, f.name);
    const res = await fetch('/api/courseware', {
      method: 'POST',
      headers: { authorization: `Bearer ${this.token}` },
      body: form,
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.message || `HTTP ${res.status}`);
    this.setDecks([...this.decks.values(), body]);
    return body;
  }

  /** The session's decks (the `courseware` message): every page is fetched ahead, in order. */
  setDecks(decks) {
    for (const d of decks) this.decks.set(d.id, d);
    this.wanted = (this.wanted || 0) + 1;
    if (this.fetching) return;
    const round = this.wanted;
    this.fetching = this.fetchAhead().finally(() => {
      this.fetching = null;
      // Decks that arrived while the loop ran.
      if (this.wanted !== round) this.setDecks([]);
    });
  }

  /** Whether every page of every deck is in memory. */
  get ready() {
    for (const d of this.decks.values()) for (const p of d.pages) if (!this.images.has(p.digest)) return false;
    return true;
  }

  /** The page `page` of deck `deck`, or null. */
  page(deck, page) {
    const d = this.decks.get(deck);
    return (d && d.pages[page]) || null;
  }

  async fetchAhead() {
    for (const d of [...this.decks.values()]) {
      for (const p of d.pages) {
        try {
          await this.fetchPage(p.digest);
        } catch (e) {
          console.warn('courseware page not fetched yet', p.digest, e);
        }
      }
    }
    if (this.ready) this.dispatchEvent(new Event('ready'));
  }

  /** The object URL of a page's image, fetched once (and retried on a weak link). */
  fetchPage(digest) {
    if (this.images.has(digest)) return Promise.resolve(this.images.get(digest));
    if (this.inflight.has(digest)) return this.inflight.get(digest);
    const job = (async () => {
      let wait = RETRY_MS;
      for (let i = 1; ; i++) {
        try {
          const res = await fetch(pageUrl(digest));
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          const url = URL.createObjectURL(await res.blob());
          this.images.set(digest, url);
          return url;
        } catch (e) {
          if (i >= TRIES) throw e;
          await new Promise((r) => setTimeout(r, wait));
          wait *= 2;
        }
      }
    })().finally(() => this.inflight.delete(digest));
    this.inflight.set(digest, job);
    return job;
  }

  /** Shows page `page` of deck `deck` in `img` (at once when fetched ahead). */
  async show(img, deck, page) {
    const p = this.page(deck, page);
    const key = `${deck}:${page}`;
    img.dataset.want = key;
    if (!p) return;
    const url = await this.fetchPage(p.digest);
    // A later turn won while this page was still on its way.
    if (img.dataset.want !== key) return;
    img.src = url;
    await img.decode().catch(() => {});
    if (img.dataset.want === key) img.dataset.slide = key;
  }
}
