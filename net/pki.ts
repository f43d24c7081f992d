/**
 * TLS material for a server: a CA and a serving certificate signed by it, made on first start in
 * a directory with Debian's `openssl` (argument arrays, no shell). Each start makes the serving
 * certificate again when the hosts it names changed, and either one again when it is within
 * 30 days of its end (a new CA brings a new serving certificate).
 *
 * The API server keeps its own in `<data dir>/pki`: Kubernetes clients only send bearer tokens
 * over TLS, so the API is always served over HTTPS, and the kubeconfig carries the CA as
 * `certificate-authority-data`. Each node agent keeps one for its log endpoint (kubelet's port),
 * and publishes that CA on its Node, so the API server can check whom it sends its token to.
 *
 * @module
 */

/**
 * The Node annotation with the CA (PEM) of the node agent's serving certificate: the API server
 * trusts that CA, and no other, when it fetches logs from the node.
 */
export const SERVING_CA_ANNOTATION = "edge.io/serving-ca";

/** `openssl req` arguments for a new P-256 key, unencrypted, written to the file that follows. */
const NEW_EC_KEY: readonly string[] = [
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:prime256v1",
  "-nodes",
  "-keyout",
];

/** PEM-encoded TLS material for `Deno.serve` and for kubeconfigs. */
export interface ServingPki {
  caCert: string;
  cert: string;
  key: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:]+$/;
const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** The subjectAltName entry for a host, or undefined when it is neither an IP nor a DNS name. */
export function sanEntry(host: string): string | undefined {
  if (IPV4.test(host)) return `IP:${host}`;
  if (host.includes(":") && IPV6.test(host)) return `IP:${host}`;
  if (DNS_NAME.test(host.toLowerCase())) return `DNS:${host.toLowerCase()}`;
  return undefined;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        "openssl is needed to make a serving certificate; install it (apt-get install openssl)",
      );
    }
    throw e;
  }
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/**
 * Makes `dir`'s CA (ca.key, ca.crt) named `name`, valid for `days`. ensureServingPki's step,
 * exported so a test can make a CA about to end.
 */
export async function makeCa(dir: string, name: string, days: number): Promise<void> {
  await openssl([
    "req",
    "-x509",
    ...NEW_EC_KEY,
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    String(days),
    "-subj",
    `/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ], dir);
}

/**
 * Signs `dir`'s server.csr (with server.ext) by its CA into server.crt, valid for `days`.
 * ensureServingPki's step, exported so a test can make a certificate about to end.
 */
export async function signServerCert(dir: string, days: number): Promise<void> {
  await openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    String(days),
    "-extfile",
    "server.ext",
  ], dir);
}

/** Certificates this close to their end are made again when the pki is next ensured. */
export const RENEW_BEFORE_SECONDS = 30 * 24 * 3600;

/** Whether the certificate in `file` ends within `seconds` (or cannot be read as one). */
async function endsWithin(file: string, seconds: number): Promise<boolean> {
  const out = await new Deno.Command("openssl", {
    args: ["x509", "-checkend", String(seconds), "-noout", "-in", file],
    stdout: "null",
    stderr: "null",
  }).output();
  return !out.success;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/**
 * Load `<dir>/ca.crt`, `server.crt` and `server.key`, making them when missing or when the
 * serving certificate lacks one of `hosts` (kept in `server.hosts`).
 */
export async function ensureServingPki(
  dir: string,
  hosts: string[],
  names: { ca: string; server: string } = { ca: "edge-cluster-ca", server: "edge-apiserver" },
): Promise<ServingPki> {
  for (const name of [names.ca, names.server]) {
    // it becomes openssl's `-subj /CN=…`, where `/`, `=` and `+` would start new fields
    if (!/^[A-Za-z0-9:._-]{1,64}$/.test(name)) {
      throw new Error(`Cannot make a certificate for common name '${name}': not a plain name`);
    }
  }
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const sans = [...new Set(hosts.map(sanEntry).filter((s): s is string => s !== undefined))].sort();
  const wanted = sans.join(",");

  const haveCa = await readIfExists(`${dir}/ca.crt`) !== undefined;
  if (!haveCa || await endsWithin(`${dir}/ca.crt`, RENEW_BEFORE_SECONDS)) {
    await makeCa(dir, names.ca, 3650);
    await Deno.chmod(`${dir}/ca.key`, 0o600);
    await Deno.remove(`${dir}/server.crt`).catch(() => {});
  }

  const haveHosts = (await readIfExists(`${dir}/server.hosts`))?.trim();
  const haveCert = await readIfExists(`${dir}/server.crt`);
  if (
    haveCert === undefined || haveHosts !== wanted ||
    await endsWithin(`${dir}/server.crt`, RENEW_BEFORE_SECONDS)
  ) {
    await Deno.writeTextFile(
      `${dir}/server.ext`,
      [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "extendedKeyUsage=serverAuth",
        `subjectAltName=${wanted}`,
        "",
      ].join("\n"),
    );
    await openssl([
      "req",
      ...NEW_EC_KEY,
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      `/CN=${names.server}`,
    ], dir);
    await Deno.chmod(`${dir}/server.key`, 0o600);
    await signServerCert(dir, 825);
    await Deno.writeTextFile(`${dir}/server.hosts`, wanted + "\n");
  }
  return {
    caCert: await Deno.readTextFile(`${dir}/ca.crt`),
    cert: await Deno.readTextFile(`${dir}/server.crt`),
    key: await Deno.readTextFile(`${dir}/server.key`),
  };
}
