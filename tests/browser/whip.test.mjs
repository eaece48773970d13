// A lecture from a studio encoder over WHIP: `tongbu-load whip` (webrtc-rs) publishes a real
// libx264 clip with the lecture host's token, as OBS does; a listener's page in Chromium shows
// the speaker and decodes H.264; when the encoder stops (DELETE), the page is told.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, waitForLiveVideo, startWhipEncoder, artifacts, root, receivedVideoCodecs } from './harness.mjs';

const env = serverAndBrowser();

test('a listener sees and decodes a lecture published over WHIP', { timeout: 90000 }, async () => {
  const { server, browser } = env;
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const { links, session } = demo.lecture;
  const hostLink = links.find((l) => l.role === 'host');
  const listenerLink = links.find((l) => l.role === 'observer' && l.name.startsWith('听众'));
  const clip = join(root, 'tests', 'media', 'testsrc-320x240-15fps-baseline.h264');
  const encoder = await startWhipEncoder(server, session.id, hostLink.url, clip);
  assert.match(encoder.location, new RegExp(`/whip/${session.id}/[0-9a-f]{32}$`));
  const page = await browser.context.newPage();
  await page.goto(server.url + listenerLink.url);
  try {
    const v = await waitForLiveVideo(page, '#stage-video', 20000);
    assert.equal(v.width, 320, 'the encoder\'s picture');
    assert.deepEqual(await receivedVideoCodecs(page), ['video/H264']);
    await page.screenshot({ path: join(artifacts, 'whip-listener.png') });
    await encoder.stop();
    // The encoder left: its picture leaves the stage.
    await page.waitForFunction(() => {
      const s = document.querySelector('#stage-video').srcObject;
      return !s || s.getVideoTracks().length === 0;
    }, null, { timeout: 15000 });
  } finally {
    await encoder.stop();
    await page.close();
  }
});
