/**
 * IPv4 addresses as unsigned 32-bit numbers (`10.96.0.1` is `0x0a600001`), parsed strictly: four
 * decimal octets without leading zeros, as Kubernetes validates IPs. The one parser the control
 * plane's allocators, the agent's routes and IPAM and the service proxy's nft rules share; it is
 * on the proxy's hot path (tens of thousands of endpoints per full sync), hence the loop.
 *
 * @module
 */

/** The address as an unsigned 32-bit number, or undefined unless `text` is a strict dotted quad. */
export function parseIPv4(text: string): number | undefined {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) { // "."
      if (digits === 0 || ++dots > 3) return undefined;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return undefined; // no leading zeros
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  return value * 256 + octet;
}

/** An unsigned 32-bit number as a dotted-quad IPv4 address. */
export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}
