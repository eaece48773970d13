// The education platform for the tests: a real OpenID Connect provider (the `oidc-provider`
// package) on loopback, with the accounts a test gives it and one client, Tongbu. Its
// development login page takes any account name the test made (no password check): the test
// signs in through it as a teacher would through the platform's own page.

import Provider from 'oidc-provider';
import { createServer } from 'node:net';
import { startServer } from './harness.mjs';

export const CLIENT_ID = 'tongbu';
export const CLIENT_SECRET = 'tongbu-test-client-secret-0123456789';

/** A free TCP port on loopback (for a server that must know its address before it starts). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts the provider. `accounts`: { id: { name, school, roles } }; `redirectUri`: Tongbu's
 * callback. `idTokenSecs`: how long ID tokens live; `holdTokenMs`: the token endpoint answers
 * that much after issuing (so a short-lived ID token arrives expired).
 */
export async function startPlatform({ accounts, redirectUri, idTokenSecs = 3600, holdTokenMs = 0 }) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    async findAccount(ctx, id) {
      const a = accounts[id];
      if (!a) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, name: a.name, school: a.school, roles: a.roles || [] };
        },
      };
    },
    claims: { openid: ['sub'], profile: ['name', 'school', 'roles'] },
    // The school and roles in the ID token itself, as the programme's platform sends them.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    ttl: { IdToken: idTokenSecs, AccessToken: 600, AuthorizationCode: 60, Session: 3600, Interaction: 600, Grant: 3600 },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: ['tongbu-test-platform-cookie-key'] },
  });
  if (holdTokenMs) {
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.path === '/token') await new Promise((r) => setTimeout(r, holdTokenMs));
    });
  }
  const server = await new Promise((resolve) => {
    const s = provider.listen(port, '127.0.0.1', () => resolve(s));
  });
  return {
    issuer,
    stop: () => new Promise((r) => server.close(r)),
  };
}

/**
 * Signs in on the platform's page a browser `page` was sent to (login, then consent), as
 * account `id`.
 */
export async function signInOnPlatform(page, id) {
  await page.waitForSelector('input[name="login"]', { timeout: 15000 });
  await page.fill('input[name="login"]', id);
  await page.fill('input[name="password"]', 'any');
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  // The consent page, the first time this account meets the client.
  const consent = await page.$('button[type="submit"]');
  if (consent && page.url().includes('/interaction/')) {
    await Promise.all([page.waitForNavigation(), consent.click()]);
  }
}

/**
 * A Tongbu server that signs teachers in with a platform of its own, holding `accounts`
 * (`options`: more for `startPlatform`).
 */
export async function serverWithPlatform(accounts, options = {}) {
  const port = await freePort();
  const platform = await startPlatform({
    accounts,
    redirectUri: `http://127.0.0.1:${port}/auth/callback`,
    ...options,
  });
  const server = await startServer({
    port,
    env: {
      TONGBU_OIDC_ISSUER: platform.issuer,
      TONGBU_OIDC_CLIENT_ID: CLIENT_ID,
      TONGBU_OIDC_CLIENT_SECRET: CLIENT_SECRET,
    },
  });
  return { server, platform };
}
