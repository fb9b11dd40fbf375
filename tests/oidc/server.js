// A real OpenID Connect provider (oidc-provider, OpenID-certified) on loopback, for tests only.
// Usage: node server.js PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
// Its dev login form accepts any password; the login name becomes the account and its email
// (a name without "@" gets "@example.com"). Prints "ready" once listening.
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

function emailOf(id) {
  return id.includes('@') ? id : `${id}@example.com`;
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [redirectUri, new URL('/', redirectUri).href],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  conformIdTokenClaims: false,
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, email: emailOf(id), email_verified: true, name: id }),
  }),
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  pkce: { required: () => false },
  cookies: { keys: ['test-only-not-a-secret'] },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
