# Leaves an abstract unix name bound by a socket that no process holds: a
# datagram socket bound to @moat-reuse-cycle is in flight in a socket pair
# whose two ends are in flight in each other. Once every process is dead
# only the kernel's garbage collector frees them, and until it has, the
# name stays taken in the network namespace. A namespace reused before
# then would show the name to the next box; moat's check sees the socket
# and drops the namespace instead.
import socket

dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dg.bind("\0moat-reuse-cycle")
a, b = socket.socketpair()
socket.send_fds(a, [b"x"], [dg.fileno(), a.fileno()])
socket.send_fds(b, [b"y"], [b.fileno()])
for s in (dg, a, b):
    s.close()
probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
probe.connect("\0moat-reuse-cycle")
print("cycle left")
