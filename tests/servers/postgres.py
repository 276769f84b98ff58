#!/usr/bin/env python3
"""A throw-away PostgreSQL server for tests: standard library only.

    with PostgresServer() as pg:          # initdb, start, a role and a database
        run_tests(pg.url)                 # postgresql://moat:PASSWORD@127.0.0.1:PORT/moat
        pg.stop(); pg.start()             # the same data directory, the same port
        pg.restart()
        pg.pause(); pg.resume()           # SIGSTOP/SIGCONT to all its processes: no answers
    # stopped (fast shutdown) and its directory removed

The server runs from a temporary directory (data, socket, log) on a free
loopback port. PostgreSQL refuses to run as root: as root, initdb and
postgres run as `nobody` (the directory is handed to that user). The server
answers TCP on 127.0.0.1 only, with a password (scram-sha-256) for the role
in the URL; the superuser `postgres` connects without one through the Unix
socket in the directory (admin_sql).

The server is stopped and the directory removed by close(), by the context
manager, at interpreter exit (atexit), and on SIGTERM, SIGINT and SIGHUP in
--run mode. A wrapper killed outright (SIGKILL, as ctest does on a timeout)
cannot clean up: the postmaster gets SIGQUIT then (PR_SET_PDEATHSIG) and
stops, and only the directory is left in the temporary directory. That
signal is tied to the thread that started the server: start it from a
thread that outlives it (the main thread).

Command line:

    python3 postgres.py --run -- CMD [ARG...]

starts a server, runs CMD with MOAT_TEST_PG_URL set to its URL and
MOAT_TEST_PG_CONTROL to a Unix socket that takes one command per line
("stop", "start", "restart", "pause", "resume") and answers "ok" or
"error <why>" (for the fault tests of a program that cannot call this
module), stops the server and exits with CMD's status (128 + n when a
signal n ended it). Exit 77 (skipped) when PostgreSQL is not installed.
"""
import argparse
import atexit
import ctypes
import glob
import os
import pwd
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIPPED = 77
PR_SET_PDEATHSIG = 1


class ServerError(Exception):
    pass


