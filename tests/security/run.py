#!/usr/bin/env python3
"""Hostile test suite of `moat run`: one hostile program per case, its exact
expected result, and the host checked for side effects after every case.

    run.py --moat PATH --case ID     run one case; exit 0 pass, 1 fail, 77 skip
    run.py --moat PATH --all [-j N]  run every case (or --tag TAG), print a summary
    run.py ... --pool                the same through a warm pool's box (`moat run
                                     --pool`, the path of `moat serve`)
    run.py --list                    case ids
    run.py --list-cmake              "id|timeout|tag,tag" lines for CMake
    run.py --check                   validate the manifest (no moat needed)

The cases live in cases.json (format in README.md). Each case gets a uid range
(3500000 + 16 * its index), a cgroup name (moat-sec-<index>), a run directory
and a cache directory of its own, so cases can run in parallel without seeing
each other's boxes; a second run of the same case at the same time (another
build tree) takes the next slot: 4096 uids further, moat-sec-s<slot>-<index>.

After every case, whatever the program did, the runner checks the host:
  (a) host files, canaries, sources and stdin unchanged (sha256, owner, mode);
  (b) no process left with a uid of the case's range;
  (c) no cgroup left under <hierarchy>/<case cgroup name>/ (then removes it);
  (d) the mount table of this namespace unchanged;
  (e) no marker file at host paths, no connection to the runner's listeners,
      no SysV IPC object of a box uid, no host file owned by a box uid, no
      secret of the runner's environment in the output;
  (f) the host's device nodes (/dev/null, ...) kept their times;
  (g) the host's unreclaimable kernel memory (slab) grew by less than the
      case allows while it ran (sampled), so that a box cannot build kernel
      objects its memory cgroup does not charge;
  (h) where the case says so: the host's disks got few cache flushes, and
      host files the runner cached are still cached (page-cache eviction).
Python 3 standard library only.
"""
import argparse
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from host_state import (HOST_DEVICE_NODES, SlabWatch, box_processes, cache_file,  # noqa: E402
                        cgroup_mounts, device_times, disk_flushes, file_state, files_owned_by,
                        kernel_automount, mount_point, mountinfo, snapshot_files,
                        sysvipc_objects, uncached_pages)
MANIFEST = os.path.join(HERE, "cases.json")
CASES_DIR = os.path.join(HERE, "cases")
# Helpers shared by the C and C++ cases (cases/hostile.h), passed to moat
# as a second file beside an entry that includes it.
SHARED_HEADER = "hostile.h"
C_EXTENSIONS = (".c", ".cpp")
SKIP = 77
UID_BASE = 3500000
UID_STRIDE = 16
SLOTS = 8
SLOT_STRIDE = 4096  # more than UID_STRIDE * number of cases
TMP_PREFIX = "moat-sec-"

# Host files no box may change (content, owner, mode). Missing ones are skipped.
HOST_FILES = [
    "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/hostname",
    "/etc/hosts", "/etc/resolv.conf", "/etc/sudoers", "/usr/bin/passwd", "/usr/bin/su",
    "/usr/bin/rm", "/usr/bin/mount", "/usr/bin/chsh", "/usr/bin/gpasswd", "/usr/bin/bash",
    "/usr/bin/dash", "/usr/lib/x86_64-linux-gnu/libc.so.6",
]
# Kernel knobs a box might try to write: content only.
HOST_PROC_FILES = [
    "/proc/sys/kernel/core_pattern", "/proc/sys/kernel/hostname",
    "/proc/sys/kernel/domainname", "/proc/sys/kernel/modprobe",
    "/proc/sys/kernel/sysrq", "/proc/sys/vm/overcommit_memory",
]
# Where a marker file written by an escaped program would show up.
MARKER_DIRS = ["/", "/tmp", "/var/tmp", "/dev/shm", "/root", "/etc", "/usr/bin", "/run"]

RESULT_KEYS = {"verdict", "exitCode", "signal", "timeMs", "wallTimeMs", "memoryKb", "stdout",
               "stderr", "stdoutTruncated", "stderrTruncated", "error"}
VERDICTS = {"ok", "runtime_error", "time_limit", "memory_limit", "output_limit",
            "compile_error", "internal_error"}
CASE_KEYS = {"id", "threat", "file", "lang", "tags", "flags", "stdin", "stdin_repeat", "args",
             "template", "file_as", "helpers", "requires", "timeout", "expect", "why",
             "extra_runs", "host", "before", "_index"}
