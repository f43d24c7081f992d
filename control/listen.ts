/**
 * `HOST:PORT` listen addresses, in a module of its own so that `mod.ts agent` can parse its
 * `--agent-listen` without loading the control plane.
 *
 * @module
 */

/** Split `HOST:PORT` (IPv6 as `[::1]:6443`); throws a clear error when malformed. */
export function parseListen(listen: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(listen);
  const port = Number(m?.[3]);
  if (!m || port > 65535) {
    throw new Error(`--listen must be HOST:PORT (e.g. 127.0.0.1:6443), got "${listen}"`);
  }
  return { hostname: m[1] ?? m[2]!, port };
}
