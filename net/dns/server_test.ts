import assert from "node:assert/strict";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { decodeMessage, encodeMessage, type Packet } from "./_packet.ts";
import { ask, askTcp, endpoints, queryBytes, service, udpExchange } from "./_testing.ts";
import { ClusterRecords } from "./records.ts";
import { ClusterDnsServer, type ClusterDnsServerOptions, parseHostPort } from "./server.ts";

function zone(): ClusterRecords {
  const records = new ClusterRecords();
  const many = Array.from({ length: 40 }, (_, i) => ({ ip: `10.244.7.${i + 1}` }));
  records.setSnapshot({
    services: [
      service("default", "web", {
        clusterIP: "10.96.0.20",
        ports: [{ name: "http", port: 80 }],
      }),
      service("default", "db", { clusterIP: "None", ports: [{ name: "pg", port: 5432 }] }),
      service("default", "big", { clusterIP: "None", ports: [{ port: 80 }] }),
      service("default", "ext", { type: "ExternalName", externalName: "example.com" }),
    ],
    endpoints: [
      endpoints("default", "db", [{
        addresses: [{ ip: "10.244.1.5", hostname: "db-0" }],
        ports: [{ name: "pg", port: 5432 }],
      }]),
      endpoints("default", "big", [{ addresses: many }]),
    ],
  });
  return records;
}

async function withServer(
  fn: (server: ClusterDnsServer) => Promise<void>,
  options: Partial<ClusterDnsServerOptions> = {},
): Promise<void> {
  const server = new ClusterDnsServer({
    records: zone(),
    hostname: "127.0.0.1",
    port: 0,
    ...options,
  });
  await server.start();
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

/** A fake upstream on 127.0.0.1 (UDP and TCP): answers every A question with 192.0.2.1. */
async function withUpstream(
  fn: (address: string, seen: string[]) => Promise<void>,
  options: { truncateUdp?: boolean; silent?: boolean } = {},
): Promise<void> {
  const seen: string[] = [];
  const answer = (query: Uint8Array, udp: boolean): Uint8Array => {
    const q = decodeMessage(query);
    const question = q.questions![0]!;
    seen.push(`${udp ? "udp" : "tcp"} ${question.type} ${question.name}`);
    const reply: Packet = {
      type: "response",
      id: q.id!,
      flags: (udp && options.truncateUdp) ? 0x0200 : 0,
      questions: q.questions!,
      answers: udp && options.truncateUdp
        ? []
        : [{ type: "A", name: question.name, ttl: 60, data: "192.0.2.1" }],
    };
    return encodeMessage(reply);
  };
  // a free UDP port may be a busy TCP port (another test's connection): pick again then
  let udp: Socket;
  let tcp: Deno.TcpListener;
  let port: number;
  for (let attempt = 1;; attempt++) {
    udp = createSocket({ type: "udp4" });
    await new Promise<void>((resolve) => udp.bind(0, "127.0.0.1", resolve));
    port = udp.address().port;
    try {
      tcp = Deno.listen({ hostname: "127.0.0.1", port });
      break;
    } catch (e) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      if (!(e instanceof Deno.errors.AddrInUse) || attempt >= 20) throw e;
    }
  }
  udp.on("message", (msg: Uint8Array, peer: RemoteInfo) => {
    if (!options.silent) udp.send(answer(msg, true), peer.port, peer.address);
  });
  const serving = (async () => {
    for await (const conn of tcp) {
      try {
        const head = new Uint8Array(2);
        await conn.read(head);
        const body = new Uint8Array((head[0]! << 8) | head[1]!);
        for (let off = 0; off < body.length;) off += (await conn.read(body.subarray(off)))!;
        const out = answer(body, false);
        await conn.write(new Uint8Array([out.length >> 8, out.length & 0xff, ...out]));
      } finally {
        conn.close();
      }
    }
  })().catch(() => {});
  try {
    await fn(`127.0.0.1:${port}`, seen);
  } finally {
    udp.close();
    tcp.close();
    await serving;
  }
}

