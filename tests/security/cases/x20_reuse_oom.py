# Touches memory until the cgroup's OOM killer ends it (--memory-limit 128):
# the slot it leaves has had an OOM kill and a peak at its limit, which
# x20_reuse_check.py, run next in the same slot, must not be charged with.
chunks = []
while True:
    chunks.append(bytearray(8 << 20))
    for i in range(0, len(chunks[-1]), 4096):
        chunks[-1][i] = 1
