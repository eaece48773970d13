// Shared test harness: starts a Tongbu server on free ports with a fresh data directory, and
// Debian's Chromium with a fake camera and microphone. Loopback only.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..');
export const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

/** The operator credential of the test servers (REST API calls from the tests). */
export const OPERATOR_TOKEN = 'browser-tests-operator-token';

/** Calls the REST API as the operator; returns [status, body]. */
export async function operatorApi(server, method, path, body) {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${OPERATOR_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return [res.status, await res.json().catch(() => null)];
}

/**
 * A server on free ports; `addr` is the IP it listens on (HTTP and media), `env` more settings;
 * `port` and `dataDir` to start it again where a stopped one was (`stop({ keepData: true })`).
 */
export async function startServer({ addr = '127.0.0.1', env = {}, port = 0, dataDir = null } = {}) {
  dataDir = dataDir || mkdtempSync(join(tmpdir(), 'tongbu-e2e-'));
  const bin = process.env.TONGBU_BIN || join(root, 'target', 'debug', 'tongbu');
  const child = spawn(bin, [], {
    env: {
      ...process.env,
      ...env,
      TONGBU_HTTP_ADDR: `${addr}:${port}`,
      TONGBU_MEDIA_UDP_PORT: '0',
      TONGBU_DATA_DIR: dataDir,
      TONGBU_HTTP_WEB_DIR: join(root, 'web-client'),
      TONGBU_OPERATOR_TOKEN: OPERATOR_TOKEN,
      RUST_LOG: process.env.RUST_LOG || 'info,str0m=warn,dimpl=warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (d) => (log += d));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${log}`)), 20000);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      log += d;
      const m = out.match(/Open (http:\/\/[0-9.:]+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${log}`)));
  });
  return {
    url,
    dataDir,
    // The server's log, its terminal colours taken out.
    log: () => log.replace(/\x1b\[[0-9;]*m/g, ''),
    /** SIGTERM, as systemd sends: a graceful stop (or `signal`: SIGKILL, a crash); resolves
     * with the exit code (null when killed by a signal). */
    async stop({ keepData = false, signal = 'SIGTERM' } = {}) {
      if (child.exitCode === null) child.kill(signal);
      const code = await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(child.exitCode) : child.once('exit', r)));
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/**
 * A classroom played by `tongbu-load` (webrtc-rs) on a link that loses every `dropEvery`-th
 * packet; resolves once it has joined. `link` is a join link's path (`/lesson.html?token=…`).
 */
export async function startLossyClassroom(server, link, dropEvery, seconds = 120) {
  const token = new URL(link, server.url).searchParams.get('token');
  const ws = `${server.url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`;
  const bin = process.env.TONGBU_LOAD_BIN || join(root, 'target', 'debug', 'tongbu-load');
  const child = spawn(bin, ['classroom', '--url', ws, '--drop-every', String(dropEvery), '--seconds', String(seconds)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tongbu-load did not join:\n${err}`)), 20000);
    child.stdout.on('data', (d) => {
      if (String(d).includes('"joined"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`tongbu-load exited with ${code}:\n${err}`)));
  });
  return {
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
    },
  };
}

/**
 * A studio encoder played by `tongbu-load whip` (webrtc-rs): publishes `clip` (an H.264 Annex B
 * file, offered alone) to a session's WHIP endpoint with a host link's token; resolves with the
 * stream's location once it is up. `stop()` ends it the way OBS does (SIGINT: it DELETEs).
 */
export async function startWhipEncoder(server, sessionId, hostLink, clip, seconds = 120) {
  const token = new URL(hostLink, server.url).searchParams.get('token');
  const bin = process.env.TONGBU_LOAD_BIN || join(root, 'target', 'debug', 'tongbu-load');
  const child = spawn(bin, ['whip', '--endpoint', `${server.url}/whip/${sessionId}`, '--token', token,
    '--clip', clip, '--seconds', String(seconds)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const location = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tongbu-load whip did not start:\n${err}`)), 20000);
    child.stdout.on('data', (d) => {
      const m = String(d).match(/"whip":"([^"]+)"/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`tongbu-load whip exited with ${code}:\n${err}`)));
  });
  return {
    location,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGINT');
      await exited;
    },
  };
}

/**
 * A server and a browser for the tests of one file: started before them, stopped after. Read
 * `server` and `browser` from the returned object inside a test.
 */
export function serverAndBrowser() {
  const env = { server: null, browser: null };
  before(async () => {
    env.server = await startServer();
    env.browser = await launchBrowser();
  });
  after(async () => {
    if (env.browser) await env.browser.close();
    if (env.server) {
      // Kept for reading a failure after the run: artifacts/<test file>.server.log.
      writeFileSync(join(artifacts, `${basename(process.argv[1] || 'tests')}.server.log`), env.server.log());
      await env.server.stop();
    }
  });
  return env;
}

/** A one-colour 800×600 PNG slide made by `page`'s own canvas, with `label` written large. */
export async function slideImage(page, colour, label = '') {
  const data = await page.evaluate(([c, text]) => {
    const cv = document.createElement('canvas');
    cv.width = 800;
    cv.height = 600;
    const g = cv.getContext('2d');
    g.fillStyle = c;
    g.fillRect(0, 0, 800, 600);
    g.fillStyle = '#fff';
    g.font = 'bold 96px sans-serif';
    g.textAlign = 'center';
    g.fillText(text, 400, 160);
    return cv.toDataURL('image/png').split(',')[1];
  }, [colour, label]);
  return Buffer.from(data, 'base64');
}

/**
 * Chromium with a fake camera and microphone; `extraArgs` adds flags (e.g. no UDP),
 * `executablePath` another way to start it (inside a classroom's network namespace).
 */
export async function launchBrowser(extraArgs = [], executablePath = process.env.CHROMIUM || '/usr/bin/chromium') {
  const userDataDir = mkdtempSync(join(tmpdir(), 'tongbu-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    viewport: { width: 1366, height: 768 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection',
      '--autoplay-policy=no-user-gesture-required',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      ...extraArgs,
    ],
  });
  // The server's content security policy must never block what the web client does itself.
  const refused = [];
  context.on('page', (p) => p.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) refused.push(`${p.url()}: ${m.text()}`);
  }));
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
      if (refused.length) throw new Error(`the content security policy refused:\n${refused.join('\n')}`);
    },
  };
}

/**
 * The demo lesson (`GET /api/demo`) and a page opened on each of its links asked for, in order:
 * a role (`'host'`, `'classroom'`: its first link), or `[role, n, more]` for the role's n-th link
 * with `more` added to its URL (`['host', 0, '&codec=h264']`).
 */
export async function openDemo({ server, browser }, ...wanted) {
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const links = [];
  const pages = [];
  for (const w of wanted) {
    const [role, n = 0, more = ''] = Array.isArray(w) ? w : [w];
    const link = demo.links.filter((l) => l.role === role)[n];
    if (!link) throw new Error(`the demo has no ${role} link #${n}: ${JSON.stringify(demo.links.map((l) => l.role))}`);
    const page = await browser.context.newPage();
    await page.goto(server.url + link.url + more);
    links.push(link);
    pages.push(page);
  }
  return { demo, links, pages };
}

/**
 * Polls `f` (every 200 ms) until it returns a truthy value; returns it and the time it took
 * (ms). Fails naming `what`, with the last value, after `timeoutMs`.
 */
export async function until(f, what, timeoutMs) {
  const start = Date.now();
  let last;
  while (Date.now() - start < timeoutMs) {
    last = await f();
    if (last) return { value: last, ms: Date.now() - start };
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

/** The codecs (`video/H264`, `video/VP8`) of the video a lesson page decodes. */
export async function receivedVideoCodecs(page) {
  return page.evaluate(async () => {
    const stats = [...(await window.tongbuClient.recvPc.getStats()).values()];
    return stats.filter((s) => s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0)
      .map((s) => stats.find((c) => c.id === s.codecId)?.mimeType);
  });
}

/** Decoded-frame count and size of a <video> in the page. */
export async function videoState(page, selector) {
  try {
    return await page.evaluate((sel) => {
      const v = document.querySelector(sel);
      if (!v) return null;
      const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : { totalVideoFrames: 0 };
      return { width: v.videoWidth, height: v.videoHeight, frames: q.totalVideoFrames };
    }, selector);
  } catch (e) {
    // A page that reloads itself (after a server restart) has no video while it navigates.
    if (/context was destroyed|navigation/i.test(String(e.message))) return null;
    throw e;
  }
}

/** Waits until the video has a size and its decoded-frame count rises. */
export async function waitForLiveVideo(page, selector, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let first = null;
  let last = null;
  while (Date.now() < deadline) {
    last = await videoState(page, selector);
    if (last && last.width > 0 && last.frames > 0) {
      // A reloaded page's new <video> counts from zero again: start over from it.
      if (first === null || last.frames < first) first = last.frames;
      else if (last.frames > first) return last;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`video ${selector} not live within ${timeoutMs} ms; last state ${JSON.stringify(last)}`);
}
