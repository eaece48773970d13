// Sharing and speaking in real Chromium: the host uploads courseware (two slides, images that
// every classroom fetches ahead and that page turns switch) and shares its screen, and a
// classroom sees the shared content large with the teacher's camera in its corner; an
// observer asks to speak, the host gives it the floor and takes it back; the classroom page's
// language toggle switches every string it shows.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, waitForLiveVideo, slideImage as slide, artifacts, openDemo } from './harness.mjs';

const env = serverAndBrowser();

/** The colour at the middle of what a <video> or <img> shows now, as [r, g, b]. */
async function middleColour(page, selector) {
  return page.evaluate((sel) => {
    const v = document.querySelector(sel);
    const cv = document.createElement('canvas');
    cv.width = v.videoWidth || v.naturalWidth;
    cv.height = v.videoHeight || v.naturalHeight;
    const g = cv.getContext('2d');
    g.drawImage(v, 0, 0);
    const d = g.getImageData(Math.floor(cv.width / 2), Math.floor(cv.height / 2), 1, 1).data;
    return [d[0], d[1], d[2]];
  }, selector);
}

async function waitForColour(page, selector, want, what) {
  const deadline = Date.now() + 15000;
  let got = null;
  while (Date.now() < deadline) {
    got = await middleColour(page, selector);
    if (want(got)) return got;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: the middle of ${selector} is ${JSON.stringify(got)}`);
}

test('the host shares courseware and its screen; a classroom sees it large, the teacher in the corner', { timeout: 120000 }, async () => {
  const { server } = env;
  const { demo, pages: [host, room] } = await openDemo(env, 'host', 'classroom');
  try {
    await waitForLiveVideo(room, '#stage-video', 20000);
    await host.locator('#share-slides').waitFor({ state: 'visible', timeout: 10000 });
    assert.equal(await room.isVisible('#share-slides'), false, 'only the host shares');

    // Courseware: two slides, red then blue.
    const files = [
      { name: '1.png', mimeType: 'image/png', buffer: await slide(host, '#d02020') },
      { name: '2.png', mimeType: 'image/png', buffer: await slide(host, '#2040d0') },
    ];
    await host.setInputFiles('#slides-file', files);
    await host.locator('#stop-share').waitFor({ state: 'visible', timeout: 10000 });
    await host.waitForFunction(() => document.querySelector('#slide-count').textContent === '1 / 2', null, { timeout: 10000 });
    await room.waitForFunction(() => document.body.classList.contains('has-slide'), null, { timeout: 15000 });
    await room.waitForFunction(() => (document.querySelector('#stage-slide').dataset.slide || '').endsWith(':0'), null, { timeout: 15000 });
    // Both pages were fetched ahead, before the host turned to the second.
    await room.waitForFunction(() => document.body.dataset.courseware === 'ready', null, { timeout: 15000 });
    await waitForLiveVideo(room, '#stage-pip', 15000);
    const red = await waitForColour(room, '#stage-slide', ([r, g, b]) => r > 150 && g < 90 && b < 90, 'slide 1 is red');
    const stage = await room.$eval('#stage-slide', (i) => ({ w: i.naturalWidth, h: i.naturalHeight }));
    assert.deepEqual(stage, { w: 800, h: 600 }, 'the page as uploaded, not a video of it');
    const pip = await room.$eval('#stage-pip', (v) => ({
      muted: v.muted,
      audio: v.srcObject.getAudioTracks().length,
      box: v.getBoundingClientRect().toJSON(),
      stage: document.querySelector('#stage').getBoundingClientRect().toJSON(),
    }));
    assert.ok(!pip.muted && pip.audio === 1, 'the teacher is heard from the corner picture');
    assert.ok(pip.box.width < pip.stage.width / 2 && pip.box.right <= pip.stage.right + 1, 'the camera sits in the corner');
    await room.screenshot({ path: join(artifacts, 'share-classroom-slides.png') });
    await host.screenshot({ path: join(artifacts, 'share-host-slides.png') });

    await host.click('#slide-next');
    await host.waitForFunction(() => document.querySelector('#slide-count').textContent === '2 / 2', null, { timeout: 10000 });
    await waitForColour(room, '#stage-slide', ([r, g, b]) => b > 150 && r < 90, `slide 2 is blue (slide 1 was ${red})`);
    await host.screenshot({ path: join(artifacts, 'share-host-slide-2.png') });

    // Stopped: the teacher is back on the stage.
    await host.click('#stop-share');
    await room.waitForFunction(() => !document.body.classList.contains('has-screen'), null, { timeout: 15000 });
    assert.equal(await room.isVisible('#stage-slide'), false);
    assert.equal(await room.isVisible('#stage-pip'), false);
    await waitForLiveVideo(room, '#stage-video', 15000);
    assert.equal(await room.$eval('#stage-video', (v) => v.srcObject.getAudioTracks().length), 1);

    // The screen, as the browser captures it (Chromium's fake capture here).
    await host.click('#share-screen');
    await host.locator('#stop-share').waitFor({ state: 'visible', timeout: 10000 });
    await room.waitForFunction(() => document.body.classList.contains('has-screen'), null, { timeout: 15000 });
    await waitForLiveVideo(room, '#stage-video', 15000);
    await room.screenshot({ path: join(artifacts, 'share-classroom-screen.png') });
    // On a 1024x768 projector the shared screen and the teacher still fit, nothing sideways.
    await room.setViewportSize({ width: 1024, height: 768 });
    const fit = await room.evaluate(() => {
      const stage = document.querySelector('#stage').getBoundingClientRect();
      const pip = document.querySelector('#stage-pip').getBoundingClientRect();
      return {
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
        stageBottom: stage.bottom,
        pipInside: pip.left >= stage.left && pip.right <= stage.right + 1 && pip.bottom <= stage.bottom + 1,
      };
    });
    assert.ok(fit.scroll <= fit.client, `no sideways overflow on a projector (${fit.scroll} > ${fit.client})`);
    assert.ok(fit.stageBottom <= 768, `the stage fits the screen (bottom ${fit.stageBottom})`);
    assert.ok(fit.pipInside, 'the teacher stays inside the stage');
    await room.screenshot({ path: join(artifacts, 'share-classroom-projector.png') });
    await room.setViewportSize({ width: 1366, height: 768 });
    await host.click('#stop-share');
    await room.waitForFunction(() => !document.body.classList.contains('has-screen'), null, { timeout: 15000 });

    // The classroom page in English: every string it shows switches.
    await room.click('#lang');
    const chinese = await room.evaluate(() => {
      const han = /[\u3400-\u9fff]/;
      // The language button names the other language.
      const own = [...document.querySelectorAll('[data-i18n], button, #state, #conn, #stage-empty, #link-banner, #banner, label, [aria-label]')]
        .filter((el) => el.id !== 'lang')
        .filter((el) => el.offsetParent !== null || el.getClientRects().length)
        .flatMap((el) => [el.textContent.trim(), el.getAttribute('aria-label') || '', el.getAttribute('placeholder') || ''])
        .filter((s) => han.test(s));
      // Names of people, schools and the lesson stay as they are.
      const names = [document.title, document.querySelector('#title').textContent, document.querySelector('#me').textContent,
        ...[...document.querySelectorAll('.name, #stage-caption, #chat-log li')].map((e) => e.textContent)];
      return own.filter((s) => !names.some((n) => n && (n.includes(s) || s.includes(n.split(' · ').pop()))));
    });
    assert.deepEqual(chinese, [], 'no Chinese UI string left in English');
    assert.equal(await room.textContent('#title'), demo.session.title, 'the lesson keeps its title');
    assert.match(await room.textContent('#me'), /^Remote classroom · /);
    assert.equal(await room.textContent('#lang'), '中文');
    await room.screenshot({ path: join(artifacts, 'classroom-en.png') });
    await room.click('#lang'); // the choice is remembered: back to Chinese for the next test
  } finally {
    for (const p of [host, room]) await p.close();
  }
});

test('an observer asks to speak; the host gives it the floor and takes it back', { timeout: 90000 }, async () => {
  const { pages: [host, obs] } = await openDemo(env, 'host', 'observer');
  try {
    await obs.locator('#hand').waitFor({ state: 'visible', timeout: 10000 });
    assert.equal(await obs.isVisible('#self'), false, 'an observer is not on camera');
    await obs.click('#hand');
    const tile = host.locator('#grid .tile[data-role="observer"]');
    await tile.locator('.hand').waitFor({ state: 'visible', timeout: 10000 });
    await tile.locator('button.floor', { hasText: '请其发言' }).click();

    await obs.locator('#self').waitFor({ state: 'visible', timeout: 10000 });
    await obs.waitForFunction(() => /主讲老师请你发言/.test(document.querySelector('#banner').textContent), null, { timeout: 10000 });
    await waitForLiveVideo(host, '#grid .tile[data-role="observer"] video', 20000);
    await tile.locator('.floor-tag').waitFor({ state: 'visible', timeout: 5000 });
    assert.equal(await tile.locator('.hand').isVisible(), false, 'the hand is down once it speaks');
    await host.screenshot({ path: join(artifacts, 'host-observer-floor.png') });

    await tile.locator('button.floor', { hasText: '结束发言' }).click();
    await obs.waitForFunction(() => /发言已结束/.test(document.querySelector('#banner').textContent), null, { timeout: 10000 });
    assert.equal(await obs.isVisible('#self'), false);
    await host.waitForFunction(() => !document.querySelector('#grid .tile[data-role="observer"]'), null, { timeout: 10000 });
  } finally {
    for (const p of [host, obs]) await p.close();
  }
});