Deno.test("ClusterDnsServer answers A over UDP, authoritative, with TTL 5", async () => {
  await withServer(async (server) => {
    const reply = await ask(server.address.port, "web.default.svc.cluster.local", "A");
    assert.equal(reply.id, 4242);
    assert.equal(reply.type, "response");
    assert.equal(reply.rcode, "NOERROR");
    assert.equal(reply.flag_aa, true);
    assert.equal(reply.flag_rd, true);
    assert.equal(reply.flag_ra, false);
    assert.deepEqual(reply.questions, [
      { name: "web.default.svc.cluster.local", type: "A", class: "IN" },
    ]);
    assert.deepEqual(
      reply.answers?.map((a) => [a.type, a.name, "ttl" in a ? a.ttl : 0, "data" in a && a.data]),
      [["A", "web.default.svc.cluster.local", 5, "10.96.0.20"]],
    );
  });
});

Deno.test("ClusterDnsServer answers SRV, CNAME, PTR, NODATA and NXDOMAIN", async () => {
  await withServer(async (server) => {
    const port = server.address.port;
    const srv = await ask(port, "_pg._tcp.db.default.svc.cluster.local", "SRV");
    assert.deepEqual(srv.answers?.map((a) => a.type === "SRV" && a.data), [
      { priority: 0, weight: 10000, port: 5432, target: "db-0.db.default.svc.cluster.local" },
    ]);
    assert.deepEqual(srv.additionals?.map((a) => "data" in a && a.data), ["10.244.1.5"]);

    const cname = await ask(port, "ext.default.svc.cluster.local", "A");
    assert.deepEqual(cname.answers?.map((a) => [a.type, "data" in a && a.data]), [
      ["CNAME", "example.com"],
    ]);

    const ptr = await ask(port, "20.0.96.10.in-addr.arpa", "PTR");
    assert.deepEqual(ptr.answers?.map((a) => "data" in a && a.data), [
      "web.default.svc.cluster.local",
    ]);

    const nodata = await ask(port, "web.default.svc.cluster.local", "AAAA");
    assert.equal(nodata.rcode, "NOERROR");
    assert.deepEqual(nodata.answers, []);
    assert.deepEqual(nodata.authorities?.map((a) => a.type), ["SOA"]);

    const nx = await ask(port, "nope.default.svc.cluster.local", "A");
    assert.equal(nx.rcode, "NXDOMAIN");
    assert.equal(nx.flag_aa, true);
    assert.deepEqual(nx.authorities?.map((a) => [a.type, a.name]), [["SOA", "cluster.local"]]);
  });
});

Deno.test("ClusterDnsServer answers over TCP, several queries on one connection", async () => {
  await withServer(async (server) => {
    const port = server.address.port;
    const reply = await askTcp(port, "web.default.svc.cluster.local", "A");
    assert.deepEqual(reply.answers?.map((a) => "data" in a && a.data), ["10.96.0.20"]);

    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const one = queryBytes("web.default.svc.cluster.local", "A", { id: 1 });
      const two = queryBytes("nope.default.svc.cluster.local", "A", { id: 2 });
      // both in one write, the second split from its length prefix by nothing at all
      await conn.write(
        new Uint8Array([0, one.length, ...one, 0, two.length, ...two]),
      );
      const ids: number[] = [];
      let buffered = new Uint8Array(0);
      const chunk = new Uint8Array(2048);
      for (let reads = 0; ids.length < 2 && reads < 50; reads++) {
        const n = await conn.read(chunk);
        if (n === null) break;
        buffered = new Uint8Array([...buffered, ...chunk.subarray(0, n)]);
        while (
          buffered.length >= 2 && buffered.length >= 2 + ((buffered[0]! << 8) | buffered[1]!)
        ) {
          const size = (buffered[0]! << 8) | buffered[1]!;
          ids.push(decodeMessage(buffered.subarray(2, 2 + size)).id!);
          buffered = buffered.slice(2 + size);
        }
      }
      assert.deepEqual(ids, [1, 2]);
    } finally {
      conn.close();
    }
  });
});

