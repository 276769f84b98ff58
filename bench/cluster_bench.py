#!/usr/bin/env python3
"""bench/cluster_bench.py: the measuring half of bench/cluster.sh.

Starts a throw-away PostgreSQL and nats-server (tests/servers/) on loopback,
moat nodes on them, and measures, printing one JSON object:

  ingest    durable async submissions/s (wrk -c64, POST /v1/jobs on an
            API-only node): SQLite + the in-process queue, PostgreSQL + the
            in-process queue, PostgreSQL + JetStream; in one run
  sync      sync (wait=true) Python hello world, one at a time: the embedded
            node (SQLite, in-process queue, two executors) against an API
            node and a worker (PostgreSQL, JetStream, two executors)
  scaling   jobs that sleep 200 ms (no CPU) on 1, 2, 4 and 8 workers of 4
            boxes each: jobs/s from the first submission to the last final
            event, against the ideal boxes / 0.2 s
  stages    seed 000's client (POST /job, poll GET /job/{id}, GET
            /job/{id}/output) on the cluster: client-side latencies of each
            request, and the server's stage histograms (store insert and
            get, JetStream publish, queue wait, start and finish writes,
            execution) as p50/p95/p99 from the nodes' /metrics

Standard library only; needs root (boxes) and the release build.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "servers"))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
from api_bench import Client, host_cpu, summary_ms  # noqa: E402
from serve_util import die_with_test  # noqa: E402
from nats import NatsServer  # noqa: E402
from postgres import PostgresServer  # noqa: E402
from cluster_util import NatsClient  # noqa: E402

HIST_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\{(.*)le="([^"]+)"\}\s+(\S+)')


def log(msg):
    print(f"cluster_bench: {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


class Node:
    """A moat node started from the release binary, its log in workdir."""
    count = 0

    def __init__(self, moat, role, args, workdir):
        Node.count += 1
        self.name = f"{role}-{Node.count}"
        self.data = tempfile.mkdtemp(prefix=f"bench-cluster-{self.name}-", dir=workdir)
        self.log_path = os.path.join(workdir, self.name + ".log")
        cmd = [moat, role, "--listen", "127.0.0.1:0", "--data-dir", self.data,
               "--node", self.name, "--cgroup-name", f"moat-bench-{os.getpid()}-{Node.count}",
               "--first-uid", str(3700000 + Node.count * 64), "--uid-count", "64"] + list(args)
        self.logf = open(self.log_path, "ab")
        start = self.logf.tell()  # the log of this start, not an earlier one's
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, cwd=workdir,
                                     preexec_fn=die_with_test)
        self.port = None
        end = time.monotonic() + 180
        while time.monotonic() < end and self.port is None:
            with open(self.log_path, "rb") as f:
                f.seek(start)
                m = re.search(r"event=listening.* port=(\d+)", f.read().decode(errors="replace"))
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited {self.proc.returncode}: "
                                 + open(self.log_path, errors="replace").read()[-1500:])
            else:
                time.sleep(0.05)
        if self.port is None:
            raise SystemExit(f"{self.name}: not listening within 180 s")
        self.client = Client(self.port)

    def ready(self, timeout=180):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.client.request("GET", "/readyz")[0] == 200:
                return self
            time.sleep(0.1)
        raise SystemExit(f"{self.name}: /readyz not 200 within {timeout} s")

    def metrics_text(self):
        status, body = self.client.request("GET", "/metrics")
        return body.decode("utf-8", "replace") if status == 200 else ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()


class Cluster:
    """The engines and the nodes of one measurement, stopped together."""

    def __init__(self, args):
        self.args = args
        self.nodes = []
        self.pg = self.nats = None

    def engines(self):
        if not self.pg:
            self.pg = PostgresServer().start()
            self.nats = NatsServer().start()
        return ["--store", self.pg.url, "--queue", self.nats.url]

    def node(self, role, *flags):
        n = Node(self.args.moat, role, list(flags), self.args.workdir)
        self.nodes.append(n)
        return n

    def stop_nodes(self):
        for n in self.nodes:
            n.stop()
        self.nodes = []

    def close(self):
        self.stop_nodes()
        for s in (self.nats, self.pg):
            if s:
                s.close()
        self.pg = self.nats = None


# ---------------------------------------------------------------- ingest

def ingest(args, cl):
    body = json.dumps({"language": "python", "code": "print(1)\n"})
    out = {}
    setups = [("sqlite_local", []), ("postgres_local", None), ("postgres_jetstream", None)]
    for name, flags in setups:
        if name == "postgres_local":
            flags = ["--store", cl.engines()[1]]
        elif name == "postgres_jetstream":
            flags = cl.engines()
        n = cl.node("serve", "--no-exec", "--max-queue", "10000000", "--workers", "2",
                    *flags)
        p = subprocess.run([sys.executable, os.path.join(HERE, "api_bench.py"), "load",
                            "--port", str(n.port), "--pid", str(n.proc.pid), "--tool", "wrk",
                            "--method", "POST", "--path", "/v1/jobs", "--body", body,
                            "--conc", "64", "--duration", str(args.duration),
                            "--workdir", args.workdir], capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"ingest {name}: {p.stderr[-800:]}")
        out[name] = json.loads(p.stdout)
        log(f"ingest {name}: {out[name].get('rps')} req/s")
        cl.stop_nodes()
    return out


# ---------------------------------------------------------------- sync

def stamp(text):
    """Seconds since the epoch of an API time (2026-12-07T21:33:01.123Z)."""
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def sync_latency(args, cl):
    body = json.dumps({"language": "python", "code": "print('hello')\n", "wait": True})
    out = {}
    for name in ("embedded", "cluster"):
        if name == "embedded":
            api = cl.node("serve", "--workers", "2")
            api.ready()
        else:
            eng = cl.engines()
            api = cl.node("serve", "--no-exec", *eng)
            cl.node("worker", "--workers", "2", *eng).ready()
        walls, parts = [], {"to_started": [], "running": [], "to_answer": []}
        for i in range(args.sync_warmup + args.sync_n):
            sent = time.time()
            t0 = time.perf_counter()
            status, raw = api.client.request("POST", "/v1/jobs", body)
            dt = time.perf_counter() - t0
            answered = time.time()
            job = json.loads(raw)
            if status != 200 or job.get("output") != "hello\n":
                raise SystemExit(f"sync {name}: {status} {raw[:300]!r}")
            if i >= args.sync_warmup:
                walls.append(dt)
                # where the time went, from the job's own times (ms resolution)
                c, s, f = (stamp(job[k]) for k in ("createdAt", "startedAt", "finishedAt"))
                parts["to_started"].append(s - sent)
                parts["running"].append(f - s)
                parts["to_answer"].append(answered - f)
            time.sleep(0.005)
        out[name] = summary_ms(walls)
        out[name]["parts_p50"] = {k: summary_ms(v)["p50"] for k, v in parts.items()}
        log(f"sync {name}: p50 {out[name]['p50']:.2f} ms")
        cl.stop_nodes()
    return out


# ---------------------------------------------------------------- scaling

def scaling(args, cl):
    eng = cl.engines()
    api = cl.node("serve", "--no-exec", "--max-queue", "1000000", *eng)
    out = []
    workers = []
    for w in args.workers:
        while len(workers) < w:
            workers.append(cl.node("worker", "--workers", str(args.boxes), "--warm-boxes",
                                   str(args.boxes), *eng))
        for n in workers:
            n.ready()
        boxes = w * args.boxes
        n_jobs = args.jobs_per_box * boxes
        nc = NatsClient(cl.nats.url)
        sid = nc.subscribe("moat.events.final.>")
        body = json.dumps({"language": "bash", "code": "sleep 0.2\n"})
        ids = set()
        lock = threading.Lock()

        def submit(k):
            c = Client(api.port)
            for _ in range(k):
                status, raw = c.request("POST", "/v1/jobs", body)
                if status != 202:
                    raise SystemExit(f"scaling: submit answered {status}: {raw[:200]!r}")
                with lock:
                    ids.add(json.loads(raw)["jobId"])
        cpu0 = host_cpu()
        t0 = time.monotonic()
        threads = [threading.Thread(target=submit, args=(n_jobs // 8 + (i < n_jobs % 8),))
                   for i in range(8)]
        for t in threads:
            t.start()
        done = set()
        times = []  # when each job's final event came, s after the first submission
        end = t0 + 300
        while len(done) < n_jobs and time.monotonic() < end:
            try:
                _, _, _, data = nc.next(sid, 5)
            except Exception:
                continue
            ev = json.loads(data)
            if ev.get("status") != "completed":
                raise SystemExit(f"scaling: a job ended {ev}")
            if ev["jobId"] not in done:
                times.append(time.monotonic() - t0)
            done.add(ev["jobId"])
        elapsed = time.monotonic() - t0
        cpu1 = host_cpu()
        for t in threads:
            t.join()
        nc.close()
        if len(done) < n_jobs:
            raise SystemExit(f"scaling: {len(done)} of {n_jobs} final within 300 s")
        rate = n_jobs / elapsed
        k99 = max(1, int(n_jobs * 0.99))
        rate99 = k99 / sorted(times)[k99 - 1]
        ideal = boxes / 0.2
        busy = (cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1])
        out.append({"workers": w, "boxes": boxes, "jobs": n_jobs, "elapsed_s": elapsed,
                    "jobs_per_s": rate, "ideal": ideal, "ratio": rate / ideal,
                    "ratio99": rate99 / ideal, "last_s": elapsed,
                    "p99_s": sorted(times)[k99 - 1],
                    "host_busy": busy, "cpu_ms_per_job": busy * os.cpu_count() * elapsed
                    * 1000.0 / n_jobs})
        log(f"scaling {w} workers: {rate:.1f} jobs/s, {rate / ideal:.2f}x ideal")
    cl.stop_nodes()
    return out


# ---------------------------------------------------------------- stages

def histograms(text):
    """{(name, labels without le): [(le, cumulative count)]}"""
    out = {}
    for line in text.splitlines():
        m = HIST_RE.match(line)
        if m:
            labels = m.group(2).rstrip(",")
            out.setdefault((m.group(1), labels), []).append(
                (float("inf") if m.group(3) == "+Inf" else float(m.group(3)), float(m.group(4))))
    return out


def quantile(buckets, q):
    """Prometheus' histogram_quantile over (le, cumulative) deltas, in ms."""
    buckets = sorted(buckets)
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return None
    rank = q * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if le == float("inf"):
                return prev_le * 1000.0
            frac = (rank - prev_c) / (c - prev_c) if c > prev_c else 1.0
            return (prev_le + (le - prev_le) * frac) * 1000.0
        prev_le, prev_c = le, c
    return prev_le * 1000.0


