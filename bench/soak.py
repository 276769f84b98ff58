#!/usr/bin/env python3
"""bench/soak.py: `moat serve` under a long, mixed, open-loop load.

Calibrates the server's saturation with the job mix first (jobs finished per
second with every executor busy), then submits at --load (0.7) of it for
--duration seconds: a mix of languages and verdicts (Python, bash, C from
the compile cache, a CPU time limit, a runtime error, a memory limit, an
output of 1-4 MiB, a job cancelled while it runs). Every --sample seconds
it reads the server's resident memory, open files and threads (moat-server
and the spawner with its boxes), the box cgroups and the box mounts.

It fails (exit 1) when, after the first --warmup fraction of the run, the
server's memory, files or threads grew by more than --growth (5 %) beyond
what its live jobs explain; when a submitted job is never answered; or when
anything of the boxes is left after the server stopped, or when, idle at
the end, there are box cgroups that neither a box nor a slot kept for
reuse explains. With --markdown it
prints the BENCHMARKS.md section.

  soak.py --moat build/moat --duration 3600          # the hour of BENCHMARKS.md
  soak.py --moat build/moat --duration 120           # make test's version
"""
import argparse
import json
import os
import random
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
sys.dont_write_bytecode = True
from e2e_util import Failure, check  # noqa: E402
from serve_util import Server, metric_sum  # noqa: E402

FINAL = ("completed", "failed", "cancelled")

C_HELLO = "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n"

# (weight, body, expected verdict or None for the cancelled ones)
MIX = [
    (30, {"language": "python", "code": "print(sum(range(1000)))"}, "ok"),
    (20, {"language": "bash", "code": "echo hi; x=$((6*7)); echo $x"}, "ok"),
    (15, {"language": "c", "code": C_HELLO}, "ok"),
    (8, {"language": "python", "code": "while True: pass", "timeoutMs": 200,
         "wallTimeoutMs": 2000}, "time_limit"),
    (8, {"language": "python", "code": "raise SystemExit(3)"}, "runtime_error"),
    (6, {"language": "python", "code": "b = bytearray(64 << 20)\nprint(len(b))",
         "memoryMb": 32}, "memory_limit"),
    (8, {"language": "python",
         "code": "import sys, random\nsys.stdout.write('x' * random.randint(1 << 20, 4 << 20))",
         "maxOutputKb": 4096}, "ok"),
    (5, {"language": "python", "code": "import time\ntime.sleep(5)", "timeoutMs": 1000,
         "wallTimeoutMs": 10000}, None),
]


def pick(rng):
    total = sum(w for w, _, _ in MIX)
    x = rng.uniform(0, total)
    for w, body, want in MIX:
        x -= w
        if x <= 0:
            return body, want
    return MIX[-1][1], MIX[-1][2]


# ---------------------------------------------------------------- sampling

def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(p))
        except (OSError, ValueError, IndexError):
            pass
    return out


def pool_file(target, run_dir):
    """Whether an open file is one the box pool holds for a box or a slot
    kept for reuse: a cgroup directory, a uid lease, a network namespace.
    Their number follows the pool's (bounded by its size, checked exactly
    through the cgroups at the end), not the run's length."""
    return (target.startswith("/sys/fs/cgroup/") or target.startswith(run_dir + "/")
            or target.startswith("net:["))


def proc_numbers(pid, run_dir=None):
    """(rss MB, open files, threads) of one process; None when gone. With
    run_dir, the open files the box pool holds are not counted."""
    try:
        with open(f"/proc/{pid}/status") as f:
            st = dict(line.split(":", 1) for line in f if ":" in line)
        fds = 0
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue  # closed meanwhile
            fds += not (run_dir and pool_file(target, run_dir))
        return (int(st["VmRSS"].split()[0]) / 1024.0, fds, int(st["Threads"]))
    except (OSError, KeyError, ValueError):
        return None


def named(pids, word):
    for p in pids:
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if word in f.read():
                    return p
        except OSError:
            pass
    return None


def box_cgroups(name):
    """The box cgroups under the server's, and the hierarchies holding it
    (a box has one cgroup in each)."""
    n = hierarchies = 0
    root = "/sys/fs/cgroup"
    for hier in os.listdir(root):
        d = os.path.join(root, hier, name)
        if os.path.isdir(d):
            hierarchies += 1
            n += sum(1 for e in os.scandir(d) if e.is_dir())
    return n, hierarchies


def box_mounts(run_dir):
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if run_dir in line)