Deno.test("ClusterDnsServer truncates a UDP answer over 512 bytes or the EDNS size", async () => {
  await withServer(async (server) => {
    const port = server.address.port;
    const plain = await ask(port, "big.default.svc.cluster.local", "A");
    assert.equal(plain.flag_tc, true);
    assert.deepEqual(plain.answers, []);
    assert.deepEqual(plain.questions?.map((q) => q.name), ["big.default.svc.cluster.local"]);

    const edns = await ask(port, "big.default.svc.cluster.local", "A", { udpSize: 4096 });
    assert.equal(edns.flag_tc, false);
    assert.equal(edns.answers?.length, 40);
    assert.deepEqual(edns.additionals?.map((a) => a.type), ["OPT"]);

    const tcp = await askTcp(port, "big.default.svc.cluster.local", "A");
    assert.equal(tcp.flag_tc, false);
    assert.equal(tcp.answers?.length, 40);
  });
});

Deno.test("ClusterDnsServer truncates a TCP answer that exceeds 65535 bytes", async () => {
  const records = new ClusterRecords();
  const addresses = Array.from(
    { length: 1500 },
    (_, i) => ({ ip: `10.244.${i >> 8}.${i & 0xff}` }),
  );
  records.setSnapshot({
    services: [service("default", "huge", { clusterIP: "None", ports: [{ port: 80 }] })],
    endpoints: [endpoints("default", "huge", [{ addresses }])],
  });
  const server = new ClusterDnsServer({ records, hostname: "127.0.0.1", port: 0 });
  const reply = decodeMessage(
    (await server.respond(queryBytes("huge.default.svc.cluster.local", "A"), "tcp"))!,
  );
  assert.equal(reply.flag_tc, true);
  assert.deepEqual(reply.answers, []);
});

Deno.test("ClusterDnsServer drops or refuses malformed input and keeps serving", async () => {
  await withServer(async (server) => {
    const port = server.address.port;
    // too short for a header, or a response: dropped
    assert.equal(await server.respond(new Uint8Array([1, 2, 3]), "udp"), undefined);
    const response = queryBytes("web.default.svc.cluster.local", "A");
    response[2] = response[2]! | 0x80;
    assert.equal(await server.respond(response, "udp"), undefined);

    // a header that promises a question that is not there: FORMERR with the id
    const garbage = new Uint8Array([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0xff]);
    const formerr = decodeMessage((await udpExchange(port, garbage))!);
    assert.equal(formerr.id, 0x1234);
    assert.equal(formerr.rcode, "FORMERR");

    // a label that is not UTF-8 would not encode back: FORMERR
    const latin = new Uint8Array([
      0,
      9,
      1,
      0,
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      30,
      ...new Array(30).fill(0xff),
    ]);
    const badLabel = await server.respond(new Uint8Array([...latin, 0, 0, 1, 0, 1]), "udp");
    assert.equal(decodeMessage(badLabel!).rcode, "FORMERR");

    // two questions: FORMERR; opcode NOTIFY: NOTIMP; class CH: REFUSED
    const two = encodeMessage({
      type: "query",
      id: 7,
      questions: [{ type: "A", name: "a.cluster.local" }, { type: "A", name: "b.cluster.local" }],
    });
    assert.equal(decodeMessage((await udpExchange(port, two))!).rcode, "FORMERR");
    const notify = queryBytes("web.default.svc.cluster.local", "SOA");
    notify[2] = (notify[2]! & 0x87) | (4 << 3);
    assert.equal(decodeMessage((await udpExchange(port, notify))!).rcode, "NOTIMP");
    const chaos = encodeMessage({
      type: "query",
      id: 8,
      questions: [{ type: "TXT", name: "version.bind", class: "CH" }],
    });
    assert.equal(decodeMessage((await udpExchange(port, chaos))!).rcode, "REFUSED");

    // garbage over TCP closes that connection only
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new Uint8Array([0, 3, 1, 2, 3]));
    const buf = new Uint8Array(16);
    assert.equal(await conn.read(buf), null);
    conn.close();

    const reply = await ask(port, "web.default.svc.cluster.local", "A");
    assert.equal(reply.rcode, "NOERROR");
    assert.equal((await askTcp(port, "web.default.svc.cluster.local", "A")).rcode, "NOERROR");
  });
});

