"""Helpers of serve_test.py: a `moat serve` under test, HTTP, raw sockets,
the leftovers a server may leave (box processes, box cgroups), the store
and the metrics as the tests read them.

Each server runs under a cgroup name, a uid range and a run directory of its
own, so that other tests running boxes at the same time do not disturb its
checks (nor its sweep theirs).
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

CG_FS = "/sys/fs/cgroup"
# Above the ranges of run_test.py (3000000: moat's default) and crash_test.py
# (3980000, 3990000).
UID_BASE = 4100000
UID_SPAN = 32
FINAL = ("completed", "failed", "cancelled")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Failure(Exception):
    pass


def check(cond, what, got=None):
    if not cond:
        raise Failure(what + ("" if got is None else f"\n  got: {got!r}"[:3000]))


def wait_for(what, cond, timeout, interval=0.05):
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= end:
            raise Failure(f"{what}: not within {timeout} s")
        time.sleep(interval)


def sha256(data):
    return hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()


# ---- processes and cgroups ----

def proc_status(pid):
    """(name, ppid, state, uids) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    fields = dict(l.split(":", 1) for l in text.splitlines() if ":" in l)
    try:
        return (fields["Name"].strip(), int(fields["PPid"]), fields["State"].split()[0],
                [int(u) for u in fields["Uid"].split()])
    except (KeyError, ValueError, IndexError):
        return None


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def live(pid):
    st = proc_status(pid)
    return st is not None and st[2] != "Z"


def descendants(root):
    kids = {}
    for pid in all_pids():
        st = proc_status(pid)
        if st:
            kids.setdefault(st[1], []).append(pid)
    out, todo = [], [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def procs_in_tree(group):
    n = 0
    for d, _, _ in os.walk(group):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                n += len(f.read().split())
        except OSError:
            pass
    return n


def remove_tree(group):
    for d, _, _ in sorted(os.walk(group), key=lambda w: -w[0].count("/")):
        for _ in range(100):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)


# ---- HTTP ----

class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers  # lower-case name -> value
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise Failure(f"not JSON (status {self.status}): {self.body[:500]!r}")

    def __repr__(self):
        return f"<{self.status} {self.headers.get('content-type')} {self.body[:400]!r}>"


def parse_metrics(text):
    """Prometheus text exposition -> ({(name, labels-tuple): value}, {name: type}).
    Every line must be a comment or a well-formed sample."""
    samples, types = {}, {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([^ ]+)( [0-9]+)?$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3]
            continue
        m = line_re.match(line)
        check(m, "metrics: well-formed sample line", line)
        labels = ()
        if m.group(3):
            got = label_re.findall(m.group(3))
            check("".join(f'{k}="{v}"{c}' for k, v, c in got) == m.group(3),
                  "metrics: well-formed labels", line)
            labels = tuple(sorted((k, v) for k, v, _ in got))
        try:
            value = float(m.group(4))
        except ValueError:
            raise Failure(f"metrics: bad value in {line!r}")
        samples[(m.group(1), labels)] = value
    return samples, types


def metric_sum(samples, name, **want):
    """Sum of the samples of name whose labels include want."""
    total = 0.0
    for (n, labels), v in samples.items():
        if n == name and all((k, str(x)) in labels for k, x in want.items()):
            total += v
    return total


# ---- the server ----

