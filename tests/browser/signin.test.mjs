// Teachers sign in once, through the education platform: a real OpenID Connect provider
// (oidc-provider) on loopback, Tongbu configured as its client. Chromium signs in as a Beijing
// teacher, sees the school's lessons and joins one as host; a partner school's teacher sees only
// its own classroom's link; a tampered state, a replayed code, a code from another platform, an
// expired ID token and a call without the CSRF token are refused; a join link does not open the
// teacher's pages; a teacher cannot read, edit or cancel another school's lesson.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { launchBrowser, artifacts } from './harness.mjs';
import { startPlatform, signInOnPlatform, serverWithPlatform } from './platform.mjs';

const jsQR = createRequire(import.meta.url)('jsqr');

const ACCOUNTS = {
  wang: { name: '王老师', school: '北京一零一中学怀柔校区', roles: ['teacher'] },
  zhao: { name: '赵老师', school: '四子王旗第一中学', roles: ['teacher'] },
  li: { name: '李老师', school: '不在同步课堂的学校', roles: ['teacher'] },
  chen: { name: '陈工', school: '', roles: ['tongbu-operator'] },
};

const env = {};
before(async () => {
  Object.assign(env, await serverWithPlatform(ACCOUNTS));
  env.browser = await launchBrowser();
});
after(async () => {
  if (env.browser) await env.browser.close();
  if (env.server) {
    writeFileSync(join(artifacts, 'signin.test.mjs.server.log'), env.server.log());
    await env.server.stop();
  }
  if (env.platform) await env.platform.stop();
});

/** The cookie header of a browser context, for calls made outside the page. */
async function cookieHeader(context, url) {
  return (await context.cookies(url)).map((c) => `${c.name}=${c.value}`).join('; ');
}

test('a Beijing teacher signs in through the platform, sees the lesson and joins as host', { timeout: 90000 }, async () => {
  const { server, browser } = env;
  const page = await browser.context.newPage();
  try {
    await page.goto(`${server.url}/teacher.html`);
    await page.waitForSelector('#signin:not([hidden])');
    await page.click('#signin-link');
    await signInOnPlatform(page, 'wang');
    await page.waitForFunction(() => document.body.dataset.signedIn === 'true', null, { timeout: 15000 });
    assert.equal(new URL(page.url()).pathname, '/teacher.html');
    assert.match(await page.textContent('#who'), /王老师 · 北京一零一中学怀柔校区/);
    // The session cookie: HttpOnly, SameSite=Lax.
    const cookie = (await browser.context.cookies(server.url)).find((c) => c.name === 'tongbu_session');
    assert.ok(cookie && cookie.httpOnly && cookie.sameSite === 'Lax', JSON.stringify(cookie));
    await page.waitForSelector('.session .join-now');
    const titles = await page.$$eval('.session .title', (els) => els.map((e) => e.textContent));
    assert.ok(titles.some((x) => x.includes('勾股定理')), `the demo lesson is listed: ${titles}`);
    const classroomLinks = await page.$$eval('.session .link-row', (els) => els.length);
    assert.ok(classroomLinks >= 3, `the classrooms' links to give out: ${classroomLinks}`);
    await page.screenshot({ path: join(artifacts, 'signin-my-lessons.png'), fullPage: true });

    // A classroom's link as a QR code for its wall screen: it reads back as that link.
    const row = page.locator('.session .link-row', { has: page.locator('a[data-role="classroom"]') }).first();
    const href = await row.locator('a').getAttribute('href');
    await row.locator('button.qr').click();
    await page.waitForFunction(() => document.querySelector('#qr-image').complete && document.querySelector('#qr-image').naturalWidth > 0);
    // The page's pixels, read in Node by jsQR (the page's own policy runs no injected script).
    const pixels = await page.evaluate(() => {
      const img = document.querySelector('#qr-image');
      const c = document.createElement('canvas');
      c.width = 900;
      c.height = 900;
      const g = c.getContext('2d');
      g.imageSmoothingEnabled = false;
      g.fillStyle = '#fff';
      g.fillRect(0, 0, 900, 900);
      g.drawImage(img, 50, 50, 800, 800);
      return Array.from(g.getImageData(0, 0, 900, 900).data);
    });
    const found = jsQR(Uint8ClampedArray.from(pixels), 900, 900);
    const read = found && found.data;
    assert.equal(read, new URL(href, server.url).href, 'the QR code reads back as the link');
    await page.screenshot({ path: join(artifacts, 'signin-qr.png') });
    await page.keyboard.press('Escape');

    await Promise.all([page.waitForNavigation(), page.click('.session[data-state] .join-now')]);
    await page.waitForFunction(() => document.body.dataset.role === 'host', null, { timeout: 15000 });
    await page.screenshot({ path: join(artifacts, 'signin-joined-as-host.png') });
  } finally {
    await page.close();
  }
});