# "before": a program run first in the same pool of one box (moat run --pool
# --before), so that the case's program runs in the slot it left; pooled
# path only. stderr_contains: what moat must say about that run and reuse.
BEFORE_KEYS = {"file", "stderr_contains"}
HOST_KEYS = {"slab_growth_max_mb", "disk_flushes_max", "cached_files"}
# Growth of the host's unreclaimable slab while a case runs, beyond which
# the case fails, unless it says otherwise: the cases running beside it
# (ctest -j) and the box's own charged kernel memory stay well below.
SLAB_GROWTH_MAX_MB = 64
RUN_KEYS = {"file", "lang", "flags", "stdin", "stdin_repeat", "args", "template", "file_as",
            "expect", "mode", "delay_ms", "name"}
EXPECT_KEYS = {"verdict", "exitCode", "signal", "stdout", "stdout_re", "stdout_match",
               "stdout_nomatch", "stdout_contains", "stdoutLen", "stderr", "stderr_re",
               "stderr_match", "stderr_nomatch", "stderr_contains", "stderrLen",
               "stdoutTruncated", "stderrTruncated", "timeMs", "wallTimeMs", "memoryKb",
               "captures", "compile", "error_match", "moat_exit"}
HELPERS = {"tcp", "unix", "abstract"}


class CaseError(Exception):
    pass


# ---------------------------------------------------------------- manifest

def load_manifest():
    with open(MANIFEST, encoding="utf-8") as f:
        data = json.load(f)
    cases = data["cases"]
    seen = set()
    for i, c in enumerate(cases):
        if c["id"] in seen:
            raise CaseError("duplicate case id %s" % c["id"])
        seen.add(c["id"])
        c["_index"] = i
    return data, cases


def check_expect(where, e, problems):
    unknown = set(e) - EXPECT_KEYS
    if unknown:
        problems.append("%s: unknown expect keys %s" % (where, sorted(unknown)))
    v = e.get("verdict")
    if v not in VERDICTS:
        problems.append("%s: bad verdict %r" % (where, v))
    for k in ("stdout_re", "stderr_re"):
        if k in e:
            try:
                re.compile(e[k])
            except re.error as ex:
                problems.append("%s: %s: %s" % (where, k, ex))
    for k in ("stdout_match", "stdout_nomatch", "stderr_match", "stderr_nomatch"):
        for rx in e.get(k, []):
            try:
                re.compile(rx)
            except re.error as ex:
                problems.append("%s: %s %r: %s" % (where, k, rx, ex))
    for cap in e.get("captures", []):
        try:
            if re.compile(cap["re"]).groups != 1:
                problems.append("%s: capture %r needs one group" % (where, cap["re"]))
        except re.error as ex:
            problems.append("%s: capture %r: %s" % (where, cap["re"], ex))
    for k in ("timeMs", "wallTimeMs", "memoryKb"):
        if k in e and (not isinstance(e[k], list) or len(e[k]) != 2):
            problems.append("%s: %s must be [min, max]" % (where, k))
    if "compile" in e and e["compile"] is not None:
        sub = dict(e["compile"])
        sub.setdefault("verdict", "ok")
        check_expect(where + ".compile", sub, problems)


def check_run(where, r, problems, keys):
    unknown = set(r) - keys
    if unknown:
        problems.append("%s: unknown keys %s" % (where, sorted(unknown)))
    if "file" not in r:
        problems.append("%s: no file" % where)
    elif not os.path.isfile(os.path.join(CASES_DIR, r["file"])):
        problems.append("%s: missing program %s" % (where, r["file"]))
    if "expect" not in r:
        problems.append("%s: no expect" % where)
    else:
        check_expect(where, r["expect"], problems)