class Sampler:
    def __init__(self, srv):
        self.srv = srv
        self.rows = []

    def sample(self, t, live_jobs):
        top = self.srv.proc.pid
        kids = children(top)
        server = named([top] + kids, b"moat-server") or top
        spawner = named(children(server) + kids, b"__spawner")
        s = proc_numbers(server)
        sp = proc_numbers(spawner, self.srv.run_dir) if spawner else None
        row = {"t": round(t), "live": live_jobs,
               "server_rss_mb": round(s[0], 1) if s else None,
               "server_fds": s[1] if s else None, "server_threads": s[2] if s else None,
               "spawner_rss_mb": round(sp[0], 1) if sp else None,
               "spawner_fds": sp[1] if sp else None,
               "mounts": box_mounts(self.srv.run_dir)}
        row["cgroups"], row["hierarchies"] = box_cgroups(self.srv.cg)
        m, _ = self.srv.metrics()
        # the cgroups that exist by design: those of the boxes (warm and
        # busy) and of the slots freed boxes left for the next ones
        row["slots"] = (metric_sum(m, "moat_boxes_warm") + metric_sum(m, "moat_boxes_busy")
                        + metric_sum(m, "moat_box_slots_kept"))
        self.rows.append(row)
        return row


# ---------------------------------------------------------------- load

class Load:
    """Open-loop submissions; each job is then watched to its end."""

    def __init__(self, srv, rng):
        self.srv = srv
        self.rng = rng
        self.lock = threading.Lock()
        self.pending = {}  # id -> (want, submitted_at)
        self.done = 0
        self.bad = []
        self.verdicts = {}

    def submit(self):
        body, want = pick(self.rng)
        r = self.srv.post("/v1/jobs", body, timeout=30)
        if r.status == 429:
            with self.lock:
                self.verdicts["429"] = self.verdicts.get("429", 0) + 1
            return
        check(r.status == 202, "submission accepted", r)
        jid = r.json()["jobId"]
        with self.lock:
            self.pending[jid] = (want, time.monotonic())
        if want is None:
            threading.Timer(0.3, self.cancel, args=(jid,)).start()

    def cancel(self, jid):
        try:
            self.srv.request("DELETE", f"/v1/jobs/{jid}", timeout=30)
        except Failure:
            pass

    def poll(self):
        with self.lock:
            ids = list(self.pending)
        for jid in ids:
            r = self.srv.get(f"/v1/jobs/{jid}", timeout=30)
            j = r.json()
            if j.get("status") not in FINAL:
                continue
            with self.lock:
                want, _ = self.pending.pop(jid)
                self.done += 1
                v = j.get("verdict") or j["status"]
                self.verdicts[v] = self.verdicts.get(v, 0) + 1
                if want is not None and (j["status"] != "completed" or j["verdict"] != want):
                    self.bad.append((jid, want, j["status"], j.get("verdict"), j.get("error")))


def saturation(srv, rng, seconds):
    """Jobs of the mix finished per second with a backlog always queued."""
    load = Load(srv, rng)
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        while len(load.pending) < 24:
            load.submit()
        load.poll()
        time.sleep(0.05)
    rate = load.done / (time.monotonic() - t0)
    end = time.monotonic() + 60
    while load.pending and time.monotonic() < end:
        load.poll()
        time.sleep(0.1)
    return rate, load


def run(args):
    rng = random.Random(args.seed)
    srv = Server(args.moat, ["--workers", str(args.workers)] if args.workers else [],
                 label="soak")
    result = {}
    try:
        srv.start()
        sat, _ = saturation(srv, rng, args.calibrate)
        rate = sat * args.load
        result.update(saturation_jobs_per_s=round(sat, 1), rate_jobs_per_s=round(rate, 1))
        sampler = Sampler(srv)
        load = Load(srv, rng)
        t0 = time.monotonic()
        next_submit, next_sample, next_poll = t0, t0, t0
        sampler.sample(0, 0)
        while time.monotonic() - t0 < args.duration:
            now = time.monotonic()
            while next_submit <= now:
                load.submit()
                next_submit += rng.expovariate(rate)
            if now >= next_poll:
                load.poll()
                next_poll = now + 0.5
            if now >= next_sample:
                row = sampler.sample(now - t0, len(load.pending))
                if args.verbose:
                    print(json.dumps(row), flush=True)
                next_sample += args.sample
            time.sleep(min(0.02, max(0.0, next_submit - time.monotonic())))
        end = time.monotonic() + 120
        while load.pending and time.monotonic() < end:
            load.poll()
            time.sleep(0.2)
        # boxes freed, the pool refilled: a box being made between the
        # count of cgroups and the metrics is not a leak (bounded)
        for _ in range(20):
            time.sleep(0.5)
            if settled(sampler.sample(time.monotonic() - t0, len(load.pending))):
                break
            sampler.rows.pop()
        else:
            sampler.sample(time.monotonic() - t0, len(load.pending))
        result.update(jobs=load.done, verdicts=load.verdicts, unanswered=len(load.pending),
                      wrong=load.bad[:10], samples=sampler.rows)
        srv.stop()  # exits 0 and leaves no process, cgroup or parent cgroup
        result["left_mounts"] = box_mounts(srv.run_dir)
    finally:
        srv.cleanup()
    return result