def find_bin_dir():
    """$MOAT_PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian), else
    the directory of initdb on PATH. None when there is no PostgreSQL."""
    env = os.environ.get("MOAT_PG_BIN")
    if env:
        return env
    dirs = glob.glob("/usr/lib/postgresql/*/bin")
    dirs = [d for d in dirs if os.path.exists(os.path.join(d, "initdb"))]
    if dirs:
        return max(dirs, key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bin_dir=None, role="moat", database="moat", settings=None,
                 die_with_parent=True, start_timeout=60.0, host="127.0.0.1"):
        self.bin_dir = bin_dir or find_bin_dir()
        if not self.bin_dir:
            raise ServerError("no PostgreSQL: no /usr/lib/postgresql/*/bin/initdb, "
                              "no initdb on PATH, MOAT_PG_BIN unset")
        self.role = role
        # host: an address of this machine to listen on besides loopback
        # (a test bridge's), clients of its subnets allowed
        self.host = host
        self.database = database
        self.password = secrets.token_hex(16)
        self.settings = dict(settings or {})
        self.die_with_parent = die_with_parent
        self.start_timeout = start_timeout
        self.dir = None
        self.port = None
        self.proc = None
        self.paused = False
        self._log = None
        self._atexit = False
        # as root, the server runs as nobody (PostgreSQL refuses root)
        self.run_as = pwd.getpwnam("nobody") if os.geteuid() == 0 else None

    # ---- where it is ----

    @property
    def data_dir(self):
        return os.path.join(self.dir, "data")

    @property
    def socket_dir(self):
        return self.dir

    @property
    def log_path(self):
        return os.path.join(self.dir, "postgres.log")

    @property
    def url(self):
        return self.url_for(self.database)

    def url_for(self, database):
        return (f"postgresql://{self.role}:{self.password}@{self.host}:{self.port}/{database}")

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    # ---- processes ----

    def _demote(self):
        """In the child before exec: the unprivileged user, and a signal when
        the parent (thread) goes away."""
        if self.run_as:
            os.setgroups([])
            os.setgid(self.run_as.pw_gid)
            os.setuid(self.run_as.pw_uid)
        if self.die_with_parent:
            # after the uid change, which clears it
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)

    def _tool(self, name, *args, check=True, timeout=120):
        """Runs a PostgreSQL program as the server's user."""
        cmd = [os.path.join(self.bin_dir, name), *args]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.dir,
                           preexec_fn=self._demote_only, timeout=timeout)
        out = p.stdout.decode(errors="replace")
        if check and p.returncode != 0:
            raise ServerError(f"{name} failed ({p.returncode}): {out[-2000:]}")
        return p.returncode, out

    def _demote_only(self):
        if self.run_as:
            os.setgroups([])
            os.setgid(self.run_as.pw_gid)
            os.setuid(self.run_as.pw_uid)

    def admin_sql(self, sql, database="postgres"):
        """Runs sql as the superuser through the Unix socket; its output
        (unaligned, tuples only)."""
        _, out = self._tool("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-h", self.socket_dir, "-p", str(self.port), "-U", "postgres",
                            "-d", database, "-c", sql)
        return out

    def _initdb(self):
        self.dir = tempfile.mkdtemp(prefix="moat-pg-")
        if self.run_as:
            os.chown(self.dir, self.run_as.pw_uid, self.run_as.pw_gid)
        os.chmod(self.dir, 0o700)
        # the data directory is thrown away: no fsync by initdb itself
        self._tool("initdb", "-D", self.data_dir, "-U", "postgres", "-E", "UTF8",
                   "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
        if self.host != "127.0.0.1":
            with open(os.path.join(self.data_dir, "pg_hba.conf"), "a") as f:
                f.write("host all all samenet scram-sha-256\n")

    def _launch(self):
        args = [os.path.join(self.bin_dir, "postgres"), "-D", self.data_dir,
                "-p", str(self.port), "-k", self.socket_dir,
                "-c", "listen_addresses=" + ",".join(dict.fromkeys(["127.0.0.1", self.host])),
                "-c", "logging_collector=off"]
        for k, v in self.settings.items():
            args += ["-c", f"{k}={v}"]
        self._log = open(self.log_path, "ab")
        if self.run_as:
            os.chown(self.log_path, self.run_as.pw_uid, self.run_as.pw_gid)
        # its own session: the postmaster and what it starts leave with it
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.dir,
                                     preexec_fn=self._demote, start_new_session=True)
        self.paused = False

    def _wait_ready(self):
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(f"postgres exited with {self.proc.returncode}:\n"
                                  f"{self.log_tail()}")
            rc, _ = self._tool("pg_isready", "-q", "-h", self.socket_dir, "-p", str(self.port),
                               "-d", "postgres", "-U", "postgres", check=False, timeout=30)
            if rc == 0:
                return
            time.sleep(0.05)  # polling a server that is starting
        raise ServerError(f"postgres did not accept connections within {self.start_timeout} s:\n"
                          f"{self.log_tail()}")

    # ---- the API ----

    def start(self):
        """The first call makes the server (initdb, a role with a password and
        CREATEDB, a database it owns); later calls start the same data
        directory on the same port."""
        if self.proc and self.proc.poll() is None:
            return self
        first = self.dir is None
        if not self._atexit:
            atexit.register(self.close)
            self._atexit = True
        try:
            if first:
                self._initdb()
            for attempt in range(5):
                if first:
                    self.port = free_port()
                self._launch()
                try:
                    self._wait_ready()
                    break
                except ServerError:
                    in_use = "already in use" in self.log_tail(5)
                    self._kill()
                    if not (first and in_use and attempt < 4):
                        raise
            if first:
                self.admin_sql(f"CREATE ROLE {self.role} LOGIN CREATEDB PASSWORD "
                               f"'{self.password}'")
                self.admin_sql(f"CREATE DATABASE {self.database} OWNER {self.role}")
        except BaseException:
            if first:
                self.close()
            raise
        return self

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def stop(self, mode="fast", timeout=60.0):
        """Stops the server: fast shutdown (SIGINT: clients are disconnected,
        a checkpoint is written), or "immediate" (SIGQUIT: as a crash)."""
        if not self.proc:
            return
        if self.proc.poll() is None:
            if self.paused:
                self.resume()
            sig = signal.SIGQUIT if mode == "immediate" else signal.SIGINT
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # backends of a killed postmaster, if any, leave with their group
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None

    def restart(self):
        self.stop()
        return self.start()

    def _children(self):
        """The postmaster's children (backends, background processes): each
        is a session leader of its own (PostgreSQL calls setsid), so a
        signal to the postmaster's group misses them."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces and parentheses
            fields = stat[stat.rfind(")") + 2:].split()
            if len(fields) > 1 and int(fields[1]) == self.proc.pid:
                pids.append(int(entry))
        return pids

    def _signal_all(self, sig, postmaster_first):
        procs = [self.proc.pid] + self._children()
        if not postmaster_first:
            procs.reverse()
        for pid in procs:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def pause(self):
        """SIGSTOP to the postmaster (first: it forks no more) and every
        process it started: connections stay open and nothing answers (a
        hung server, a network cut)."""
        if self.proc and not self.paused:
            self._signal_all(signal.SIGSTOP, postmaster_first=True)
            self.paused = True

    def resume(self):
        if self.proc and self.paused:
            self._signal_all(signal.SIGCONT, postmaster_first=False)
            self.paused = False

    def close(self):
        """Stops the server and removes its directory. Idempotent."""
        try:
            self.stop()
        finally:
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False


# ---- --run ----

class Control:
    """The Unix socket of --run: one command per line, answered at once."""

    COMMANDS = ("stop", "start", "restart", "pause", "resume")

    def __init__(self, server, path):
        self.server = server
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o600)
        self.sock.listen(4)

    def fileno(self):
        return self.sock.fileno()

    def serve_one(self):
        conn, _ = self.sock.accept()
        with conn, conn.makefile("rwb", buffering=0) as f:
            for line in f:
                cmd = line.decode(errors="replace").strip()
                if cmd not in self.COMMANDS:
                    reply = f"error unknown command {cmd!r}"
                else:
                    try:
                        getattr(self.server, cmd)()
                        reply = "ok"
                    except Exception as e:  # reported to the client, which fails
                        reply = f"error {e}".replace("\n", " ")
                f.write((reply + "\n").encode())

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def run(cmd):
    bin_dir = find_bin_dir()
    if not bin_dir:
        print("SKIPPED: PostgreSQL is not installed (no initdb)", file=sys.stderr)
        return SKIPPED
    server = PostgresServer(bin_dir=bin_dir)

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    child = None
    control = None
    try:
        server.start()
        ctl_dir = tempfile.mkdtemp(prefix="moat-pgctl-")
        control = Control(server, os.path.join(ctl_dir, "control"))
        env = dict(os.environ, MOAT_TEST_PG_URL=server.url, MOAT_TEST_PG_CONTROL=control.path)
        child = subprocess.Popen(cmd, env=env)
        while child.poll() is None:
            ready, _, _ = select.select([control], [], [], 0.1)
            if ready:
                control.serve_one()
        rc = child.returncode
        return 128 - rc if rc < 0 else rc
    except ServerError as e:
        print(f"postgres.py: {e}", file=sys.stderr)
        return 1
    finally:
        if child and child.poll() is None:
            child.kill()
            child.wait()
        if control:
            control.close()
            shutil.rmtree(os.path.dirname(control.path), ignore_errors=True)
        server.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", action="store_true", help="run CMD against a fresh server")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not a.run or not cmd:
        ap.error("usage: postgres.py --run -- CMD [ARG...]")
    return run(cmd)


if __name__ == "__main__":
    sys.exit(main())