Deno.test("ClusterDnsServer refuses names outside the domain without an upstream", async () => {
  await withServer(async (server) => {
    const reply = await ask(server.address.port, "example.com", "A");
    assert.equal(reply.rcode, "REFUSED");
    assert.equal(reply.flag_aa, false);
    assert.deepEqual(reply.answers, []);
  });
});

Deno.test("ClusterDnsServer relays names outside the domain to the upstream", async () => {
  await withUpstream(async (upstream, seen) => {
    await withServer(async (server) => {
      const port = server.address.port;
      const reply = await ask(port, "example.org", "A");
      assert.equal(reply.rcode, "NOERROR");
      assert.equal(reply.id, 4242);
      assert.deepEqual(reply.answers?.map((a) => "data" in a && a.data), ["192.0.2.1"]);

      // cluster names stay local; the cluster answer says recursion is available
      const local = await ask(port, "web.default.svc.cluster.local", "A");
      assert.equal(local.flag_ra, true);

      // an ExternalName's target is followed through the upstream
      const ext = await ask(port, "ext.default.svc.cluster.local", "A");
      assert.deepEqual(ext.answers?.map((a) => [a.type, "data" in a && a.data]), [
        ["CNAME", "example.com"],
        ["A", "192.0.2.1"],
      ]);
      assert.deepEqual(seen, ["udp A example.org", "udp A example.com"]);
    }, { upstream });
  });
});

Deno.test("ClusterDnsServer asks the upstream over TCP for a TCP client when UDP truncated", async () => {
  await withUpstream(async (upstream, seen) => {
    await withServer(async (server) => {
      const reply = await askTcp(server.address.port, "example.org", "A");
      assert.deepEqual(reply.answers?.map((a) => "data" in a && a.data), ["192.0.2.1"]);
      assert.deepEqual(seen, ["udp A example.org", "tcp A example.org"]);
      // a UDP client gets the truncated answer as it is, and retries on TCP itself
      const udp = await ask(server.address.port, "example.net", "A");
      assert.equal(udp.flag_tc, true);
      assert.deepEqual(seen.slice(2), ["udp A example.net"]);
    }, { upstream });
  }, { truncateUdp: true });
});

Deno.test("ClusterDnsServer answers SERVFAIL when the upstream does not answer", async () => {
  await withUpstream(async (upstream) => {
    await withServer(async (server) => {
      const reply = await ask(server.address.port, "example.org", "A");
      assert.equal(reply.rcode, "SERVFAIL");
    }, { upstream, upstreamTimeoutMs: 200 });
  }, { silent: true });
});

Deno.test("ClusterDnsServer.address is the real port; start() twice throws", async () => {
  await withServer(async (server) => {
    assert.equal(server.address.hostname, "127.0.0.1");
    assert.ok(server.address.port > 0);
    await assert.rejects(() => server.start(), /already started/);
  });
  assert.throws(
    () => new ClusterDnsServer({ records: zone(), port: 0 }).address,
    /not listening/,
  );
});

Deno.test("parseHostPort() takes IP:port and [IPv6]:port only", () => {
  assert.deepEqual(parseHostPort("10.0.0.2:53"), { hostname: "10.0.0.2", port: 53 });
  assert.deepEqual(parseHostPort("[fd00::1]:5353"), { hostname: "fd00::1", port: 5353 });
  for (const bad of ["10.0.0.2", "dns.example:53", "10.0.0.2:0", "10.0.0.2:70000", "fd00::1:53"]) {
    assert.throws(() => parseHostPort(bad), /expected IP:port/, bad);
  }
  assert.throws(
    () => new ClusterDnsServer({ records: zone(), upstream: "nope" }),
    /expected IP:port/,
  );
});
