// The operator dashboard in real Chromium: a teacher and a classroom (Chromium too, fake camera)
// are in the demo lesson; the operator signs in, sees the lesson live with both, opens it and
// watches each participant's tile fill its sparklines; a third classroom on a lossy link
// (webrtc-rs, every fifth packet lost) turns amber and moves to the top; the operator ends the
// lesson, finds it among the past sessions, opens its report (charts and table) and downloads
// the CSV. Both languages.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { serverAndBrowser, operatorApi, artifacts, OPERATOR_TOKEN, startLossyClassroom, until } from './harness.mjs';

const env = serverAndBrowser();

/** Nothing wider than the window (no horizontal scrolling on a 1366×768 school PC). */
async function assertNoOverflow(page, what) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client, `${what} overflows sideways: ${scroll} > ${client}`);
}

test('an operator watches the lesson live, ends it and reads its report', { timeout: 120000 }, async () => {
  const { server, browser } = env;
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const hostLink = demo.links.find((l) => l.role === 'host');
  const [classLink, lossyLink] = demo.links.filter((l) => l.role === 'classroom');
  const lesson = `${demo.session.subject} · ${demo.session.title}`;
  const people = [];
  for (const l of [hostLink, classLink]) {
    const p = await browser.context.newPage();
    await p.goto(server.url + l.url);
    people.push(p);
  }

  // A wrong token is refused with a message; the sign-in form stays.
  const ops = await browser.context.newPage();
  await ops.goto(`${server.url}/operator.html`);
  await ops.waitForSelector('#sign-in:not([hidden])');
  await ops.fill('#token', 'not-the-operator-token');
  await ops.click('#sign-in-form button[type=submit]');
  await ops.waitForSelector('#error:not([hidden])');
  assert.match(await ops.textContent('#error'), /运维口令不正确/);
  assert.equal(await ops.isVisible('#live'), false);

  // Signed in: the lesson is live with its two participants, shown good.
  await ops.fill('#token', OPERATOR_TOKEN);
  await ops.click('#sign-in-form button[type=submit]');
  await ops.waitForSelector('#live:not([hidden])');
  const row = `.ops-session[data-session="${demo.session.id}"]`;
  await ops.waitForFunction((sel) => document.querySelector(sel)?.textContent.includes('2 人在线'), row, { timeout: 20000 });
  assert.ok((await ops.textContent(`${row} .ops-session-title`)).includes(demo.session.title));
  const sessions = await ops.$$eval('.ops-session', (els) => els.length);
  assert.ok(sessions >= 3, `the lesson, the research session and the lecture are listed (${sessions})`);
  await assertNoOverflow(ops, 'the dashboard');
  await ops.screenshot({ path: join(artifacts, 'operator-live.png'), fullPage: true });

  // Into the lesson: a tile per participant, sparklines filling from the live feed.
  await ops.click(`${row} .ops-open`);
  await ops.waitForSelector('#detail:not([hidden])');
  assert.equal(await ops.textContent('#detail-title'), lesson);
  // What the tiles show, named in the error if they never all turn good.
  let shown = null;
  await until(async () => {
    shown = await ops.evaluate(() => [...document.querySelectorAll('.ops-tile')].map((t) => ({
      name: t.dataset.name,
      health: t.dataset.health,
      reasons: t.querySelector('.reasons')?.textContent,
      points: ((t.querySelector('.spark-bitrate path')?.getAttribute('d') || '').match(/L/g) || []).length,
    })));
    return shown.length === 2 && shown.every((t) => t.points >= 2 && t.health === 'good');
  }, 'two good tiles with sparklines', 30000).catch((e) => {
    throw new Error(`${e.message}; the tiles: ${JSON.stringify(shown)}`);
  });
  const tiles = await ops.$$eval('.ops-tile', (els) => els.map((e) => ({
    name: e.dataset.name,
    health: e.querySelector('.dot-label').textContent,
    bitrate: e.querySelector('dd .value').textContent,
  })));
  const names = tiles.map((t) => t.name).sort();
  assert.deepEqual(names, [hostLink.name, classLink.name].sort());
  for (const t of tiles) {
    assert.equal(t.health, '良好');
    assert.match(t.bitrate, /^\d+(\.\d)? kbit\/s$/);
    assert.ok(parseFloat(t.bitrate) > 50, `media flows to/from ${t.name}: ${t.bitrate}`);
  }
  await assertNoOverflow(ops, 'the session view');
  await ops.screenshot({ path: join(artifacts, 'operator-session.png'), fullPage: true });

  // A classroom on a weak rural link joins: its tile turns weak, says why and moves to the top,
  // while the others stay good.
  const lossy = await startLossyClassroom(server, lossyLink.url, 5);
  try {
    await ops.waitForFunction((name) => {
      const first = document.querySelector('.ops-tile');
      return first?.dataset.name === name && first.dataset.health === 'weak';
    }, lossyLink.name, { timeout: 20000 });
    const all = await ops.$$eval('.ops-tile', (els) => els.map((e) => ({
      name: e.dataset.name, health: e.dataset.health, cls: e.className, reasons: e.querySelector('.reasons').textContent,
    })));
    assert.equal(all.length, 3);
    assert.match(all[0].cls, /health-weak/);
    assert.match(all[0].reasons, /下行丢包/);
    for (const t of all.slice(1)) assert.equal(t.health, 'good', `${t.name} stays good`);
    assert.equal(await ops.textContent('#detail-health'), '较差');
    // The teacher's console marks that classroom's tile too.
    const teacher = people[0];
    await teacher.waitForFunction((name) => [...document.querySelectorAll('#grid .tile')]
      .some((t) => t.dataset.health === 'weak' && t.querySelector('.name').textContent === name), lossyLink.name, { timeout: 10000 });
    // Audio first: after two seconds of such loss its video is paused, its sound kept, and the
    // teacher's tile says so.
    await teacher.waitForFunction((name) => [...document.querySelectorAll('#grid .tile')]
      .some((t) => t.querySelector('.name').textContent === name && !t.querySelector('.paused-tag').hidden
        && /视频已暂停/.test(t.querySelector('.paused-tag').textContent)), lossyLink.name, { timeout: 15000 });
    await teacher.screenshot({ path: join(artifacts, 'host-weak-classroom.png') });
    await ops.screenshot({ path: join(artifacts, 'operator-weak.png'), fullPage: true });
  } catch (e) {
    await lossy.stop();
    throw e;
  }

  // English: the visible strings switch.
  await ops.click('#lang');
  assert.equal(await ops.textContent('#back'), 'Back to overview');
  await ops.waitForFunction(() => document.querySelector('.ops-tile .dot-label')?.textContent === 'Weak');
  assert.match(await ops.textContent('.ops-tile .reasons'), /loses downstream packets/);
  const text = await ops.textContent('body');
  assert.doesNotMatch(text, /良好|较差|码率|往返时延|返回总览|运维看板|下行丢包/, 'no Chinese UI strings left');
  await assertNoOverflow(ops, 'the session view in English');
  await ops.screenshot({ path: join(artifacts, 'operator-session-en.png'), fullPage: true });
  await ops.click('#lang');

  // The lossy classroom stays weak a few seconds more, so that its weak share of this short
  // lesson does not hang on how fast the machine ran the steps above.
  await new Promise((r) => setTimeout(r, 3000));
  // The operator ends the lesson: the classroom's page says so, the report is written.
  const [status] = await operatorApi(server, 'POST', `/api/sessions/${demo.session.id}/end`);
  assert.equal(status, 200);
  for (const p of people) {
    await p.waitForFunction(() => document.body.dataset.ended === 'true', null, { timeout: 10000 });
  }
  await lossy.stop();
  await ops.click('#back');
  const past = `#reports tr[data-session="${demo.session.id}"]`;
  await ops.waitForSelector(past, { timeout: 10000 });
  assert.equal(await ops.textContent(`${past} td:nth-child(3)`), '3');
  assert.equal(await ops.textContent(`${past} td:nth-child(4)`), '1', 'one classroom had a poor link');
  assert.equal(await ops.$(row), null, 'an ended lesson is no longer live');
  await ops.screenshot({ path: join(artifacts, 'operator-past.png'), fullPage: true });

  // The report: a bar of health time and a line per participant, and the table.
  await Promise.all([ops.waitForURL(/report\.html\?session=/), ops.click(`${past} a`)]);
  await ops.waitForSelector('#table:not([hidden])');
  assert.ok((await ops.textContent('#report-title')).includes(demo.session.title));
  const bars = await ops.$$eval('#health-bars li', (els) => els.map((e) => ({
    name: e.dataset.name,
    good: parseFloat(e.querySelector('.seg.good').style.width),
    weak: parseFloat(e.querySelector('.seg.weak').style.width),
  })));
  assert.equal(bars.length, 3);
  for (const b of bars) {
    if (b.name === lossyLink.name) assert.ok(b.weak > 20, `the lossy classroom's weak time shows: ${JSON.stringify(b)}`);
    else assert.ok(b.good > 50, `mostly good: ${JSON.stringify(b)}`);
  }
  const lines = await ops.$$eval('#loss-chart path.series, #loss-chart circle.series', (els) => els.length);
  assert.ok(lines >= 3, `a loss line per participant (${lines})`);
  const rows = await ops.$$eval('#rows tbody tr', (els) => els.map((e) => [...e.children].map((c) => c.textContent)));
  assert.equal(rows.length, 3);
  const lossyRow = await ops.$eval(`#rows tbody tr[data-name="${lossyLink.name}"]`, (e) => e.className);
  assert.equal(lossyRow, 'troubled');
  for (const r of rows) assert.match(r[2], /^\d+:\d\d$/, `time connected: ${r}`);
  const [, report] = await operatorApi(server, 'GET', `/api/sessions/${demo.session.id}/report`);
  for (const p of report.participants) {
    assert.ok(p.connected_secs > 1 && p.rtt_ms.mean != null, JSON.stringify(p));
    assert.ok(p.kbps_in_mean + p.kbps_out_mean > 50, JSON.stringify(p));
    const loss = p.loss_down_pct.mean ?? 0;
    if (p.name === lossyLink.name) assert.ok(loss > 8, `its loss is in the report: ${JSON.stringify(p)}`);
    else assert.ok(loss < 1, `the others' is near zero: ${JSON.stringify(p)}`);
  }
  await assertNoOverflow(ops, 'the report');
  await ops.screenshot({ path: join(artifacts, 'report.png'), fullPage: true });

  // The CSV for the records: a header and a row per participant, Chinese names intact.
  const [download] = await Promise.all([ops.waitForEvent('download'), ops.click('#csv')]);
  const csv = readFileSync(await download.path(), 'utf8').replace(/^\ufeff/, '');
  const csvLines = csv.trim().split(/\r?\n/);
  assert.match(csvLines[0], /^session,role,school,name,/);
  assert.equal(csvLines.length, 4, csv);
  assert.ok(csv.includes(classLink.name.split(' · ').pop()), csv);

  await ops.click('#lang');
  assert.equal(await ops.textContent('#charts-title'), 'At a glance');
  assert.equal(await ops.textContent('#csv'), 'Download CSV');
  await assertNoOverflow(ops, 'the report in English');
  await ops.screenshot({ path: join(artifacts, 'report-en.png'), fullPage: true });
  await ops.click('#lang');
  for (const p of [...people, ops]) await p.close();
});
