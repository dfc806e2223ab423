// The shop's JSON API (docs/api/openapi.yaml) as the journeys use it to set
// up data and to learn what the pages should show.

const REQUEST_TIMEOUT_MS = 10000;

// Sends one request; returns the parsed body, and throws with the problem
// detail unless the status is one of ok.
export async function api(baseUrl, method, path, { body, token, ok = [200, 201] } = {}) {
  const headers = {};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  if (!ok.includes(response.status)) {
    throw new Error(`${method} ${path} returned ${response.status}: ${text}`);
  }
  return text ? JSON.parse(text) : null;
}

// Logs in and returns the bearer token; a bearer session needs no CSRF token.
export async function login(baseUrl, email, password) {
  const session = await api(baseUrl, 'POST', '/api/v1/auth/login', { body: { email, password } });
  return session.token;
}

export function product(baseUrl, slug) {
  return api(baseUrl, 'GET', `/api/v1/products/${encodeURIComponent(slug)}`);
}

// Sets a variant's stock to zero, if it still has the stock the admin API reported.
export async function sellOut(baseUrl, token, productId, variantId) {
  const admin = await api(baseUrl, 'GET', `/api/v1/admin/products/${productId}`, { token });
  const variant = admin.variants.find((v) => v.id === variantId);
  await api(baseUrl, 'POST', `/api/v1/admin/variants/${variantId}/stock`, {
    token,
    body: { set: 0, expected: variant.stock },
  });
}
