#!/usr/bin/env python3
"""Throw-away NATS servers with JetStream for the tests.

Each server lives in a temporary directory (its configuration, its log and
its JetStream store), listens on free loopback ports, and is gone with the
directory when the test ends: on a normal exit, on an exception, and on
SIGTERM, SIGINT or SIGHUP. The servers are started with a parent-death
signal, so even a test runner that kills this process outright takes them
along (only their temporary directory is left then).

As a module (standard library only):

    from nats import NatsServer, NatsCluster
    with NatsServer() as s:          # started, and ready for JetStream
        use(s.url)                   # nats://127.0.0.1:PORT
        s.kill()                     # SIGKILL, like a crash
        s.restart()                  # same ports, same store
    with NatsCluster(3) as c:        # three servers joined by routes
        use(c.url)                   # every member's URL, comma-separated
        c.servers[0].kill()

As a wrapper:

    python3 tests/servers/nats.py --run [--cluster N] -- CMD ARGS...

starts a server (or a cluster), runs CMD with MOAT_TEST_NATS_URL set to its
URL, stops everything and exits with CMD's status. CMD may stop and start
the server while it runs: MOAT_TEST_NATS_CONTROL names a Unix socket that
takes one line per connection, "kill [i]" (SIGKILL server i, default 0),
"stop [i]" (SIGTERM) or "start [i]" (again, on the same ports and store,
answered once it is ready), and answers "ok" or "error: ...".
"""
import argparse
import atexit
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

NATS_SERVER = os.environ.get("MOAT_NATS_SERVER") or shutil.which("nats-server") or \
    "/usr/sbin/nats-server"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
PR_SET_PDEATHSIG = 1


class NatsError(Exception):
    pass


def free_port():
    """A loopback TCP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """In the child before exec: SIGKILL when the thread that started it
    ends (a runner that kills the test kills its servers)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


# Every server and directory of this process, for the exit and signal paths.
_live = set()
_live_lock = threading.Lock()


def _cleanup_all():
    with _live_lock:
        items = sorted(_live, key=lambda it: not isinstance(it, _Reaper))
    for it in items:
        try:
            it.close()
        except Exception:  # noqa: BLE001 - cleaning up whatever is left
            pass


def _on_signal(signum, frame):
    _cleanup_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


_handlers_set = False


def _install_cleanup():
    global _handlers_set
    if _handlers_set:
        return
    _handlers_set = True
    atexit.register(_cleanup_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, _on_signal)


