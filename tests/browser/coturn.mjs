// A TURN relay for the tests: Debian's coturn, TURN over TLS on port 443 of `ip` (a self-signed
// certificate made here), checking credentials by the TURN REST API's shared secret, as a
// school's relay would. Started and stopped by the test.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TURNSERVER = '/usr/bin/turnserver';

/** Whether coturn is installed (the test command installs it). */
export function haveCoturn() {
  return existsSync(TURNSERVER);
}

/** Starts the relay; resolves once it listens. */
export async function startCoturn({ ip, secret }) {
  const dir = mkdtempSync(join(tmpdir(), 'tongbu-coturn-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=tongbu-test-relay',
    '-addext', `subjectAltName=IP:${ip}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const conf = join(dir, 'turnserver.conf');
  writeFileSync(conf, [
    `listening-ip=${ip}`,
    `relay-ip=${ip}`,
    'tls-listening-port=443',
    // TLS only, as a firewall that lets HTTPS out sees it.
    'no-udp', 'no-tcp', 'no-dtls',
    `cert=${cert}`, `pkey=${key}`,
    'use-auth-secret', `static-auth-secret=${secret}`, 'realm=tongbu.test',
    'fingerprint', 'no-cli', 'no-multicast-peers',
    'min-port=49160', 'max-port=49200',
    'log-file=stdout', 'simple-log', `pidfile=${join(dir, 'turnserver.pid')}`,
    '',
  ].join('\n'));
  const child = spawn(TURNSERVER, ['-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coturn did not start:\n${log}`)), 15000);
    const poll = setInterval(() => {
      if (/TLS.*listener opened|listener opened on.*443|Total General servers/i.test(log)) {
        clearInterval(poll);
        clearTimeout(timer);
        // Its listeners open right after it says so.
        setTimeout(resolve, 300);
      }
    }, 100);
    child.on('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`coturn exited with ${code}:\n${log}`));
    });
  });
  return {
    url: `turns:${ip}:443?transport=tcp`,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.on('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