def check_manifest(cases):
    problems = []
    if len(cases) * UID_STRIDE > SLOT_STRIDE:
        problems.append("too many cases for SLOT_STRIDE: uid ranges of slots would overlap")
    if not os.path.isfile(os.path.join(CASES_DIR, SHARED_HEADER)):
        problems.append("missing the shared header cases/%s" % SHARED_HEADER)
    for c in cases:
        where = c.get("id", "?")
        if not re.fullmatch(r"[A-Z][0-9]{2}[a-z]?_[a-z0-9_]+", where):
            problems.append("%s: id must look like R01_what or E08b_what" % where)
        check_run(where, c, problems, CASE_KEYS)
        if not c.get("why"):
            problems.append("%s: says nothing about why this is the expected outcome" % where)
        for h in c.get("helpers", []):
            if h not in HELPERS:
                problems.append("%s: unknown helper %s" % (where, h))
        host = c.get("host", {})
        if set(host) - HOST_KEYS:
            problems.append("%s: unknown host keys %s" % (where, sorted(set(host) - HOST_KEYS)))
        for path in host.get("cached_files", []):
            if not os.path.isabs(path):
                problems.append("%s: cached file %s is not absolute" % (where, path))
        before = c.get("before")
        if before is not None:
            if set(before) - BEFORE_KEYS or "file" not in before:
                problems.append("%s: before needs file, may have stderr_contains" % where)
            elif not os.path.isfile(os.path.join(CASES_DIR, before["file"])):
                problems.append("%s: before's program %s is missing" % (where, before["file"]))
        for j, r in enumerate(c.get("extra_runs", [])):
            check_run("%s.extra_runs[%d]" % (where, j), r, problems, RUN_KEYS)
            if r.get("mode") not in ("concurrent", "after"):
                problems.append("%s.extra_runs[%d]: mode concurrent|after" % (where, j))
    return problems


# ---------------------------------------------------------------- helpers

class Listener:
    """A socket the boxes must never reach; counts connections accepted."""

    def __init__(self, family, address):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family in (socket.AF_INET, socket.AF_INET6):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(address)
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.connections = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections.append(repr(peer))
            conn.close()

    def close(self):
        self.stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


# ---------------------------------------------------------------- one case

def lock_dir():
    base = "/run/lock" if os.path.isdir("/run/lock") else "/tmp"
    d = os.path.join(base, "moat-sec")
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise CaseError("%s is not a directory of ours" % d)
    return d


def take_slot(index):
    """An flock on <lock dir>/<index>-<slot> for the first free slot."""
    d = lock_dir()
    for slot in range(SLOTS):
        path = os.path.join(d, "%d-%d" % (index, slot))
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return slot, fd
        except OSError:
            os.close(fd)
    raise CaseError("all %d slots of case %d are busy" % (SLOTS, index))


