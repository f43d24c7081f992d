/**
 * {@linkcode ClusterDnsServer}: serves a {@linkcode ClusterRecords} zone over UDP and TCP on one
 * host:port, as CoreDNS with the `kubernetes` plugin (and `forward` when an upstream is set).
 *
 * - Cluster answers carry the AA flag; a UDP answer larger than 512 bytes (or the size the
 *   client's EDNS OPT record allows, up to 4096) goes out empty with the TC flag, so the client
 *   retries over TCP (2-byte length framing, several queries per connection).
 * - Names outside the cluster domain are relayed as-is to the upstream (`IP:port`, over UDP,
 *   again over TCP when a TCP client's answer came back truncated); without an upstream they are
 *   answered REFUSED, as CoreDNS does for a name no server block serves, so a stub resolver moves
 *   on to its next nameserver at once. An upstream that does not answer gives SERVFAIL. A CNAME
 *   (ExternalName) whose target is outside the domain is followed through the upstream for
 *   A/AAAA questions, as CoreDNS does.
 * - A packet shorter than a header, or one that is itself a response, is dropped; one that does
 *   not parse is answered FORMERR; several questions FORMERR; an opcode other than QUERY NOTIMP;
 *   a class other than IN, and zone transfers, REFUSED. Nothing a client sends can throw out of
 *   the server.
 *
 * UDP uses `node:dgram` (`Deno.listenDatagram` still needs `--unstable-net`).
 *
 * @example
 * ```ts
 * const records = new ClusterRecords();
 * const server = new ClusterDnsServer({ records, hostname: "127.0.0.1", port: 0 });
 * await server.start();
 * server.address; // { hostname: "127.0.0.1", port: 40123 }
 * await server.stop();
 * ```
 *
 * @module
 */

import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIP } from "node:net";
import {
  type Answer,
  AUTHORITATIVE_ANSWER,
  type DecodedPacket,
  decodeMessage,
  encodeMessage,
  type Packet,
  RCODE,
  type Rcode,
  RECURSION_AVAILABLE,
  RECURSION_DESIRED,
  TRUNCATED_RESPONSE,
} from "./_packet.ts";
import type { ClusterRecords } from "./records.ts";

/** Options of {@linkcode ClusterDnsServer}. */
export interface ClusterDnsServerOptions {
  /** the zone to serve */
  records: ClusterRecords;
  /** address to listen on (default `0.0.0.0`) */
  hostname?: string;
  /** port for both UDP and TCP (default 53; 0 picks a free one) */
  port?: number;
  /** `IP:port` (`[IPv6]:port`) to relay names outside the cluster domain to */
  upstream?: string;
  /** how long to wait for the upstream (default 2000 ms) */
  upstreamTimeoutMs?: number;
  /** relayed queries in flight at most; more are answered SERVFAIL (default 256) */
  maxForwards?: number;
  /** open TCP connections at most; more are closed at once (default 256) */
  maxTcpConnections?: number;
  /** a TCP connection with no complete query for this long is closed (default 10,000 ms) */
  tcpIdleMs?: number;
}

/** Where a server listens. */
export interface DnsAddress {
  hostname: string;
  port: number;
}

/** The largest UDP answer we send, whatever a client advertises. */
const MAX_UDP_SIZE = 4096;
/** The UDP payload size we advertise in our own OPT record (DNS flag day 2020). */
const ADVERTISED_UDP_SIZE = 1232;
const OPCODE_MASK = 0x7800;
const CHECKING_DISABLED = 1 << 4;
const BIND_ATTEMPTS = 10;
const UTF8 = new TextEncoder();

/** Parse `IP:port` or `[IPv6]:port`; throws on anything else. */
export function parseHostPort(value: string): DnsAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:]+):(\d+)$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || isIP(m[1]!) === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`Cannot use DNS upstream '${value}': expected IP:port`);
  }
  return { hostname: m[1]!, port };
}

/** The cluster DNS server; see the module documentation. */
export class ClusterDnsServer {
  readonly #records: ClusterRecords;
  readonly #hostname: string;
  readonly #port: number;
  readonly #upstream: DnsAddress | undefined;
  readonly #upstreamTimeoutMs: number;
  readonly #maxForwards: number;
  readonly #maxTcpConnections: number;
  readonly #tcpIdleMs: number;
  readonly #stop = new AbortController();
  readonly #connections = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  #udp: Socket | undefined;
  #tcp: Deno.Listener | undefined;
  #address: DnsAddress | undefined;
  #forwards = 0;

