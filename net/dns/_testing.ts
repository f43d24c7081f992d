/**
 * Test helpers for `net/dns/`: Service and Endpoints objects as the store holds them, and a
 * one-shot UDP/TCP DNS client for 127.0.0.1.
 *
 * @module
 */

import { createSocket } from "node:dgram";
import { type Endpoints, EndpointsSchema } from "../../storage/kinds/endpoints.ts";
import { type Service, ServiceSchema } from "../../storage/kinds/service.ts";
import {
  type DecodedPacket,
  decodeMessage,
  encodeMessage,
  type Packet,
  RECURSION_DESIRED,
} from "./_packet.ts";

/** A Service `namespace/name` with `spec` (defaults applied by the schema). */
export function service(namespace: string, name: string, spec: Record<string, unknown>): Service {
  return ServiceSchema.parse({
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace, name },
    spec,
  });
}

/** An Endpoints `namespace/name` with `subsets`. */
export function endpoints(
  namespace: string,
  name: string,
  subsets: Array<Record<string, unknown>>,
): Endpoints {
  return EndpointsSchema.parse({
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { namespace, name },
    subsets,
  });
}

/** A standard query for `name`/`type` with id `id` (EDNS with `udpSize` when given). */
export function queryBytes(
  name: string,
  type: string,
  options: { id?: number; udpSize?: number } = {},
): Uint8Array {
  const message: Packet = {
    type: "query",
    id: options.id ?? 4242,
    flags: RECURSION_DESIRED,
    questions: [{ type: type as "A", name, class: "IN" }],
  };
  if (options.udpSize !== undefined) {
    message.additionals = [{
      type: "OPT",
      name: ".",
      udpPayloadSize: options.udpSize,
      extendedRcode: 0,
      ednsVersion: 0,
      flags: 0,
      flag_do: false,
      options: [],
    }];
  }
  return encodeMessage(message);
}

/** Send raw bytes to 127.0.0.1:`port` over UDP; the reply bytes, or undefined after `timeoutMs`. */
export function udpExchange(
  port: number,
  bytes: Uint8Array,
  timeoutMs = 2000,
): Promise<Uint8Array | undefined> {
  const socket = createSocket({ type: "udp4" });
  return new Promise<Uint8Array | undefined>((resolve, reject) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    socket.on("error", (e: Error) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.on("message", (msg: Uint8Array) => {
      clearTimeout(timer);
      resolve(new Uint8Array(msg));
    });
    socket.send(bytes, port, "127.0.0.1");
  }).finally(() => socket.close());
}

/** Ask 127.0.0.1:`port` over UDP and decode the answer (throws when none comes). */
export async function ask(
  port: number,
  name: string,
  type: string,
  options: { udpSize?: number } = {},
): Promise<DecodedPacket> {
  const reply = await udpExchange(port, queryBytes(name, type, options));
  if (!reply) throw new Error(`no answer to ${type} ${name} from 127.0.0.1:${port}`);
  return decodeMessage(reply);
}

/** Ask 127.0.0.1:`port` over TCP (length-framed) and decode the answer. */
export async function askTcp(port: number, name: string, type: string): Promise<DecodedPacket> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const query = queryBytes(name, type);
    const framed = new Uint8Array(2 + query.length);
    framed.set([query.length >> 8, query.length & 0xff]);
    framed.set(query, 2);
    await conn.write(framed);
    const size = await readExactly(conn, 2);
    return decodeMessage(await readExactly(conn, (size[0]! << 8) | size[1]!));
  } finally {
    conn.close();
  }
}

async function readExactly(conn: Deno.Conn, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  for (let off = 0; off < size;) {
    const n = await conn.read(out.subarray(off));
    if (n === null) throw new Error("connection closed early");
    off += n;
  }
  return out;
}
