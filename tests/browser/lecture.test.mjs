// An expert lecture in real Chromium: the teacher's page counts the audience instead of listing
// every listener (a lecture reaches thousands), a listener who raises a hand appears on the
// teacher's page by name, and every listener hears and sees the teacher.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, waitForLiveVideo, artifacts } from './harness.mjs';

const env = serverAndBrowser();
const LISTENERS = 3;

test('a lecture counts its audience, and a raised hand shows who asks', { timeout: 90000 }, async () => {
  const { server, browser } = env;
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const { links } = demo.lecture;
  const hostLink = links.find((l) => l.role === 'host');
  // The shared audience link (the other observer link is an invited 教研员's own).
  const listenerLink = links.find((l) => l.role === 'observer' && l.name.startsWith('听众'));
  assert.ok(hostLink && listenerLink, JSON.stringify(links.map((l) => [l.role, l.name])));
  const host = await browser.context.newPage();
  await host.goto(server.url + hostLink.url);
  const listeners = [];
  try {
    for (let i = 0; i < LISTENERS; i++) {
      const p = await browser.context.newPage();
      await p.goto(server.url + listenerLink.url);
      listeners.push(p);
    }
    await host.waitForFunction((n) => {
      const a = document.querySelector('#audience');
      return a && !a.hidden && a.textContent === `听众 ${n} 人`;
    }, LISTENERS, { timeout: 20000 });
    // Listeners are counted, not given a tile each.
    assert.equal(await host.$$eval('#grid .tile', (els) => els.length), 0);
    for (const p of listeners) await waitForLiveVideo(p, '#stage-video', 20000);
    const counted = await listeners[0].textContent('#audience');
    assert.equal(counted, `听众 ${LISTENERS} 人`);

    // One listener raises a hand: the teacher's page names it.
    await listeners[1].click('#hand');
    await host.waitForFunction(() => [...document.querySelectorAll('#chat-log li')]
      .some((li) => li.textContent === '听众 Audience：举手了'), null, { timeout: 10000 });
    await host.waitForSelector('#grid .tile .hand:not([hidden])', { timeout: 10000 });
    await host.waitForFunction((n) => document.querySelector('#audience').textContent === `听众 ${n} 人`,
      LISTENERS - 1, { timeout: 10000 });
    await host.screenshot({ path: join(artifacts, 'lecture-host.png') });
    await host.click('#lang');
    assert.equal(await host.textContent('#audience'), `${LISTENERS - 1} listening`);
    await host.click('#lang');

    // The hand goes down: back in the audience.
    await listeners[1].click('#hand');
    await host.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 0, null, { timeout: 10000 });
    await host.waitForFunction((n) => document.querySelector('#audience').textContent === `听众 ${n} 人`,
      LISTENERS, { timeout: 10000 });
    // Listeners leaving are counted down.
    await listeners.pop().close();
    await host.waitForFunction((n) => document.querySelector('#audience').textContent === `听众 ${n} 人`,
      LISTENERS - 1, { timeout: 10000 });
  } finally {
    for (const p of [...listeners, host]) await p.close();
  }
});