  constructor(options: ClusterDnsServerOptions) {
    this.#records = options.records;
    this.#hostname = options.hostname ?? "0.0.0.0";
    this.#port = options.port ?? 53;
    this.#upstream = options.upstream ? parseHostPort(options.upstream) : undefined;
    this.#upstreamTimeoutMs = options.upstreamTimeoutMs ?? 2000;
    this.#maxForwards = options.maxForwards ?? 256;
    this.#maxTcpConnections = options.maxTcpConnections ?? 256;
    this.#tcpIdleMs = options.tcpIdleMs ?? 10_000;
  }

  /** Where the server listens (the real port when 0 was asked for); throws before start(). */
  get address(): DnsAddress {
    if (!this.#address) throw new Error("ClusterDnsServer is not listening");
    return this.#address;
  }

  /** Bind UDP and TCP on the same port, then serve in the background. */
  async start(): Promise<void> {
    if (this.#address) throw new Error("ClusterDnsServer is already started");
    for (let attempt = 1;; attempt++) {
      const udp = await bindUdp(this.#hostname, this.#port);
      const port = udp.address().port;
      try {
        this.#tcp = Deno.listen({ hostname: this.#hostname, port, transport: "tcp" });
      } catch (e) {
        udp.close();
        // port 0: the free UDP port may be a busy TCP port; pick again
        if (this.#port === 0 && e instanceof Deno.errors.AddrInUse && attempt < BIND_ATTEMPTS) {
          continue;
        }
        throw e;
      }
      this.#udp = udp;
      this.#address = { hostname: this.#hostname, port };
      break;
    }
    const udp = this.#udp;
    udp.on("message", (msg: Uint8Array, peer: RemoteInfo) => {
      this.#track(this.#serveUdp(udp, msg, peer));
    });
    udp.on("error", (e: Error) => console.error("cluster dns: udp:", e));
    this.#track(this.#acceptTcp(this.#tcp));
  }

  /** Stop listening, close connections and relayed queries; resolves when all have ended. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.#udp?.close();
    this.#udp = undefined;
    try {
      this.#tcp?.close();
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource)) throw e;
    }
    this.#tcp = undefined;
    for (const conn of this.#connections) closeQuietly(conn);
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
  }

  /**
   * The response to one query that came over `transport` (UDP answers are kept to 512 bytes or
   * the client's EDNS size), or undefined when the packet is to be dropped.
   */
  async respond(query: Uint8Array, transport: "udp" | "tcp"): Promise<Uint8Array | undefined> {
    if (query.length < 12 || (query[2]! & 0x80) !== 0) return undefined;
    let message: DecodedPacket;
    try {
      message = decodeMessage(query);
    } catch {
      return encodeMessage({
        type: "response",
        id: (query[0]! << 8) | query[1]!,
        flags: ((query[2]! << 8) & (OPCODE_MASK | RECURSION_DESIRED)) | RCODE.FORMERR,
      });
    }
    const opt = message.additionals?.find((a) => a.type === "OPT");
    const limit = transport === "udp"
      ? Math.max(512, Math.min(opt?.type === "OPT" ? opt.udpPayloadSize : 512, MAX_UDP_SIZE))
      : 65535;
    const reply = await this.#answer(message, query, transport);
    if (reply instanceof Uint8Array) return reply;
    if (opt) reply.additionals = [...(reply.additionals ?? []), ourOpt()];
    const bytes = encodeMessage(reply);
    if (bytes.length <= limit) return bytes;
    return encodeMessage({
      ...reply,
      flags: (reply.flags ?? 0) | TRUNCATED_RESPONSE,
      answers: [],
      authorities: [],
      additionals: opt ? [ourOpt()] : [],
    });
  }

  /** A message to encode, or the upstream's bytes to relay as they are. */
  async #answer(
    message: DecodedPacket,
    raw: Uint8Array,
    transport: "udp" | "tcp",
  ): Promise<Packet | Uint8Array> {
    const questions = message.questions ?? [];
    if (message.opcode !== "QUERY") return reply(message, "NOTIMP", 0);
    if (questions.length !== 1) return reply(message, "FORMERR", 0, { questions: [] });
    const question = questions[0]!;
    if (question.name.split(".").some((label) => UTF8.encode(label).length > 63)) {
      return reply(message, "FORMERR", 0, { questions: [] });
    }
    if (
      (question.class !== "IN" && question.class !== "ANY") || question.type === "AXFR" ||
      question.type === "IXFR"
    ) {
      return reply(message, "REFUSED", 0);
    }
    const found = this.#records.lookup(question.name, question.type);
    const ra = this.#upstream ? RECURSION_AVAILABLE : 0;
    if (found.kind === "outside") {
      if (!this.#upstream) return reply(message, "REFUSED", ra);
      // a truncated upstream answer goes back to a UDP client as it is: the client retries on TCP
      const relayed = await this.#relay(raw, message.id ?? 0, transport === "tcp");
      return relayed ?? reply(message, "SERVFAIL", ra);
    }
    const answers = [...found.answers];
    const last = answers.at(-1);
    if (
      last?.type === "CNAME" && (question.type === "A" || question.type === "AAAA") &&
      this.#upstream && !this.#records.inDomain(last.data)
    ) {
      answers.push(...await this.#followCname(last.data, question.type));
    }
    return reply(message, found.rcode, AUTHORITATIVE_ANSWER | ra, {
      answers,
      authorities: found.authorities,
      additionals: found.additionals,
    });
  }

  /**
   * The upstream's answer to `raw` (asked again over TCP when truncated and `tcpFallback`), or
   * undefined when it did not answer.
   */
  async #relay(raw: Uint8Array, id: number, tcpFallback: boolean): Promise<Uint8Array | undefined> {
    const upstream = this.#upstream!;
    if (this.#forwards >= this.#maxForwards) return undefined;
    this.#forwards++;
    try {
      const signal = AbortSignal.any([
        this.#stop.signal,
        AbortSignal.timeout(this.#upstreamTimeoutMs),
      ]);
      const answer = await exchangeUdp(upstream, raw, id, signal);
      const truncated = (answer[2]! & (TRUNCATED_RESPONSE >> 8)) !== 0;
      return truncated && tcpFallback ? await exchangeTcp(upstream, raw, signal) : answer;
    } catch {
      return undefined;
    } finally {
      this.#forwards--;
    }
  }

  /** The A/AAAA records the upstream gives for a CNAME target (none on any failure). */
  async #followCname(target: string, type: "A" | "AAAA"): Promise<Answer[]> {
    const id = crypto.getRandomValues(new Uint16Array(1))[0]!;
    const query = encodeMessage({
      type: "query",
      id,
      flags: RECURSION_DESIRED,
      questions: [{ type, name: target, class: "IN" }],
    });
    const bytes = await this.#relay(query, id, true);
    if (!bytes) return [];
    try {
      const answer = decodeMessage(bytes);
      return answer.rcode === "NOERROR" ? answer.answers ?? [] : [];
    } catch {
      return [];
    }
  }

  async #serveUdp(udp: Socket, msg: Uint8Array, peer: RemoteInfo): Promise<void> {
    const bytes = await this.#respondSafely(msg, "udp");
    if (!bytes || this.#stop.signal.aborted) return;
    try {
      udp.send(bytes, peer.port, peer.address);
    } catch (e) {
      if (!this.#stop.signal.aborted) console.error("cluster dns: udp send:", e);
    }
  }

  async #acceptTcp(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) {
        if (this.#connections.size >= this.#maxTcpConnections) {
          closeQuietly(conn);
          continue;
        }
        this.#connections.add(conn);
        this.#track(
          this.#serveTcp(conn).finally(() => {
            this.#connections.delete(conn);
            closeQuietly(conn);
          }),
        );
      }
    } catch (e) {
      if (!this.#stop.signal.aborted) console.error("cluster dns: tcp accept:", e);
    }
  }

