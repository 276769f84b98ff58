# R13: flood stdout. The step ends with output_limit as soon as the stream
# passes its cap, long before the CPU or wall limit; exactly the cap is kept.
import sys

chunk = "x" * 65536
while True:
    sys.stdout.write(chunk)
    sys.stdout.flush()
