// The OpenID provider of fluxboard's SSO tests: oidc-provider (not written here) with one client
// and a few accounts. Usage: node provider.mjs <port> <redirect-uri> <client-secret>
// Prints "ready" once it listens on 127.0.0.1:<port>. Its development login form accepts any
// username with any password; accounts below get groups.
import Provider from 'oidc-provider';

const [port, redirectUri, secret] = process.argv.slice(2);
const groups = { alice: ['platform'], bob: ['team-a-devs'] };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'fluxboard',
    client_secret: secret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'], groups: ['groups'] },
  conformIdTokenClaims: false,
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, preferred_username: id, name: id, email: `${id}@example.test`, groups: groups[id] ?? [] }),
  }),
  features: { devInteractions: { enabled: true } },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