  /** Answer framed queries in order until the peer closes, idles or sends garbage. */
  async #serveTcp(conn: Deno.Conn): Promise<void> {
    let idle = setTimeout(() => closeQuietly(conn), this.#tcpIdleMs);
    try {
      let pending = new Uint8Array(0);
      const chunk = new Uint8Array(4096);
      while (!this.#stop.signal.aborted) {
        while (pending.length >= 2) {
          const size = (pending[0]! << 8) | pending[1]!;
          if (pending.length < 2 + size) break;
          const query = pending.slice(2, 2 + size);
          pending = pending.slice(2 + size);
          clearTimeout(idle);
          const bytes = await this.#respondSafely(query, "tcp");
          if (!bytes) return;
          await writeAll(conn, frame(bytes));
          idle = setTimeout(() => closeQuietly(conn), this.#tcpIdleMs);
        }
        const n = await conn.read(chunk);
        if (n === null) return;
        const next = new Uint8Array(pending.length + n);
        next.set(pending);
        next.set(chunk.subarray(0, n), pending.length);
        pending = next;
      }
    } catch (e) {
      if (!isClosedError(e) && !this.#stop.signal.aborted) {
        console.error("cluster dns: tcp connection:", e);
      }
    } finally {
      clearTimeout(idle);
    }
  }

  async #respondSafely(
    query: Uint8Array,
    transport: "udp" | "tcp",
  ): Promise<Uint8Array | undefined> {
    try {
      return await this.respond(query, transport);
    } catch (e) {
      console.error("cluster dns: cannot answer a query:", e);
      return undefined;
    }
  }

