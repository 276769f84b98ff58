"""Helpers shared by the end-to-end scripts (run_test.py, crash_test.py,
serve_test.py and serve_util.py): failures and checks, waiting, files, and
the leftovers a moat may leave behind: processes of its box uids and the
cgroups under its cgroup name.

The scripts run as `python3 tests/e2e/<script>.py`, so this directory is on
sys.path and `import e2e_util` finds this file.
"""
import fcntl
import os
import signal
import time

CG_FS = "/sys/fs/cgroup"


class Failure(Exception):
    pass


def check(cond, what, got=None):
    if not cond:
        raise Failure(what + ("" if got is None else f"\n  got: {got!r}"[:3000]))


def wait_for(what, cond, timeout, interval=0.05):
    """cond()'s first true value; cond is tried once more at the deadline."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= end:
            raise Failure(f"{what}: not within {timeout} s")
        time.sleep(interval)


def write(tmp, name, text):
    """Write text (str or bytes) to tmp/name; return the path."""
    p = os.path.join(tmp, name)
    with open(p, "wb") as f:
        f.write(text if isinstance(text, bytes) else text.encode())
    return p


# ---- processes ----

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


def uid_procs(first, count):
    """(pid, name) of the live processes with any of their uids in
    [first, first + count)."""
    out = []
    for pid in all_pids():
        st = proc_status(pid)
        if st and st[2] != "Z" and any(first <= u < first + count for u in st[3]):
            out.append((pid, st[0]))
    return out


# ---- cgroups ----

def cgroup_parents(cg):
    """The parent group named cg in every hierarchy that has it."""
    out = []
    try:
        ctls = sorted(os.listdir(CG_FS))
    except OSError:
        ctls = []
    for ctl in ctls:
        d = os.path.join(CG_FS, ctl, cg)
        if os.path.isdir(d):
            out.append(d)
    if os.path.isdir(os.path.join(CG_FS, cg)):
        out.append(os.path.join(CG_FS, cg))
    return out


def box_groups(cg):
    """The box groups (box-*) under the parent group cg, in every hierarchy."""
    out = []
    for p in cgroup_parents(cg):
        try:
            out += [os.path.join(p, x) for x in os.listdir(p) if x.startswith("box-")]
        except OSError:
            pass
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


def procs_listed(group):
    """The pids (as text) listed in group and below."""
    out = []
    for d, _, _ in os.walk(group):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                out += f.read().split()
        except OSError:
            pass
    return out


def lease_free(run_dir, uid):
    """Whether no live moat holds the uid lease (an flock on run_dir/uid/UID)."""
    try:
        fd = os.open(os.path.join(run_dir, "uid", str(uid)), os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


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


def sweep_dead_runs(prefixes=("moat-e2e-srv-", "moat-e2e-own-")):
    """Remove the cgroups of test runs whose process is gone: a run killed
    at once (SIGKILL, a reboot of the test machine's session) cannot clean
    up, and a new run never reuses its names (they carry the dead run's
    pid). Only groups with no process left anywhere in them go; returns
    what was removed."""
    gone = []
    roots = [CG_FS] + [os.path.join(CG_FS, h) for h in sorted(os.listdir(CG_FS))
                       if os.path.isdir(os.path.join(CG_FS, h))]
    for root in roots:
        try:
            names = os.listdir(root)
        except OSError:
            continue
        for name in names:
            prefix = next((p for p in prefixes if name.startswith(p)), None)
            if not prefix:
                continue
            pid = name[len(prefix):].split("-")[0]
            path = os.path.join(root, name)
            if not pid.isdigit() or live(int(pid)) or not os.path.isdir(path) \
                    or procs_in_tree(path):
                continue
            remove_tree(path)
            if not os.path.exists(path):
                gone.append(path)
    return gone


def sweep(cg, first, count):
    """Kill the processes of the uids [first, first + count), remove the box
    groups and the parent groups of cg; return the parent groups that stay."""
    for pid, _ in uid_procs(first, count):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for g in box_groups(cg):
        remove_tree(g)
    left = []
    for d in cgroup_parents(cg):
        remove_tree(d)
        if os.path.exists(d):
            left.append(d)
    return left
