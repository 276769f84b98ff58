#!/usr/bin/env python3
"""End-to-end tests of `moat serve`'s store under faults: a full disk under
the data directory, and a data directory holding a file that is not moat's.

Each case starts the servers it needs (serve_util.Server) and checks them
after it: a server that ran exits 0 on SIGTERM, and every server, run or
refused, leaves no process of its box uids and no cgroup behind.

The script runs in a mount namespace of its own, made private before
anything is mounted, so the tmpfs of the diskfull cases exists only for it
and the servers it starts: the host's mount table never changes (other
tests that check it, such as the hostile suite's, may run alongside). Each
diskfull case checks that through a witness process left in the original
namespace.

Groups:
  diskfull  a tmpfs of a few MB as the data directory, filled to the last
            byte: submissions 503 and /readyz 503 while it is full, 200 again
            by itself when there is room; jobs running when it fills finish
            on their own, once, within seconds of space coming back; a
            SIGTERM while it is full leaves the job to the restart
  foreign   --data-dir with another application's SQLite file (a users
            table, a jobs table, WAL mode), a file that is not SQLite, a
            store of a newer moat: refused, the server exits non-zero naming
            the file, which is byte for byte as it was with no -wal/-shm
            made; an empty file and a store made by moat at 323aa77 taken

The runner is groups.py's. As root, a failure to set up (namespace,
tmpfs) fails the group; without root the script exits 77 (skipped).

usage: store_test.py --moat PATH [--group NAME | --case NAME | --list]
"""
import atexit
import ctypes
import errno
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Failure, check, wait_for  # noqa: E402
from groups import Groups, run  # noqa: E402
from serve_util import Server, expect_error, metric_sum, owned, py  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MAIN_STORE = os.path.join(HERE, "..", "unit", "store", "data", "main-323aa77.db")
APPLICATION_ID = 0x6d6f6174  # "moat"
WITNESS = None  # a process left in the original mount namespace


class StoreGroups(Groups):
    """groups.py's runner, in a private mount namespace entered before the
    first group runs: after the root check, and while this process has one
    thread (unshare(CLONE_NEWNS) refuses a process whose threads share its
    file system information)."""

    def run_group(self, name, only=None):
        if WITNESS is None:
            try:
                enter_private_mount_namespace()
            except (Failure, OSError) as e:
                # as root this must work: a skip here would hide every case
                print(f"FAIL {name}: setup: {e}", flush=True)
                return 1
        return super().run_group(name, only)


G = StoreGroups()
G.group("diskfull", None)
G.group("foreign", None)
case = G.case


# ======================================================================
# the private mount namespace and its tmpfs
# ======================================================================

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18


def enter_private_mount_namespace():
    """Moves this process (and the servers it will start) to a mount
    namespace of its own whose mounts do not propagate back to the host.
    A witness process stays behind, for host_mounts()."""
    global WITNESS
    WITNESS = subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL)
    atexit.register(lambda: (WITNESS.kill(), WITNESS.wait()))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.unshare.argtypes = [ctypes.c_int]
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                           ctypes.c_void_p]
    if libc.unshare(CLONE_NEWNS) != 0:
        raise Failure(f"unshare(CLONE_NEWNS): {os.strerror(ctypes.get_errno())}")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise Failure(f"mount --make-rprivate /: {os.strerror(ctypes.get_errno())}")
    check(os.readlink("/proc/self/ns/mnt") != os.readlink(f"/proc/{WITNESS.pid}/ns/mnt"),
          "in a mount namespace of our own")


def host_mounts():
    """The mount points the host sees (through the witness)."""
    with open(f"/proc/{WITNESS.pid}/mountinfo") as f:
        return [line.split()[4] for line in f]


def own_mounts():
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


class Tmpfs:
    """A tmpfs of size_mb at a fresh directory, mounted in this namespace
    only; unmounted and removed on exit. A mount that fails is a failure."""

    def __init__(self, size_mb):
        self.size_mb = size_mb
        self.path = None

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="moat-e2e-store-full-")
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0755",
                            "tmpfs", self.path], capture_output=True)
        if p.returncode != 0:
            os.rmdir(self.path)
            raise Failure(f"cannot mount a tmpfs: {p.stderr.decode().strip()}")
        check(self.path in own_mounts(), "the tmpfs is mounted here", self.path)
        check(self.path not in host_mounts(), "the host does not see the tmpfs", self.path)
        return self

    def __exit__(self, *exc):
        subprocess.run(["umount", self.path], capture_output=True)
        try:
            os.rmdir(self.path)
        except OSError:
            pass
        return False

    def fill(self):
        """Writes a filler file until the tmpfs takes not one byte more."""
        path = os.path.join(self.path, "filler")
        with open(path, "wb", buffering=0) as f:
            for size in (1 << 20, 65536, 4096, 512, 1):
                chunk = b"\0" * size
                try:
                    while f.write(chunk):
                        pass
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
        st = os.statvfs(self.path)
        check(st.f_bfree == 0, "the tmpfs is full", st.f_bfree)
        return path


