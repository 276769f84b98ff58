"""The host's state as the hostile suite's runner checks it before and after
every case (run.py): files, processes, cgroups, mounts, SysV objects, the
device nodes' times, the kernel's unreclaimable slab, the disks' cache
flushes and the page cache. Python 3 standard library only."""
import hashlib
import os
import stat
import threading

# Host device nodes the boxes bind (read-only): their times must not move.
HOST_DEVICE_NODES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_state(path, content_only=False):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path), st.st_uid, st.st_gid)
    try:
        digest = sha256_file(path)
    except OSError as e:
        digest = "unreadable:%d" % e.errno
    if content_only:
        return digest
    return (digest, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode) | stat.S_IFMT(st.st_mode),
            st.st_size)


def snapshot_files(paths, proc_paths):
    snap = {p: file_state(p) for p in paths}
    snap.update({p: file_state(p, content_only=True) for p in proc_paths})
    return snap


def mountinfo():
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
        return f.read().splitlines()


def mount_point(line):
    return line.split(" ")[4]


# Mounted by the kernel itself on first access (by anyone on the host).
AUTOMOUNT_TYPES = {"tracefs", "debugfs", "securityfs", "configfs", "binfmt_misc", "fusectl",
                   "pstore", "bpf", "autofs"}


def kernel_automount(line):
    fstype = line.partition(" - ")[2].split(" ")[0]
    mp = mount_point(line)
    return fstype in AUTOMOUNT_TYPES and (mp.startswith("/sys/") or mp.startswith("/proc/"))


def cgroup_mounts():
    mps = set()
    for line in mountinfo():
        left, _, right = line.partition(" - ")
        fstype = right.split(" ")[0]
        if fstype in ("cgroup", "cgroup2"):
            mps.add(os.path.realpath(left.split(" ")[4]))
    return sorted(mps)


def uid_of_status(pid):
    try:
        with open("/proc/%s/status" % pid, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None, None
    uids, name = [], "?"
    for line in text.splitlines():
        if line.startswith("Uid:"):
            uids = [int(x) for x in line.split()[1:]]
        elif line.startswith("Name:"):
            name = line.split(None, 1)[1] if len(line.split(None, 1)) > 1 else "?"
    return uids, name


def box_processes(lo, hi):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        uids, name = uid_of_status(pid)
        if uids and any(lo <= u < hi for u in uids):
            found.append("pid %s (%s) uids %s" % (pid, name, uids))
    return found


def sysvipc_objects(lo, hi):
    found = []
    for kind in ("shm", "msg", "sem"):
        try:
            with open("/proc/sysvipc/" + kind, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        if not lines:
            continue
        head = lines[0].split()
        try:
            col = head.index("uid")
        except ValueError:
            continue
        for line in lines[1:]:
            parts = line.split()
            if len(parts) > col and lo <= int(parts[col]) < hi:
                found.append("%s: %s" % (kind, line.strip()))
    return found


def files_owned_by(root, lo, hi):
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if lo <= st.st_uid < hi or lo <= st.st_gid < hi:
                found.append("%s (uid %d gid %d)" % (p, st.st_uid, st.st_gid))
    return found


def device_times():
    """mtime and ctime of the host's device nodes (atime moves with any read
    on the host and is not compared)."""
    times = {}
    for p in HOST_DEVICE_NODES:
        try:
            st = os.stat(p)
            times[p] = (st.st_mtime_ns, st.st_ctime_ns)
        except OSError:
            times[p] = None
    return times


def meminfo_kb(key):
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class SlabWatch:
    """Samples the host's unreclaimable slab every 50 ms; the peak growth
    over the value before the case is what the case cost the kernel."""

    def __init__(self):
        self.base = meminfo_kb("SUnreclaim")
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, meminfo_kb("SUnreclaim") - self.base)
            self.stop.wait(0.05)

    def finish(self):
        self.stop.set()
        self.thread.join(timeout=2)
        self.peak = max(self.peak, meminfo_kb("SUnreclaim") - self.base)
        return self.peak // 1024


def disk_flushes():
    """Cache flush requests completed by every block device (field 16 of
    /sys/block/*/stat, Linux 5.5+)."""
    total = 0
    try:
        names = os.listdir("/sys/block")
    except OSError:
        return 0
    for name in names:
        try:
            with open("/sys/block/%s/stat" % name, encoding="ascii") as f:
                fields = f.read().split()
        except OSError:
            continue
        if len(fields) >= 16:
            total += int(fields[15])
    return total


PAGE = os.sysconf("SC_PAGE_SIZE")


def cache_file(path):
    """Reads path whole, so that its pages are in the host's page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass


def uncached_pages(path):
    """Pages of path not in the page cache (a RWF_NOWAIT read fails with
    EAGAIN exactly for those)."""
    missing = 0
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        buf = bytearray(1)
        for off in range(0, size, PAGE):
            try:
                os.preadv(fd, [buf], off, os.RWF_NOWAIT)
            except BlockingIOError:
                missing += 1
    finally:
        os.close(fd)
    return missing
