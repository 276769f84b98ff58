"""Helpers of the cluster's end-to-end tests: the engines a cluster runs on
(a throw-away PostgreSQL and NATS JetStream, tests/servers/), network
namespaces joined by a bridge (as separate hosts would be), and a NATS
client speaking the text protocol (the tests' own, independent of the
library moat uses).
"""
import fcntl
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "servers"))
from nats import NatsCluster, NatsServer  # noqa: E402
from postgres import PostgresServer  # noqa: E402

from e2e_util import Failure, check  # noqa: E402

PSQL = "/usr/bin/psql"


def sh(*cmd, check_rc=True):
    p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=60)
    if check_rc and p.returncode != 0:
        raise Failure(f"{' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


# ---- network namespaces ----

class Bridge:
    """A bridge on the host with an address, and n network namespaces each
    joined to it by a veth pair with an address of its own: nodes in those
    namespaces reach the host's engines across real interfaces."""

    LOCK = "/run/moat-e2e-bridge.lock"

    def __init__(self, n):
        self.n = n
        self.tag = os.getpid() % 100000
        self.bridge = f"mbr{self.tag}"
        self.namespaces = [f"moat-e2e-{self.tag}-{i}" for i in range(n)]
        self.veths = [f"mv{self.tag}x{i}" for i in range(n)]
        self.net = None

    @property
    def host_ip(self):
        return f"{self.net}.1"

    def ip(self, i):
        return f"{self.net}.{10 + i}"

    def _free_net(self):
        used = sh("ip", "-o", "-4", "addr").stdout
        for k in range(250):
            net = f"10.213.{(self.tag + k) % 250}"
            if f" {net}." not in used:
                return net
        raise Failure("no free 10.213.x.0/24 for the test's bridge")

    def up(self):
        with open(self.LOCK, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.net = self._free_net()
            sh("ip", "link", "add", self.bridge, "type", "bridge")
            sh("ip", "addr", "add", f"{self.host_ip}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for i, (ns, veth) in enumerate(zip(self.namespaces, self.veths)):
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh("ip", "link", "set", veth, "master", self.bridge, "up")
            sh("ip", "-n", ns, "addr", "add", f"{self.ip(i)}/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        return self

    def down(self):
        for ns in self.namespaces:
            sh("ip", "netns", "del", ns, check_rc=False)
        sh("ip", "link", "del", self.bridge, check_rc=False)

    def counters(self, i):
        """(rx_bytes, tx_bytes) of namespace i's interface, as the host's
        end of its veth sees them."""
        base = f"/sys/class/net/{self.veths[i]}/statistics/"
        with open(base + "rx_bytes") as rx, open(base + "tx_bytes") as tx:
            return int(rx.read()), int(tx.read())

    def __enter__(self):
        try:
            return self.up()
        except BaseException:
            self.down()
            raise

    def __exit__(self, *exc):
        self.down()


# ---- the engines ----

class Engines:
    """A PostgreSQL and a NATS JetStream (one server, or a cluster of
    nats_nodes) for one test, listening on host (loopback, or a bridge's
    address for nodes in network namespaces)."""

    def __init__(self, host="127.0.0.1", nats_nodes=1, extra=()):
        self.host = host
        self.pg = PostgresServer(host=host)
        self.nats = NatsCluster(nats_nodes, host=host) if nats_nodes > 1 else \
            NatsServer(host=host)
        self.extra = list(extra)

    def start(self):
        self.pg.start()
        self.nats.start()
        return self

    def close(self):
        for s in (self.nats, self.pg):
            try:
                s.close()
            except Exception as e:  # the other still goes
                print(f"engines: close {type(s).__name__}: {e}")

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()

    def args(self, _in_netns=False):
        return ["--store", self.pg.url, "--queue", self.nats.url] + self.extra

    def sql(self, query, args=()):
        """Rows of a query on moat's schema, numbers as ints. Parameters are
        `?`, as the SQLite reads of the tests write them."""
        parts = query.split("?")
        check(len(parts) == len(args) + 1, "as many arguments as ?", (query, args))
        text = parts[0]
        for a, rest in zip(args, parts[1:]):
            lit = str(a) if isinstance(a, int) else "'" + str(a).replace("'", "''") + "'"
            text += lit + rest
        p = subprocess.run([PSQL, self.pg.url, "-X", "-q", "-A", "-t", "-F", "\t",
                            "-v", "ON_ERROR_STOP=1", "-c", "SET search_path TO moat",
                            "-c", text], capture_output=True, text=True, timeout=60)
        check(p.returncode == 0, f"psql {text}", p.stderr)
        def value(v):
            if re.fullmatch(r"-?\d+", v):
                return int(v)
            if re.fullmatch(r"\\x(?:[0-9a-f]{2})*", v):  # bytea, as SQLite's blobs read
                return bytes.fromhex(v[2:])
            return v
        return [tuple(value(v) for v in line.split("\t")) for line in p.stdout.splitlines()]


# ---- a NATS client of the tests' own (the text protocol) ----

class NatsClient:
    """Enough of the NATS client protocol for the tests: SUB, UNSUB, PUB
    with a reply subject, MSG and HMSG, PING/PONG, request/reply."""

    def __init__(self, url, timeout=10):
        m = re.match(r"nats://([^:,/]+):(\d+)", url.split(",")[0])
        check(m, "a nats://host:port URL", url)
        self.sock = socket.create_connection((m.group(1), int(m.group(2))), timeout=timeout)
        self.file = self.sock.makefile("rb")
        info = self.file.readline()
        check(info.startswith(b"INFO "), "the server greets with INFO", info)
        self.info = json.loads(info[5:])
        self.lock = threading.Lock()
        self.subs = {}  # sid -> queue of (subject, reply, headers, data)
        self.next_sid = 1
        self.pongs = queue.Queue()
        self.error = None
        self._send(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                   b'"no_responders":true,"protocol":1,"name":"moat-e2e"}\r\nPING\r\n')
        self.sock.settimeout(None)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.flush(timeout)

    def _send(self, data):
        with self.lock:
            self.sock.sendall(data)

    def _read(self):
        try:
            while True:
                line = self.file.readline()
                if not line:
                    return
                if line.startswith(b"PING"):
                    self._send(b"PONG\r\n")
                elif line.startswith(b"PONG"):
                    self.pongs.put(True)
                elif line.startswith(b"-ERR"):
                    self.error = line.decode(errors="replace").strip()
                elif line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                    self._message(line)
        except (OSError, ValueError):
            return

    def _message(self, line):
        f = line.decode().split()
        hdr_len = 0
        if f[0] == "HMSG":
            # HMSG subject sid [reply] hdr_len total_len
            subject, sid = f[1], int(f[2])
            reply = f[3] if len(f) == 6 else None
            hdr_len, total = int(f[-2]), int(f[-1])
        else:
            subject, sid = f[1], int(f[2])
            reply = f[3] if len(f) == 5 else None
            total = int(f[-1])
        payload = self.file.read(total + 2)[:total]
        headers = payload[:hdr_len].decode(errors="replace")
        q = self.subs.get(sid)
        if q is not None:
            q.put((subject, reply, headers, payload[hdr_len:]))

    def flush(self, timeout=10):
        self._send(b"PING\r\n")
        try:
            self.pongs.get(timeout=timeout)
        except queue.Empty:
            raise Failure(f"NATS: no PONG within {timeout} s ({self.error})") from None

    def subscribe(self, subject, group=None):
        with self.lock:
            sid = self.next_sid
            self.next_sid += 1
        self.subs[sid] = queue.Queue()
        self._send(f"SUB {subject} {group + ' ' if group else ''}{sid}\r\n".encode())
        self.flush()
        return sid

    def unsubscribe(self, sid):
        self._send(f"UNSUB {sid}\r\n".encode())
        self.subs.pop(sid, None)

    def next(self, sid, timeout):
        """The next (subject, reply, headers, data) of a subscription."""
        try:
            return self.subs[sid].get(timeout=timeout)
        except queue.Empty:
            raise Failure(f"NATS: no message within {timeout} s") from None

    def drain(self, sid):
        out = []
        while True:
            try:
                out.append(self.subs[sid].get_nowait())
            except queue.Empty:
                return out

    def publish(self, subject, data, reply=None):
        if isinstance(data, str):
            data = data.encode()
        head = f"PUB {subject} {reply + ' ' if reply else ''}{len(data)}\r\n".encode()
        self._send(head + data + b"\r\n")

    def request(self, subject, data, timeout=60):
        """The reply to one request, as bytes; Failure when nobody answers."""
        inbox = f"_INBOX.e2e.{uuid.uuid4().hex}"
        sid = self.subscribe(inbox)
        try:
            self.publish(subject, data, reply=inbox)
            _, _, headers, body = self.next(sid, timeout)
            check(" 503" not in headers.split("\r\n")[0], f"a responder on {subject}", headers)
            return body
        finally:
            self.unsubscribe(sid)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

