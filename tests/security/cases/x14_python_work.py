# Ordinary Python work that must keep working: computation, files in /box
# and /tmp, a subprocess, json, sqlite (if present), hashlib.
import hashlib
import json
import os
import subprocess
import tempfile

primes = [n for n in range(2, 20000) if all(n % d for d in range(2, int(n ** 0.5) + 1))]
print("primes=%d" % len(primes))
with open("data.json", "w") as f:
    json.dump({"p": primes[:10]}, f)
with open("data.json") as f:
    print("json=%s" % json.load(f)["p"])
with tempfile.NamedTemporaryFile("w", delete=False) as t:
    t.write("x" * 100000)
print("tmp=%d" % os.path.getsize(t.name))
print("sha=%s" % hashlib.sha256(b"moat").hexdigest()[:16])
print("sub=%s" % subprocess.run(["echo", "hi"], capture_output=True, text=True).stdout.strip())