class Context:
    def __init__(self, case, moat, args):
        self.case = case
        self.moat = os.path.abspath(moat)
        self.index = case["_index"]
        # Two runs of the suite at once (two build trees, two people) must
        # not share a case's uids or cgroup: the first run of a case holds
        # slot 0, a concurrent run of the same case the next free slot.
        self.slot, self.slot_fd = take_slot(self.index)
        self.first_uid = UID_BASE + SLOT_STRIDE * self.slot + UID_STRIDE * self.index
        self.uid_count = UID_STRIDE
        self.cgroup = ("moat-sec-%d" % self.index if self.slot == 0
                       else "moat-sec-s%d-%d" % (self.slot, self.index))
        self.tmpdir = tempfile.mkdtemp(prefix="%s%d-" % (TMP_PREFIX, self.index))
        os.chmod(self.tmpdir, 0o755)
        self.languages = args.languages
        self.pool = args.pool
        self.keep = args.keep
        self.listeners = {}
        self.secrets = {"MOAT_SECRET_CANARY": secrets.token_hex(16),
                        "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20)}
        self.marker = "moatsecmarker" + secrets.token_hex(6)
        self.values = {}
        self.watched = []  # host files of this case: sources, copies, stdin, canaries

    # -- set-up
    def setup(self):
        canary_dir = os.path.join(self.tmpdir, "canary")
        os.mkdir(canary_dir, 0o755)
        canary = os.path.join(canary_dir, "secret.txt")
        with open(canary, "w") as f:
            f.write("canary " + secrets.token_hex(16) + "\n")
        os.chmod(canary, 0o640)
        bait = os.path.join(canary_dir, "world-writable.txt")
        with open(bait, "w") as f:
            f.write("must stay as it is\n")
        os.chmod(bait, 0o666)
        for d in ("run", "cache", "src"):
            os.mkdir(os.path.join(self.tmpdir, d), 0o755)
        self.watched += [canary, bait]
        host_user = "daemon"
        try:
            with open("/etc/passwd") as f:
                names = [ln.split(":")[0] for ln in f if ":" in ln]
            others = [n for n in names if n not in ("root", "box", "nobody")]
            if others:
                host_user = others[0]
        except OSError:
            pass
        self.values = {
            "tmpdir": self.tmpdir, "canary": canary, "canary_dir": canary_dir,
            "bait": bait, "marker": self.marker, "runner_pid": str(os.getpid()),
            "first_uid": str(self.first_uid),
            "last_uid": str(self.first_uid + self.uid_count - 1),
            "hostname": socket.gethostname(), "host_user": host_user,
            "unix": os.path.join(self.tmpdir, "helper.sock"),
            "abstract": "moat-sec-abstract-" + secrets.token_hex(6),
            "port": "1", "port6": "1",
        }
        helpers = self.case.get("helpers", [])
        if "tcp" in helpers:
            lst = Listener(socket.AF_INET, ("127.0.0.1", 0))
            self.listeners["tcp 127.0.0.1"] = lst
            self.values["port"] = str(lst.sock.getsockname()[1])
            try:
                lst6 = Listener(socket.AF_INET6, ("::1", 0))
                self.listeners["tcp ::1"] = lst6
                self.values["port6"] = str(lst6.sock.getsockname()[1])
            except OSError:
                self.values["port6"] = self.values["port"]
        if "unix" in helpers:
            self.listeners["unix"] = Listener(socket.AF_UNIX, self.values["unix"])
            os.chmod(self.values["unix"], 0o777)
        if "abstract" in helpers:
            self.listeners["abstract"] = Listener(socket.AF_UNIX,
                                                  "\0" + self.values["abstract"])

    def subst(self, text, regex=False):
        def one(m):
            if m.group(1) not in self.values:
                return m.group(0)
            v = self.values[m.group(1)]
            return re.escape(v) if regex else v
        return re.sub(r"\{([a-z_0-9]+)\}", one, text)

    def prepare_program(self, run, n):
        src = os.path.join(CASES_DIR, run["file"])
        self.watched.append(src)
        d = os.path.join(self.tmpdir, "src", str(n))
        os.mkdir(d, 0o755)
        dst = os.path.join(d, run.get("file_as", os.path.basename(run["file"])))
        with open(src, "rb") as f:
            data = f.read()
        if run.get("template"):
            text = data.decode("utf-8")
            for k, v in self.values.items():
                text = text.replace("@%s@" % k.upper(), v)
            data = text.encode("utf-8")
        with open(dst, "wb") as f:
            f.write(data)
        os.chmod(dst, 0o644)
        self.watched.append(dst)
        files = [dst]
        # C and C++ cases share helpers through one header; it goes beside
        # the entry (moat puts every file in /box) only where the source
        # includes it, so that no other case sees an extra file in /box.
        if (os.path.splitext(src)[1] in C_EXTENSIONS
                and re.search(rb'^#include "%s"' % SHARED_HEADER.encode(), data, re.M)):
            hsrc = os.path.join(CASES_DIR, SHARED_HEADER)
            hdst = os.path.join(d, SHARED_HEADER)
            shutil.copyfile(hsrc, hdst)
            os.chmod(hdst, 0o644)
            self.watched += [hsrc, hdst]
            files.append(hdst)
        return files

    def prepare_stdin(self, run, n):
        if "stdin" in run and run["stdin"] is not None:
            data = self.subst(run["stdin"]).encode("utf-8")
        elif "stdin_repeat" in run:
            data = run["stdin_repeat"]["text"].encode("utf-8") * run["stdin_repeat"]["count"]
        else:
            return None
        path = os.path.join(self.tmpdir, "stdin-%d.txt" % n)
        with open(path, "wb") as f:
            f.write(data)
        # world-writable on purpose: only the sandbox stands between the box and it
        os.chmod(path, 0o666)
        self.watched.append(path)
        return path

    def command(self, run, n):
        files = self.prepare_program(run, n)
        cmd = [self.moat, "run", "--json",
               "--first-uid", str(self.first_uid), "--uid-count", str(self.uid_count),
               "--cgroup-name", self.cgroup,
               "--run-dir", os.path.join(self.tmpdir, "run"),
               "--cache-dir", os.path.join(self.tmpdir, "cache")]
        if self.languages:
            cmd += ["--languages", self.languages]
        if self.pool:
            cmd.append("--pool")
        if n == 0 and self.case.get("before"):
            files_before = self.prepare_program({"file": self.case["before"]["file"]}, "before")
            cmd += ["--before", files_before[0]]
        if run.get("lang"):
            cmd += ["--lang", run["lang"]]
        stdin = self.prepare_stdin(run, n)
        if stdin:
            cmd += ["--stdin", stdin]
        cmd += [self.subst(a) for a in run.get("flags", [])]
        cmd += files
        if run.get("args"):
            cmd.append("--")
            cmd += [self.subst(a) for a in run["args"]]
        return cmd

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOAT_")}
        env.update(self.secrets)
        return env

    # -- tear-down
    def teardown(self):
        for lst in self.listeners.values():
            lst.close()
        os.close(self.slot_fd)


def launch(ctx, cmd):
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=ctx.env(), start_new_session=True, cwd=ctx.tmpdir)


