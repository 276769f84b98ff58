#!/usr/bin/env python3
"""A `moat run` killed with SIGKILL in the middle of a step, then run again.

The box's processes must die with moat (box init has PR_SET_PDEATHSIG and is
pid 1 of the box's pid namespace), within a couple of seconds. What a killed
moat cannot remove is the box's cgroup: it stays, empty, until the next moat
with the same cgroup name and uid range sweeps it (its uid lease, an flock,
was released by the kernel). Everything lives under a cgroup name, uid range
and run directory of its own, removed at the end whatever happened.

usage: crash_test.py --moat PATH --uid-base N
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CG_FS = "/sys/fs/cgroup"
UID_COUNT = 4


class Failure(Exception):
    pass


def check(cond, what, got=None):
    if not cond:
        raise Failure(what + ("" if got is None else f"\n  got: {got!r}"))


def proc_status(pid):
    """(name, ppid, state, uids) of a process, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    fields = dict(l.split(":", 1) for l in text.splitlines() if ":" in l)
    return (fields["Name"].strip(), int(fields["PPid"]), fields["State"].split()[0],
            [int(u) for u in fields["Uid"].split()])


def all_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def live(pid):
    st = proc_status(pid)
    return st is not None and st[2] != "Z"


def uid_procs(first):
    """Live processes with any of their uids in the box range."""
    out = []
    for pid in all_pids():
        st = proc_status(pid)
        if st and st[2] != "Z" and any(first <= u < first + UID_COUNT for u in st[3]):
            out.append((pid, st[0]))
    return out


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


def parents(cg):
    """The parent group in every hierarchy that has it."""
    out = []
    for ctl in sorted(os.listdir(CG_FS)):
        d = os.path.join(CG_FS, ctl, cg)
        if os.path.isdir(d):
            out.append(d)
    if os.path.isdir(os.path.join(CG_FS, cg)):
        out.append(os.path.join(CG_FS, cg))
    return out


def box_groups(cg):
    return [os.path.join(p, x) for p in parents(cg) for x in os.listdir(p) if x.startswith("box-")]


def procs_in_tree(group):
    n = 0
    for d, _, _ in os.walk(group):
        with open(os.path.join(d, "cgroup.procs")) as f:
            n += len(f.read().split())
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


def wait_for(what, cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise Failure(f"{what}: not within {timeout} s")


def run(moat, cg, first, run_dir, tmp):
    sleeper = os.path.join(tmp, "sleep.py")
    with open(sleeper, "w") as f:
        f.write("import time\nprint('up', flush=True)\ntime.sleep(30)\n")
    hello = os.path.join(tmp, "hello.py")
    with open(hello, "w") as f:
        f.write("print('hi')\n")
    common = ["run", "--json", "--cgroup-name", cg, "--first-uid", str(first),
              "--uid-count", str(UID_COUNT), "--run-dir", run_dir]

    # 1. A step that would last 30 s; wait until the program runs.
    p = subprocess.Popen([moat] + common + ["--wall-time-limit", "40000", sleeper],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for("box cgroup", lambda: box_groups(cg), 30)
        prog = wait_for("program running as a box uid",
                        lambda: [x for x in uid_procs(first) if x[1].startswith("python")], 30)
        family = descendants(p.pid)
        inits = [pid for pid in family if proc_status(pid) and proc_status(pid)[0] == "moat-box"]
        check(len(inits) >= 1, "box init is moat's child", family)
        check(p.poll() is None, "moat still running", p.returncode)
    except BaseException:
        p.kill()
        p.wait()
        raise

    # 2. kill -9 moat: every process of the box dies with it.
    t0 = time.monotonic()
    p.kill()
    p.wait()
    try:
        wait_for("box processes gone after kill -9",
                 lambda: not [pid for pid in family if live(pid)] and not uid_procs(first), 2.0)
    except Failure:
        raise Failure("box processes survived moat: " +
                      repr([(pid, proc_status(pid)) for pid in family if live(pid)] + uid_procs(first)))
    died_ms = (time.monotonic() - t0) * 1000
    print(f"box processes gone {died_ms:.0f} ms after kill -9 (program {prog})")

    # 3. What stays: the box's cgroup, empty, in every hierarchy.
    left = box_groups(cg)
    check(left, "the box cgroup of a killed moat stays until the next sweep", left)
    for g in left:
        check(procs_in_tree(g) == 0, f"{g} holds no process", procs_in_tree(g))

    # 4. The next moat with the same name and uids sweeps it.
    r = subprocess.run([moat] + common + [hello], capture_output=True, timeout=120)
    try:
        res = json.loads(r.stdout)
    except ValueError:
        raise Failure(f"second run: not JSON (rc {r.returncode})\n  stdout: {r.stdout!r}\n"
                      f"  stderr: {r.stderr!r}")
    check(r.returncode == 0 and res["verdict"] == "ok" and res["stdout"] == "hi\n",
          "second run works", (r.returncode, res, r.stderr))
    check(not box_groups(cg), "leftover cgroup swept", box_groups(cg))
    check(not parents(cg), "the last moat using the parent group removed it", parents(cg))
    check(not uid_procs(first), "no process of a box uid", uid_procs(first))


def cleanup(cg, first, run_dir):
    for pid, _ in uid_procs(first):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for g in box_groups(cg):
        remove_tree(g)
    ok = True
    for d in parents(cg):
        remove_tree(d)
        if os.path.exists(d):
            print(f"cleanup left {d} behind")
            ok = False
    shutil.rmtree(run_dir, ignore_errors=True)
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moat", required=True)
    ap.add_argument("--uid-base", type=int, required=True)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIPPED: the crash test runs real sandboxes and needs root")
        return 77
    pid = os.getpid()
    cg = f"moat-crash-{pid}"
    first = a.uid_base + (pid % 100) * UID_COUNT
    run_dir = tempfile.mkdtemp(prefix="moat-crash-run-")
    status = 0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run(a.moat, cg, first, run_dir, tmp)
        print("ok crash")
    except (Failure, subprocess.TimeoutExpired) as e:
        print(f"FAIL crash: {e}")
        status = 1
    finally:
        if not cleanup(cg, first, run_dir):
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
