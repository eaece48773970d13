// A classroom's own network for impairment tests: a network namespace joined to the test's by a
// veth pair (the server on 10.77.<n>.1, the classroom on .2), with a token-bucket cap on what
// the server sends it. Made and removed by the test; nothing leaves the machine. Needs root
// (the test command runs as root inside its own loopback-only namespace).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function ip(...args) {
  return execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

function tc(...args) {
  return execFileSync('tc', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Whether this process may make namespaces and links (else the impairment tests skip). */
export function canMakeNetworks() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return false;
  try {
    ip('netns', 'list');
    tc('qdisc', 'show');
    return true;
  } catch {
    return false;
  }
}

let made = 0;

/** Namespaces an earlier run left behind (it was killed) go first: their process is gone. */
function removeStale() {
  for (const line of ip('netns', 'list').split('\n')) {
    const m = line.match(/^(tongbu-class-(\d+)-\d+)/);
    if (!m) continue;
    let alive = true;
    try {
      process.kill(Number(m[2]), 0);
    } catch {
      alive = false;
    }
    if (!alive) {
      try {
        ip('netns', 'del', m[1]);
      } catch {}
    }
  }
}

/** A namespace for one classroom, its veth pair, and a Chromium wrapper that runs inside it. */
export function classroomNetwork() {
  removeStale();
  const n = (process.pid + made++) % 200 + 20;
  const ns = `tongbu-class-${process.pid}-${made}`;
  const outer = `tbv${n}a`;
  const inner = `tbv${n}b`;
  const serverIp = `10.77.${n}.1`;
  const clientIp = `10.77.${n}.2`;
  ip('netns', 'add', ns);
  try {
    ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
    ip('link', 'set', inner, 'netns', ns);
    ip('addr', 'add', `${serverIp}/24`, 'dev', outer);
    ip('link', 'set', outer, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${clientIp}/24`, 'dev', inner);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', inner, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  } catch (e) {
    ip('netns', 'del', ns);
    throw e;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tongbu-netns-'));
  const chromium = join(dir, 'chromium-in-netns');
  writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${ns} ${process.env.CHROMIUM || '/usr/bin/chromium'} "$@"\n`);
  chmodSync(chromium, 0o755);
  return {
    ns,
    serverIp,
    clientIp,
    /** Runs Chromium inside the classroom's namespace (for `launchBrowser`). */
    chromium,
    /** Caps what reaches the classroom at `kbit` kbit/s (a token bucket, 100 ms of queue). */
    cap(kbit) {
      const burst = Math.max(3000, Math.round((kbit * 1000) / 8 / 50));
      tc('qdisc', 'replace', 'dev', outer, 'root', 'tbf', 'rate', `${kbit}kbit`, 'burst', String(burst), 'latency', '100ms');
    },
    /**
     * A school firewall: from the classroom only TCP to `tcpPorts` goes out (the web server's
     * port, HTTPS on 443); UDP and every other TCP port are refused at once (not dropped, so the
     * browser gives up on them quickly, as behind a firewall that rejects).
     */
    firewall(tcpPorts) {
      const rules = `table inet school {
  chain out {
    type filter hook output priority 0; policy accept;
    oifname "lo" accept
    meta l4proto udp reject
    tcp dport != { ${tcpPorts.join(', ')} } reject with tcp reset
  }
}
`;
      execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: rules, stdio: ['pipe', 'pipe', 'pipe'] });
    },
    /** The link goes down both ways: everything in and out of the namespace is dropped
     * silently (nftables), as when a rural line fails. */
    cut() {
      const rules = `table inet cut {
  chain in { type filter hook input priority 0; policy drop; iifname "lo" accept; }
  chain out { type filter hook output priority 0; policy drop; oifname "lo" accept; }
}
`;
      execFileSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: rules, stdio: ['pipe', 'pipe', 'pipe'] });
    },
    /** The link comes back. */
    mend() {
      ip('netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'cut');
    },
    /** Takes the cap away. */
    lift() {
      tc('qdisc', 'del', 'dev', outer, 'root');
    },
    /** Packets the cap dropped so far. */
    drops() {
      const m = tc('-s', 'qdisc', 'show', 'dev', outer).match(/dropped (\d+)/);
      return m ? Number(m[1]) : 0;
    },
    remove() {
      try {
        ip('netns', 'del', ns);
      } catch {}
      try {
        ip('link', 'del', outer);
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
