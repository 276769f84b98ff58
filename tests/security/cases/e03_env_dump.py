# E3: the environment holds the documented variables only, both as the
# interpreter sees it and in /proc/self/environ; nothing of moat's own
# environment (the runner plants secrets there) reaches the program.
import os

for k in sorted(os.environ):
    print("env %s=%s" % (k, os.environ[k]))
with open("/proc/self/environ", "rb") as f:
    raw = f.read()
names = sorted(e.split(b"=", 1)[0].decode() for e in raw.split(b"\0") if e)
print("proc environ names: " + " ".join(names))
print("same names: %s" % ("yes" if names == sorted(os.environ) else "no"))
