"""Helpers of serve_test.py: a `moat serve` under test, HTTP, raw sockets,
the leftovers a server may leave (box processes, box cgroups), the store
and the metrics as the tests read them.

Each server runs under a cgroup name, a uid range and a run directory of its
own, so that other tests running boxes at the same time do not disturb its
checks (nor its sweep theirs).
"""
import contextlib
import ctypes
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
import tempfile
import threading
import time
import uuid

from e2e_util import (Failure, box_groups, cgroup_parents, check, live, proc_status,
                      sweep, uid_procs, wait_for)

# Above the ranges of run_test.py (3000000: moat's default) and crash_test.py
# (3980000, 3990000).
UID_BASE = 4100000
UID_SPAN = 32
FINAL = ("completed", "failed", "cancelled")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def sha256(data):
    return hashlib.sha256(data if isinstance(data, bytes) else data.encode()).hexdigest()


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

PR_SET_PDEATHSIG = 1


# looked up here, not in the child: a dlopen after fork in a process with
# threads can deadlock on the loader's lock
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def die_with_test():
    """In a server's child before exec: SIGTERM when the test that started it
    dies, so that a test killed or crashed leaves no server, box or cgroup
    behind (the server cleans up on SIGTERM)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Server:
    """A moat node under test: `moat serve` (role "serve") or `moat worker`.

    netns: run it in that network namespace, listening on host (an address
    of that namespace). When Server.engines is set (cluster mode: see
    cluster_util.Engines), every server uses its PostgreSQL and NATS, and
    stored() reads PostgreSQL instead of the SQLite file."""
    _count = 0
    engines = None

    def __init__(self, moat, args=(), data_dir=None, label="serve", role="serve", netns=None,
                 host="127.0.0.1"):
        idx = Server._count
        Server._count += 1
        pid = os.getpid()
        self.moat = moat
        self.args = list(args)
        self.label = label
        self.role = role
        self.netns = netns
        self.host = host
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
        # nsenter, not `ip netns exec`: that one mounts a new /sys, which
        # hides the cgroup hierarchies the boxes need
        prefix = ["nsenter", f"--net=/run/netns/{self.netns}", "--"] if self.netns else []
        engines = Server.engines.args(self.netns is not None) if Server.engines else []
        return prefix + [self.moat, self.role, "--listen", f"{self.host}:0",
                         "--data-dir", self.data_dir, "--cgroup-name", self.cg,
                         "--first-uid", str(self.first_uid), "--uid-count", str(UID_SPAN),
                         "--run-dir", self.run_dir] + engines + self.args

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
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     preexec_fn=die_with_test)
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
                raise Failure(f"moat {self.role} exited {self.proc.returncode} before "
                              "listening:\n"
                              + self.tail(40))
            time.sleep(0.05)
        raise Failure(f"moat {self.role}: no event=listening within {timeout} s:\n"
                      + self.tail(40))

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
            raise Failure(f"moat {self.role} did not exit within {timeout} s of SIGTERM\n" + self.tail())
        if self.reader:
            self.reader.join(5)
        self.port = None
        check(rc == 0, f"moat {self.role} exits 0 on SIGTERM", (rc, self.tail(40)))
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
        sweep(self.cg, self.first_uid, UID_SPAN)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        if self.own_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- what a server leaves --
    def uid_procs(self):
        return uid_procs(self.first_uid, UID_SPAN)

    def parents(self):
        return cgroup_parents(self.cg)

    def box_groups(self):
        return box_groups(self.cg)

    # -- HTTP --
    @property
    def hostport(self):
        return f"{self.host}:{self.port}"

    def request(self, method, path, body=None, headers=None, timeout=60):
        check(self.port, "server listening")
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = dict(headers or {})
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        t0 = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
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
        if Server.engines:
            return Server.engines.sql(sql, args)
        path = os.path.join(self.data_dir, "moat.db")
        check(os.path.exists(path), "the store file exists", path)
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    def stored_jobs(self):
        return self.stored("SELECT count(*) FROM jobs")[0][0]


@contextlib.contextmanager
def owned(*servers, lines=40, also=None):
    """For a case that starts servers of its own: a failure's message gains
    the last lines of their logs, and they are cleaned up (then `also` is
    called) however the case ends. Yields the list of them: a server
    appended later is treated the same."""
    own = list(servers)
    try:
        yield own
    except Failure as e:
        logs = "\n".join(s.tail(lines) for s in own)
        raise Failure(f"{e}\n  server log, last lines:\n{logs}") from None
    finally:
        for s in own:
            s.cleanup()
        if also:
            also()


def posts_waiting(srv, bodies, timeout=60):
    """POSTs each body to /v1/jobs in a thread of its own and returns at once:
    (answers, threads). answers[k] is body k's Response, or the Failure of a
    request left without one, once thread k has ended."""
    answers = {}

    def one(k):
        try:
            answers[k] = srv.post("/v1/jobs", bodies[k], timeout=timeout)
        except Failure as e:
            answers[k] = e

    ts = [threading.Thread(target=one, args=(k,)) for k in range(len(bodies))]
    for t in ts:
        t.start()
    return answers, ts


def joined(ts, what, within=10):
    """Joins the threads; each must end within `within` s."""
    for t in ts:
        t.join(within)
    check(not any(t.is_alive() for t in ts), what)


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


# ---- requests and checks shared by the cases ----

def expect_error(r, status, code, field=None, what=""):
    """An error answer of API.md: status, JSON {"error": {code, message, field}}."""
    what = what or f"{status} {code}"
    check(r.status == status, f"{what}: status {status}", r)
    ctype = r.header("content-type") or ""
    check(ctype.startswith("application/json"), f"{what}: JSON error body", ctype)
    body = r.json()
    check(isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], dict),
          f"{what}: body is {{\"error\": {{...}}}}", body)
    e = body["error"]
    codes = code if isinstance(code, tuple) else (code,)
    check(e.get("code") in codes, f"{what}: error.code {code}", e)
    check(isinstance(e.get("message"), str) and e["message"], f"{what}: error.message", e)
    if field is None:
        check(e.get("field") is None, f"{what}: no error.field", e)
    else:
        fields = field if isinstance(field, tuple) else (field,)
        check(e.get("field") in fields, f"{what}: error.field {field}", e)
    return e


def py(code, **extra):
    body = {"language": "python", "code": code}
    body.update(extra)
    return body


def shell(cmd, timeout=120):
    p = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def json_stream(data):
    """Concatenated JSON values (curl prints answers back to back)."""
    dec, text, i, out = json.JSONDecoder(), data.decode(), 0, []
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return out
        v, i = dec.raw_decode(text, i)
        out.append(v)


def run_jobs_waiting(srv, bodies, threads=4):
    """POSTs each body with wait:true at the same time; the final jobs in order."""
    results = [None] * len(bodies)
    errors = []

    def one(i):
        try:
            b = dict(bodies[i])
            b["wait"] = True
            r = srv.post("/v1/jobs", b, timeout=120)
            check(r.status in (200, 202), f"job {i}: 200 (or 202 after the longest wait)", r)
            j = r.json()
            if j.get("status") not in FINAL:
                j = srv.wait_final(j["jobId"])
            results[i] = j
        except BaseException as e:  # reported below
            errors.append(e)

    ts = []
    for i in range(len(bodies)):
        t = threading.Thread(target=one, args=(i,))
        t.start()
        ts.append(t)
        while sum(t.is_alive() for t in ts) >= threads:
            time.sleep(0.01)
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    return results


def box_pythons(srv):
    return [p for p in srv.uid_procs() if p[1].startswith("python")]


def kill_box_init_of_running_program(srv):
    """SIGKILL to the init of the box whose program runs: an infrastructure
    fault, not the program's."""
    pid = wait_for("a program runs in a box", lambda: box_pythons(srv), 20, 0.02)[0][0]
    st = proc_status(pid)
    check(st is not None, "the program is alive", pid)
    init = proc_status(st[1])
    check(init is not None and init[0] == "moat-box", "its parent is the box init", init)
    os.kill(st[1], signal.SIGKILL)
    wait_for("that program gone", lambda: not live(pid), 5)


