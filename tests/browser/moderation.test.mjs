// Moderation a teacher can rely on, in real Chromium: the host mutes a classroom from its tile
// and that classroom's audio stops reaching the host even when its page turns the microphone
// back on by itself; the host lifts the mute and it is heard again; the host removes the
// classroom, whose page says so and whose link then no longer opens the lesson.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, waitForLiveVideo, until, artifacts } from './harness.mjs';

const env = serverAndBrowser();

/** Audio packets the host has received from the classrooms, all streams together. */
const audioIn = (host) => host.evaluate(async () => {
  let packets = 0;
  const pc = window.tongbuClient.recvPc;
  if (!pc) return 0;
  for (const s of (await pc.getStats()).values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') packets += s.packetsReceived;
  }
  return packets;
});

/** Packets the host receives over `ms`. */
async function heard(host, ms) {
  const a = await audioIn(host);
  await new Promise((r) => setTimeout(r, ms));
  return (await audioIn(host)) - a;
}

test('the host mutes a classroom (enforced), lifts it, then removes the classroom', { timeout: 120000 }, async () => {
  const { server, browser } = env;
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const hostLink = demo.links.find((l) => l.role === 'host');
  const classLink = demo.links.find((l) => l.role === 'classroom');
  const host = await browser.context.newPage();
  await host.setViewportSize({ width: 1366, height: 768 });
  await host.goto(server.url + hostLink.url);
  const classroom = await browser.context.newPage();
  await classroom.goto(server.url + classLink.url);
  try {
    await host.waitForSelector('#grid .tile .mute', { timeout: 15000 });
    await waitForLiveVideo(host, '#grid .tile video', 15000);
    const before = await heard(host, 2000);
    console.log(`before the mute: ${before} audio packets in 2 s`);
    assert.ok(before > 20, `the classroom is heard: ${before}`);

    await host.click('#grid .tile .mute');
    await host.waitForSelector('#grid .tile .muted-tag:not([hidden])', { timeout: 5000 });
    assert.equal(await host.textContent('#grid .tile .mute'), '取消静音');
    await classroom.waitForFunction(() => !document.querySelector('#banner').hidden, null, { timeout: 5000 });
    assert.match(await classroom.textContent('#banner'), /静音/);
    const micOff = await classroom.evaluate(() =>
      document.querySelector('#self-video').srcObject.getAudioTracks().every((t) => !t.enabled));
    assert.ok(micOff, 'the page turned its microphone off');
    // A page that ignores the mute: its microphone back on, sending. The server holds it.
    await classroom.evaluate(() => {
      for (const t of document.querySelector('#self-video').srcObject.getAudioTracks()) t.enabled = true;
    });
    await new Promise((r) => setTimeout(r, 1000));
    const muted = await heard(host, 3000);
    console.log(`muted, its page sending anyway: ${muted} audio packets reached the host in 3 s`);
    assert.equal(muted, 0, 'a muted classroom is not heard');
    await host.screenshot({ path: join(artifacts, 'moderation-host-muted.png') });
    await classroom.screenshot({ path: join(artifacts, 'moderation-classroom-muted.png') });

    await host.click('#grid .tile .mute');
    await host.waitForSelector('#grid .tile .muted-tag[hidden]', { state: 'attached', timeout: 5000 });
    await until(async () => (await heard(host, 1000)) > 10, 'heard again after the mute is lifted', 10000);
    assert.match(await classroom.textContent('#banner'), /取消静音/);

    host.once('dialog', (d) => d.accept());
    await host.click('#grid .tile .remove');
    await classroom.waitForFunction(() => document.body.dataset.removed === 'true', null, { timeout: 5000 });
    assert.match(await classroom.textContent('#banner'), /移出/);
    await host.waitForFunction(() => document.querySelectorAll('#grid .tile').length === 0, null, { timeout: 5000 });
    await classroom.screenshot({ path: join(artifacts, 'moderation-classroom-removed.png') });

    // The link no longer opens the lesson, and the page does not keep trying.
    await classroom.reload();
    await classroom.waitForFunction(() => document.body.dataset.removed === 'true', null, { timeout: 10000 });
    assert.match(await classroom.textContent('#banner'), /移出/);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(await classroom.evaluate(() => sessionStorage.getItem('tongbu.retries')), null, 'no retries');
    await classroom.screenshot({ path: join(artifacts, 'moderation-classroom-refused.png') });
  } finally {
    for (const p of [host, classroom]) await p.close();
  }
});
