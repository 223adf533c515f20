// OpenID provider for authgate's interop tests (see ../doc.go).
//
// Usage: node server.mjs [port]   (or PORT=...; 0 or unset picks a free port)
// Listens on 127.0.0.1 only and prints one JSON line {"issuer": ...} on
// stdout once it accepts connections.
//
// It is oidc-provider, configured with:
//   - clients "gw-basic" (client_secret_basic) and "gw-post"
//     (client_secret_post), secret from CLIENT_SECRET (default
//     "interop-secret"), allowed the client_credentials grant and, when
//     registered, the token-exchange grant;
//   - resource indicators: every resource gets RS256 JWT access tokens whose
//     aud is the resource (default resource: DEFAULT_RESOURCE, default
//     "https://api.interop.test") and whose scopes may be read write admin;
//   - an admin API under /admin (not part of the provider):
//       GET  /admin/state   {"signing_kid", "published_kids"}
//       POST /admin/rotate  new key signs; old and new are published (overlap)
//       POST /admin/retire  only the signing key stays published
//     A rotation swaps in a new Provider instance built on the new key set
//     (oidc-provider reads its keys once, at construction).
import crypto from 'node:crypto';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const secret = process.env.CLIENT_SECRET ?? 'interop-secret';
const defaultResource = process.env.DEFAULT_RESOURCE ?? 'https://api.interop.test';
const scopes = 'read write admin';
const accessTokenTTL = Number(process.env.ACCESS_TOKEN_TTL ?? 300);
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

let serial = 0;
function newKey() {
  serial += 1;
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `interop-${serial}-${crypto.randomBytes(4).toString('hex')}`, alg: 'RS256', use: 'sig' };
}

let issuer;
let keys = [newKey()]; // keys[0] signs
let current; // { provider, callback }

function resourceServer(resource) {
  return {
    scope: scopes,
    audience: resource,
    accessTokenTTL,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256', kid: keys[0].kid } },
  };
}

function build() {
  const clients = [
    ['gw-basic', 'client_secret_basic'],
    ['gw-post', 'client_secret_post'],
  ].map(([id, method]) => ({
    client_id: id,
    client_secret: secret,
    grant_types: ['client_credentials', EXCHANGE],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: method,
    scope: scopes,
  }));
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys },
    scopes: scopes.split(' '),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => defaultResource,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => resourceServer(resource),
      },
    },
  });
  registerExchange(provider);
  return { provider, callback: provider.callback() };
}

// RFC 8693 token exchange: the subject token must be a JWT access token this
// provider issued (signature against the provider's current key set, iss,
// exp); the new token is for the requested audience (or resource), with the
// requested scopes narrowed to the subject's, and sub carried over.
function registerExchange(provider) {
  const handler = async (ctx) => {
    const { oidc } = ctx;
    const { params } = oidc;
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE) {
      throw new errors.InvalidRequest('unsupported subject_token_type');
    }
    let claims;
    try {
      const [h, p, s] = params.subject_token.split('.');
      const header = JSON.parse(Buffer.from(h, 'base64url'));
      const key = keys.find((k) => k.kid === header.kid);
      if (!key || header.alg !== 'RS256' || s === undefined) throw new Error('unknown key');
      const pub = crypto.createPublicKey({ key: { kty: key.kty, n: key.n, e: key.e }, format: 'jwk' });
      if (!crypto.verify('sha256', Buffer.from(`${h}.${p}`), pub, Buffer.from(s, 'base64url'))) throw new Error('bad signature');
      claims = JSON.parse(Buffer.from(p, 'base64url'));
      if (claims.iss !== issuer) throw new Error('wrong issuer');
      if (!(claims.exp > Date.now() / 1000)) throw new Error('expired');
    } catch (err) {
      throw new errors.InvalidGrant(`subject_token invalid: ${err.message}`);
    }
    const target = params.audience || params.resource || defaultResource;
    if (target === 'https://forbidden.interop.test') {
      throw new errors.InvalidTarget('exchange to this audience is not allowed');
    }
    const granted = new Set(String(claims.scope ?? '').split(' ').filter(Boolean));
    const requested = params.scope ? params.scope.split(' ') : [...granted];
    const scope = requested.filter((s) => granted.has(s)).join(' ');

    const now = Math.floor(Date.now() / 1000);
    const exp = Math.min(now + accessTokenTTL, claims.exp);
    const payload = {
      iss: issuer, sub: claims.sub, aud: target, client_id: oidc.client.clientId,
      scope, iat: now, exp, jti: crypto.randomUUID(),
      act: { sub: oidc.client.clientId },
    };
    const header = { alg: 'RS256', typ: 'at+jwt', kid: keys[0].kid };
    const enc = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const input = `${enc(header)}.${enc(payload)}`;
    const priv = crypto.createPrivateKey({ key: keys[0], format: 'jwk' });
    const sig = crypto.sign('sha256', Buffer.from(input), priv).toString('base64url');
    ctx.body = {
      access_token: `${input}.${sig}`,
      issued_token_type: ACCESS_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: exp - now,
      scope,
    };
  };
  provider.registerGrantType(EXCHANGE, handler, ['subject_token', 'subject_token_type', 'audience', 'resource', 'scope']);
}

function state() {
  const pub = keys.map((k) => k.kid);
  return { signing_kid: keys[0].kid, published_kids: pub };
}

function admin(req, res) {
  const send = (code, body) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.url === '/admin/state' && req.method === 'GET') return send(200, state());
  if (req.url === '/admin/rotate' && req.method === 'POST') {
    keys = [newKey(), ...keys];
    current = build();
    return send(200, state());
  }
  if (req.url === '/admin/retire' && req.method === 'POST') {
    keys = [keys[0]];
    current = build();
    return send(200, state());
  }
  return send(404, { error: 'not_found' });
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/admin/')) return admin(req, res);
  return current.callback(req, res);
});
server.listen(port, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  current = build();
  process.stdout.write(`${JSON.stringify({ issuer, ...state() })}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
