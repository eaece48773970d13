// School firewalls that let only HTTPS out, in real Chromium: a classroom whose network (a
// namespace the test makes) refuses UDP and every TCP port but the web server's and 443 reaches
// the lesson through a TURN relay (Debian's coturn, TLS on 443, a credential Tongbu minted for
// the join from the relay's shared secret), sees the teacher and is seen; its network check
// says it went through TURN/TLS.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, launchBrowser, waitForLiveVideo, operatorApi, artifacts } from './harness.mjs';
import { canMakeNetworks, classroomNetwork } from './netns.mjs';
import { haveCoturn, startCoturn } from './coturn.mjs';

const skip = !canMakeNetworks() ? 'needs root to make a network namespace'
  : !haveCoturn() ? 'needs coturn (apt install coturn; the test command installs it)' : false;
const env = {};

before(async () => {
  if (skip) return;
  env.net = classroomNetwork();
  const secret = randomBytes(24).toString('hex');
  env.turn = await startCoturn({ ip: env.net.serverIp, secret });
  env.server = await startServer({
    addr: env.net.serverIp,
    env: { TONGBU_DEMO_ENABLED: 'true', TONGBU_DEMO_ON_NETWORK: 'true', TONGBU_TURN_URLS: env.turn.url, TONGBU_TURN_SECRET: secret },
  });
  // Only the web server's port and 443 get out of the school.
  env.net.firewall([new URL(env.server.url).port, 443]);
  const flags = [`--unsafely-treat-insecure-origin-as-secure=${env.server.url}`];
  env.browser = await launchBrowser(flags);
  // Chromium checks a TURN server's TLS certificate as it checks a web site's; this relay's is
  // self-signed, so the school's browser is told to accept it (a real relay needs a certificate
  // browsers trust, README: TURN).
  env.school = await launchBrowser([...flags, '--ignore-certificate-errors'], env.net.chromium);
});

after(async () => {
  for (const b of [env.browser, env.school]) if (b) await b.close();
  if (env.server) {
    writeFileSync(join(artifacts, 'turn-server.log'), env.server.log());
    await env.server.stop();
  }
  if (env.turn) {
    writeFileSync(join(artifacts, 'turn-coturn.log'), env.turn.log());
    await env.turn.stop();
  }
  if (env.net) env.net.remove();
});

/** The kind of the selected candidate pair's local candidate: host, relay (and over what). */
function path(page, pcName) {
  return page.evaluate(async (name) => {
    const pc = window.tongbuClient[name];
    if (!pc) return null;
    const stats = await pc.getStats();
    for (const s of stats.values()) {
      if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') {
        const l = stats.get(s.localCandidateId);
        return { type: l.candidateType, relayProtocol: l.relayProtocol || null, protocol: l.protocol };
      }
    }
    return null;
  }, pcName);
}

test('behind a firewall that lets only HTTPS out, a classroom joins through TURN over TLS on 443', { skip, timeout: 120000 }, async () => {
  const { server, browser, school } = env;
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const hostLink = demo.links.find((l) => l.role === 'host');
  const room = demo.links.filter((l) => l.role === 'classroom')[0];
  const host = await browser.context.newPage();
  await host.goto(server.url + hostLink.url);
  const page = await school.context.newPage();
  try {
    await page.goto(server.url + room.url);
    await waitForLiveVideo(page, '#stage-video', 40000);
    const recv = await path(page, 'recvPc');
    const send = await path(page, 'sendPc');
    console.log(`the classroom receives over ${JSON.stringify(recv)}, sends over ${JSON.stringify(send)}`);
    assert.deepEqual([recv.type, recv.relayProtocol], ['relay', 'tls'], 'the teacher arrives through the relay');
    assert.deepEqual([send.type, send.relayProtocol], ['relay', 'tls']);
    // The teacher sees the classroom, which publishes through the relay too.
    await host.waitForFunction((name) => [...document.querySelectorAll('#grid .tile')].some((t) =>
      t.textContent.includes(name) && t.querySelector('video').videoWidth > 0), room.name, { timeout: 30000 });
    await page.screenshot({ path: join(artifacts, 'turn-classroom.png') });
    await page.close();

    // The network check takes the same way and says so.
    const [status, link] = await operatorApi(server, 'POST', `/api/classrooms/${room.classroom}/schedule-link`);
    assert.equal(status, 200, JSON.stringify(link));
    const check = await school.context.newPage();
    await check.goto(`${server.url}/check.html?token=${encodeURIComponent(new URL(server.url + link.url).searchParams.get('token'))}`);
    await check.click('#start');
    await check.waitForSelector('#verdict:not([hidden])', { timeout: 60000 });
    assert.equal(await check.evaluate(() => document.body.dataset.path), 'turn-tls');
    const udp = await check.textContent('#steps [data-step="udp"] .step-detail');
    console.log(`the network check says: ${udp}`);
    assert.match(udp, /TURN\/TLS/);
    const bw = await check.textContent('#steps [data-step="bandwidth"] .step-detail');
    assert.ok(Number(bw.match(/服务器收到 ([\d.]+) kbit\/s/)[1]) > 50, `media arrived through the relay: ${bw}`);
    assert.match(await check.textContent('#verdict .verdict-advice'), /中继/);
    await check.screenshot({ path: join(artifacts, 'turn-check.png'), fullPage: true });
    await check.close();
  } finally {
    await host.close();
  }
});
