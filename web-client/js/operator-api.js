// The operator's credential in this browser tab, and the calls made with it. The token comes from
// the sign-in form, or once from the link the server prints in demo mode (`#token=…`, a fragment,
// so it never reaches a server log); it is kept for this tab only (sessionStorage).

const KEY = 'tongbu.operator';

/** Takes a token from the page's fragment, if any, and removes it from the address bar. */
export function adoptTokenFromLink() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    try {
      sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    } catch {
      // A mangled link: the sign-in form asks for the token instead.
    }
    history.replaceState(null, '', location.pathname + location.search);
  }
}

export function token() {
  return sessionStorage.getItem(KEY) || '';
}

export function signIn(t) {
  sessionStorage.setItem(KEY, t.trim());
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** An error with the server's message; `status` 401 means the token is wrong. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

let csrf = null;

/**
 * The credential of this tab's calls: the operator token, or else (no token) the browser's
 * session of a platform sign-in with the operator role, whose changes carry its CSRF token.
 */
async function credential(write) {
  if (token()) return { Authorization: `Bearer ${token()}` };
  if (!write) return {};
  if (csrf === null) {
    const res = await fetch('/api/me');
    csrf = res.ok ? (await res.json()).csrf : '';
  }
  return { 'X-CSRF-Token': csrf };
}

/** Whether this browser is signed in with the platform as an operator. */
export async function platformOperator() {
  const res = await fetch('/api/me');
  if (!res.ok) return false;
  const me = await res.json();
  csrf = me.csrf;
  return !!me.operator;
}

/**
 * A call that changes something; resolves with the JSON answer (null for 204). `body` is sent
 * as JSON, or as is with `type` (e.g. a CSV file as text/csv).
 */
export async function send(method, path, body, type = 'application/json') {
  const headers = { ...(await credential(true)) };
  if (body !== undefined) headers['Content-Type'] = type;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : (type === 'application/json' ? JSON.stringify(body) : body),
  });
  const answer = res.status === 204 ? null : await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = new ApiError(res.status, (answer && answer.message) || res.statusText);
    e.body = answer;
    throw e;
  }
  return answer;
}

/** GET an operator endpoint; resolves with JSON (or text when `as` is 'text'). */
export async function get(path, as = 'json') {
  const res = await fetch(path, { headers: await credential(false) });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new ApiError(res.status, body.message || res.statusText);
  }
  return as === 'text' ? res.text() : res.json();
}

/**
 * Opens the live health feed of a session: `onSample` gets one sample a second. The credential
 * never goes in the URL: a one-use ticket is asked for first (with it in the header).
 */
export function liveFeed(session, onSample, onClose) {
  let ws = null;
  let closed = false;
  (async () => {
    let ticket;
    try {
      const res = await fetch('/api/live-ticket', { method: 'POST', headers: { Authorization: `Bearer ${token()}` } });
      if (!res.ok) throw new ApiError(res.status, res.statusText);
      ticket = (await res.json()).ticket;
    } catch {
      if (!closed && onClose) onClose();
      return;
    }
    if (closed) return;
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    ws = new WebSocket(`${proto}://${location.host}/api/sessions/${session}/health/live?ticket=${encodeURIComponent(ticket)}`);
    ws.onmessage = (e) => {
      try {
        onSample(JSON.parse(e.data));
      } catch {
        // A frame that is not a sample: ignore it, the next one comes in a second.
      }
    };
    ws.onclose = () => !closed && onClose && onClose();
  })();
  return {
    close() {
      closed = true;
      if (ws) ws.close();
    },
  };
}

/** Downloads the session's report as CSV (the request needs the credential, so not a plain link). */
export async function downloadCsv(session) {
  const text = await get(`/api/sessions/${session}/report.csv`, 'text');
  const url = URL.createObjectURL(new Blob(['\ufeff', text], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = `tongbu-session-${session}-report.csv`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
