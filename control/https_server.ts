/**
 * {@linkcode serveHttps}: the API server's HTTPS listener, a fetch handler (the Hono app) on
 * `node:https` through `@hono/node-server`. This is the one module that knows that.
 *
 * Why not `Deno.serve`: over TLS it writes a response's head and a body of more than a few
 * hundred bytes as two segments, and leaves Nagle's algorithm on, so on a kept-alive
 * connection the body waits for the client's delayed ACK: 40 ms on Linux, on every pod GET
 * and status PATCH (measured: 44 ms per 2 KB GET, 413 requests/s with 20 clients; here
 * 1.6 ms and over 9000/s). `node:https` sets TCP_NODELAY on accepted sockets. It speaks
 * HTTP/1.1 only; kubectl and client-go then use HTTP/1.1, one connection per watch.
 *
 * @example
 * ```ts
 * const server = await serveHttps({ hostname: "127.0.0.1", port: 0, cert, key }, app.fetch);
 * console.log(server.addr.port);
 * await server.shutdown();
 * ```
 *
 * @module
 */

import { createAdaptorServer } from "@hono/node-server";
import { createServer, type Server } from "node:https";

/** Where and with which key pair to listen. */
export interface HttpsOptions {
  hostname: string;
  /** 0 picks a free port */
  port: number;
  /** PEM certificate chain */
  cert: string;
  /** PEM private key */
  key: string;
}

/** A listening HTTPS server. */
export interface HttpsServer {
  /** the address it listens on (the real port when 0 was asked for) */
  addr: Deno.NetAddr;
  /** stop accepting, end every open connection (watches too); resolves once closed */
  shutdown(): Promise<void>;
}

/** Serves `fetch` over HTTPS until {@linkcode HttpsServer.shutdown}. */
export async function serveHttps(
  options: HttpsOptions,
  fetch: (request: Request) => Response | Promise<Response>,
): Promise<HttpsServer> {
  const server = createAdaptorServer({
    fetch,
    // by default it swaps the global Request/Response for its own, which `Deno.serve` (the
    // agent's log server, in the same process under `up`) refuses to send
    overrideGlobalObjects: false,
    createServer,
    serverOptions: { cert: options.cert, key: options.key, noDelay: true },
  }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") {
    throw new Error(`Cannot serve HTTPS on ${options.hostname}:${options.port}: no TCP address`);
  }
  let closed: Promise<void> | undefined;
  return {
    addr: { transport: "tcp", hostname: address.address, port: address.port },
    shutdown() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
