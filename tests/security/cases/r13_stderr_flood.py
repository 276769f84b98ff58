# R13: a line on stdout, then flood stderr only. stdout is kept whole and
# not truncated; stderr is cut at its own cap.
import sys

print("hello", flush=True)
chunk = "e" * 65536
while True:
    sys.stderr.write(chunk)
    sys.stderr.flush()