def stage_table(before, after, wanted):
    rows = {}
    for label, (name, labels) in wanted.items():
        b = dict(before.get((name, labels), []))
        a = after.get((name, labels), [])
        delta = [(le, c - b.get(le, 0.0)) for le, c in a]
        if delta and delta[-1][1] > 0:
            rows[label] = {"n": int(delta[-1][1]), "p50": quantile(delta, 0.5),
                           "p95": quantile(delta, 0.95), "p99": quantile(delta, 0.99)}
    return rows


def merged(texts):
    out = {}
    for t in texts:
        for k, v in histograms(t).items():
            acc = dict(out.get(k, []))
            for le, c in v:
                acc[le] = acc.get(le, 0.0) + c
            out[k] = sorted(acc.items())
    return out


def stages(args, cl):
    eng = cl.engines()
    api = cl.node("serve", "--no-exec", *eng)
    workers = [cl.node("worker", "--workers", "2", *eng) for _ in range(2)]
    for w in workers:
        w.ready()
    nodes = [api] + workers
    before = merged(n.metrics_text() for n in nodes)
    code = "#include <stdio.h>\nint main(){puts(\"Hello World\");}\n"
    lat = {"POST /job": [], "GET /job/{id} until final": [], "GET /job/{id}/output": []}
    lock = threading.Lock()

    def client_loop(k):
        c = Client(api.port)
        for i in range(k):
            body = json.dumps({"code": code, "executionEngine": "c", "tags": ["bench"]})
            t0 = time.perf_counter()
            status, raw = c.request("POST", "/job", body)
            t1 = time.perf_counter()
            if status not in (200, 201, 202):
                raise SystemExit(f"stages: POST /job answered {status}: {raw[:200]!r}")
            jid = json.loads(raw)["id"]
            while True:
                status, raw = c.request("GET", f"/job/{jid}")
                if json.loads(raw).get("status") in ("Completed", "Failed", "Cancelled"):
                    break
                time.sleep(0.005)
            t2 = time.perf_counter()
            status, out = c.request("GET", f"/job/{jid}/output")
            t3 = time.perf_counter()
            if status != 200 or out != b"Hello World\n":
                raise SystemExit(f"stages: output {status} {out[:100]!r}")
            with lock:
                lat["POST /job"].append(t1 - t0)
                lat["GET /job/{id} until final"].append(t2 - t1)
                lat["GET /job/{id}/output"].append(t3 - t2)
    threads = [threading.Thread(target=client_loop, args=(args.stage_jobs // 4,))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = merged(n.metrics_text() for n in nodes)
    wanted = {
        "store insert (job and code blob, group commit)":
            ("moat_store_write_seconds", 'op="insert"'),
        "JetStream publish": ("moat_queue_publish_seconds", ""),
        "store get (job, output blob)": ("moat_store_read_seconds", 'op="get"'),
        "queue wait (accepted to started)": ("moat_queue_wait_seconds", ""),
        "store start (fenced)": ("moat_store_write_seconds", 'op="start"'),
        "compile": ("moat_compile_seconds", ""),
        "execution (run step, wall)": ("moat_run_seconds", ""),
        "store finish (result and output blobs)": ("moat_store_write_seconds", 'op="finish"'),
    }
    out = {"client": {k: summary_ms(v) for k, v in lat.items()},
           "server": stage_table(before, after, wanted)}
    cl.stop_nodes()
    return out


def fmt(v, unit=""):
    return "n/a" if v is None else f"{v:.2f}{unit}"


def markdown(res, head):
    """The BENCHMARKS.md section of a run's results."""
    L = ["## Cluster: PostgreSQL and NATS JetStream", "", head, ""]
    if "ingest" in res:
        r = res["ingest"]
        base = r["sqlite_local"]["rps"]
        L += ["### Durable submissions (wrk -c64, POST /v1/jobs, API-only node)", "",
              "| store + queue | req/s | p50 ms | p99 ms | × SQLite | target |",
              "| --- | ---: | ---: | ---: | ---: | --- |"]
        for name, label, target in (
                ("sqlite_local", "SQLite + in-process queue", ""),
                ("postgres_local", "PostgreSQL + in-process queue", "≥ 0.5×"),
                ("postgres_jetstream", "PostgreSQL + JetStream", "")):
            x = r[name]
            L.append(f"| {label} | {x['rps']:.0f} | {fmt(x['p50_ms'])} | {fmt(x['p99_ms'])} | "
                     f"{x['rps'] / base:.2f}× | {target} |")
        L.append("")
    if "sync" in res:
        e, c = res["sync"]["embedded"], res["sync"]["cluster"]
        L += ["### Sync Python hello world, one at a time (wait=true)", "",
              "| mode | p50 ms | p95 ms | p99 ms |", "| --- | ---: | ---: | ---: |",
              f"| embedded (SQLite, in-process queue) | {fmt(e['p50'])} | {fmt(e['p95'])} | "
              f"{fmt(e['p99'])} |",
              f"| cluster (API node → JetStream → worker → PostgreSQL → event) | "
              f"{fmt(c['p50'])} | {fmt(c['p95'])} | {fmt(c['p99'])} |", "",
              f"The cluster adds {c['p50'] - e['p50']:+.2f} ms at p50 (target ≤ +3 ms). Where "
              "the time goes (p50 ms, from the jobs' own createdAt/startedAt/finishedAt, "
              "1 ms resolution, against the client's clock on the same host):", "",
              "| mode | sent → started | started → finished | finished → answered |",
              "| --- | ---: | ---: | ---: |"]
        for label, x in (("embedded", e), ("cluster", c)):
            p = x.get("parts_p50", {})
            L.append(f"| {label} | {fmt(p.get('to_started'))} | {fmt(p.get('running'))} | "
                     f"{fmt(p.get('to_answer'))} |")
        L += ["", "Sent → started: in the embedded mode the executor starts the job while its "
              "insert commits; in the cluster the API node publishes it while the insert "
              "commits, with a copy of the job in the message, and the worker runs it from "
              "that copy (its start waits in PostgreSQL for the row), so this is the "
              "publish, JetStream's delivery and the take. Started → finished is the run, "
              "the same box in both. Finished → answered holds the result's commit, and in "
              "the cluster the final event, which carries the final job, so the API node "
              "answers without reading it back.", ""]
    if "scaling" in res:
        L += ["### Dispatch scaling (jobs sleeping 200 ms, 4 boxes per worker)", "",
              "| workers | boxes | jobs | jobs/s | ideal (boxes ÷ 0.2 s) | × ideal | 99% of the "
              "jobs final after | × ideal to 99% | host CPU busy | host CPU per job |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for x in res["scaling"]:
            L.append(f"| {x['workers']} | {x['boxes']} | {x['jobs']} | {x['jobs_per_s']:.1f} | "
                     f"{x['ideal']:.0f} | {x['ratio']:.2f}× | {x['p99_s']:.2f} s (all: "
                     f"{x['last_s']:.2f} s) | {x['ratio99']:.2f}× | {x['host_busy'] * 100:.0f}% | "
                     f"{x['cpu_ms_per_job']:.1f} ms |")
        L += ["", "Target: ≥ 0.9× at 8 workers. Every worker, PostgreSQL and NATS run on this "
              "one 2-core machine: a job costs the host CPU per job above (a box made and torn "
              "down, bash, the nodes' work), so the rate cannot pass 2 cores ÷ that cost, "
              "whatever the dispatch does. Where the host is not saturated, the ratio is the "
              "dispatch's. The gap between the two ratios is stragglers: jobs that wait for a "
              "taker while boxes are free.", ""]
    if "stages" in res:
        st = res["stages"]
        L += ["### Seed 000's client on the cluster: latency per stage", "",
              "Client side (4 clients in parallel, a C hello world, compile cached after "
              "the first):", "",
              "| request | n | p50 ms | p95 ms | p99 ms |", "| --- | ---: | ---: | ---: | ---: |"]
        for k, v in st["client"].items():
            L.append(f"| {k} | {v['n']} | {fmt(v['p50'])} | {fmt(v['p95'])} | {fmt(v['p99'])} |")
        L += ["", "Server side, from the nodes' histograms (interpolated within buckets):",
              "", "| stage | n | p50 ms | p95 ms | p99 ms |", "| --- | ---: | ---: | ---: | ---: |"]
        for k, v in st["server"].items():
            L.append(f"| {k} | {v['n']} | {fmt(v['p50'])} | {fmt(v['p95'])} | {fmt(v['p99'])} |")
        L += ["", "The code is a blob of the job's row: its upload is the store insert, its "
              "download the store get of GET /job/{id}/output.", ""]
    return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--moat", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--sync-n", type=int, default=100)
    ap.add_argument("--sync-warmup", type=int, default=10)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--boxes", type=int, default=4)
    ap.add_argument("--jobs-per-box", type=int, default=25)
    ap.add_argument("--stage-jobs", type=int, default=400)
    ap.add_argument("--only", nargs="+", default=["ingest", "sync", "scaling", "stages"])
    ap.add_argument("--markdown", help="write the report's section here too")
    ap.add_argument("--head", default="", help="the section's first paragraph")
    args = ap.parse_args()
    args.moat = os.path.abspath(args.moat)
    tempfile.tempdir = args.workdir  # PostgreSQL's and NATS's files on the same disk
    res = {}
    fns = {"ingest": ingest, "sync": sync_latency, "scaling": scaling, "stages": stages}
    for name in args.only:
        cl = Cluster(args)
        try:
            log(f"{name}: start")
            res[name] = fns[name](args, cl)
        finally:
            cl.close()
    print(json.dumps(res, indent=1))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(res, args.head))


if __name__ == "__main__":
    sys.exit(main())