# ======================================================================
# helpers
# ======================================================================

def log_lines(srv, needle):
    with srv.log_lock:
        return [line for line in srv.log if needle in line]


def ready_status(srv):
    return srv.get("/readyz").status


def wait_ready(srv, want, timeout):
    """Waits for /readyz to answer want; seconds it took."""
    t0 = time.monotonic()
    wait_for(f"/readyz {want}", lambda: ready_status(srv) == want, timeout, 0.02)
    return time.monotonic() - t0


def stored_running(srv):
    return srv.stored("SELECT count(*) FROM jobs WHERE status = 'running'")[0][0]


# ======================================================================
# diskfull: the data directory's disk full
# ======================================================================

@case("diskfull")
def disk_full_503_then_recovers(_):
    """API only: while the disk is full, submissions are refused 503 and
    /readyz says not_ready; once there is room, /readyz is 200 again without
    any write from a client, and submissions are accepted."""
    with Tmpfs(4) as fs:
        srv = Server(G.moat, ["--no-exec"], data_dir=os.path.join(fs.path, "d"), label="diskfull")
        with owned(srv, lines=30):
            srv.start()
            check(wait_ready(srv, 200, 30) >= 0, "ready")
            first = srv.submit(py("print(1)"))
            filler = fs.fill()
            big = py("#" * 500000 + "\nprint(2)")
            for path, body in (("/v1/jobs", big), ("/v1/jobs", dict(big, wait=True)),
                               ("/job", {"code": big["code"], "executionEngine": "python"})):
                r = srv.post(path, body)
                expect_error(r, 503, "store_unavailable", what=f"POST {path} with the disk full")
                ra = r.header("retry-after")
                check(ra is not None and ra.isdigit(), "Retry-After on 503", r.headers)
            r = srv.get("/readyz")
            expect_error(r, 503, "not_ready", what="GET /readyz with the disk full")
            time.sleep(0.6)  # two probes of the store's writer: still full, still not ready
            check(ready_status(srv) == 503, "still not ready while full")
            check(srv.stored_jobs() == 1, "nothing stored while the disk is full", srv.stored_jobs())
            check(srv.get("/healthz").status == 200, "still serving")
            check(srv.job(first)["status"] == "queued", "the first job still readable")
            os.remove(filler)
            took = wait_ready(srv, 200, 3)
            print(f"  ready again {took * 1000:.0f} ms after the disk had room, with no write")
            second = srv.submit(big)
            check(srv.stored_jobs() == 2, "accepted again once there is room", srv.stored_jobs())
            check(srv.job(second)["status"] == "queued" and srv.job(first)["status"] == "queued",
                  "both queued")
            check(metric_sum(srv.metrics()[0], "moat_queue_depth") == 2,
                  "a refused submission left no place taken in the queue")
            srv.stop()
        check(fs.path not in host_mounts(), "the host never saw the tmpfs")


SLEEPER = "import time\ntime.sleep({s})\nprint('done {k}')"


def run_until_finish_fails(srv, fs, n, sleep_s=1.5, tries=8):
    """Submits n sleeping jobs, fills the disk while they run, and waits
    until the store has failed the finish of each of them `tries` times
    (more than any fixed budget of tries): their ids and the filler."""
    wait_ready(srv, 200, 60)
    ids = [srv.submit(py(SLEEPER.format(s=sleep_s, k=k))) for k in range(n)]
    wait_for("every job running", lambda: all(srv.job(j)["status"] == "running" for j in ids),
             30, 0.02)
    filler = fs.fill()
    for j in ids:
        wait_for(f"the finish of {j} failed {tries} times",
                 lambda j=j: log_lines(srv, f"event=store_write_failed op=finish id={j} "
                                            f"tries={tries} "), 30, 0.05)
    return ids, filler


