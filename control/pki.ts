/**
 * The API server's TLS material: a cluster CA and a serving certificate signed by it, made on
 * first start in `<data dir>/pki` with Debian's `openssl` (argument arrays, no shell).
 *
 * Kubernetes clients only send bearer tokens over TLS, so the API is always served over HTTPS;
 * the kubeconfig carries the CA as `certificate-authority-data`.
 *
 * @module
 */

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
        "openssl is needed to make the API server's certificate; install it (apt-get install openssl)",
      );
    }
    throw e;
  }
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
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
export async function ensureServingPki(dir: string, hosts: string[]): Promise<ServingPki> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const sans = [...new Set(hosts.map(sanEntry).filter((s): s is string => s !== undefined))].sort();
  const wanted = sans.join(",");

  if (await readIfExists(`${dir}/ca.crt`) === undefined) {
    await openssl([
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "3650",
      "-subj",
      "/CN=edge-cluster-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ], dir);
    await Deno.chmod(`${dir}/ca.key`, 0o600);
    await Deno.remove(`${dir}/server.crt`).catch(() => {});
  }

  const haveHosts = (await readIfExists(`${dir}/server.hosts`))?.trim();
  const haveCert = await readIfExists(`${dir}/server.crt`);
  if (haveCert === undefined || haveHosts !== wanted) {
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
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "server.key",
      "-out",
      "server.csr",
      "-subj",
      "/CN=edge-apiserver",
    ], dir);
    await Deno.chmod(`${dir}/server.key`, 0o600);
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
      "825",
      "-extfile",
      "server.ext",
    ], dir);
    await Deno.writeTextFile(`${dir}/server.hosts`, wanted + "\n");
  }
  return {
    caCert: await Deno.readTextFile(`${dir}/ca.crt`),
    cert: await Deno.readTextFile(`${dir}/server.crt`),
    key: await Deno.readTextFile(`${dir}/server.key`),
  };
}
