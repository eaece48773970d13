// Who speaks: the server reads the audio level of every microphone and tells the room; the
// host's console marks the classroom that speaks. Chromium's fake microphone beeps; a
// microphone turned off (the teacher's here, a classroom the host muted) is silent, and with
// opus DTX (which the server negotiates) a silent microphone sends next to nothing, which the
// server does not take for gaps in its audio.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, artifacts, operatorApi } from './harness.mjs';

const env = serverAndBrowser();

test('the host sees which classroom speaks', { timeout: 90000 }, async () => {
  const { server, browser } = env;
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const hostLink = demo.links.find((l) => l.role === 'host');
  const [aLink, bLink] = demo.links.filter((l) => l.role === 'classroom');
  const host = await browser.context.newPage();
  await host.goto(server.url + hostLink.url);
  // The host mutes its own microphone: only the classrooms are heard.
  const a = await browser.context.newPage();
  await a.goto(server.url + aLink.url);
  const b = await browser.context.newPage();
  await b.goto(server.url + bLink.url);
  const speaking = () => host.$$eval('#grid .tile.speaking .name', (ns) => ns.map((n) => n.textContent));
  try {
    await host.waitForFunction(() => document.querySelectorAll('#grid .tile video').length >= 2, null, { timeout: 20000 });
    // Each page has its camera and microphone (a tile appears as soon as a classroom is in).
    for (const p of [host, a, b]) await p.waitForFunction(() => document.querySelector('#self-video').srcObject, null, { timeout: 20000 });
    // The teacher is quiet (its microphone off) and mutes classroom B (whose page turns its
    // microphone off): only A can speak.
    await host.evaluate(() => {
      for (const t of document.querySelector('#self-video').srcObject.getAudioTracks()) t.enabled = false;
    });
    await host.locator('#grid .tile', { hasText: bLink.name }).locator('button.mute').click();
    await host.waitForFunction((name) => [...document.querySelectorAll('#grid .tile.speaking .name')].some((n) => n.textContent === name), aLink.name, { timeout: 20000, polling: 200 });
    assert.deepEqual(await speaking(), [aLink.name], 'one classroom marked at a time');
    // What the server measured of each microphone (health's `voice`, 0 to 1).
    const [, h] = await operatorApi(server, 'GET', `/api/sessions/${demo.session.id}/health`);
    console.log('voices:', JSON.stringify(h.participants.map((p) => [p.name, Number(p.voice.toFixed(3))])));
    assert.equal(await host.isVisible(`#grid .tile.speaking .speaking-tag`), true);
    await host.screenshot({ path: join(artifacts, 'speaker-host.png') });
    // A goes quiet (its microphone off): the mark goes.
    await a.evaluate(() => {
      for (const t of document.querySelector('#self-video').srcObject.getAudioTracks()) t.enabled = false;
    });
    await host.waitForFunction(() => document.querySelectorAll('#grid .tile.speaking').length === 0, null, { timeout: 15000, polling: 200 });

    // Every microphone is silent now: what the host receives of the classrooms' audio, and the
    // gaps the server counts meanwhile.
    const audioIn = () => host.evaluate(async () => {
      let packets = 0;
      let streams = 0;
      for (const s of (await window.tongbuClient.recvPc.getStats()).values()) {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          packets += s.packetsReceived;
          streams += 1;
        }
      }
      return { packets, streams };
    });
    const gaps = async () => {
      const [, h] = await operatorApi(server, 'GET', `/api/sessions/${demo.session.id}/health`);
      return Object.fromEntries(h.participants.map((p) => [p.name, p.audio_gaps_up]));
    };
    await new Promise((r) => setTimeout(r, 2000));
    const [p0, g0] = [await audioIn(), await gaps()];
    await new Promise((r) => setTimeout(r, 4000));
    const [p1, g1] = [await audioIn(), await gaps()];
    const perStream = (p1.packets - p0.packets) / 4 / p1.streams;
    const newGaps = Object.fromEntries(Object.keys(g1).map((k) => [k, g1[k] - (g0[k] || 0)]));
    console.log(`silent microphones: ${perStream.toFixed(1)} packets/s a stream (25 without DTX); audio gaps counted meanwhile: ${JSON.stringify(newGaps)}`);
    assert.ok(p1.streams >= 2 && perStream < 10, `DTX: ${perStream} packets/s a stream`);
    assert.ok(Object.values(newGaps).every((n) => n <= 1), `DTX is not a gap: ${JSON.stringify(newGaps)}`);
  } finally {
    for (const p of [host, a, b]) await p.close();
  }
});
