// A teacher's link that fails for 5 s, in real Chromium: the host's page runs in a network
// namespace the test makes, and everything on its veth is dropped both ways for 5 s (tc netem,
// 100 % loss), as when a school's line goes down; a classroom on a good link must see the
// teacher's camera moving again within 3 s of the link's return, with no one touching a page.
// The times are printed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, launchBrowser, videoState, waitForLiveVideo, until, artifacts } from './harness.mjs';
import { canMakeNetworks, classroomNetwork } from './netns.mjs';

const skip = canMakeNetworks() ? false : 'needs root to make a network namespace';
const env = {};

before(async () => {
  if (skip) return;
  env.net = classroomNetwork();
  env.server = await startServer({ addr: env.net.serverIp, env: { TONGBU_DEMO_ENABLED: 'true', TONGBU_DEMO_ON_NETWORK: 'true' } });
  const flags = [`--unsafely-treat-insecure-origin-as-secure=${env.server.url}`];
  env.browser = await launchBrowser(flags);
  env.remote = await launchBrowser(flags, env.net.chromium);
});

after(async () => {
  for (const b of [env.browser, env.remote]) if (b) await b.close();
  if (env.server) await env.server.stop();
  if (env.net) env.net.remove();
});

test('a teacher whose link fails for 5 s is seen again within 3 s of its return', { skip, timeout: 120000 }, async () => {
  const { server, browser, remote, net } = env;
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const hostLink = demo.links.find((l) => l.role === 'host');
  const roomLink = demo.links.find((l) => l.role === 'classroom');
  const host = await remote.context.newPage();
  await host.goto(server.url + hostLink.url);
  const room = await browser.context.newPage();
  await room.goto(server.url + roomLink.url);
  const frames = async () => (await videoState(room, '#stage-video'))?.frames ?? 0;
  try {
    await waitForLiveVideo(room, '#stage-video', 30000);
    net.cut();
    await new Promise((r) => setTimeout(r, 1500));
    const stalled = await frames();
    await new Promise((r) => setTimeout(r, 3500));
    const during = await frames();
    console.log(`link down 5 s: the classroom decoded ${during - stalled} frames of the teacher in the last 3.5 s of it`);
    assert.ok(during - stalled < 10, 'the cut stops the teacher');
    net.mend();
    const back = await until(async () => (await frames()) > during + 10, 'the teacher moving again on the classroom\'s screen', 20000);
    console.log(`teacher's camera moving again ${back.ms} ms after the link returned`);
    await room.screenshot({ path: join(artifacts, 'fault-after-link-returned.png') });
    assert.ok(back.ms < 3000, `seen again ${back.ms} ms after the link returned`);
  } finally {
    for (const p of [host, room]) await p.close();
  }
});