def finish(proc, deadline):
    try:
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        return out, err, False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        out, err = proc.communicate()
        return out, err, True


def fmt_range(r):
    return "[%s, %s]" % (r[0], r[1])


def compare(ctx, e, res, label, problems, is_compile=False):
    """Checks one result object (or its compile part) against an expectation."""
    def bad(msg):
        problems.append("%s: %s" % (label, msg))

    for k in ("verdict", "exitCode", "signal", "stdoutTruncated", "stderrTruncated"):
        if k in e and res.get(k) != e[k]:
            bad("%s expected %r, got %r" % (k, e[k], res.get(k)))
    if not is_compile:
        missing = RESULT_KEYS - set(res)
        if missing:
            bad("result lacks %s" % sorted(missing))
    for k in ("timeMs", "wallTimeMs", "memoryKb"):
        if k in e:
            lo, hi = e[k]
            v = res.get(k)
            if not isinstance(v, int) or (lo is not None and v < lo) or \
                    (hi is not None and v > hi):
                bad("%s expected in %s, got %r" % (k, fmt_range(e[k]), v))
    for stream in ("stdout", "stderr"):
        got = res.get(stream)
        if not isinstance(got, str):
            if any(k.startswith(stream) for k in e):
                bad("%s missing" % stream)
            continue
        if stream in e and got != ctx.subst(e[stream]):
            bad("%s expected exactly %r, got %r" % (stream, ctx.subst(e[stream]), got[:2000]))
        if stream + "_re" in e and not re.fullmatch(ctx.subst(e[stream + "_re"], True), got):
            bad("%s does not match /%s/: %r" % (stream, e[stream + "_re"], got[:2000]))
        for rx in e.get(stream + "_match", []):
            if not re.search(ctx.subst(rx, True), got, re.M):
                bad("%s lacks /%s/" % (stream, rx))
        for rx in e.get(stream + "_nomatch", []):
            m = re.search(ctx.subst(rx, True), got, re.M)
            if m:
                bad("%s must not match /%s/ but has %r" % (stream, rx, m.group(0)[:200]))
        for lit in e.get(stream + "_contains", []):
            if ctx.subst(lit) not in got:
                bad("%s lacks %r" % (stream, ctx.subst(lit)))
        if stream + "Len" in e:
            # bytes of the UTF-8 text moat returned (equal to what the program
            # wrote when that was ASCII)
            n = len(got.encode("utf-8", "surrogatepass"))
            want = e[stream + "Len"]
            lo, hi = (want, want) if isinstance(want, int) else want
            if n < lo or n > hi:
                bad("%s length expected %s, got %d bytes" % (stream, want, n))
    for cap in e.get("captures", []):
        stream = cap.get("stream", "stdout")
        text = res.get(stream) or ""
        m = re.search(ctx.subst(cap["re"], True), text, re.M)
        if not m:
            bad("%s lacks /%s/" % (stream, cap["re"]))
            continue
        v = int(m.group(1))
        lo = cap.get("min")
        hi = cap.get("max")
        lo = int(ctx.subst(str(lo))) if lo is not None else None
        hi = int(ctx.subst(str(hi))) if hi is not None else None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            bad("/%s/ captured %d, expected in [%s, %s]" % (cap["re"], v, lo, hi))
    if "error_match" in e and not re.search(e["error_match"], res.get("error") or ""):
        bad("error %r lacks /%s/" % (res.get("error"), e["error_match"]))
    if "compile" in e:
        ce = e["compile"]
        if ce is None:
            if res.get("compile") is not None:
                bad("a compile step was not expected")
        elif not isinstance(res.get("compile"), dict):
            bad("compile result missing")
        else:
            compare(ctx, ce, res["compile"], label + ".compile", problems, True)


def parse_json(out, label, problems):
    try:
        text = out.decode("utf-8")
    except UnicodeDecodeError as ex:
        problems.append("%s: moat's stdout is not valid UTF-8: %s" % (label, ex))
        return None
    try:
        obj, end = json.JSONDecoder().raw_decode(text.lstrip())
    except ValueError as ex:
        problems.append("%s: moat's stdout is not one JSON object (%s): %r"
                        % (label, ex, text[:500]))
        return None
    if text.lstrip()[end:].strip():
        problems.append("%s: text after the JSON object: %r" % (label, text.lstrip()[end:][:200]))
    if not isinstance(obj, dict):
        problems.append("%s: JSON is not an object" % label)
        return None
    return obj


