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
import subprocess
import sys
import tempfile
import time

from e2e_util import (Failure, box_groups, cgroup_parents, check, descendants, live,
                      proc_status, procs_in_tree, sweep, uid_procs, wait_for, write)

UID_COUNT = 4


def run(moat, cg, first, run_dir, tmp):
    sleeper = write(tmp, "sleep.py", "import time\nprint('up', flush=True)\ntime.sleep(30)\n")
    hello = write(tmp, "hello.py", "print('hi')\n")

    def box_procs():
        return uid_procs(first, UID_COUNT)

    common = ["run", "--json", "--cgroup-name", cg, "--first-uid", str(first),
              "--uid-count", str(UID_COUNT), "--run-dir", run_dir]

    # 1. A step that would last 30 s; wait until the program runs.
    p = subprocess.Popen([moat] + common + ["--wall-time-limit", "40000", sleeper],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for("box cgroup", lambda: box_groups(cg), 30, 0.02)
        prog = wait_for("program running as a box uid",
                        lambda: [x for x in box_procs() if x[1].startswith("python")], 30, 0.02)
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
                 lambda: not [pid for pid in family if live(pid)] and not box_procs(), 2.0, 0.02)
    except Failure:
        raise Failure("box processes survived moat: " +
                      repr([(pid, proc_status(pid)) for pid in family if live(pid)] + box_procs()))
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
    check(not cgroup_parents(cg), "the last moat using the parent group removed it",
          cgroup_parents(cg))
    check(not box_procs(), "no process of a box uid", box_procs())


def cleanup(cg, first, run_dir):
    left = sweep(cg, first, UID_COUNT)
    for d in left:
        print(f"cleanup left {d} behind")
    shutil.rmtree(run_dir, ignore_errors=True)
    return not left


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