class Server:
    _count = 0

    def __init__(self, moat, args=(), data_dir=None, label="serve"):
        idx = Server._count
        Server._count += 1
        pid = os.getpid()
        self.moat = moat
        self.args = list(args)
        self.label = label
        self.uid_count = UID_SPAN
        self.cg = f"moat-e2e-srv-{pid}-{idx}"
        self.first_uid = UID_BASE + (pid % 4096) * 8 * UID_SPAN + (idx % 8) * UID_SPAN
        self.run_dir = tempfile.mkdtemp(prefix="moat-e2e-serve-run-")
        self.own_data = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="moat-e2e-serve-data-")
        self.proc = None
        self.port = None
        self.log = []
        self.log_lock = threading.Lock()
        self.reader = None

    # -- life --
    def command(self):
        return [self.moat, "serve", "--listen", "127.0.0.1:0", "--data-dir", self.data_dir,
                "--cgroup-name", self.cg, "--first-uid", str(self.first_uid),
                "--uid-count", str(UID_SPAN), "--run-dir", self.run_dir] + self.args

    def _read(self, stream):
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            with self.log_lock:
                self.log.append(line)
        stream.close()

    def start(self, timeout=120):
        self.port = None
        with self.log_lock:
            self.log.append(f"---- start: {' '.join(self.command())}")
            first = len(self.log)
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.reader = threading.Thread(target=self._read, args=(self.proc.stderr,), daemon=True)
        self.reader.start()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.log_lock:
                for line in self.log[first:]:
                    if "event=listening" in line:
                        m = re.search(r"\bport=(\d+)", line)
                        if m:
                            self.port = int(m.group(1))
            if self.port:
                return self
            if self.proc.poll() is not None:
                self.reader.join(2)
                raise Failure(f"moat serve exited {self.proc.returncode} before listening:\n"
                              + self.tail(40))
            time.sleep(0.05)
        raise Failure(f"moat serve: no event=listening within {timeout} s:\n" + self.tail(40))

    def tail(self, n=30):
        with self.log_lock:
            return "\n".join("    " + l for l in self.log[-n:])

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        if self.reader:
            self.reader.join(5)
        self.port = None

    def stop(self, timeout=60):
        """SIGTERM: exits 0 and leaves nothing behind."""
        check(self.alive(), "server still running before SIGTERM",
              (self.proc.returncode if self.proc else None, self.tail(20)))
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure(f"moat serve did not exit within {timeout} s of SIGTERM\n" + self.tail())
        if self.reader:
            self.reader.join(5)
        self.port = None
        check(rc == 0, "moat serve exits 0 on SIGTERM", (rc, self.tail(40)))
        self.check_nothing_left()

    def check_nothing_left(self):
        try:
            wait_for("no process of a box uid after exit", lambda: not self.uid_procs(), 3)
        except Failure:
            raise Failure(f"processes of box uids left: {self.uid_procs()}")
        groups = self.box_groups()
        check(not groups, "no box cgroup left after exit", groups)
        check(not self.parents(), "the parent cgroup removed at exit", self.parents())

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid, _ in self.uid_procs():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for g in self.box_groups():
            remove_tree(g)
        for d in self.parents():
            remove_tree(d)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        if self.own_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- what a server leaves --
    def uid_procs(self):
        out = []
        for pid in all_pids():
            st = proc_status(pid)
            if st and st[2] != "Z" and any(
                    self.first_uid <= u < self.first_uid + UID_SPAN for u in st[3]):
                out.append((pid, st[0]))
        return out

    def parents(self):
        out = []
        try:
            ctls = sorted(os.listdir(CG_FS))
        except OSError:
            ctls = []
        for ctl in ctls:
            d = os.path.join(CG_FS, ctl, self.cg)
            if os.path.isdir(d):
                out.append(d)
        if os.path.isdir(os.path.join(CG_FS, self.cg)):
            out.append(os.path.join(CG_FS, self.cg))
        return out

    def box_groups(self):
        out = []
        for p in self.parents():
            try:
                out += [os.path.join(p, x) for x in os.listdir(p) if x.startswith("box-")]
            except OSError:
                pass
        return out

    # -- HTTP --
    @property
    def hostport(self):
        return f"127.0.0.1:{self.port}"

    def request(self, method, path, body=None, headers=None, timeout=60):
        check(self.port, "server listening")
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {})
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        t0 = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            return Response(r.status, hdrs, data, time.monotonic() - t0)
        except (OSError, http.client.HTTPException) as e:
            raise Failure(f"{method} {path}: {type(e).__name__}: {e}"
                          + ("" if self.alive() else
                             f"\n  the server died (rc {self.proc.returncode}):\n" + self.tail(40)))
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body=body, **kw)

    def submit(self, body, path="/v1/jobs"):
        """POST a job; 202 expected; its id."""
        r = self.post(path, body)
        check(r.status == 202, f"POST {path} accepted (202)", r)
        return r.json()["jobId"]

    def job(self, jid):
        r = self.get(f"/v1/jobs/{jid}")
        check(r.status == 200, f"GET /v1/jobs/{jid} is 200", r)
        return r.json()

    def wait_final(self, ids, timeout=120, route="/v1/jobs/"):
        """Polls the jobs until every one is final: {id: job}."""
        single = isinstance(ids, str)
        pending = [ids] if single else list(ids)
        done = {}
        end = time.monotonic() + timeout
        while pending:
            still = []
            for jid in pending:
                r = self.get(route + jid)
                check(r.status == 200, f"GET {route}{jid} is 200", r)
                j = r.json()
                if j.get("status") in FINAL:
                    done[jid] = j
                else:
                    still.append(jid)
            pending = still
            if pending:
                if time.monotonic() > end:
                    raise Failure(f"{len(pending)} jobs not final within {timeout} s, e.g. "
                                  f"{self.get(route + pending[0]).body[:600]!r}")
                time.sleep(0.1)
        return done[ids] if single else done

    def metrics(self):
        r = self.get("/metrics")
        check(r.status == 200, "GET /metrics is 200", r)
        return parse_metrics(r.body.decode())

    # -- the store, read directly: what is stored, not what the API says --
    def stored(self, sql, args=()):
        path = os.path.join(self.data_dir, "moat.db")
        check(os.path.exists(path), "the store file exists", path)
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def stored_jobs(self):
        return self.stored("SELECT count(*) FROM jobs")[0][0]


def raw_exchange(port, data, timeout=5.0, shutdown=False, read=True):
    """Sends bytes on a fresh connection; what comes back before the server
    closes or the timeout (b"" when nothing)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = b""
    try:
        try:
            s.sendall(data)
            if shutdown:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if read:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                try:
                    chunk = s.recv(65536)
                except (socket.timeout, OSError):
                    break
                if not chunk:
                    break
                got += chunk
    finally:
        s.close()
    return got
