// An example reconfig plugin: resolves the host of every "host:port" value in the target's data to its
// addresses, so that a template can write IPs where a daemon wants them (varnish backends, nginx upstreams
// without a resolver). The template sees:
//   plugin.backends: [{ key, name, host, port, addresses: ["10.0.0.1", ...] }, ...]   (sorted by key)
//   plugin.unresolved: [{ key, host, error }]                                            (names that failed)
// Plugins are trusted code: keep them where only root can write.
'use strict';
const dns = require('node:dns').promises;

/** @param {{ target: string, data: Record<string, string>, signal: AbortSignal }} context */
async function get(context) {
  const entries = Object.entries(context.data).filter(([, v]) => /^[^\s:]+:\d+$/.test(v) || /^\[[^\]]+\]:\d+$/.test(v));
  const results = await Promise.all(
    entries.map(async ([key, value]) => {
      const cut = value.lastIndexOf(':');
      const host = value.slice(0, cut).replace(/^\[|\]$/g, '');
      const port = Number(value.slice(cut + 1));
      try {
        const found = await dns.lookup(host, { all: true, verbatim: true });
        return { ok: true, key, name: key.slice(key.lastIndexOf('/') + 1), host, port, addresses: found.map((a) => a.address) };
      } catch (err) {
        return { ok: false, key, host, error: err.code || err.message };
      }
    }),
  );
  return {
    backends: results.filter((r) => r.ok).map(({ key, name, host, port, addresses }) => ({ key, name, host, port, addresses })),
    unresolved: results.filter((r) => !r.ok).map(({ key, host, error }) => ({ key, host, error })),
  };
}

module.exports = { get };