test('a partner school sees its own classroom only; an unknown school is told; links are not sign-ins', { timeout: 60000 }, async () => {
  const { server } = env;
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/auth/login?return_to=/teacher.html`);
    await signInOnPlatform(page, 'zhao');
    await page.waitForFunction(() => document.body.dataset.signedIn === 'true', null, { timeout: 15000 });
    await page.waitForSelector('.session');
    const lessons = await page.evaluate(async () => (await (await fetch('/api/teacher/lessons')).json()).lessons);
    const lesson = lessons.find((l) => l.title.includes('勾股定理'));
    assert.ok(lesson && !lesson.hosting, 'a partner school does not host');
    assert.deepEqual(lesson.links.map((l) => l.role), ['classroom'], 'its own classroom link only');
    assert.match(lesson.links[0].name, /四子王旗第一中学/);
    assert.equal(await page.$('.session .join-now'), null, 'no host link');
    // Nor can it read, move or cancel a lesson another school hosts.
    const tries = await page.evaluate(async (id) => {
      const { csrf } = await (await fetch('/api/me')).json();
      const headers = { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' };
      const draft = { kind: 'lesson', title: 'x', start: '2030-01-07 08:00', duration_min: 40, host: 1 };
      return [
        (await fetch(`/api/teacher/sessions/${id}`)).status,
        (await fetch(`/api/teacher/sessions/${id}`, { method: 'PUT', headers, body: JSON.stringify(draft) })).status,
        (await fetch(`/api/teacher/sessions/${id}`, { method: 'DELETE', headers })).status,
        (await fetch('/api/teacher/sessions', { method: 'POST', headers, body: JSON.stringify(draft) })).status,
      ];
    }, lesson.id);
    assert.deepEqual(tries, [403, 403, 403, 403], 'another school\'s lesson: read, edit, cancel, host');

    // A teacher whose school Tongbu does not know is told which school the platform named.
    const csrf = await page.evaluate(async () => (await (await fetch('/api/me')).json()).csrf);
    await page.evaluate(async (token) => fetch('/auth/logout', { method: 'POST', headers: { 'X-CSRF-Token': token } }), csrf);
    // Signing out of Tongbu leaves the platform's own sign-in: another teacher at this PC
    // signs out there too (its cookies go).
    await browser.context.clearCookies();
    await page.goto(`${server.url}/auth/login?return_to=/teacher.html`);
    await signInOnPlatform(page, 'li');
    await page.waitForSelector('#mine-error:not([hidden])', { timeout: 15000 });
    assert.match(await page.textContent('#mine-error'), /不在同步课堂的学校/);
    await page.screenshot({ path: join(artifacts, 'signin-unknown-school.png') });
  } finally {
    await browser.close();
  }
  // A classroom's join link (or the host's) opens its lesson, never the teacher's pages.
  const hostLink = (await (await fetch(`${server.url}/api/demo`)).json()).links.find((l) => l.role === 'host');
  const token = new URL(hostLink.url, server.url).searchParams.get('token');
  for (const headers of [{}, { Authorization: `Bearer ${token}` }]) {
    const res = await fetch(`${server.url}/api/teacher/lessons`, { headers });
    assert.equal(res.status, 401, JSON.stringify(headers));
  }
});

test('tampered state, replayed or foreign codes, and calls without the CSRF token are refused', { timeout: 90000 }, async () => {
  const { server } = env;
  const browser = await launchBrowser();
  const foreign = await startPlatform({ accounts: ACCOUNTS, redirectUri: `${server.url}/auth/callback` });
  try {
    const page = await browser.context.newPage();
    // A sign-in whose answer comes back with another state.
    await page.goto(`${server.url}/auth/login`);
    await page.waitForSelector('input[name="login"]');
    let res = await page.goto(`${server.url}/auth/callback?code=made-up&state=tampered`);
    assert.equal(res.status(), 400);
    assert.match(await page.textContent('#reason'), /state/);

    // A real sign-in; its callback (code and state) kept, then brought again in a new sign-in.
    let callback = null;
    page.on('request', (r) => {
      if (r.url().startsWith(`${server.url}/auth/callback`) && !callback) callback = new URL(r.url());
    });
    await page.goto(`${server.url}/auth/login?return_to=/teacher.html`);
    await signInOnPlatform(page, 'wang');
    await page.waitForFunction(() => document.body.dataset.signedIn === 'true', null, { timeout: 15000 });
    assert.ok(callback, 'the callback was seen');
    res = await page.goto(callback.href);
    assert.equal(res.status(), 400, 'the same answer twice: no sign-in is under way');
    // A new sign-in, answered with the old code under the new state: the platform refuses it.
    const started = await page.request.get(`${server.url}/auth/login`, { maxRedirects: 0 });
    const state = new URL(started.headers().location).searchParams.get('state');
    res = await page.goto(`${server.url}/auth/callback?code=${callback.searchParams.get('code')}&state=${state}`);
    assert.equal(res.status(), 401, 'a replayed code');
    assert.match(await page.textContent('#reason'), /code/);

    // The same request sent to another platform (same client name): its code is not this
    // platform's, and is refused.
    const again = await page.request.get(`${server.url}/auth/login`, { maxRedirects: 0 });
    const elsewhere = new URL(again.headers().location);
    const there = new URL(foreign.issuer);
    elsewhere.host = there.host;
    await page.goto(elsewhere.href);
    await signInOnPlatform(page, 'wang');
    await page.waitForSelector('#reason', { timeout: 15000 });
    assert.match(await page.textContent('#reason'), /code/, 'a code from another platform');

    // Signed in again properly (both platforms on 127.0.0.1 share its cookies: the foreign
    // one's sign-in replaced this one's); a state-changing call without the CSRF token is refused.
    await browser.context.clearCookies();
    await page.goto(`${server.url}/auth/login?return_to=/teacher.html`);
    await signInOnPlatform(page, 'wang');
    await page.waitForFunction(() => document.body.dataset.signedIn === 'true', null, { timeout: 15000 });
    const cookies = await cookieHeader(browser.context, server.url);
    res = await fetch(`${server.url}/auth/logout`, { method: 'POST', headers: { cookie: cookies } });
    assert.equal(res.status, 403, 'no CSRF token');
    const me = await (await fetch(`${server.url}/api/me`, { headers: { cookie: cookies } })).json();
    res = await fetch(`${server.url}/auth/logout`, { method: 'POST', headers: { cookie: cookies, 'X-CSRF-Token': me.csrf } });
    assert.equal(res.status, 204);
    res = await fetch(`${server.url}/api/me`, { headers: { cookie: cookies } });
    assert.equal(res.status, 401, 'signed out');
  } finally {
    await browser.close();
    await foreign.stop();
  }
});

test('an operator signs in through the platform: the dashboard and the API without the token', { timeout: 60000 }, async () => {
  const { server } = env;
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/operator.html`);
    await page.waitForSelector('#sign-in:not([hidden])');
    await Promise.all([page.waitForNavigation(), page.click('#sign-in a[href^="/auth/login"]')]);
    await signInOnPlatform(page, 'chen');
    await page.waitForSelector('#live:not([hidden])', { timeout: 15000 });
    await page.waitForSelector('#sessions li', { timeout: 15000 });
    const statuses = await page.evaluate(async () => {
      const pair = { beijing: 1, inner_mongolia: 2, since: '2026-09-01' };
      const post = (headers) => fetch('/api/pairs', { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(pair) });
      const { csrf } = await (await fetch('/api/me')).json();
      return [(await fetch('/api/schools')).status, (await post({})).status, (await post({ 'X-CSRF-Token': csrf })).status];
    });
    // Reading needs the session only; a change also its CSRF token (the pair exists already: 409).
    assert.equal(statuses[0], 200);
    assert.equal(statuses[1], 403, 'no CSRF token');
    assert.notEqual(statuses[2], 403, 'with the CSRF token the call is judged on its body');
    await page.screenshot({ path: join(artifacts, 'signin-operator-dashboard.png') });
    // 退出 ends the platform session too.
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in:not([hidden])');
    assert.equal(await page.evaluate(async () => (await fetch('/api/me')).status), 401);
  } finally {
    await browser.close();
  }
});

test('an ID token that has expired by the time it arrives is refused', { timeout: 60000 }, async () => {
  const { server, platform } = await serverWithPlatform(ACCOUNTS, { idTokenSecs: 1, holdTokenMs: 2500 });
  const browser = await launchBrowser();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/auth/login`);
    await signInOnPlatform(page, 'wang');
    await page.waitForSelector('#reason', { timeout: 15000 });
    const reason = await page.textContent('#reason');
    console.log(`expired ID token: ${reason}`);
    assert.match(reason, /identity token was refused .*expire/i);
    assert.equal((await fetch(`${server.url}/api/me`)).status, 401);
  } finally {
    await browser.close();
    await server.stop();
    await platform.stop();
  }
});