def settled(row):
    """Idle, every box cgroup is a warm box's or a kept slot's: one in each
    hierarchy for each."""
    return row["cgroups"] == row["hierarchies"] * row["slots"]


def median(vals):
    s = sorted(vals)
    return s[len(s) // 2]


def growth(rows, key, warm_from):
    """The trend after warm-up, as a fraction: the median of the last third
    of the samples against the median of the first third (medians: a
    sample taken while a job's 4 MiB output is in flight is not growth)."""
    vals = [r[key] for r in rows if r["t"] >= warm_from and r[key] is not None]
    if len(vals) < 3:
        return 0.0
    third = max(1, len(vals) // 3)
    first, last = median(vals[:third]), median(vals[-third:])
    return (last - first) / first if first else 0.0


def verdict(result, args):
    problems = []
    if result["unanswered"]:
        problems.append(f"{result['unanswered']} jobs never final")
    if result["wrong"]:
        problems.append(f"jobs with an unexpected verdict: {result['wrong']}")
    if result["left_mounts"]:
        problems.append(f"{result['left_mounts']} box mounts left after the server stopped")
    rows = result["samples"]
    warm_from = args.duration * args.warmup
    for key in ("server_rss_mb", "server_fds", "server_threads", "spawner_rss_mb",
                "spawner_fds"):
        g = growth(rows, key, warm_from)
        result.setdefault("growth", {})[key] = round(g, 4)
        if g > args.growth:
            problems.append(f"{key} grew by {g:.1%} after warm-up (at most {args.growth:.0%})")
    first, last = rows[0], rows[-1]
    if not settled(last) or last["mounts"] > first["mounts"]:
        problems.append(f"idle at the end with box cgroups or mounts the pool does not hold: "
                        f"{first} -> {last}")
    return problems


def markdown(result, args):
    rows = result["samples"]
    out = [f"### Soak: {args.duration // 60} min at {args.load:.0%} of saturation",
           "",
           f"Command: `bench/soak.py --moat build/moat --duration {args.duration}`. Saturation "
           f"with the job mix: {result['saturation_jobs_per_s']} jobs/s; load "
           f"{result['rate_jobs_per_s']} jobs/s, open loop; {result['jobs']} jobs: "
           + ", ".join(f"{k} {v}" for k, v in sorted(result["verdicts"].items())) + ".",
           "",
           "| t (s) | live jobs | server RSS MB | server fds | server threads | spawner RSS MB "
           "| spawner fds (not the pool's) | box cgroups | box slots | box mounts |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        out.append(f"| {r['t']} | {r['live']} | {r['server_rss_mb']} | {r['server_fds']} | "
                   f"{r['server_threads']} | {r['spawner_rss_mb']} | {r['spawner_fds']} | "
                   f"{r['cgroups']} | {r['slots']} | {r['mounts']} |")
    out.append("")
    out.append("Growth after warm-up: " + ", ".join(f"{k} {v:+.1%}"
                                                   for k, v in result["growth"].items()))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moat", required=True)
    ap.add_argument("--duration", type=int, default=3600)
    ap.add_argument("--calibrate", type=int, default=20, help="seconds of saturation first")
    ap.add_argument("--load", type=float, default=0.7)
    ap.add_argument("--sample", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=0.25,
                    help="fraction of the run before growth is measured")
    ap.add_argument("--growth", type=float, default=0.05)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIPPED: moat serve runs real sandboxes and needs root")
        return 77
    try:
        result = run(args)
    except Failure as e:
        print(f"FAIL: {e}")
        return 1
    problems = verdict(result, args)
    if args.markdown:
        print(markdown(result, args))
    else:
        print(json.dumps({k: v for k, v in result.items() if k != "samples"}))
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
