// oidc_idp.mjs: a small OpenID Connect provider on 127.0.0.1 for the
// console's tests (Node's own http and crypto, nothing else).
//
// It serves what a browser-based code flow with PKCE needs and checks
// what a real provider checks:
//   GET  /.well-known/openid-configuration   discovery
//   GET  /jwks                               its RSA public key (kid "test-1")
//   GET  /authorize                          approves the fixed test user at once and
//                                            redirects to redirect_uri?code=&state=
//                                            (client_id, response_type=code, an S256
//                                            code_challenge, state and nonce required)
//   POST /token                              the code once, for the same client and
//                                            redirect_uri, and only with the verifier whose
//                                            SHA-256 is the challenge -> an RS256 ID token
//   POST /test/sign                          test helper: signs the JSON claims posted
//                                            (for the black-box tests of refused tokens)
//   GET  /test/stats                         counters the tests assert on
// Discovery, JWKS and token answers allow any origin (CORS), as providers
// do for single-page apps.
//
// Prints "issuer: http://127.0.0.1:PORT" on its first line; runs until
// killed. CLIENT_ID (default "silo-console") is the only client.
import http from "node:http";
import crypto from "node:crypto";

const CLIENT_ID = process.env.CLIENT_ID || "silo-console";
const USER = { sub: "olivia-oidc", email: "olivia@example.com", name: "Olivia Example" };
const CODE_TTL_MS = 60000;
const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
const jwk = { ...publicKey.export({ format: "jwk" }), kid: "test-1", alg: "RS256", use: "sig" };
const codes = new Map();
const stats = { authorize: 0, tokens: 0, refused: 0 };
let issuer = "";

const b64url = (buf) => Buffer.from(buf).toString("base64url");

function sign(claims) {
  const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: jwk.kid }));
  const body = b64url(JSON.stringify(claims));
  const signature = crypto.sign("sha256", Buffer.from(`${header}.${body}`), privateKey);
  return `${header}.${body}.${b64url(signature)}`;
}

function send(res, status, doc, headers = {}) {
  res.writeHead(status, { "Content-Type": "application/json", "Access-Control-Allow-Origin": "*",
    "Cache-Control": "no-store", ...headers });
  res.end(JSON.stringify(doc));
}

function refuse(res, error, description) {
  stats.refused++;
  send(res, 400, { error, error_description: description });
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let data = "";
    req.on("data", (c) => {
      data += c;
      if (data.length > 65536) reject(new Error("body too large"));
    });
    req.on("end", () => resolve(data));
    req.on("error", reject);
  });
}

function authorize(res, q) {
  stats.authorize++;
  const redirect = q.get("redirect_uri") || "";
  if (q.get("client_id") !== CLIENT_ID) return refuse(res, "unauthorized_client", "unknown client_id");
  if (!/^https?:\/\//.test(redirect)) return refuse(res, "invalid_request", "redirect_uri must be http(s)");
  if (q.get("response_type") !== "code") return refuse(res, "unsupported_response_type", "only code");
  if (q.get("code_challenge_method") !== "S256" || !q.get("code_challenge")) {
    return refuse(res, "invalid_request", "PKCE with S256 is required");
  }
  if (!q.get("state") || !q.get("nonce")) return refuse(res, "invalid_request", "state and nonce are required");
  if (!(q.get("scope") || "").split(" ").includes("openid")) return refuse(res, "invalid_scope", "openid is required");
  const code = b64url(crypto.randomBytes(24));
  codes.set(code, { redirect, challenge: q.get("code_challenge"), nonce: q.get("nonce"), expires: Date.now() + CODE_TTL_MS });
  const to = new URL(redirect);
  to.searchParams.set("code", code);
  to.searchParams.set("state", q.get("state"));
  res.writeHead(302, { Location: to.toString(), "Cache-Control": "no-store" });
  res.end();
}

async function token(req, res) {
  const form = new URLSearchParams(await readBody(req));
  const code = form.get("code") || "";
  const grant = codes.get(code);
  codes.delete(code); /* once, whatever happens */
  if (form.get("grant_type") !== "authorization_code") return refuse(res, "unsupported_grant_type", "");
  if (!grant || grant.expires < Date.now()) return refuse(res, "invalid_grant", "unknown, used or expired code");
  if (form.get("client_id") !== CLIENT_ID || form.get("redirect_uri") !== grant.redirect) {
    return refuse(res, "invalid_grant", "client_id or redirect_uri differ from the authorization request");
  }
  const verifier = form.get("code_verifier") || "";
  if (b64url(crypto.createHash("sha256").update(verifier).digest()) !== grant.challenge) {
    return refuse(res, "invalid_grant", "PKCE verification failed");
  }
  stats.tokens++;
  const now = Math.floor(Date.now() / 1000);
  const idToken = sign({ iss: issuer, aud: CLIENT_ID, sub: USER.sub, email: USER.email, name: USER.name,
    nonce: grant.nonce, iat: now, exp: now + 3600, auth_time: now });
  send(res, 200, { access_token: b64url(crypto.randomBytes(24)), token_type: "Bearer", expires_in: 3600,
    id_token: idToken, scope: "openid email profile" });
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (req.method === "OPTIONS") {
      res.writeHead(204, { "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Content-Type" });
      return res.end();
    }
    if (req.method === "GET" && url.pathname === "/.well-known/openid-configuration") {
      return send(res, 200, {
        issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`, response_types_supported: ["code"], subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"], code_challenge_methods_supported: ["S256"],
        grant_types_supported: ["authorization_code"], token_endpoint_auth_methods_supported: ["none"],
        scopes_supported: ["openid", "email", "profile"],
      });
    }
    if (req.method === "GET" && url.pathname === "/jwks") return send(res, 200, { keys: [jwk] });
    if (req.method === "GET" && url.pathname === "/authorize") return authorize(res, url.searchParams);
    if (req.method === "POST" && url.pathname === "/token") return await token(req, res);
    if (req.method === "POST" && url.pathname === "/test/sign") {
      return send(res, 200, { token: sign(JSON.parse(await readBody(req))) });
    }
    if (req.method === "GET" && url.pathname === "/test/stats") return send(res, 200, stats);
    send(res, 404, { error: "not_found" });
  } catch (e) {
    send(res, 500, { error: "server_error", error_description: String(e) });
  }
});

server.listen(0, "127.0.0.1", () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  console.log(`issuer: ${issuer}`);
});
