#!/usr/bin/env python3
"""bench/judge_bench.py: the measuring half of bench/judge.sh.

A C++ problem with N tests (default 20), three ways, each from a cold
compile (the program carries a fresh comment each round, so the compile
cache has never seen it):

  tests       one job with N tests: compiled once, each test in a box of
              its own, in parallel on free boxes
  concurrent  N separate sync submissions of the same program sent at once
              (those that start together each compile; the others find
              the compile cache filled)
  sequential  N separate sync submissions one after another (the first
              compiles, the others hit the compile cache)
  uncached    N separate sync submissions one after another, each source
              new to the compile cache (what a server without moat's cache,
              Judge0's, does for every one: compile and run)

For each: the wall time from the first request to the last answer, and the
host CPU spent in that window, median over ROUNDS rounds. Prints JSON;
with --markdown, a section for BENCHMARKS.md.

Standard library only; needs root (boxes) and the release build.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from api_bench import Client, host_cpu  # noqa: E402
from serve_util import die_with_test  # noqa: E402

PROGRAM = """// round {nonce}
#include <bits/stdc++.h>
int main() {{
    long n; std::cin >> n;
    std::vector<long> v(n);
    for (auto &x : v) std::cin >> x;
    std::sort(v.begin(), v.end());
    std::cout << std::accumulate(v.begin(), v.end(), 0L) << " " << v.back() << "\\n";
}}
"""


def case(i):
    n = 50 + i
    vals = [(i * 7919 + k * 104729) % 100003 for k in range(n)]
    return (f"{n}\n" + " ".join(map(str, vals)) + "\n", f"{sum(vals)} {max(vals)}\n")


def start_server(moat, workdir, workers, boxes):
    data = tempfile.mkdtemp(prefix="bench-judge-", dir=workdir)
    log = open(os.path.join(workdir, "server.log"), "ab")
    start = log.tell()
    p = subprocess.Popen([moat, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
                          "--workers", str(workers), "--warm-boxes", str(boxes),
                          "--cgroup-name", f"moat-bench-judge-{os.getpid()}",
                          "--first-uid", "3900000", "--uid-count", "64"],
                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                         preexec_fn=die_with_test)
    end = time.monotonic() + 180
    port = None
    while time.monotonic() < end and port is None:
        with open(log.name, "rb") as f:
            f.seek(start)
            m = re.search(rb"event=listening.* port=(\d+)", f.read())
        if m:
            port = int(m.group(1))
        elif p.poll() is not None:
            raise SystemExit(f"moat serve exited {p.returncode}")
        else:
            time.sleep(0.05)
    if port is None:
        raise SystemExit("moat serve: not listening within 180 s")
    c = Client(port)
    while c.request("GET", "/readyz")[0] != 200:
        if time.monotonic() > end:
            p.terminate()
            raise SystemExit("moat serve: not ready within 180 s")
        time.sleep(0.1)
    return p, port


def post(port, body):
    status, raw = Client(port).request("POST", "/v1/jobs", json.dumps(body))
    j = json.loads(raw)
    if status != 200 or j.get("status") != "completed":
        raise SystemExit(f"a job answered {status}: {raw[:300]!r}")
    return j


def measure(fn):
    cpu0 = host_cpu()
    t0 = time.monotonic()
    fn()
    wall = time.monotonic() - t0
    cpu1 = host_cpu()
    busy = (cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1])
    return wall, busy * (os.cpu_count() or 1) * wall


def one_round(port, n):
    cases = [case(i) for i in range(n)]
    out = {}

    def tests():
        j = post(port, {"language": "cpp", "code": PROGRAM.format(nonce=uuid.uuid4()),
                        "wait": True,
                        "tests": [{"stdin": i, "expectedOutput": o} for i, o in cases]})
        verdicts = {t["verdict"] for t in j["tests"]}
        if verdicts != {"accepted"} or j["compile"]["cached"]:
            raise SystemExit(f"tests: {verdicts}, cached {j['compile']['cached']}")

    def separate(concurrent, fresh=False):
        code = PROGRAM.format(nonce=uuid.uuid4())
        bodies = [{"language": "cpp", "code": PROGRAM.format(nonce=uuid.uuid4()) if fresh else code,
                   "stdin": i, "expectedOutput": o, "wait": True} for i, o in cases]
        if not concurrent:
            for b in bodies:
                if post(port, b)["verdict"] != "ok":
                    raise SystemExit("sequential: a wrong answer")
            return
        errors = []

        def one(b):
            try:
                if post(port, b)["verdict"] != "ok":
                    errors.append("wrong answer")
            except BaseException as e:  # noqa: B036 (re-raised below)
                errors.append(str(e))
        ts = [threading.Thread(target=one, args=(b,)) for b in bodies]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise SystemExit(f"concurrent: {errors[:3]}")

    for name, fn in (("tests", tests), ("concurrent", lambda: separate(True)),
                     ("sequential", lambda: separate(False)),
                     ("uncached", lambda: separate(False, True))):
        out[name] = measure(fn)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moat", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--tests", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--boxes", type=int, default=4)
    ap.add_argument("--markdown")
    ap.add_argument("--head", default="")
    a = ap.parse_args()
    p, port = start_server(a.moat, a.workdir, a.workers, a.boxes)
    try:
        rounds = [one_round(port, a.tests) for _ in range(a.rounds)]
    finally:
        p.terminate()
        p.wait(60)
    med = {}
    for name in rounds[0]:
        walls = sorted(r[name][0] for r in rounds)
        cpus = sorted(r[name][1] for r in rounds)
        med[name] = {"wall_s": walls[len(walls) // 2], "cpu_s": cpus[len(cpus) // 2]}
    result = {"tests": a.tests, "rounds": a.rounds, "workers": a.workers, "boxes": a.boxes,
              "median": med}
    print(json.dumps(result))
    if a.markdown:
        t = med["tests"]
        rows = [("one job, %d tests (compiled once)" % a.tests, "tests"),
                ("%d submissions at once (the first of each executor compiles)" % a.tests,
                 "concurrent"),
                ("%d submissions one after another (compile cache)" % a.tests, "sequential"),
                ("%d submissions one after another, each compiled" % a.tests, "uncached")]
        lines = ["## Judging: compile once, run many tests", "", a.head, "",
                 f"A C++ problem, {a.tests} tests, `moat serve --workers {a.workers} "
                 f"--warm-boxes {a.boxes}`, every round from a cold compile (a fresh comment "
                 f"in the source); medians of {a.rounds} rounds. Host CPU is the busy time of "
                 "every CPU in the window.", "",
                 "| how | wall s | host CPU s | × the tests job (wall) | × (CPU) |",
                 "| --- | ---: | ---: | ---: | ---: |"]
        for label, key in rows:
            m = med[key]
            lines.append(f"| {label} | {m['wall_s']:.2f} | {m['cpu_s']:.2f} | "
                         f"{m['wall_s'] / t['wall_s']:.2f}× | {m['cpu_s'] / t['cpu_s']:.2f}× |")
        with open(a.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
