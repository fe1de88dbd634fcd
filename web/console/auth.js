/* auth.js: the three ways into the console.
 *
 * 1. A one-time sign-in link, API_URL/#login=CODE: the code is taken out
 *    of the address at once (history.replaceState), then exchanged at
 *    POST /api/console/login for a session token.
 * 2. OpenID Connect, when the server names an issuer: the authorization
 *    code flow with PKCE (S256), run in this page. Discovery document,
 *    then a redirect to the issuer's authorization endpoint with state,
 *    nonce and the code challenge; on the way back (?code=&state=) the
 *    code is exchanged at the token endpoint with the verifier, the ID
 *    token's nonce, iss and aud are checked here, and the ID token is the
 *    Bearer credential (silo verifies it against the issuer's JWKS).
 *    The verifier, state and nonce wait in sessionStorage meanwhile.
 * 3. A pasted token or API key.
 * Each ends with the token in sessionStorage (lib.js). */
import { session, setToken, jwtClaims } from "./lib.js";

const OIDC_KEY = "silo.console.oidc";

/* Exchanges a #login=CODE in the address; false when there is none.
 * Throws with a message for the sign-in page when the code is refused. */
export async function fromLoginLink() {
  const m = location.hash.match(/^#login=([^&]*)$/);
  if (!m) return false;
  history.replaceState(null, "", location.pathname);
  const r = await fetch("/api/console/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ code: decodeURIComponent(m[1]) }),
  });
  const doc = await r.json().catch(() => ({}));
  if (!r.ok || !doc.token) throw new Error(doc.detail || `this sign-in link did not work (${r.status})`);
  setToken(doc.token);
  return true;
}

const base64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const randomString = () => base64url(crypto.getRandomValues(new Uint8Array(32)));
const redirectUri = () => location.origin + "/";

async function discover(issuer) {
  const r = await fetch(issuer.replace(/\/$/, "") + "/.well-known/openid-configuration");
  if (!r.ok) throw new Error(`the identity provider's discovery document answered ${r.status}`);
  const d = await r.json();
  if (d.issuer !== issuer) throw new Error("the identity provider's discovery document names another issuer");
  if (!d.authorization_endpoint || !d.token_endpoint) throw new Error("the identity provider has no code flow");
  return d;
}

/* Leaves for the issuer's sign-in page. */
export async function startOidc() {
  const { issuer, client_id: clientId } = session.config.oidc;
  if (!window.isSecureContext || !crypto.subtle) throw new Error("signing in with an identity provider needs https");
  const d = await discover(issuer);
  const verifier = randomString();
  const state = randomString();
  const nonce = randomString();
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(OIDC_KEY, JSON.stringify({ verifier, state, nonce, tokenEndpoint: d.token_endpoint }));
  const url = new URL(d.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri(),
    scope: "openid email profile",
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.toString());
}

/* Finishes a sign-in the issuer sent back here; false when the address
 * carries none. Throws with a message for the sign-in page otherwise. */
export async function fromOidcRedirect() {
  const q = new URLSearchParams(location.search);
  if (!q.has("state") || !(q.has("code") || q.has("error"))) return false;
  const pending = JSON.parse(sessionStorage.getItem(OIDC_KEY) || "null");
  sessionStorage.removeItem(OIDC_KEY);
  history.replaceState(null, "", location.pathname);
  const oidc = session.config && session.config.oidc;
  if (!oidc || !pending || pending.state !== q.get("state")) {
    throw new Error("this sign-in answer does not match a sign-in started in this tab; try again");
  }
  if (q.has("error")) throw new Error("the identity provider refused: " + (q.get("error_description") || q.get("error")));
  const r = await fetch(pending.tokenEndpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: q.get("code"),
      redirect_uri: redirectUri(),
      client_id: oidc.client_id,
      code_verifier: pending.verifier,
    }).toString(),
  });
  const doc = await r.json().catch(() => ({}));
  if (!r.ok || !doc.id_token) {
    throw new Error("the identity provider gave no ID token: " + (doc.error_description || doc.error || r.status));
  }
  const claims = jwtClaims(doc.id_token);
  const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.nonce !== pending.nonce || claims.iss !== oidc.issuer || !audience.includes(oidc.client_id)) {
    throw new Error("the ID token is not for this sign-in (nonce, issuer or audience differ)");
  }
  setToken(doc.id_token);
  return true;
}
