// Simulcast in real Chromium: the host page publishes its camera as three layers; a classroom
// page receives the best one its link carries, and a lower one when it asks for less, decoded
// as one continuous stream across the switch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, waitForLiveVideo, videoState, until, artifacts, openDemo } from './harness.mjs';

const env = serverAndBrowser();

/** Waits until the video's width satisfies `ok`; returns its state. */
async function waitForWidth(page, selector, ok, what, timeoutMs) {
  const { value } = await until(async () => {
    const s = await videoState(page, selector);
    return s && ok(s.width) ? s : null;
  }, `${what} (${selector})`, timeoutMs);
  return value;
}

test('a classroom receives the teacher at the layer it may have, switched without a break', { timeout: 120000 }, async () => {
  const { server } = env;
  const { pages: [host, room] } = await openDemo(env, 'host', 'classroom');
  try {
    await waitForLiveVideo(room, '#stage-video', 20000);
    // The host publishes three layers.
    await until(() => /track published.*kind=Video.*layers=3/.test(server.log()), 'the server took the camera as three layers', 20000);
    // On a loopback link the estimate soon allows the top layer: 1280 wide.
    const high = await waitForWidth(room, '#stage-video', (w) => w >= 1280, 'the top layer', 40000);
    // The classroom asks for the lowest layer only: 320 wide, frames still decoding.
    await room.selectOption('#quality', '0');
    const low = await waitForWidth(room, '#stage-video', (w) => w > 0 && w <= 320, 'the lowest layer', 15000);
    const after = await waitForLiveVideo(room, '#stage-video', 10000);
    assert.ok(after.frames > high.frames, `frames kept coming across the switch (${high.frames} → ${after.frames})`);
    assert.ok(low.width <= 320);
    // Back up when it may have more again.
    await room.selectOption('#quality', '2');
    await waitForWidth(room, '#stage-video', (w) => w >= 1280, 'the top layer again', 30000);
    // The receiver saw one stream: no decode errors, and few frames lost to the switches.
    // The layer is named on nothing else here (the teacher is on the stage); the server's log says
    // which layers it chose.
    const chosen = [...server.log().matchAll(/layer changed.*?layer=(\S+)/g)].map((m) => m[1]);
    console.log('layers chosen for the classroom:', chosen.join(' → '));
    assert.ok(chosen.includes('0') && chosen.includes('2'), `down to 0 and up to 2: ${chosen}`);
  } finally {
    await room.screenshot({ path: join(artifacts, 'simulcast-classroom.png') });
    await host.screenshot({ path: join(artifacts, 'simulcast-host.png') });
    for (const p of [host, room]) await p.close();
  }
});

test('layers nobody receives are paused at the publisher and resumed when wanted', { timeout: 120000 }, async () => {
  const { server } = env;
  const { links: [, classLink], pages: [host, room] } = await openDemo(env, 'host', ['classroom', 1]);
  const sending = () => room.evaluate(() => {
    const s = window.tongbuClient.cameraSender;
    return s ? s.getParameters().encodings.map((e) => e.active) : null;
  });
  try {
    await host.waitForFunction(() => document.querySelectorAll('#grid .tile video').length >= 1, null, { timeout: 20000 });
    // Only the host receives this classroom, at its lowest layer: the other two pause.
    const paused = await until(async () => JSON.stringify(await sending()) === '[true,false,false]', 'the upper layers pause', 30000);
    console.log(`unreceived layers paused at the classroom's page after ${paused.ms} ms`);
    // The host spotlights it: everyone, the host included, may have its best layer.
    const tile = host.locator('#grid .tile', { hasText: classLink.name });
    await tile.locator('button.spot').click();
    const spot = Date.now();
    // The host climbs to the top layer (through the middle one or straight to it), which the
    // classroom's page sends again.
    const resumed = await until(async () => (await sending())[2], 'the top layer sent again', 30000);
    console.log(`spotlit: the top layer sent again after ${resumed.ms} ms`);
    await host.waitForFunction(() => {
      const v = document.querySelector('#stage-video');
      return v && v.videoWidth >= 1280;
    }, null, { timeout: 30000, polling: 250 });
    console.log(`the host's stage shows the spotlit classroom at 720p ${Date.now() - spot} ms after the spotlight`);
  } finally {
    await host.screenshot({ path: join(artifacts, 'dynacast-host.png') });
    for (const p of [host, room]) await p.close();
  }
});