  #track(task: Promise<void>): void {
    const tracked: Promise<void> = task
      .catch((e) => console.error("cluster dns:", e))
      .finally(() => this.#tasks.delete(tracked));
    this.#tasks.add(tracked);
  }
}

/** A response to `query` with its id, opcode, RD and CD bits, and (by default) its question. */
function reply(
  query: DecodedPacket,
  rcode: Rcode,
  flags: number,
  sections: Pick<Packet, "questions" | "answers" | "authorities" | "additionals"> = {},
): Packet {
  return {
    type: "response",
    id: query.id ?? 0,
    flags: flags | RCODE[rcode] |
      ((query.flags ?? 0) & (OPCODE_MASK | RECURSION_DESIRED | CHECKING_DISABLED)),
    questions: query.questions ?? [],
    ...sections,
  };
}

function ourOpt(): Answer {
  return {
    type: "OPT",
    name: ".",
    udpPayloadSize: ADVERTISED_UDP_SIZE,
    extendedRcode: 0,
    ednsVersion: 0,
    flags: 0,
    flag_do: false,
    options: [],
  };
}

function bindUdp(hostname: string, port: number): Promise<Socket> {
  const socket = createSocket({ type: isIP(hostname) === 6 ? "udp6" : "udp4" });
  return new Promise((resolve, reject) => {
    const failed = (e: Error) => {
      socket.close();
      reject(e);
    };
    socket.once("error", failed);
    socket.bind(port, hostname, () => {
      socket.off("error", failed);
      resolve(socket);
    });
  });
}

/** Send `query` to `upstream` over UDP from a fresh socket; the first response with its id. */
function exchangeUdp(
  upstream: DnsAddress,
  query: Uint8Array,
  id: number,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const socket = createSocket({ type: isIP(upstream.hostname) === 6 ? "udp6" : "udp4" });
  return new Promise<Uint8Array>((resolve, reject) => {
    const abort = () => reject(signal.reason ?? new Error("aborted"));
    if (signal.aborted) return abort();
    signal.addEventListener("abort", abort, { once: true });
    socket.on("error", reject);
    socket.on("message", (msg: Uint8Array, peer: RemoteInfo) => {
      const fromUpstream = peer.port === upstream.port && peer.address === upstream.hostname;
      if (fromUpstream && msg.length >= 12 && ((msg[0]! << 8) | msg[1]!) === id) {
        signal.removeEventListener("abort", abort);
        resolve(new Uint8Array(msg));
      }
    });
    socket.send(query, upstream.port, upstream.hostname);
  }).finally(() => socket.close());
}

/** Send `query` to `upstream` over TCP and return the framed response. */
async function exchangeTcp(
  upstream: DnsAddress,
  query: Uint8Array,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: upstream.hostname, port: upstream.port });
  const close = () => closeQuietly(conn);
  signal.addEventListener("abort", close, { once: true });
  try {
    await writeAll(conn, frame(query));
    const size = await readExactly(conn, 2);
    return await readExactly(conn, (size[0]! << 8) | size[1]!);
  } finally {
    signal.removeEventListener("abort", close);
    close();
  }
}

function frame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + message.length);
  out[0] = message.length >> 8;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

async function readExactly(conn: Deno.Conn, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  for (let off = 0; off < size;) {
    const n = await conn.read(out.subarray(off));
    if (n === null) throw new Error("connection closed before the whole message arrived");
    off += n;
  }
  return out;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  }
}

function isClosedError(e: unknown): boolean {
  return e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted ||
    e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe;
}
