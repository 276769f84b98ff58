#!/usr/bin/env python3
"""moat serve under a service manager: what systemd's Type=notify hears
(READY=1 once it serves, RELOADING=1 and READY=1 around a reload,
STOPPING=1), a reload on SIGHUP (the log level applied live, other changes
named as waiting for a restart, a bad file changing nothing), and the
graceful stop on SIGTERM (running jobs finish within the grace while
submissions get 503 stopping; past the grace they are stopped and left for
the next start's recovery, never recorded as cancelled). The unit files of
deploy/systemd pass `systemd-analyze verify`.

  service_test.py --moat BUILD/moat-asan --group NAME
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import CG_FS, Failure, cgroup_parents, check, wait_for  # noqa: E402
from serve_util import Server, expect_error, owned, py  # noqa: E402
from groups import Groups, run  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

G = Groups()
G.group("notify", None)
G.group("stop", None)
G.group("units", None)
G.group("delegated", None)


class Notify:
    """The socket systemd would give as $NOTIFY_SOCKET."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="moat-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.got = []

    def wait(self, key, timeout=30):
        """The first message (after those already read) with the line key."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            self.got.append(msg)
            if key in msg.split("\n"):
                return dict(line.split("=", 1) for line in msg.split("\n") if "=" in line)
        raise Failure(f"no {key} from moat within {timeout} s; got {self.got}")

    def close(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def started_with_notify(srv, notify):
    os.environ["NOTIFY_SOCKET"] = notify.path
    try:
        srv.start()
    finally:
        del os.environ["NOTIFY_SOCKET"]


def log_lines(srv, needle):
    with srv.log_lock:
        return [line for line in srv.log if needle in line]


@G.case("notify")
def ready_reload_stopping(_):
    notify = Notify()
    tmp = tempfile.mkdtemp(prefix="moat-service-")
    ini = os.path.join(tmp, "moat.ini")
    with open(ini, "w") as f:
        f.write("[log]\nlevel = info\n")
    srv = Server(G.moat, ["--config", ini, "--workers", "1"], label="notify")
    with owned(srv, lines=60, also=lambda: (notify.close(), shutil.rmtree(tmp, True))):
        started_with_notify(srv, notify)
        ready = notify.wait("READY=1")
        check(ready.get("MAINPID") == str(srv.proc.pid)
              and ready.get("STATUS") == f"serving on port {srv.port}",
              "READY=1 with the main pid and what it serves", ready)

        def finished_logged(body, want):
            """Whether the job's job_finished line (info) is logged: waited
            for when wanted, else looked for after its moment has passed."""
            jid = srv.submit(body)
            check(srv.wait_final([jid])[jid]["status"] == "completed", "the job ran")
            line = f"event=job_finished id={jid}"
            if want:
                wait_for(f"{line} logged", lambda: log_lines(srv, line), 10)
            else:
                time.sleep(1)
            return bool(log_lines(srv, line))

        check(finished_logged(py("print(1)"), True), "at level info a finished job is logged")

        # live: the log level; waiting for a restart: the queue's bound
        with open(ini, "w") as f:
            f.write("[log]\nlevel = error\n[server]\nmax_queue = 5\n")
        srv.proc.send_signal(signal.SIGHUP)
        notify.wait("RELOADING=1")
        again = notify.wait("READY=1")
        check(again.get("STATUS") == "reloaded; a restart applies server.max_queue",
              "READY=1 after the reload, naming what waits for a restart", again)
        wait_for("the reload logged", lambda: log_lines(srv, "event=reloaded"), 10)
        check('applied="log.level" restart_needed="server.max_queue"'
              in log_lines(srv, "event=reloaded")[-1], "the reload says what it applied",
              log_lines(srv, "event=reloaded"))
        check(not finished_logged(py("print(2)"), False), "at level error (reloaded) it is not")

        # a file that does not load changes nothing
        with open(ini, "w") as f:
            f.write("[log]\nlevel = info\nno_such_key = 1\n")
        srv.proc.send_signal(signal.SIGHUP)
        notify.wait("RELOADING=1")
        failed = notify.wait("READY=1")
        check(failed.get("STATUS") == "reload failed: the running settings are kept",
              "a bad file: the running settings kept", failed)
        check(not finished_logged(py("print(3)"), False), "still at level error")

        with open(ini, "w") as f:
            f.write("[log]\nlevel = info\n")
        srv.proc.send_signal(signal.SIGHUP)
        notify.wait("READY=1")
        check(finished_logged(py("print(4)"), True), "back at level info")
        check(srv.alive(), "SIGHUP never stops the server")

        srv.proc.send_signal(signal.SIGTERM)
        notify.wait("STOPPING=1")
        rc = srv.proc.wait(60)
        check(rc == 0, "exits 0 after STOPPING=1", (rc, srv.tail(20)))
        srv.check_nothing_left()


@G.case("stop")
def sigterm_lets_running_jobs_finish(_):
    srv = Server(G.moat, ["--workers", "1", "--stop-grace", "20000"], label="grace")
    with owned(srv, lines=60):
        srv.start()
        wait_for("ready", lambda: srv.get("/readyz").status == 200, 60, 0.2)
        jid = srv.submit(py("import time\ntime.sleep(2)\nprint('finished')", wallTimeoutMs=20000))
        wait_for("it runs", lambda: srv.job(jid)["status"] == "running", 20)
        srv.proc.send_signal(signal.SIGTERM)
        wait_for("readiness fails while stopping",
                 lambda: srv.get("/readyz").status == 503, 5, 0.02)
        r = srv.post("/v1/jobs", py("print('late')"))
        expect_error(r, 503, "stopping", what="a submission while stopping")
        check(srv.get(f"/v1/jobs/{jid}").status == 200, "reads still answered while stopping")
        rc = srv.proc.wait(60)
        check(rc == 0, "exits 0", (rc, srv.tail(20)))
        srv.check_nothing_left()
        rows = srv.stored("SELECT status, attempts FROM jobs WHERE id = ?", (jid,))
        check(rows == [("completed", 1)], "the running job finished before the exit", rows)
        check(srv.stored("SELECT count(*) FROM jobs")[0][0] == 1, "the late one was not stored")


@G.case("stop")
def past_the_grace_jobs_are_left_for_recovery(_):
    srv = Server(G.moat, ["--workers", "1", "--stop-grace", "300"], label="preempt")
    with owned(srv, lines=60):
        srv.start()
        wait_for("ready", lambda: srv.get("/readyz").status == 200, 60, 0.2)
        jid = srv.submit(py("import time\ntime.sleep(4)\nprint('second try')",
                            wallTimeoutMs=20000))
        wait_for("it runs", lambda: srv.job(jid)["status"] == "running", 20)
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        rc = srv.proc.wait(60)
        took = time.monotonic() - t0
        check(rc == 0, "exits 0", (rc, srv.tail(20)))
        srv.check_nothing_left()
        check(took < 4, "it did not wait for the job past the grace", took)
        check(any("event=jobs_stopped count=1" in line for line in srv.log),
              "the stop says it stopped one job", srv.tail(20))
        rows = srv.stored("SELECT status, attempts FROM jobs WHERE id = ?", (jid,))
        check(rows == [("running", 1)], "left as it was (running), not cancelled", rows)
        srv.start()
        j = srv.wait_final([jid], timeout=60)[jid]
        check(j["status"] == "completed" and j["output"] == "second try\n" and j["attempts"] == 2,
              "the next start's recovery runs it to its end", j)
        srv.stop()


def own_groups(name):
    """The groups a service manager would delegate to moat: one in each
    hierarchy moat uses (v1: memory, pids, cpuacct; v2: the unified one)."""
    if os.path.exists(os.path.join(CG_FS, "cgroup.controllers")):
        return 2, [os.path.join(CG_FS, name)]
    return 1, [os.path.join(CG_FS, h, name) for h in ("memory", "pids", "cpuacct")]


class Delegated(Server):
    """A server started inside groups of its own, as systemd starts a unit
    with Delegate=yes."""

    def __init__(self, moat, groups, args):
        super().__init__(moat, args, label="delegated")
        self.groups = groups

    def command(self):
        joins = " ".join(f"echo $$ > {g}/cgroup.procs &&" for g in self.groups)
        return ["sh", "-c", f'{joins} exec "$@"', "sh"] + super().command()


@G.case("delegated")
def boxes_made_inside_a_delegated_group(_):
    """--cgroup-parent self: the boxes' parent group is made inside the
    group moat was started in, never at a hierarchy's root; on v2 moat's
    own processes move to a leaf first (no process may sit in a group that
    enables controllers for its children)."""
    own = f"moat-e2e-own-{os.getpid()}"
    version, groups = own_groups(own)
    for g in groups:
        os.makedirs(g, exist_ok=True)
    srv = Delegated(G.moat, groups, ["--cgroup-parent", "self", "--workers", "1"])

    def remove_groups():
        for g in groups:
            for leaf in ("supervisor", ""):
                try:
                    os.rmdir(os.path.join(g, leaf) if leaf else g)
                except OSError:
                    pass
    with owned(srv, lines=60, also=remove_groups):
        srv.start()
        wait_for("ready", lambda: srv.get("/readyz").status == 200, 60, 0.2)
        jid = srv.submit(py("import time\ntime.sleep(1.5)\nprint('inside')"))
        wait_for("it runs", lambda: srv.job(jid)["status"] == "running", 20)
        inner = cgroup_parents(f"{own}/{srv.cg}")
        check(len(inner) == len(groups), "the parent group made in each delegated group", inner)
        boxes = [b for p in inner for b in os.listdir(p) if b.startswith("box-")]
        check(boxes, "the running box's groups are in there", inner)
        check(not cgroup_parents(srv.cg), "nothing made at a hierarchy's root",
              cgroup_parents(srv.cg))
        if version == 2:
            with open(os.path.join(groups[0], "supervisor", "cgroup.procs")) as f:
                check(str(srv.proc.pid) in f.read().split(), "moat moved to its leaf")
            with open(os.path.join(groups[0], "cgroup.procs")) as f:
                check(not f.read().split(), "no process left in the delegated group itself")
            with open(os.path.join(groups[0], "cgroup.subtree_control")) as f:
                ctl = f.read().split()
            check("memory" in ctl and "pids" in ctl, "controllers enabled for the boxes", ctl)
        else:
            for g in groups:
                with open(os.path.join(g, "cgroup.procs")) as f:
                    check(str(srv.proc.pid) in f.read().split(), "moat stays where it started",
                          g)
        j = srv.wait_final([jid])[jid]
        check(j["status"] == "completed" and j["output"] == "inside\n", "the job ran", j)
        srv.stop()
        check(not cgroup_parents(f"{own}/{srv.cg}"), "the parent group removed at exit",
              cgroup_parents(f"{own}/{srv.cg}"))


@G.case("units")
def unit_files_verify(_):
    """systemd-analyze verify, with ExecStart pointed at the binary under
    test (the unit names /usr/bin/moat, the package's)."""
    tmp = tempfile.mkdtemp(prefix="moat-units-")
    try:
        for unit in ("moat.service", "moat-worker.service"):
            with open(os.path.join(ROOT, "deploy", "systemd", unit)) as f:
                text = f.read()
            check("Delegate=yes" in text and "Type=notify" in text
                  and "ExecReload=/bin/kill -HUP $MAINPID" in text and "KillMode=mixed" in text,
                  f"{unit}: delegation, notify, reload, a mixed kill", text)
            moat = os.path.abspath(G.moat)
            path = os.path.join(tmp, unit)
            with open(path, "w") as f:
                f.write(text.replace("/usr/bin/moat", moat))
            r = subprocess.run(["systemd-analyze", "verify", "--man=no", path],
                               capture_output=True, text=True, timeout=60)
            check(r.returncode == 0 and not r.stderr.strip() and not r.stdout.strip(),
                  f"{unit}: systemd-analyze verify is silent", r.stdout + r.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run(G)