# ---- malformed requests: (what, method, path, body, headers, status, code, field) ----

def malformed_requests():
    u = str(uuid.uuid4())
    J = {"Content-Type": "application/json"}

    def jb(obj):
        return json.dumps(obj).encode()

    ok = {"language": "python", "code": "print(1)"}

    def w(**kv):
        b = dict(ok)
        b.update(kv)
        return jb(b)

    big_code = "#" * (1024 * 1024) + "\nprint(1)\n"
    return [
        # (what, method, path, body, headers, status, code, field)
        ("invalid JSON", "POST", "/v1/jobs", b'{"language": "python", "code": ', J, 400,
         "invalid_json", None),
        ("empty body", "POST", "/v1/jobs", b"", J, 400, "invalid_json", None),
        ("JSON array", "POST", "/v1/jobs", b'[{"language": "python"}]', J, 400, "invalid_json",
         None),
        ("JSON string", "POST", "/v1/jobs", b'"print(1)"', J, 400, "invalid_json", None),
        ("not UTF-8", "POST", "/v1/jobs", b'{"language": "python", "code": "\xff\xfe"}', J, 400,
         "invalid_json", None),
        ("duplicate key", "POST", "/v1/jobs",
         b'{"language": "python", "code": "print(1)", "code": "print(2)"}', J, 400,
         "invalid_json", None),
        ("unknown field", "POST", "/v1/jobs", w(colour="red"), J, 400, "unknown_field", "colour"),
        ("code a number", "POST", "/v1/jobs", w(code=123), J, 400, "invalid_field", "code"),
        ("language a list", "POST", "/v1/jobs", w(language=["python"]), J, 400, "invalid_field",
         "language"),
        ("priority a string", "POST", "/v1/jobs", w(priority="high"), J, 400, "invalid_field",
         "priority"),
        ("priority a float", "POST", "/v1/jobs", w(priority=5.5), J, 400, "invalid_field",
         "priority"),
        ("timeoutMs a string", "POST", "/v1/jobs", w(timeoutMs="100"), J, 400, "invalid_field",
         "timeoutMs"),
        ("args a string", "POST", "/v1/jobs", w(args="a b"), J, 400, "invalid_field", "args"),
        ("args of numbers", "POST", "/v1/jobs", w(args=[1, 2]), J, 400, "invalid_field", "args"),
        ("tags of numbers", "POST", "/v1/jobs", w(tags=[1]), J, 400, "invalid_field", "tags"),
        ("stdin a number", "POST", "/v1/jobs", w(stdin=5), J, 400, "invalid_field", "stdin"),
        ("metadata a list", "POST", "/v1/jobs", w(metadata=[]), J, 400, "invalid_field",
         "metadata"),
        ("wait a string", "POST", "/v1/jobs", w(wait="yes"), J, 400, "invalid_field", "wait"),
        ("timeoutMs over 10000", "POST", "/v1/jobs", w(timeoutMs=10001), J, 400, "out_of_range",
         "timeoutMs"),
        ("timeoutMs negative", "POST", "/v1/jobs", w(timeoutMs=-1), J, 400, "out_of_range",
         "timeoutMs"),
        ("memoryMb 0", "POST", "/v1/jobs", w(memoryMb=0), J, 400, "out_of_range", "memoryMb"),
        ("memoryMb over 1024", "POST", "/v1/jobs", w(memoryMb=1025), J, 400, "out_of_range",
         "memoryMb"),
        ("maxOutputKb over 16384", "POST", "/v1/jobs", w(maxOutputKb=16385), J, 400,
         "out_of_range", "maxOutputKb"),
        ("priority 11", "POST", "/v1/jobs", w(priority=11), J, 400, "out_of_range", "priority"),
        ("priority -1", "POST", "/v1/jobs", w(priority=-1), J, 400, "out_of_range", "priority"),
        ("unknown language", "POST", "/v1/jobs", w(language="cobol"), J, 400, "unknown_language",
         "language"),
        ("metadata over 16 KiB", "POST", "/v1/jobs", w(metadata={"x": "y" * 17000}), J, 400,
         ("invalid_field", "out_of_range"), "metadata"),
        ("bad base64 file", "POST", "/v1/jobs",
         jb({"language": "python", "files": [{"name": "a.py", "content": "!!!",
                                              "encoding": "base64"}]}), J, 400,
         "invalid_field", "files"),
        ("file name ../x.py", "POST", "/v1/jobs",
         jb({"language": "python", "files": [{"name": "../x.py", "content": "print(1)"}]}), J,
         400, "invalid_field", "files"),
        ("file name /abs.py", "POST", "/v1/jobs",
         jb({"language": "python", "files": [{"name": "/abs.py", "content": "print(1)"}]}), J,
         400, "invalid_field", "files"),
        ("file name ..", "POST", "/v1/jobs",
         jb({"language": "python", "files": [{"name": "..", "content": "print(1)"}]}), J,
         400, "invalid_field", "files"),
        ("file name with NUL", "POST", "/v1/jobs",
         jb({"language": "python", "files": [{"name": "a\u0000b.py", "content": "1"}]}), J,
         400, "invalid_field", "files"),
        ("file name too long", "POST", "/v1/jobs",
         jb({"language": "python", "files": [{"name": "x" * 300, "content": "1"}]}), J,
         400, "invalid_field", "files"),
        ("two files, one name", "POST", "/v1/jobs",
         jb({"language": "python", "files": [{"name": "a.py", "content": "1"},
                                             {"name": "a.py", "content": "2"}]}), J,
         400, "invalid_field", "files"),
        ("no files", "POST", "/v1/jobs", jb({"language": "python", "files": []}), J, 400,
         "invalid_field", "files"),
        ("arg with NUL", "POST", "/v1/jobs", w(args=["a\u0000b"]), J, 400, "invalid_field",
         "args"),
        ("no language", "POST", "/v1/jobs", jb({"code": "print(1)"}), J, 400, "invalid_field",
         "language"),
        ("no code", "POST", "/v1/jobs", jb({"language": "python"}), J, 400, "invalid_field",
         "code"),
        ("code and files", "POST", "/v1/jobs",
         jb({"language": "python", "code": "print(1)",
             "files": [{"name": "a.py", "content": "print(2)"}]}), J, 400, "invalid_field",
         ("code", "files")),
        ("text/plain on /v1/jobs", "POST", "/v1/jobs", jb(ok), {"Content-Type": "text/plain"},
         415, "unsupported_media_type", None),
        ("code over 1 MiB", "POST", "/v1/jobs", w(code=big_code), J, 413, "payload_too_large",
         "code"),
        ("stdin over 1 MiB", "POST", "/v1/jobs", w(stdin="x" * (1024 * 1024 + 1)), J, 413,
         "payload_too_large", "stdin"),
        ("seed 000 unknown field", "POST", "/job",
         jb({"code": "print(1)", "executionEngine": "python", "colour": 1}), J, 400,
         "unknown_field", "colour"),
        ("seed 000 unknown engine", "POST", "/job",
         jb({"code": "print(1)", "executionEngine": "cobol"}), J, 400, "unknown_language",
         "executionEngine"),
        ("seed 002 unknown language", "POST", "/api/v1/execute?language=cobol", b"print(1)", {},
         400, "unknown_language", "language"),
        ("seed 002 empty program", "POST", "/api/v1/execute", b"", {}, 400, "invalid_field",
         "code"),
        ("bad job id", "GET", "/v1/jobs/not-a-uuid", None, {}, 404, "not_found", None),
        ("bad job id, output", "GET", "/v1/jobs/../../etc/passwd/output", None, {}, 404,
         "not_found", None),
        ("unknown job", "GET", f"/v1/jobs/{u}", None, {}, 404, "not_found", None),
        ("unknown job output", "GET", f"/v1/jobs/{u}/output", None, {}, 404, "not_found", None),
        ("unknown seed 000 job", "GET", f"/job/{u}", None, {}, 404, "not_found", None),
        ("unknown seed 002 task", "GET", f"/api/v1/execute/{u}", None, {}, 404, "not_found",
         None),
        ("unknown route", "GET", "/v2/nothing", None, {}, 404, "not_found", None),
        ("route with a tail", "GET", f"/v1/jobs/{u}/output/more", None, {}, 404, "not_found",
         None),
        ("PUT /v1/jobs", "PUT", "/v1/jobs", jb(ok), J, 405, "method_not_allowed", None),
        ("GET /v1/jobs", "GET", "/v1/jobs", None, {}, 405, "method_not_allowed", None),
        ("DELETE /healthz", "DELETE", "/healthz", None, {}, 405, "method_not_allowed", None),
        ("POST /v1/languages", "POST", "/v1/languages", jb(ok), J, 405, "method_not_allowed",
         None),
        ("PATCH a job", "PATCH", f"/v1/jobs/{u}", jb(ok), J, 405, "method_not_allowed", None),
        ("DELETE a seed 000 job", "DELETE", f"/job/{u}", None, {}, 405, "method_not_allowed",
         None),
        ("PUT output", "PUT", f"/v1/jobs/{u}/output", b"x", {}, 405, "method_not_allowed",
         None),
    ]


