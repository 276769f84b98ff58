# Leaves in its box everything a later box in the same slot might see:
# unix sockets (listening, connected with unread data, bound datagram),
# SysV IPC objects, files in /dev/shm, /tmp and /box, a daemon, 200 MB of
# touched memory and 1 s of CPU. Every one must work (exit 1 otherwise): a
# dirt that was never made proves nothing about the next box. Internet
# sockets are refused (seccomp). x20_reuse_cycle.py leaves a socket no
# process holds.
import ctypes
import os
import socket
import time

libc = ctypes.CDLL(None, use_errno=True)
KEY = 0x6D6F6174
IPC_CREAT = 0o1000


def need(ok, what):
    if not ok:
        print("failed: %s errno=%d" % (what, ctypes.get_errno()))
        raise SystemExit(1)


held = []
lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lst.bind("\0moat-reuse-listen")
lst.listen(8)
cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cli.connect("\0moat-reuse-listen")
conn, _ = lst.accept()
cli.send(b"unread")
dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dg.bind("\0moat-reuse-dgram")
held += [lst, cli, conn, dg]
for fam in (socket.AF_INET, socket.AF_INET6):
    try:
        socket.socket(fam, socket.SOCK_STREAM)
        need(False, "an internet socket was made")
    except PermissionError:
        pass

need(libc.shmget(KEY, 1 << 20, IPC_CREAT | 0o666) >= 0, "shmget")
need(libc.semget(KEY, 1, IPC_CREAT | 0o666) >= 0, "semget")
need(libc.msgget(KEY, IPC_CREAT | 0o666) >= 0, "msgget")

for path in ("/dev/shm/moat-reuse", "/tmp/moat-reuse", "/box/moat-reuse"):
    with open(path, "wb") as f:
        f.write(b"x" * 65536)

if os.fork() == 0:
    os.setsid()
    time.sleep(60)
    os._exit(0)

big = bytearray(200 << 20)
for i in range(0, len(big), 4096):
    big[i] = 1
t0 = time.process_time()
while time.process_time() - t0 < 1.0:
    pass
print("dirty")