def check_run_result(ctx, run, label, out, err, rc, timed_out, problems):
    for name, value in ctx.secrets.items():
        if value.encode() in out or value.encode() in err:
            problems.append("%s: the runner's secret %s leaked into moat's output" % (label, name))
    if timed_out:
        problems.append("%s: moat did not finish before the case timeout" % label)
        return None
    e = run["expect"]
    res = parse_json(out, label, problems)
    if res is None:
        problems.append("%s: moat exit %d, stderr: %s" % (label, rc, err.decode(errors="replace")[:2000]))
        return None
    compare(ctx, e, res, label, problems)
    want_rc = e.get("moat_exit")
    if want_rc is None and res.get("verdict") in ("ok", "runtime_error", "time_limit",
                                                   "memory_limit", "output_limit"):
        want_rc = res.get("exitCode")
    if want_rc is not None and rc != want_rc:
        problems.append("%s: moat exited %d, expected %d" % (label, rc, want_rc))
    return res


def run_case(case, args):
    if not os.path.isfile(args.moat) or not os.access(args.moat, os.X_OK):
        print("FAIL %s: no moat binary at %s" % (case["id"], args.moat))
        return 1
    need = case.get("requires", [])
    if need:
        missing = missing_languages(args, need)
        if missing:
            print("SKIP %s: `moat languages` does not list %s" % (case["id"], ", ".join(missing)))
            return SKIP
    if case.get("before") and not args.pool:
        print("SKIP %s: runs in a pool's reused box slot only (--pool)" % case["id"])
        return SKIP
    try:
        ctx = Context(case, args.moat, args)
    except CaseError as ex:
        print("FAIL %s: %s" % (case["id"], ex))
        return 1
    problems = []
    results = []
    try:
        ctx.setup()
        lo, hi = ctx.first_uid, ctx.first_uid + ctx.uid_count
        paths = [p for p in HOST_FILES if os.path.exists(p)] + [ctx.moat]
        before_mounts = mountinfo()
        before_ipc = sysvipc_objects(lo, hi)
        if before_ipc:
            problems.append("before the case: SysV objects of box uids exist: %s" % before_ipc)
        stale = box_processes(lo, hi)
        if stale:
            problems.append("before the case: processes of box uids exist: %s" % stale)

        runs = [dict(case, name="main")] + [dict(r) for r in case.get("extra_runs", [])]
        cmds = [ctx.command(r, n) for n, r in enumerate(runs)]
        watched_before = snapshot_files(paths + ctx.watched, HOST_PROC_FILES)
        canary_listing = sorted(os.listdir(ctx.values["canary_dir"]))
        host = case.get("host", {})
        cached = [p for p in host.get("cached_files", []) if os.path.isfile(p)]
        if len(cached) != len(host.get("cached_files", [])):
            problems.append("host files to watch in the page cache missing: %s"
                            % sorted(set(host["cached_files"]) - set(cached)))
        for p in cached:
            cache_file(p)
            if uncached_pages(p):
                problems.append("cannot get %s into the page cache" % p)
        dev_before = device_times()
        flushes_before = disk_flushes()
        slab = SlabWatch()

        timeout = case.get("timeout", 60) - 5
        deadline = time.monotonic() + timeout
        t0 = time.monotonic()
        main = launch(ctx, cmds[0])
        concurrent = []
        for n, r in enumerate(runs[1:], 1):
            if r["mode"] == "concurrent":
                # start once the first program runs (a box uid's process
                # named "main", the compiled program; compiling may take long
                # on a busy host), then wait delay_ms
                while (not any("(main)" in p for p in box_processes(lo, hi))
                       and main.poll() is None and time.monotonic() < deadline - 10):
                    time.sleep(0.05)
                time.sleep(r.get("delay_ms", 0) / 1000.0)
                concurrent.append((n, launch(ctx, cmds[n])))
        outcome = {0: finish(main, deadline) + (main.returncode,)}
        for n, p in concurrent:
            outcome[n] = finish(p, deadline) + (p.returncode,)
        for n, r in enumerate(runs[1:], 1):
            if r["mode"] == "after":
                time.sleep(r.get("delay_ms", 0) / 1000.0)
                p = launch(ctx, cmds[n])
                outcome[n] = finish(p, deadline) + (p.returncode,)
        elapsed = time.monotonic() - t0
        slab_mb = slab.finish()
        flushes = disk_flushes() - flushes_before

        for n, r in enumerate(runs):
            out, err, timed_out, rc = outcome[n]
            label = "run %s" % r.get("name", n)
            res = check_run_result(ctx, r, label, out, err, rc, timed_out, problems)
            results.append((label, cmds[n], res, rc, err))
            for want in (case.get("before") or {}).get("stderr_contains", []) if n == 0 else []:
                if want.encode() not in err:
                    problems.append("%s: moat's stderr lacks %r" % (label, want))

        # (b) nothing of the boxes runs any more
        left = box_processes(lo, hi)
        if left:
            problems.append("processes of box uids left on the host: %s" % left)
        # (c) no cgroup left; the parent is removed here
        for mp in cgroup_mounts():
            d = os.path.join(mp, ctx.cgroup)
            if not os.path.isdir(d):
                continue
            subs = [x.name for x in os.scandir(d) if x.is_dir()]
            if subs:
                problems.append("cgroups left in %s: %s" % (d, subs))
            try:
                with open(os.path.join(d, "cgroup.procs")) as f:
                    procs = f.read().split()
                if procs:
                    problems.append("processes left in cgroup %s: %s" % (d, procs))
            except OSError:
                pass
            if not subs:
                try:
                    os.rmdir(d)
                except OSError as ex:
                    problems.append("cannot remove %s: %s" % (d, ex))
        # (d) the host's mount table
        after_mounts = mountinfo()
        changed = set(after_mounts) ^ set(before_mounts)
        ours = [ln for ln in changed
                if not (TMP_PREFIX in mount_point(ln) and
                        not mount_point(ln).startswith(ctx.tmpdir))
                and not kernel_automount(ln)]
        if ours:
            problems.append("host mount table changed (%d -> %d lines): %s"
                            % (len(before_mounts), len(after_mounts), sorted(ours)[:10]))
        # (a) host files, canaries, sources, stdin
        watched_after = snapshot_files(paths + ctx.watched, HOST_PROC_FILES)
        for p in watched_before:
            if watched_before[p] != watched_after[p]:
                hint = " (rebuilt meanwhile?)" if p == ctx.moat else ""
                problems.append("host file changed%s: %s: %r -> %r"
                                % (hint, p, watched_before[p], watched_after[p]))
        if sorted(os.listdir(ctx.values["canary_dir"])) != canary_listing:
            problems.append("canary dir changed: %s" % os.listdir(ctx.values["canary_dir"]))
        # (e) markers, listeners, IPC, files owned by box uids, secrets
        for d in MARKER_DIRS + [ctx.tmpdir, ctx.values["canary_dir"]]:
            p = os.path.join(d, ctx.marker)
            if os.path.lexists(p):
                problems.append("marker file appeared on the host: %s" % p)
        for name, lst in ctx.listeners.items():
            if lst.connections:
                problems.append("the runner's %s listener got connections: %s"
                                % (name, lst.connections))
        ipc = sysvipc_objects(lo, hi)
        if ipc:
            problems.append("SysV IPC objects of box uids left on the host: %s" % ipc)
        owned = files_owned_by(ctx.tmpdir, lo, hi)
        if owned:
            problems.append("host files owned by box uids: %s" % owned[:10])
        # (f) device nodes, (g) kernel memory, (h) disks and page cache
        dev_after = device_times()
        for p in HOST_DEVICE_NODES:
            if dev_before[p] != dev_after[p]:
                problems.append("host device node %s changed times: %r -> %r"
                                % (p, dev_before[p], dev_after[p]))
        slab_max = host.get("slab_growth_max_mb", SLAB_GROWTH_MAX_MB)
        if slab_mb > slab_max:
            problems.append("the host's unreclaimable slab grew by %d MB while the case ran "
                            "(at most %d MB): kernel memory no cgroup charged" % (slab_mb, slab_max))
        if "disk_flushes_max" in host and flushes > host["disk_flushes_max"]:
            problems.append("the host's disks got %d cache flushes while the case ran (at most %d)"
                            % (flushes, host["disk_flushes_max"]))
        for p in cached:
            n = uncached_pages(p)
            if n:
                problems.append("%d pages of %s left the host's page cache" % (n, p))
    except CaseError as ex:
        problems.append(str(ex))
    finally:
        ctx.teardown()
        if ctx.keep:
            print("kept %s" % ctx.tmpdir)
        else:
            try:
                shutil.rmtree(ctx.tmpdir)
            except OSError as ex:
                problems.append("cannot remove the case's temp dir (a mount left?): %s" % ex)

    if problems:
        print("FAIL %s (%s): %s" % (case["id"], case.get("threat", ""), case.get("why", "")))
        for p in problems:
            print("  - " + p)
        for label, cmd, res, rc, err in results:
            print("  %s: %s" % (label, " ".join(cmd)))
            print("    moat exit %s" % rc)
            if res is not None:
                shown = dict(res)
                for k in ("stdout", "stderr"):
                    if isinstance(shown.get(k), str) and len(shown[k]) > 3000:
                        shown[k] = shown[k][:3000] + "...(%d chars)" % len(res[k])
                print("    got: " + json.dumps(shown, indent=None)[:8000])
            if err:
                print("    moat stderr: " + err.decode(errors="replace")[:2000])
        return 1
    print("PASS %s (%.1fs, slab +%d MB, %d disk flushes)" % (case["id"], elapsed, slab_mb, flushes))
    return 0


