/**
 * The DNS message codec: the npm package `dns-packet`, behind this one module so the rest of
 * `net/dns/` never names it (and nothing the node agent imports ever pulls it in).
 *
 * `decodeMessage` takes plain bytes and throws on anything malformed; `encodeMessage` returns
 * plain bytes. dns-packet writes names without compression, so encoded sizes are exact upper
 * bounds of what a compressing server would send.
 *
 * @module
 */

import { Buffer } from "node:buffer";
// @ts-types="@types/dns-packet"
import * as dnsPacket from "dns-packet";

/** A resource record (answer, authority or additional). */
export type Answer = dnsPacket.Answer;
/** A decoded message, with the header flags, opcode and response code spelled out. */
export type DecodedPacket = dnsPacket.DecodedPacket & { opcode: string; rcode: string };
/** A message to encode. */
export type Packet = dnsPacket.Packet;
/** One entry of the question section. */
export type Question = dnsPacket.Question;
/** A record type name (`A`, `SRV`, ...). */
export type RecordType = dnsPacket.RecordType;

/** Header flag: authoritative answer (AA). */
export const AUTHORITATIVE_ANSWER: number = dnsPacket.AUTHORITATIVE_ANSWER;
/** Header flag: truncated response (TC). */
export const TRUNCATED_RESPONSE: number = dnsPacket.TRUNCATED_RESPONSE;
/** Header flag: recursion desired (RD). */
export const RECURSION_DESIRED: number = dnsPacket.RECURSION_DESIRED;
/** Header flag: recursion available (RA). */
export const RECURSION_AVAILABLE: number = dnsPacket.RECURSION_AVAILABLE;

/** Response codes by name (the low 4 bits of the header flags). */
export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

/** A response code name. */
export type Rcode = keyof typeof RCODE;

/** Parse a DNS message; throws on malformed input. */
export function decodeMessage(bytes: Uint8Array): DecodedPacket {
  return dnsPacket.decode(
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  ) as DecodedPacket;
}

/** Serialize a DNS message. */
export function encodeMessage(message: Packet): Uint8Array {
  const buf = dnsPacket.encode(message);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
