/**
 * Several hosts on one machine for end-to-end tests: each member is a network namespace with
 * an `eth0` on a private /24, all joined by veth pairs to a bridge that lives in a hub
 * namespace of its own. Nothing is attached to the host's namespace, and no namespace has a
 * default route, so test traffic cannot leave the machine.
 *
 * Commands run in a member with `nsenter --net=/run/netns/NAME` (not `ip netns exec`, which
 * remounts /sys and hides the cgroup mounts podman needs).
 *
 * @module
 */

const NAME = /^[a-z0-9-]{1,20}$/;

async function run(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** A member host of a {@linkcode Fabric}. */
export interface Member {
  /** the namespace's name under /run/netns */
  netns: string;
  /** its address on the fabric */
  ip: string;
}

/** A set of namespaces joined by one bridge. */
export interface Fabric {
  members: Record<string, Member>;
  /** `nsenter` arguments that run a command inside `member` */
  enter(member: string): string[];
  /** delete every namespace (and with them the veths and the bridge) */
  destroy(): Promise<void>;
}

/** Whether this process may create network namespaces (root with iproute2 and nsenter). */
export async function canCreateNamespaces(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return "network namespaces need root";
  for (const tool of ["/usr/sbin/ip", "/usr/bin/nsenter"]) {
    try {
      await Deno.stat(tool);
    } catch {
      return `${tool} is not installed`;
    }
  }
  return undefined;
}

/**
 * Create `edge-<id>-hub` with a bridge and one namespace per member name, addressed
 * 10.231.<subnet>.2, .3, … in the given order.
 */
export async function createFabric(id: string, names: string[], subnet: number): Promise<Fabric> {
  if (!/^[a-z0-9]{1,6}$/.test(id) || !names.every((n) => NAME.test(n))) {
    throw new Error(`invalid fabric id or member names: ${id} ${names.join(",")}`);
  }
  if (!Number.isInteger(subnet) || subnet < 1 || subnet > 254) {
    throw new Error(`subnet must be 1..254, got ${subnet}`);
  }
  const hub = `edge-${id}-hub`;
  const created: string[] = [];
  const destroy = async () => {
    for (const ns of created.reverse()) await run("ip", ["netns", "del", ns]).catch(() => {});
  };
  try {
    await run("ip", ["netns", "add", hub]);
    created.push(hub);
    const inHub = (args: string[]) => run("ip", ["-n", hub, ...args]);
    await inHub(["link", "add", "br0", "type", "bridge"]);
    await inHub(["link", "set", "br0", "up"]);
    await inHub(["link", "set", "lo", "up"]);
    const members: Record<string, Member> = {};
    for (const [i, name] of names.entries()) {
      const netns = `edge-${id}-${name}`;
      const ip = `10.231.${subnet}.${i + 2}`;
      await run("ip", ["netns", "add", netns]);
      created.push(netns);
      const hostSide = `h${id}${i}`;
      await inHub([
        "link",
        "add",
        hostSide,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        netns,
      ]);
      await inHub(["link", "set", hostSide, "master", "br0"]);
      await inHub(["link", "set", hostSide, "up"]);
      const inMember = (args: string[]) => run("ip", ["-n", netns, ...args]);
      await inMember(["addr", "add", `${ip}/24`, "dev", "eth0"]);
      await inMember(["link", "set", "eth0", "up"]);
      await inMember(["link", "set", "lo", "up"]);
      members[name] = { netns, ip };
    }
    return {
      members,
      enter: (member) => {
        const m = members[member];
        if (!m) throw new Error(`no member ${member}`);
        return [`--net=/run/netns/${m.netns}`];
      },
      destroy,
    };
  } catch (e) {
    await destroy();
    throw e;
  }
}

/** A cluster CIDR unlikely to collide with another test's leftover podman networks. */
export function randomClusterCidr(): string {
  return `10.${160 + (crypto.getRandomValues(new Uint8Array(1))[0]! % 40)}.0.0/16`;
}
