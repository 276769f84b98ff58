#!/usr/bin/env python3
"""End-to-end tests of `moat serve` against hostile clients and outputs: what
an outside fault-and-abuse run found, each as a class.

Groups (one ctest test each, e2e_abuse_<group>):
  bytes     control bytes (%00 first) in paths, query arguments and headers:
            400 with the field named, nothing changed
  refusals  every refusal answered, as JSON where moat makes it; the body of
            a refused request read and dropped so the answer is heard and
            pipelined requests survive; what the HTTP library answers itself
  slow      trickling clients (slowloris) over many addresses: cut at the
            request deadline, the reserve keeps /healthz answered; the
            per-address limit
  output    16 MiB of control bytes per stream: a bounded JSON, the whole
            streams at their routes, concurrent reads quick, memory returned
  settings  settings that would cap each other refused; derived ones logged
            and in force

usage: abuse_test.py --moat PATH [--group NAME | --case NAME | --list]
"""
import hashlib
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Failure, check, wait_for  # noqa: E402
from groups import Groups, run  # noqa: E402
from serve_util import (Server, expect_error, metric_sum, owned, py,  # noqa: E402
                        raw_exchange)

G = Groups()
G.group("bytes", ["--no-exec"])
G.group("refusals", ["--no-exec"])
G.group("slow", ["--no-exec", "--max-connections", "400", "--connection-reserve", "40",
                 "--request-timeout", "4", "--max-connections-per-ip", "100"])
G.group("output", [])
G.group("settings", None)


def status_of(raw):
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", raw)
    return int(m.group(1)) if m else None


def responses(raw):
    """The status codes of the HTTP responses back to back in raw."""
    return [int(x) for x in re.findall(rb"HTTP/1\.[01] (\d{3}) ", raw)]


def json_body(raw):
    return raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""


# ======================================================================
# bytes: a control byte anywhere a name is read is refused whole
# ======================================================================

def queued_job(srv):
    jid = srv.submit(py("print(1)"))
    check(srv.job(jid)["status"] == "queued", "a --no-exec job stays queued", srv.job(jid))
    return jid


@G.case("bytes")
def nul_in_path_is_refused(srv):
    jid = queued_job(srv)
    before = srv.stored_jobs()
    for suffix in ("%00junk", "%00", "%01", "%0a", "%7f", "%1b[2J"):
        for method in ("GET", "DELETE"):
            r = srv.request(method, f"/v1/jobs/{jid}{suffix}")
            expect_error(r, 400, "bad_request", "path", what=f"{method} /v1/jobs/<id>{suffix}")
        r = srv.get(f"/job/{jid}{suffix}")
        expect_error(r, 400, "bad_request", "path", what=f"GET /job/<id>{suffix}")
    check(srv.job(jid)["status"] == "queued", "the DELETEs did not cancel the real job",
          srv.job(jid))
    check(srv.stored_jobs() == before, "nothing stored by the refused requests")


@G.case("bytes")
def nul_in_query_is_refused(srv):
    before = srv.stored_jobs()
    r = srv.post("/api/v1/execute?language=py%00thon", "print(2)")
    expect_error(r, 400, "bad_request", "language", what="language=py%00thon")
    r = srv.post("/api/v1/execute?language=python%01", "print(2)")
    expect_error(r, 400, "bad_request", "language", what="language=python%01")
    jid = queued_job(srv)
    r = srv.get(f"/v1/jobs/{jid}?wait=tr%00ue")
    expect_error(r, 400, "bad_request", "wait", what="wait=tr%00ue")
    r = srv.get(f"/v1/jobs/{jid}?wa%00it=true")
    expect_error(r, 400, "bad_request", "wa?it", what="a NUL in a query name")
    check(srv.stored_jobs() == before + 1, "only the good job stored",
          (before, srv.stored_jobs()))
    # escapes of printable bytes stay fine
    r = srv.post("/api/v1/execute?language=py%74hon", "print(3)")
    check(r.status == 202, "language=py%74hon (python) accepted", r)


@G.case("bytes")
def control_bytes_in_headers_are_refused(srv):
    # A raw NUL (not %00) is cut by the HTTP library before moat sees the
    # value (docs/http.md); every other control byte is moat's to refuse.
    for name, value in ((b"X-Note", b"a\x01b"), (b"User-Agent", b"x\x7fy"),
                        (b"Content-Type", b"application/json\x1b")):
        raw = raw_exchange(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + name + b": "
                           + value + b"\r\nConnection: close\r\n\r\n")
        check(status_of(raw) == 400 and b'"field":"' + name + b'"' in raw,
              f"a control byte in {name.decode()} is 400 with the header named", raw[:400])
    raw = raw_exchange(srv.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Tab: a\tb\r\n"
                       b"Connection: close\r\n\r\n")
    check(status_of(raw) == 200, "a tab in a header value is fine", raw[:300])
    raw = raw_exchange(srv.port, b"GET /healthz\x01 HTTP/1.1\r\nHost: x\r\nConnection: close"
                       b"\r\n\r\n")
    check(status_of(raw) == 400 and b'"field":"path"' in raw,
          "a raw control byte in the path is 400 with field path", raw[:300])


