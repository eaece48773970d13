// 同课异构 in real Chromium: the demo research session compares two lessons on the same topic.
// Both teaching classrooms join (fake cameras); an observer's page shows the two lessons side by
// side, each with its title, teacher and classroom and its own live video, in both languages.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, waitForLiveVideo, artifacts } from './harness.mjs';

const env = serverAndBrowser();

test('an observer sees the two compared lessons side by side', { timeout: 90000 }, async () => {
  const { server, browser } = env;
  const demo = await (await fetch(`${server.url}/api/demo`)).json();
  const { session, links } = demo.research;
  const { left, right } = session.comparison;
  // The two teaching classrooms, found by the classroom names the comparison names.
  const pages = [];
  const teaching = [];
  for (const side of [left, right]) {
    const link = links.filter((l) => l.role === 'classroom').find((l) => l.classroom === side.classroom) || null;
    teaching.push(link);
  }
  assert.ok(teaching.every(Boolean), `a link per compared classroom: ${JSON.stringify(links.map((l) => [l.role, l.name, l.classroom]))}`);
  for (const l of teaching) {
    const p = await browser.context.newPage();
    await p.goto(server.url + l.url);
    pages.push(p);
  }
  // The shared observer link (the other observer link is an invited 教研员's own).
  const observerLink = links.find((l) => l.role === 'observer' && l.name.startsWith('观察员'));
  const observer = await browser.context.newPage();
  await observer.goto(server.url + observerLink.url);
  try {
    await observer.waitForSelector('#compare:not([hidden]) .compare-panel');
    const panels = await observer.$$eval('#compare .compare-panel', (els) => els.map((e) => ({
      side: e.querySelector('.compare-side').textContent,
      title: e.querySelector('.compare-title').textContent,
      who: e.querySelector('.compare-who').textContent,
    })));
    assert.deepEqual(panels.map((p) => p.side), ['课例一', '课例二']);
    assert.deepEqual(panels.map((p) => p.title), [left.title, right.title]);
    assert.ok(panels[0].who.startsWith(left.teacher) && panels[0].who.includes(teaching[0].name), JSON.stringify(panels[0]));
    assert.ok(panels[1].who.startsWith(right.teacher) && panels[1].who.includes(teaching[1].name), JSON.stringify(panels[1]));
    // Each panel plays its own classroom's camera.
    for (const i of [1, 2]) await waitForLiveVideo(observer, `#compare .compare-panel:nth-child(${i}) video`, 20000);
    const boxes = await observer.$$eval('#compare .compare-panel', (els) => els.map((e) => e.getBoundingClientRect()));
    assert.ok(Math.abs(boxes[0].top - boxes[1].top) < 2 && boxes[0].right <= boxes[1].left, 'side by side');
    const { scroll, client } = await observer.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    assert.ok(scroll <= client, `no sideways overflow (${scroll} > ${client})`);
    await observer.screenshot({ path: join(artifacts, 'research-compare.png') });

    await observer.click('#lang');
    assert.deepEqual(await observer.$$eval('#compare .compare-side', (els) => els.map((e) => e.textContent)), ['Lesson A', 'Lesson B']);
    await observer.screenshot({ path: join(artifacts, 'research-compare-en.png') });
    await observer.click('#lang');
  } finally {
    for (const p of [...pages, observer]) await p.close();
  }
});