class NatsServer:
    """One nats-server with JetStream in a temporary directory.

    name, cluster_name, cluster_port and routes make it a cluster member
    (NatsCluster sets them); alone it is a standalone server.
    """

    def __init__(self, name="n0", base_dir=None, cluster_name=None, cluster_port=None,
                 routes=(), host="127.0.0.1"):
        _install_cleanup()
        self.name = name
        self.host = host  # the address clients connect to (loopback, or a test bridge's)
        self._own_dir = base_dir is None
        self.dir = base_dir or tempfile.mkdtemp(prefix="moat-nats-")
        self.server_dir = os.path.join(self.dir, name)
        os.makedirs(self.server_dir, exist_ok=True)
        self.store_dir = os.path.join(self.server_dir, "store")
        self.log_path = os.path.join(self.server_dir, "server.log")
        self.conf_path = os.path.join(self.server_dir, "server.conf")
        self.port = free_port()
        self.http_port = free_port()
        self.cluster_name = cluster_name
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.proc = None
        self._closed = False
        with _live_lock:
            _live.add(self)

    @property
    def url(self):
        return f"nats://{self.host}:{self.port}"

    def _write_conf(self):
        lines = [
            f"server_name: {self.name}",
            f"listen: {self.host}:{self.port}",
            f"http: 127.0.0.1:{self.http_port}",
            f'jetstream {{ store_dir: "{self.store_dir}" }}',
        ]
        if self.cluster_name:
            routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in self.routes)
            lines.append(f"cluster {{ name: {self.cluster_name}, "
                         f"listen: 127.0.0.1:{self.cluster_port}, routes: [{routes}] }}")
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, wait=True):
        """Starts it (again: same ports, same store). Returns self."""
        if self._closed:
            raise NatsError("server closed")
        if self.running():
            return self
        self._write_conf()
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                [NATS_SERVER, "-c", self.conf_path], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        finally:
            log.close()
        if wait:
            self.wait_ready()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _accepts(self):
        """A client connection gets the server's INFO line."""
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as s:
                return s.recv(5) == b"INFO "
        except OSError:
            return False

    def _healthy(self):
        """The monitoring port says the server and its JetStream are ready."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/healthz",
                                        timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def wait_ready(self, timeout=READY_TIMEOUT):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.running():
                raise NatsError(f"{self.name} exited with {self.proc.returncode}: "
                                f"{self.log_tail()}")
            if self._accepts() and self._healthy():
                return self
            time.sleep(0.02)
        raise NatsError(f"{self.name} not ready within {timeout} s: {self.log_tail()}")

    def log_tail(self, n=2000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def kill(self):
        """SIGKILL, as a crash; the store stays for restart()."""
        self._end(signal.SIGKILL)

    def stop(self):
        """SIGTERM, a clean stop; the store stays for restart()."""
        self._end(signal.SIGTERM)

    def _end(self, sig):
        if not self.running():
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self, wait=True):
        self.kill()
        return self.start(wait)

    def close(self):
        """Stops it and removes its directory (when it made it)."""
        if self._closed:
            return
        self._closed = True
        self.kill()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        with _live_lock:
            _live.discard(self)

    def __enter__(self):
        return self.start() if not self.running() else self

    def __exit__(self, *exc):
        self.close()


class NatsCluster:
    """n servers joined by routes into one JetStream cluster, in one
    temporary directory."""

    def __init__(self, n=3, name="moat-test", host="127.0.0.1"):
        _install_cleanup()
        self.dir = tempfile.mkdtemp(prefix="moat-natsc-")
        cports = [free_port() for _ in range(n)]
        self.servers = []
        for i in range(n):
            self.servers.append(NatsServer(
                name=f"n{i}", base_dir=self.dir, cluster_name=name, cluster_port=cports[i],
                routes=[p for j, p in enumerate(cports) if j != i], host=host))
        self._closed = False
        with _live_lock:
            _live.add(self)

    @property
    def url(self):
        return ",".join(s.url for s in self.servers)

    def start(self):
        for s in self.servers:
            s.start(wait=False)
        for s in self.servers:
            s.wait_ready()
        return self

    def close(self):
        if self._closed:
            return
        self._closed = True
        for s in self.servers:
            s.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        with _live_lock:
            _live.discard(self)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


# ---- --run: a command with a server ----

class _Reaper:
    """Kills the command on the exit and signal paths too (a runner's
    timeout sends SIGTERM to the wrapper): it never outlives its servers."""

    def __init__(self, child):
        self.child = child
        with _live_lock:
            _live.add(self)

    def close(self):
        if self.child.poll() is None:
            self.child.kill()
            self.child.wait()
        with _live_lock:
            _live.discard(self)


def _control_answer(servers, line):
    parts = line.split()
    if not parts or parts[0] not in ("kill", "stop", "start"):
        return "error: commands are kill, stop, start [index]"
    try:
        i = int(parts[1]) if len(parts) > 1 else 0
        s = servers[i]
    except (ValueError, IndexError):
        return "error: no such server"
    try:
        if parts[0] == "kill":
            s.kill()
        elif parts[0] == "stop":
            s.stop()
        else:
            s.start()
    except NatsError as e:
        return f"error: {e}"
    return "ok"


def _serve_control(sock, servers, child):
    """Answers control lines on the main thread (the servers it starts die
    with this thread) until the child exits."""
    sock.settimeout(0.05)
    while child.poll() is None:
        try:
            conn, _ = sock.accept()
        except socket.timeout:
            continue
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while not data.endswith(b"\n") and len(data) < 256:
                    chunk = conn.recv(256)
                    if not chunk:
                        break
                    data += chunk
                answer = _control_answer(servers, data.decode(errors="replace").strip())
                conn.sendall(answer.encode() + b"\n")
            except OSError:
                pass


def run(cmd, cluster=0):
    group = NatsCluster(cluster) if cluster else NatsServer()
    try:
        group.start()
        servers = group.servers if cluster else [group]
        ctl = os.path.join(servers[0].dir, "control.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(ctl)
        sock.listen(4)
        env = dict(os.environ, MOAT_TEST_NATS_URL=group.url, MOAT_TEST_NATS_CONTROL=ctl)
        child = subprocess.Popen(cmd, env=env)
        reaper = _Reaper(child)
        try:
            _serve_control(sock, servers, child)
        finally:
            if child.poll() is None:
                child.kill()
            rc = child.wait()
            reaper.close()
            sock.close()
        if rc != 0:
            for s in servers:
                sys.stderr.write(f"--- {s.name} log (tail) ---\n{s.log_tail()}\n")
        return rc
    finally:
        group.close()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="store_true", help="run CMD with a server")
    ap.add_argument("--cluster", type=int, default=0, help="a cluster of N servers")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not a.run or not cmd:
        ap.error("usage: nats.py --run [--cluster N] -- CMD...")
    if not os.access(NATS_SERVER, os.X_OK):
        sys.stderr.write(f"SKIPPED: no nats-server at {NATS_SERVER}\n")
        return 77
    try:
        return run(cmd, a.cluster)
    except NatsError as e:
        sys.stderr.write(f"nats.py: {e}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
