# Runs in the box slot a dirty program (x_reuse_dirty.*) left: looks for
# each thing it left and must find none. Its own CPU time and peak memory
# are checked by the runner (the slot's counters must not carry over).
import ctypes
import os
import socket

libc = ctypes.CDLL(None, use_errno=True)
KEY = 0x6D6F6174


def seen(name, found):
    print("%s: %s" % (name, "FOUND" if found else "none"))


for name, kind in (("moat-reuse-listen", socket.SOCK_STREAM),
                   ("moat-reuse-dgram", socket.SOCK_DGRAM),
                   ("moat-reuse-cycle", socket.SOCK_DGRAM)):
    s = socket.socket(socket.AF_UNIX, kind)
    try:
        s.connect("\0" + name)
        found = True
    except ConnectionRefusedError:
        found = False
    seen("abstract @" + name, found)
    s.close()
    s = socket.socket(socket.AF_UNIX, kind)
    try:
        s.bind("\0" + name)
        seen("abstract @%s taken" % name, False)
    except OSError:
        seen("abstract @%s taken" % name, True)
    s.close()

for what, call in (("shm", lambda: libc.shmget(KEY, 0, 0)),
                   ("sem", lambda: libc.semget(KEY, 0, 0)),
                   ("msg", lambda: libc.msgget(KEY, 0))):
    seen("sysv " + what, call() >= 0)

for path in ("/dev/shm/moat-reuse", "/tmp/moat-reuse", "/box/moat-reuse"):
    seen(path, os.path.lexists(path))

others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
seen("other processes", bool(others))