ALLOW = {"PUT /v1/jobs": {"POST"}, "GET /v1/jobs": {"POST"}, "DELETE /healthz": {"GET"},
         "POST /v1/languages": {"GET"}, "PATCH a job": {"GET", "DELETE"},
         "DELETE a seed 000 job": {"GET"}, "PUT output": {"GET"}}


# ---- hostile bytes on raw connections ----

def garbage_payloads(rng, port):
    host = f"Host: 127.0.0.1:{port}\r\n".encode()
    valid = json.dumps({"language": "python", "code": "print('g')"}).encode()
    out = []
    for i in range(300):
        k = i % 15
        if k == 0:
            out.append(("junk", rng.randbytes(rng.randint(1, 4096))))
        elif k == 1:
            out.append(("junk+crlf", rng.randbytes(rng.randint(1, 512)) + b"\r\n\r\n"))
        elif k == 2:
            full = b"POST /v1/jobs HTTP/1.1\r\n" + host + b"Content-Type: application/json\r\n"
            out.append(("truncated head", full[:rng.randint(1, len(full))]))
        elif k == 3:
            out.append(("huge header", b"GET /healthz HTTP/1.1\r\n" + host + b"X-Big: "
                        + b"a" * rng.randint(70000, 300000) + b"\r\n\r\n"))
        elif k == 4:
            out.append(("many headers", b"GET /healthz HTTP/1.1\r\n" + host
                        + b"".join(b"X-H%d: v\r\n" % j for j in range(rng.randint(6000, 9000)))
                        + b"\r\n"))
        elif k == 5:
            out.append(("bad request line", rng.choice([
                b"FOO BAR BAZ\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                b"GET /v1/jobs/\x00\x01 HTTP/1.1\r\n\r\n", b"\r\n\r\n\r\n",
                b"GET " + b"/a" * 40000 + b" HTTP/1.1\r\n\r\n",
                b"POST /v1/jobs HTTP/1.0\r\n\r\n"])))
        elif k == 6:
            cut = valid[:rng.randint(0, len(valid) - 1)]
            out.append(("truncated JSON", b"POST /v1/jobs HTTP/1.1\r\n" + host
                        + b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                        b"Connection: close\r\n\r\n" % len(cut) + cut))
        elif k == 7:
            out.append(("short body", b"POST /v1/jobs HTTP/1.1\r\n" + host
                        + b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
                        + valid[:10]))
        elif k == 8:
            out.append(("bad content-length", b"POST /v1/jobs HTTP/1.1\r\n" + host
                        + rng.choice([b"Content-Length: -5\r\n", b"Content-Length: abc\r\n",
                                      b"Content-Length: 99999999999999999999999\r\n",
                                      b"Content-Length: 5\r\nContent-Length: 7\r\n"])
                        + b"\r\n" + valid))
        elif k == 9:
            out.append(("bad chunked", b"POST /v1/jobs HTTP/1.1\r\n" + host
                        + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + rng.choice([b"ZZZ\r\n", b"fffffffffffffffffff\r\n", b"5\r\nab",
                                      b"-1\r\n\r\n", b"3\r\nabc\r\n0\r\n"])))
        elif k == 10:
            out.append(("pipelined", (b"GET /healthz HTTP/1.1\r\n" + host + b"\r\n") * 3))
        elif k == 11:
            body = rng.randbytes(rng.randint(1, 2000))
            out.append(("binary JSON body", b"POST /v1/jobs HTTP/1.1\r\n" + host
                        + b"Content-Type: application/json\r\nContent-Length: %d\r\n"
                        b"Connection: close\r\n\r\n" % len(body) + body))
        elif k == 12:
            out.append(("weird path", b"GET " + rng.choice([
                b"/v1/jobs/%00", b"/v1/jobs/%2e%2e/%2e%2e", b"//////", b"/v1/jobs?wait=true&&&",
                b"/metrics?" + b"x=" * 5000, b"http://evil/v1/jobs", b"*"]) + b" HTTP/1.1\r\n"
                + host + b"Connection: close\r\n\r\n"))
        elif k == 13:
            out.append(("upgrade", b"GET /v1/jobs HTTP/1.1\r\n" + host
                        + b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
        else:
            out.append(("expect", b"POST /v1/jobs HTTP/1.1\r\n" + host
                        + b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                        b"Content-Length: 50000000\r\n\r\n"))
    return out


EXPECTED_STATUS = {"huge header": (413, 431, 400), "many headers": (413, 431, 400),
                   "truncated JSON": (400,), "binary JSON body": (400,), "expect": (413,),
                   "upgrade": (400, 404, 405, 426), "pipelined": (200,)}
MUST_ANSWER = ("huge header", "many headers", "truncated JSON", "binary JSON body", "expect",
               "upgrade", "pipelined")
