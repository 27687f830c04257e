// The one door to the server: POST /graphql with the pasted token.
// The token lives in sessionStorage, so it dies with the tab and is never
// written to disk by the viewer.

const TOKEN_KEY = "rollout-ledger.token";

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? "";
}

export function setToken(token) {
  const trimmed = token.trim();
  if (trimmed) sessionStorage.setItem(TOKEN_KEY, trimmed);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {}

export async function gql(query, variables = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  const token = getToken();
  // An empty token sends no header: the server then treats the call as an
  // anonymous read, which it allows only under --anonymous-reads.
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch("graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the server answered HTTP ${response.status} without JSON`);
  }
  if (body.error) throw new ApiError(`${body.error.code}: ${body.error.message}`);
  if (body.errors?.length) {
    throw new ApiError(body.errors.map((e) => e.message).join("; "));
  }
  if (!response.ok || !body.data) throw new ApiError(`the server answered HTTP ${response.status}`);
  return body.data;
}