# ======================================================================
# refusals: every request answered; moat's answers are JSON
# ======================================================================

def exchange_on(port, data, timeout=10, src=None):
    """Sends data on one connection and reads until the server closes it or
    the timeout; returns (bytes, closed_by_server)."""
    s = socket.socket()
    if src:
        s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    got, closed = b"", False
    try:
        s.sendall(data)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                c = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not c:
                closed = True
                break
            got += c
    finally:
        s.close()
    return got, closed


@G.case("refusals")
def unknown_transfer_encoding_is_501(srv):
    raw, closed = exchange_on(srv.port, b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\n"
                              b"Transfer-Encoding: gzip\r\nContent-Type: application/json\r\n"
                              b"\r\n{}", timeout=5)
    check(status_of(raw) == 501, "Transfer-Encoding: gzip is answered 501 (not silence)", raw)
    check(b'"code":"unsupported_transfer_encoding"' in raw
          and b'"field":"Transfer-Encoding"' in raw, "501 with its JSON error", raw)
    check(closed, "and the connection closed (the body cannot be delimited)")


@G.case("refusals")
def routing_refusals_keep_the_connection(srv):
    """404 and 405 (with or without a body) are answered once the request is
    whole: the requests pipelined behind them are answered too."""
    pipelined = (b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                 b"PUT /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                 b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"
                 + b"z" * 1048576 +
                 b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    raw, closed = exchange_on(srv.port, pipelined, timeout=10)
    check(responses(raw) == [404, 405, 404, 200], "four pipelined requests, four answers",
          (responses(raw), raw[-300:]))
    check(closed, "closed only at the Connection: close of the last")


@G.case("refusals")
def large_refused_bodies_are_answered(srv):
    """A client that sends its whole body before reading gets its 413, not a
    reset: the body is read and dropped up to max_refused_body_mb (128)."""
    size = 100 << 20
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    try:
        s.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % size)
        block = b"{" * (1 << 20)
        for _ in range(size >> 20):
            s.sendall(block)
        got = b""
        while b"}}" not in got:
            c = s.recv(65536)
            if not c:
                break
            got += c
    finally:
        s.close()
    check(status_of(got) == 413 and b'"code":"payload_too_large"' in got,
          "100 MiB sent before reading: 413 with its JSON error", got[:300])
    # past the bound, the answer comes at once (and the connection closes)
    raw, closed = exchange_on(srv.port, b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: 999999999999\r\n\r\n", timeout=5)
    check(status_of(raw) == 413 and closed, "a body past the bound: 413 at once, closed", raw)
    # a client that asks before sending gets the answer before any byte
    raw, _ = exchange_on(srv.port, b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nExpect: 100-continue"
                         b"\r\nContent-Length: 10485760\r\n\r\n", timeout=5)
    check(status_of(raw) == 413 and b"100 Continue" not in raw,
          "Expect: 100-continue with a body too large: 413, no 100", raw)


@G.case("refusals")
def every_malformed_request_is_answered(srv):
    """The requests the HTTP library refuses itself get the right status
    (an HTML body: docs/http.md) and the connection closed; the server
    serves on."""
    cases = [
        ("Content-Length: -1", b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: -1"
         b"\r\n\r\n", 400),
        ("Content-Length: abc", b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: abc"
         b"\r\n\r\n", 400),
        ("HTTP/0.9", b"GET /healthz\r\n\r\n", 400),
        ("HTTP/2.0", b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        ("a 100 KiB path", b"GET /" + b"a" * 102400 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        ("2000 headers", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
         + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 100) for i in range(2000)) + b"\r\n", 431),
        ("a bad chunk size", b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
         b"chunked\r\n\r\nzz\r\n", 400),
        ("a 2^64 chunk", b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
         b"\r\n\r\nFFFFFFFFFFFFFFFFF\r\n", 413),
    ]
    for what, data, status in cases:
        raw, closed = exchange_on(srv.port, data, timeout=5)
        check(status_of(raw) == status, f"{what}: answered {status}", raw[:300])
        check(closed, f"{what}: the connection closed")
    r = srv.get("/healthz")
    check(r.status == 200, "the server serves on", r)


# ======================================================================
# slow: clients that trickle cannot hold the server
# ======================================================================

class Trickler:
    """Connections from many loopback addresses that send one byte of a
    request head every second, never finishing it."""

    def __init__(self, port, count, addresses):
        self.socks = []
        for i in range(count):
            s = socket.socket()
            s.bind((addresses[i % len(addresses)], 0))
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            self.socks.append(s)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
        k = 0
        while not self.stop.wait(1.0):
            b = head[k:k + 1] if k < len(head) else b"a"
            for s in self.socks:
                try:
                    s.send(b)
                except OSError:
                    pass
            k += 1

    def open_count(self):
        """Connections the server has not closed (a closed one reads EOF)."""
        n = 0
        for s in self.socks:
            try:
                if s.recv(1, socket.MSG_PEEK) == b"":
                    continue
            except BlockingIOError:
                pass
            except OSError:
                continue
            n += 1
        return n

    def close(self):
        self.stop.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


def healthz_latency(port):
    t = time.monotonic()
    raw, _ = exchange_on(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                         timeout=15, src="127.0.0.1")
    return time.monotonic() - t, status_of(raw)


@G.case("slow")
def trickling_clients_cannot_hold_the_server(srv):
    """420 trickling connections over 10 addresses against 400 connections,
    a reserve of 40 and a 4 s request deadline: /healthz stays answered and
    every trickler is closed by its deadline."""
    addrs = [f"127.0.0.{i}" for i in range(2, 12)]
    t = Trickler(srv.port, 420, addrs)
    try:
        seen = []
        end = time.monotonic() + 7
        while time.monotonic() < end:
            seen.append(healthz_latency(srv.port))
            time.sleep(0.2)
        check(all(st == 200 for _, st in seen), "every /healthz answered 200", seen)
        worst = max(l for l, _ in seen)
        check(worst < 3.0, "/healthz answered within 3 s throughout", seen)
        wait_for("every trickling connection closed by the server", lambda: t.open_count() == 0,
                 10)
    finally:
        t.close()
    m, _ = srv.metrics()
    cut = metric_sum(m, "moat_http_connections_cut_total")
    check(cut >= 420, "the cut connections are counted", cut)


@G.case("slow")
def a_slow_body_is_cut(srv):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    t0 = time.monotonic()
    try:
        s.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{")
        closed = False
        while time.monotonic() - t0 < 9 and not closed:
            try:
                s.send(b" ")
                s.settimeout(1.0)
                closed = s.recv(65536) == b""
            except socket.timeout:
                pass
            except OSError:
                closed = True
    finally:
        s.close()
    took = time.monotonic() - t0
    check(closed and took < 8, "a body trickled in is cut near the 4 s deadline", took)


@G.case("slow")
def one_address_gets_its_limit(srv):
    """100 connections per address: the 101st and later are closed at once,
    while another address is served."""
    socks = []
    try:
        for _ in range(110):
            s = socket.socket()
            s.bind(("127.0.0.40", 0))
            s.connect(("127.0.0.1", srv.port))
            s.setblocking(False)
            socks.append(s)
        time.sleep(0.5)
        refused = 0
        for s in socks:  # without waiting: the 4 s request deadline is near
            try:
                if s.recv(1, socket.MSG_PEEK) == b"":
                    refused += 1
            except BlockingIOError:
                pass
            except OSError:
                refused += 1
        check(refused == 10, "exactly the 10 connections past 100 closed", refused)
        lat, st = healthz_latency(srv.port)
        check(st == 200, "another address is served meanwhile", (lat, st))
    finally:
        for s in socks:
            s.close()


# ======================================================================
# output: a job's JSON stays bounded however large its output
# ======================================================================

FLOOD = ("import sys\nb = b'\\x01' * (16 << 20)\n"
         "sys.stdout.buffer.write(b); sys.stderr.buffer.write(b)\n")


def rss_mb(srv):
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != srv.proc.pid and int(p) != srv.proc.pid:
                continue
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if b"moat-server" not in f.read():
                    continue
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) // 1024
        except (OSError, ValueError, IndexError):
            continue
    raise Failure("no moat-server process of the server under test")


@G.case("output")
def large_output_is_bounded(srv):
    r = srv.post("/v1/jobs?wait=true", py(FLOOD, maxOutputKb=16384, memoryMb=256), timeout=120)
    check(r.status == 200, "the flood job finished", r)
    j = r.json()
    whole = 16 << 20
    inline = 256 << 10
    check(j["verdict"] == "ok" and len(j["output"]) == inline and len(j["stderr"]) == inline,
          "256 KiB of each stream inline", (j["verdict"], len(j["output"]), len(j["stderr"])))
    check(j["stdoutOmitted"] == whole - inline and j["stderrOmitted"] == whole - inline,
          "the rest counted as omitted", (j["stdoutOmitted"], j["stderrOmitted"]))
    check(len(r.body) < 4 << 20, "the JSON stays under 4 MiB (escaped six to one)", len(r.body))
    jid = j["jobId"]
    want = hashlib.sha256(b"\x01" * whole).hexdigest()
    for route in ("output", "stderr"):
        g = srv.get(f"/v1/jobs/{jid}/{route}")
        check(g.status == 200 and hashlib.sha256(g.body).hexdigest() == want,
              f"/{route} is the whole stream, byte for byte", (g.status, len(g.body)))
    for route in ("compile/output", "compile/stderr"):
        g = srv.get(f"/v1/jobs/{jid}/{route}")
        check(g.status == 200 and g.body == b"", f"/{route} of an interpreted job: empty", g)
    # three concurrent reads are quick and leave /healthz answered
    took, health = [], []
    stop = threading.Event()

    def read():
        t = time.monotonic()
        g = srv.get(f"/v1/jobs/{jid}")
        took.append((time.monotonic() - t, g.status))

    def probe():
        while not stop.is_set():
            health.append(healthz_latency(srv.port))
            time.sleep(0.05)

    p = threading.Thread(target=probe)
    p.start()
    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    for t in readers:
        t.join(60)
    stop.set()
    p.join(20)
    check(len(took) == 3 and all(st == 200 and s < 5 for s, st in took),
          "three concurrent reads of the job, each under 5 s", took)
    check(health and max(l for l, _ in health) < 2, "/healthz within 2 s meanwhile", health)


def release_binary():
    """The release moat beside the ASan one under test: memory figures are
    the production allocator's (ASan's keeps freed memory in quarantine)."""
    path = G.moat[:-len("-asan")] if G.moat.endswith("-asan") else G.moat
    check(os.access(path, os.X_OK), "the release moat is built beside the one under test", path)
    return path


@G.case("output")
def memory_returns_after_large_outputs(_):
    """After jobs with 16 MiB streams are written, read back and rendered,
    the server's memory returns near its idle size (it stayed ~270 MiB
    higher before: freed large blocks kept by the allocator)."""
    srv = Server(release_binary(), [], label="memory")
    with owned(srv):
        srv.start()
        base = rss_mb(srv)
        for _ in range(2):
            r = srv.post("/v1/jobs?wait=true", py(FLOOD, maxOutputKb=16384, memoryMb=256),
                         timeout=120)
            check(r.status == 200 and r.json()["verdict"] == "ok", "the flood job finished", r)
            jid = r.json()["jobId"]
            for route in ("", "/output", "/stderr"):
                check(srv.get(f"/v1/jobs/{jid}{route}").status == 200, f"read {route or 'job'}")
        wait_for("the server's memory back within 32 MiB of its idle size",
                 lambda: rss_mb(srv) < base + 32, 10)
        srv.stop()


@G.case("output")
def compile_streams_have_routes(srv):
    r = srv.post("/v1/jobs?wait=true", {"language": "c", "code": "int main(void) { return x; }"},
                 timeout=120)
    j = r.json()
    check(j["verdict"] == "compile_error" and j["compile"]["stderrOmitted"] == 0,
          "a compile error, its message inline", j)
    g = srv.get(f"/v1/jobs/{j['jobId']}/compile/stderr")
    check(g.status == 200 and g.body.decode() == j["compile"]["stderr"],
          "/compile/stderr is the compiler's message", (g, j["compile"]["stderr"]))


# ======================================================================
# settings: no setting silently caps another
# ======================================================================

def refused_start(flags, field):
    srv = Server(G.moat, flags, label="refused")
    with owned(srv):
        try:
            srv.start(timeout=30)
        except Failure as e:
            check(field in str(e), f"{' '.join(flags)}: refused naming {field}", str(e))
            return
        raise Failure(f"{' '.join(flags)}: the server started")


@G.case("settings")
def contradictions_are_refused(_):
    refused_start(["--workers", "4", "--warm-boxes", "2"], "sandbox.warm_boxes")
    refused_start(["--max-connections", "100", "--connection-reserve", "100"],
                  "server.connection_reserve")


@G.case("settings")
def derived_settings_are_in_force(_):
    """--workers 3 alone: 3 boxes (not the old fixed 4 or fewer), logged; 3
    jobs of 2 s run at once."""
    srv = Server(G.moat, ["--workers", "3"], label="derived")
    with owned(srv):
        srv.start()
        line = [l for l in srv.log if "event=listening" in l][-1]
        check("workers=3 " in line and "warm_boxes=3 " in line and "open_files=" in line,
              "what is in force is logged", line)
        t0 = time.monotonic()
        ids = [srv.submit(py("import time; time.sleep(2)", timeoutMs=1000)) for _ in range(3)]
        jobs = srv.wait_final(ids, timeout=60)
        took = time.monotonic() - t0
        check(all(j["verdict"] == "ok" for j in jobs.values()), "all ran", jobs)
        check(took < 5.5, "three 2 s jobs ran at once (not one after the other)", took)
        srv.stop()


if __name__ == "__main__":
    run(G)