@case("diskfull")
def running_jobs_finish_once_after_disk_full(_):
    """Jobs running when the disk fills: each executor holds its result and
    retries; the jobs stay running (not lost, not failed), /readyz is 503;
    when space comes back they complete on their own, once, within seconds,
    without a restart, and /readyz is 200 again."""
    with Tmpfs(8) as fs:
        srv = Server(G.moat, ["--workers", "2", "--warm-boxes", "2"],
                     data_dir=os.path.join(fs.path, "d"), label="diskfull-run")
        with owned(srv, lines=40):
            srv.start()
            ids, filler = run_until_finish_fails(srv, fs, 2)
            for j in ids:
                check(srv.job(j)["status"] == "running", "held while the disk is full", j)
            expect_error(srv.get("/readyz"), 503, "not_ready", what="GET /readyz, disk full")
            check(not log_lines(srv, "job_result_lost"), "no result given up")
            os.remove(filler)
            t0 = time.monotonic()
            done = srv.wait_final(ids, timeout=10)
            took = time.monotonic() - t0
            print(f"  both jobs final {took * 1000:.0f} ms after the disk had room")
            check(took < 3, "final within 3 s of the disk having room", took)
            for k, j in enumerate(ids):
                got = done[j]
                check(got["status"] == "completed" and got["verdict"] == "ok" and
                      got["output"] == f"done {k}\n" and got["attempts"] == 1,
                      "completed with its output, in its first attempt", got)
                check(len(log_lines(srv, f"event=job_finished id={j} ")) == 1,
                      "finished exactly once", log_lines(srv, j))
            wait_ready(srv, 200, 3)
            check(stored_running(srv) == 0, "no job left running")
            samples, _ = srv.metrics()
            check(metric_sum(samples, "moat_jobs_total") == 2, "each job counted once")
            check(metric_sum(samples, "moat_store_write_retries_total") >= 2 * 7,
                  "the retries counted")
            r = srv.post("/v1/jobs", py("print('after')", wait=True))
            check(r.status == 200 and r.json()["output"] == "after\n",
                  "the server runs jobs again", r)
            srv.stop()
        check(fs.path not in host_mounts(), "the host never saw the tmpfs")


@case("diskfull")
def sigterm_while_full_leaves_job_for_restart(_):
    """SIGTERM while a result cannot be written: the server exits 0 at once,
    the job stays running in the store (not failed, not acknowledged), and a
    restart once there is room runs it again to its end, once."""
    with Tmpfs(8) as fs:
        data = os.path.join(fs.path, "d")
        srv = Server(G.moat, ["--workers", "1", "--warm-boxes", "1"], data_dir=data,
                     label="diskfull-term")
        with owned(srv, lines=40) as own:
            srv.start()
            ids, filler = run_until_finish_fails(srv, fs, 1, sleep_s=0.5, tries=4)
            t0 = time.monotonic()
            srv.stop(timeout=20)
            print(f"  stopped in {(time.monotonic() - t0) * 1000:.0f} ms with the disk full")
            check(log_lines(srv, f"event=job_left_for_recovery id={ids[0]} op=finish"),
                  "the unwritten result left for recovery", srv.tail(10))
            check(srv.stored("SELECT status, attempts FROM jobs WHERE id = ?", (ids[0],)) ==
                  [("running", 1)], "running in the store after the stop")
            os.remove(filler)
            again = Server(G.moat, ["--workers", "1", "--warm-boxes", "1"], data_dir=data,
                           label="diskfull-restart")
            own.append(again)
            again.start()
            got = again.wait_final(ids[0], timeout=30)
            check(got["status"] == "completed" and got["output"] == "done 0\n" and
                  got["attempts"] == 2, "run again by the restart, to its end", got)
            check(metric_sum(again.metrics()[0], "moat_jobs_total") == 1, "finished once")
            check(stored_running(again) == 0, "no job left running")
            again.stop()
        check(fs.path not in host_mounts(), "the host never saw the tmpfs")


# ======================================================================
# foreign: a data directory holding a file that is not moat's
# ======================================================================

def snapshot(d):
    """Every entry of d: name -> (mode, size, mtime, sha256), and d's own mode."""
    out = {".": (os.stat(d).st_mode, None, None, None)}
    for name in sorted(os.listdir(d)):
        p = os.path.join(d, name)
        st = os.lstat(p)
        digest = None
        if os.path.isfile(p):
            with open(p, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        out[name] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    return out


def make_db(path, sql, wal=False):
    db = sqlite3.connect(path)
    if wal:
        db.execute("PRAGMA journal_mode=WAL")
    db.executescript(sql)
    db.commit()
    db.close()


def refused(d, needle, what):
    """moat serve on d exits non-zero before it listens, naming d/moat.db
    and needle, and leaves d exactly as it was and nothing of the server
    behind."""
    db = os.path.join(d, "moat.db")
    before = snapshot(d)
    srv = Server(G.moat, ["--workers", "1", "--warm-boxes", "1", "--netns-pool", "1"], data_dir=d,
                 label="foreign")
    try:
        try:
            srv.start(timeout=60)
        except Failure:
            pass  # exited before listening: what is expected; checked below
        else:
            srv.stop()
            raise Failure(f"{what}: moat serve took {db} and listened")
        after = snapshot(d)
        check(after == before, f"{what}: the directory is exactly as it was",
              {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
               if before.get(k) != after.get(k)})
        err = srv.tail(20)
        check(srv.proc.returncode not in (0, None), f"{what}: moat serve exits non-zero",
              (srv.proc.returncode, err))
        check(db in err and needle in err, f"{what}: the message names {db} and '{needle}'", err)
        srv.check_nothing_left()
    finally:
        srv.cleanup()


def foreign_dir():
    return tempfile.mkdtemp(prefix="moat-e2e-store-foreign-")


@case("foreign")
def foreign_users_table_refused_untouched(_):
    d = foreign_dir()
    try:
        db = os.path.join(d, "moat.db")
        make_db(db, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"
                    "INSERT INTO users (name) VALUES ('ana'), ('bo');")
        os.chmod(db, 0o640)
        refused(d, "not a moat store", "a users table")
    finally:
        shutil.rmtree(d, ignore_errors=True)


@case("foreign")
def foreign_jobs_table_refused_untouched(_):
    d = foreign_dir()
    try:
        make_db(os.path.join(d, "moat.db"),
                "CREATE TABLE jobs (id TEXT PRIMARY KEY, status TEXT);"
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY);"
                "INSERT INTO schema_version VALUES (1);"
                "INSERT INTO jobs VALUES ('a', 'queued');")
        refused(d, "not a moat store", "a jobs table of its own")
    finally:
        shutil.rmtree(d, ignore_errors=True)


