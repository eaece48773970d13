// H.264 beside VP8: a teacher's page set to H.264 (a classroom PC with a hardware encoder)
// publishes H.264, the server forwards it untouched, and a classroom page (sending VP8 as usual)
// decodes the teacher while the teacher decodes the classroom: two codecs in one lesson.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, waitForLiveVideo, artifacts, operatorApi, until, receivedVideoCodecs, openDemo } from './harness.mjs';

const env = serverAndBrowser();

test('a teacher sending H.264 is decoded by a classroom sending VP8, and back', { timeout: 90000 }, async () => {
  const { server } = env;
  const { demo, pages: [host, classroom] } = await openDemo(env, ['host', 0, '&codec=h264'], 'classroom');
  try {
    const teacher = await waitForLiveVideo(classroom, '#stage-video', 20000);
    assert.ok(teacher.width > 0, 'the classroom decodes the teacher');
    await classroom.waitForFunction(async () => {
      const pc = window.tongbuClient.recvPc;
      return [...(await pc.getStats()).values()].some((s) => s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 10);
    }, null, { timeout: 15000, polling: 500 });
    assert.deepEqual(await receivedVideoCodecs(classroom), ['video/H264'], 'the teacher arrives as H.264');
    await waitForLiveVideo(host, '#grid .tile video', 20000);
    assert.ok((await receivedVideoCodecs(host)).every((c) => c === 'video/VP8'), 'the classroom arrives as VP8');
    const sent = await host.evaluate(async () => {
      const stats = [...(await window.tongbuClient.sendPc.getStats()).values()];
      return stats.filter((s) => s.type === 'outbound-rtp' && s.kind === 'video' && s.framesEncoded > 0)
        .map((s) => stats.find((c) => c.id === s.codecId)?.mimeType);
    });
    assert.ok(sent.length > 0 && sent.every((c) => c === 'video/H264'), `the teacher sends H.264: ${sent}`);
    // The operator's health view names what each camera sends.
    const { value: codecs } = await until(async () => {
      const [, health] = await operatorApi(server, 'GET', `/api/sessions/${demo.session.id}/health`);
      const by = Object.fromEntries(health.participants.map((p) => [p.role, p.video_codec]));
      return by.host === 'H.264' && by.classroom === 'VP8' ? by : null;
    }, 'the codecs in the session\'s health', 15000);
    assert.deepEqual(codecs, { host: 'H.264', classroom: 'VP8' });
  } finally {
    await classroom.screenshot({ path: join(artifacts, 'h264-classroom.png') });
    await host.close();
    await classroom.close();
  }
});
