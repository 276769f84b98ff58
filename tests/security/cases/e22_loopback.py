# E22 (Judge0 CVE-2024-29021 class): reach a service on the host's loopback.
# argv[1]/argv[2] are ports where the runner listens on 127.0.0.1 and ::1;
# the others are the usual internal services. The runner checks that its
# listeners got no connection.
import socket
import sys

targets = [("127.0.0.1", int(sys.argv[1])), ("::1", int(sys.argv[2]))]
targets += [("127.0.0.1", p) for p in (22, 2358, 5432, 6379, 8080)]
for host, port in targets:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    label = "runner" if port in (int(sys.argv[1]), int(sys.argv[2])) else str(port)
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
    except OSError as e:
        print("%s %s: socket %s" % (host, label, type(e).__name__))
        continue
    try:
        s.settimeout(2)
        s.connect((host, port))
        print("%s %s: CONNECTED" % (host, label))
    except OSError as e:
        print("%s %s: connect %s" % (host, label, type(e).__name__))
    finally:
        s.close()
