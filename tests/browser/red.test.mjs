// Redundant audio (RED, RFC 2198): Chromium offers it; the server's answer lists it first, so
// the teacher's page sends each opus frame twice (in its own packet and the next), and a
// classroom page that negotiated RED plays the teacher, receiving the packets whole once its
// link has room for the redundancy. (A subscriber without RED gets the primary frames as opus,
// and a lost packet rebuilt: tests/audio_repair.rs; a full link gets the primary frames alone:
// weak_link.test.mjs.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serverAndBrowser, artifacts, until, operatorApi, videoState, openDemo } from './harness.mjs';

const env = serverAndBrowser();

/** The codecs of a page's audio streams, sent or received, with their packet counts. */
async function audioStreams(page, pc, type) {
  return page.evaluate(async ({ pc, type }) => {
    const conn = window.tongbuClient?.[pc];
    if (!conn) return [];
    const stats = [...(await conn.getStats()).values()];
    return stats.filter((s) => s.type === type && s.kind === 'audio')
      .map((s) => ({
        codec: stats.find((c) => c.id === s.codecId)?.mimeType,
        packets: s.packetsSent ?? s.packetsReceived ?? 0,
        bytes: s.bytesSent ?? s.bytesReceived ?? 0,
        samples: s.totalSamplesReceived ?? 0,
        concealed: s.concealedSamples ?? 0,
      }));
  }, { pc, type });
}

test('the teacher sends redundant audio and a classroom plays it', { timeout: 90000 }, async () => {
  const { server } = env;
  const { pages: [host, classroom] } = await openDemo(env, 'host', 'classroom');
  try {
    const { value: sent } = await until(async () => {
      const s = await audioStreams(host, 'sendPc', 'outbound-rtp');
      return s.some((x) => x.packets > 50) ? s : null;
    }, 'the teacher\'s audio', 20000);
    // Chromium's statistics name the primary codec; the server counts what arrived as RED.
    const red = await host.evaluate(() => window.tongbuClient.sendPc.getSenders()
      .flatMap((s) => s.getParameters().codecs ?? []).map((c) => c.mimeType));
    assert.equal(red[0], 'audio/red', `RED negotiated first: ${red}`);
    const { value: media } = await until(async () => {
      const [, h] = await operatorApi(server, 'GET', '/api/health');
      return h.media.red_in > 50 ? h.media : null;
    }, 'RED packets at the server', 15000);
    console.log('teacher sends', JSON.stringify(sent), 'server received', media.red_in, 'RED packets of', media.rtp_in);
    // The classroom receives the teacher's audio and plays it, hardly concealing anything.
    const { value: got } = await until(async () => {
      const s = await audioStreams(classroom, 'recvPc', 'inbound-rtp');
      return s.some((x) => x.packets > 100 && x.samples > 48000) ? s : null;
    }, 'the teacher\'s audio at the classroom', 20000);
    console.log('classroom receives', JSON.stringify(got));
    const teacher = got.find((s) => s.packets > 100);
    assert.ok(teacher.concealed < teacher.samples * 0.05, `played, not concealed: ${JSON.stringify(teacher)}`);
    // Once the classroom's link carries the teacher's top layer, there is room for the
    // redundancy: the packets arrive whole, as many bytes each as the teacher sends (its primary
    // frames alone would be half).
    await until(async () => (await videoState(classroom, '#stage-video'))?.width >= 1280, 'the top layer', 45000);
    const snapshot = async () => ({
      sent: (await audioStreams(host, 'sendPc', 'outbound-rtp'))[0],
      got: (await audioStreams(classroom, 'recvPc', 'inbound-rtp')).find((s) => s.packets > 100),
    });
    const a = await snapshot();
    await new Promise((r) => setTimeout(r, 3000));
    const b = await snapshot();
    const perPacket = (x, y) => (y.bytes - x.bytes) / Math.max(1, y.packets - x.packets);
    const [atClassroom, atTeacher] = [perPacket(a.got, b.got), perPacket(a.sent, b.sent)];
    console.log(`bytes a packet over 3 s: classroom ${atClassroom.toFixed(1)}, teacher ${atTeacher.toFixed(1)}`);
    const ratio = atClassroom / atTeacher;
    assert.ok(ratio > 0.85 && ratio < 1.15, `RED passes whole to a page that negotiated it (ratio ${ratio.toFixed(2)})`);
  } finally {
    await classroom.screenshot({ path: join(artifacts, 'red-classroom.png') });
    await host.close();
    await classroom.close();
  }
});
