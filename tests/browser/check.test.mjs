// The pre-lesson network check in real Chromium (fake camera and microphone): with a classroom's
// timetable link it checks the devices, connects media to the server's UDP port, measures what
// arrives, and gives a verdict with advice; a broken link fails with a plain message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, launchBrowser, waitForLiveVideo, operatorApi, artifacts } from './harness.mjs';

const env = serverAndBrowser();

test('a classroom checks its network before the lesson', { timeout: 90000 }, async () => {
  const { server, browser } = env;
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const room = demo.links.find((l) => l.role === 'classroom');
  const [status, link] = await operatorApi(server, 'POST', `/api/classrooms/${room.classroom}/schedule-link`);
  assert.equal(status, 200, JSON.stringify(link));

  // The timetable links to the check with the same token.
  const page = await browser.context.newPage();
  await page.goto(server.url + link.url);
  await page.waitForSelector('.session');
  await Promise.all([page.waitForURL(/check\.html\?token=/), page.click('#check-link')]);

  await page.click('#start');
  await page.waitForSelector('#verdict:not([hidden])', { timeout: 40000 });
  const steps = await page.$$eval('#steps li', (els) => Object.fromEntries(els.map((e) => [
    e.dataset.step, { state: e.querySelector('.step-state').dataset.state, detail: e.querySelector('.step-detail').textContent },
  ])));
  for (const s of ['camera', 'microphone', 'udp', 'bandwidth']) assert.equal(steps[s].state, 'ok', `${s}: ${JSON.stringify(steps)}`);
  assert.match(steps.udp.detail, /UDP 端口 \d+ 可达/);
  const kbps = Number(steps.bandwidth.detail.match(/服务器收到 ([\d.]+) kbit\/s/)[1]);
  assert.ok(kbps > 50, `media arrived at the server: ${steps.bandwidth.detail}`);
  assert.match(steps.bandwidth.detail, /丢包 0%/);
  assert.equal(await page.getAttribute('#verdict', 'data-verdict'), 'ok');
  assert.equal(await page.textContent('#verdict .verdict-line'), '网络良好，可以上课。');
  await page.screenshot({ path: join(artifacts, 'network-check.png'), fullPage: true });

  await page.click('#lang');
  assert.equal(await page.textContent('#verdict .verdict-line'), 'All good: this classroom is ready for the lesson.');
  assert.equal(await page.textContent('#start'), 'Check again');
  assert.doesNotMatch(await page.textContent('main'), /检测|正常|摄像头|麦克风/, 'no Chinese UI strings left');
  await page.screenshot({ path: join(artifacts, 'network-check-en.png'), fullPage: true });
  await page.click('#lang');
  await page.close();

  // A tampered link: the devices are fine, the server refuses, the verdict says so.
  const bad = await browser.context.newPage();
  await bad.goto(`${server.url}/check.html?token=not-a-token`);
  await bad.click('#start');
  await bad.waitForSelector('#verdict:not([hidden])', { timeout: 40000 });
  assert.equal(await bad.getAttribute('#verdict', 'data-verdict'), 'fail');
  assert.equal(await bad.$eval('#steps [data-step="udp"] .step-state', (e) => e.dataset.state), 'fail');
  assert.ok((await bad.textContent('#steps [data-step="udp"] .step-detail')).length > 0);
  await bad.close();
});

// A school whose firewall blocks UDP: this Chromium may not use UDP at all (its policy sends
// media over TCP only), so media goes over ICE-TCP to the same port.
test('where UDP is blocked, the check and the lesson fall back to TCP', { timeout: 120000 }, async () => {
  const { server, browser } = env;
  const tcpOnly = await launchBrowser(['--webrtc-ip-handling-policy=disable_non_proxied_udp']);
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const hostLink = demo.links.find((l) => l.role === 'host');
  const room = demo.links.filter((l) => l.role === 'classroom')[1];
  const [status, link] = await operatorApi(server, 'POST', `/api/classrooms/${room.classroom}/schedule-link`);
  assert.equal(status, 200, JSON.stringify(link));
  const host = await browser.context.newPage();
  try {
    const page = await tcpOnly.context.newPage();
    await page.goto(`${server.url}/check.html?token=${encodeURIComponent(new URL(server.url + link.url).searchParams.get('token'))}`);
    await page.click('#start');
    await page.waitForSelector('#verdict:not([hidden])', { timeout: 60000 });
    const udp = await page.$eval('#steps [data-step="udp"]', (e) => ({
      state: e.querySelector('.step-state').dataset.state, detail: e.querySelector('.step-detail').textContent,
    }));
    assert.equal(udp.state, 'warn', JSON.stringify(udp));
    assert.match(udp.detail, /已改用 TCP 端口 \d+ 连接/);
    const bw = await page.textContent('#steps [data-step="bandwidth"] .step-detail');
    const kbps = Number(bw.match(/服务器收到 ([\d.]+) kbit\/s/)[1]);
    assert.ok(kbps > 50, `media arrived over TCP: ${bw}`);
    assert.equal(await page.getAttribute('#verdict', 'data-verdict'), 'warn');
    assert.match(await page.textContent('#verdict .verdict-advice'), /媒体改走 TCP.*UDP 端口 \d+/);
    await page.screenshot({ path: join(artifacts, 'network-check-tcp.png'), fullPage: true });
    await page.close();

    // The lesson itself, over TCP both ways (this browser cannot use UDP): the classroom behind
    // the firewall sees the teacher, and the teacher sees it.
    await host.goto(server.url + hostLink.url);
    const lesson = await tcpOnly.context.newPage();
    await lesson.goto(server.url + room.url);
    await waitForLiveVideo(lesson, '#stage-video', 30000);
    await host.waitForFunction((name) => [...document.querySelectorAll('#grid .tile')].some((t) =>
      t.textContent.includes(name) && t.querySelector('video').videoWidth > 0), room.name, { timeout: 30000 });
    await lesson.close();
  } finally {
    await host.close();
    await tcpOnly.close();
  }
});