@case("foreign")
def foreign_wal_database_refused_no_wal_made(_):
    d = foreign_dir()
    try:
        make_db(os.path.join(d, "moat.db"), "CREATE TABLE users (id INTEGER PRIMARY KEY);",
                wal=True)
        check(sorted(os.listdir(d)) == ["moat.db"], "a WAL database, closed", os.listdir(d))
        refused(d, "not a moat store", "a WAL-mode database")
    finally:
        shutil.rmtree(d, ignore_errors=True)


@case("foreign")
def not_sqlite_refused_untouched(_):
    d = foreign_dir()
    try:
        with open(os.path.join(d, "moat.db"), "wb") as f:
            f.write(b"name,score\nana,3\n" * 20)
        refused(d, "not an SQLite database", "a CSV file")
    finally:
        shutil.rmtree(d, ignore_errors=True)


@case("foreign")
def newer_schema_refused_untouched(_):
    d = foreign_dir()
    try:
        db = os.path.join(d, "moat.db")
        shutil.copyfile(MAIN_STORE, db)
        make_db(db, f"PRAGMA application_id = {APPLICATION_ID};"
                    "INSERT INTO schema_version (version, applied_ms) VALUES (99, 0);")
        refused(d, "schema version 99", "a store of a newer moat")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def stored_header(db):
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return (c.execute("PRAGMA application_id").fetchone()[0],
                c.execute("PRAGMA journal_mode").fetchone()[0],
                c.execute("SELECT max(version) FROM schema_version").fetchone()[0])
    finally:
        c.close()


@case("foreign")
def empty_file_initialised(_):
    d = foreign_dir()
    try:
        open(os.path.join(d, "moat.db"), "wb").close()
        srv = Server(G.moat, ["--no-exec"], data_dir=d, label="empty")
        with owned(srv):
            srv.start()
            jid = srv.submit(py("print(1)"))
            check(srv.job(jid)["status"] == "queued", "stored")
            srv.stop()
        check(stored_header(os.path.join(d, "moat.db")) == (APPLICATION_ID, "wal", 4),
              "a moat store now", stored_header(os.path.join(d, "moat.db")))
    finally:
        shutil.rmtree(d, ignore_errors=True)


@case("foreign")
def store_of_main_taken_jobs_kept(_):
    """A store that moat serve made at 323aa77, before moat marked its
    files: taken, marked, its jobs as they were (recovery queues the queued
    one, and it runs)."""
    d = foreign_dir()
    try:
        db = os.path.join(d, "moat.db")
        shutil.copyfile(MAIN_STORE, db)
        check(stored_header(db)[0] == 0, "unmarked before")
        queued, cancelled = ("01a25197-1e85-72d2-8044-a61618d6b72f",
                             "01a25197-1ea7-7994-9d29-45193d7320a6")
        srv = Server(G.moat, ["--workers", "1", "--warm-boxes", "1"], data_dir=d, label="main")
        with owned(srv):
            srv.start()
            got = srv.wait_final(queued, timeout=60)
            check(got["status"] == "completed" and got["output"] == "4\n",
                  "the queued job of the old store runs", got)
            got = srv.job(cancelled)
            check(got["status"] == "cancelled" and got["language"] == "bash", "kept", got)
            srv.stop()
        check(stored_header(db) == (APPLICATION_ID, "wal", 4), "marked, migrated to schema version 4",
              stored_header(db))
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    run(G)
