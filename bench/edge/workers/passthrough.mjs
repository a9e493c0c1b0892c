// Passthrough Worker: no authentication, forwards every request to the origin
// (env.ORIGIN_URL) with its method, headers and body. The floor the authorizers are
// compared with.

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    headers.delete("host");
    return fetch(env.ORIGIN_URL + url.pathname + url.search, {
      method: request.method,
      headers,
      body: request.body,
      redirect: "manual",
    });
  },
};