_languages_cache = {}


def missing_languages(args, need):
    key = (args.moat, args.languages)
    if key not in _languages_cache:
        cmd = [args.moat, "languages"]
        if args.languages:
            cmd += ["--languages", args.languages]
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=60)
            text = p.stdout.decode(errors="replace").lower() if p.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired):
            text = None
        _languages_cache[key] = text
    text = _languages_cache[key]
    if text is None:
        return []  # unknown: run the case and let it tell
    return [n for n in need if not re.search(r"(^|\W)%s(\W|$)" % re.escape(n.lower()), text)]


def run_all(cases, args):
    selected = [c for c in cases if not args.tag or args.tag in c.get("tags", [])]
    results = {}
    lock = threading.Lock()
    queue = list(selected)

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                c = queue.pop(0)
            cmd = [sys.executable, os.path.abspath(__file__), "--moat", args.moat,
                   "--case", c["id"]]
            if args.languages:
                cmd += ["--languages", args.languages]
            if args.pool:
                cmd.append("--pool")
            p = subprocess.run(cmd, capture_output=True, timeout=c.get("timeout", 60) + 30)
            with lock:
                results[c["id"]] = p.returncode
                sys.stdout.write(p.stdout.decode(errors="replace"))
                sys.stdout.flush()

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    passed = [i for i, r in results.items() if r == 0]
    skipped = [i for i, r in results.items() if r == SKIP]
    failed = sorted(i for i, r in results.items() if r not in (0, SKIP))
    print("\n%d passed, %d failed, %d skipped" % (len(passed), len(failed), len(skipped)))
    if failed:
        print("failed: " + " ".join(failed))
    if skipped:
        print("skipped: " + " ".join(sorted(skipped)))
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description="hostile test suite of `moat run`")
    ap.add_argument("--moat", help="the moat binary")
    ap.add_argument("--case", help="run one case")
    ap.add_argument("--all", action="store_true", help="run every case")
    ap.add_argument("--tag", help="with --all: only cases with this tag")
    ap.add_argument("-j", "--jobs", type=int, default=1)
    ap.add_argument("--languages", help="languages.ini passed to moat")
    ap.add_argument("--pool", action="store_true",
                    help="run each program in a box from a warm pool (moat run --pool)")
    ap.add_argument("--keep", action="store_true", help="keep the case's temp dir")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--list-cmake", action="store_true")
    ap.add_argument("--check", action="store_true", help="validate the manifest")
    args = ap.parse_args()

    _, cases = load_manifest()
    if args.list:
        for c in cases:
            print(c["id"])
        return 0
    if args.list_cmake:
        for c in cases:
            # a case with a program run before it in the same slot exists
            # on the pool's path only: no cold test is made for it
            tags = c.get("tags", []) + (["pool-only"] if c.get("before") else [])
            print("%s|%d|%s" % (c["id"], c.get("timeout", 60), ",".join(tags)))
        return 0
    if args.check:
        problems = check_manifest(cases)
        for p in problems:
            print(p)
        print("%d cases, %d problems" % (len(cases), len(problems)))
        return 1 if problems else 0
    if not args.moat:
        ap.error("--moat is required")
    if os.geteuid() != 0:
        print("SKIP: the security suite runs as root (moat run needs it)")
        return SKIP
    if args.all:
        return run_all(cases, args)
    if not args.case:
        ap.error("--case ID, --all, --list or --check")
    by_id = {c["id"]: c for c in cases}
    if args.case not in by_id:
        ap.error("no case %s (see --list)" % args.case)
    return run_case(by_id[args.case], args)


if __name__ == "__main__":
    sys.exit(main())
