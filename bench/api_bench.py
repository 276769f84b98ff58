#!/usr/bin/env python3
"""bench/api_bench.py: the measuring half of bench/api.sh.

Each subcommand measures one thing against a running `moat serve` (or the
host, for the floors) and prints one JSON object on stdout; bench/api.sh
starts and stops the servers and writes the report. Standard library only.

  load      a closed-loop HTTP load (wrk or hey) for a fixed time
  latency   sequential sync jobs interleaved with bare spawns of the program
  floor     bare spawns of a program, P at a time: runs per second
  saturate  N async jobs: from the first submission until all are finished
  paced     open-loop sync jobs at a fixed rate
  churn     async jobs in batches up to a total, the server's RSS on the way
  fsync     appends of 4 KiB with fdatasync in a directory
  rss       the memory of a process and of its descendants
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- helpers

def pct(values, p):
    """Nearest-rank percentile of an unsorted list (None when empty)."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def summary_ms(values):
    """p50/p95/p99/max in ms of a list of seconds."""
    out = {"n": len(values)}
    for p in (50, 95, 99):
        v = pct(values, p)
        out["p%d" % p] = None if v is None else v * 1000.0
    out["max"] = max(values) * 1000.0 if values else None
    return out


def proc_cpu_s(pid):
    """utime + stime of a process in seconds (None when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def tree_cpu_s(pid):
    """CPU seconds of a process and its descendants, reaped ones included
    (utime + stime + cutime + cstime of each live one)."""
    total = 0.0
    for p in [pid] + descendants(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15]) / CLK_TCK
        except (OSError, IndexError, ValueError):
            pass
    return total


def host_cpu():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v[:8]) - idle, sum(v[:8])


class CpuWindow:
    """The server's process tree and the machine, between start and stop."""

    def __init__(self, pid):
        self.pid = pid
        self.t0 = time.monotonic()
        self.tree0 = tree_cpu_s(pid) if pid else None
        self.main0 = proc_cpu_s(pid) if pid else None
        self.host0 = host_cpu()

    def stop(self):
        wall = time.monotonic() - self.t0
        b, t = host_cpu()
        out = {"host_busy": (b - self.host0[0]) / max(1, t - self.host0[1])}
        if self.pid:
            main1, tree1 = proc_cpu_s(self.pid), tree_cpu_s(self.pid)
            out["server_cpu_s"] = None if main1 is None else main1 - self.main0
            out["tree_cpu_s"] = tree1 - self.tree0
            out["tree_cores"] = out["tree_cpu_s"] / wall if wall > 0 else None
        return out


def status_kb(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def descendants(pid):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def rss_report(pid):
    kids = descendants(pid)
    return {
        "rss_kb": status_kb(pid, "VmRSS"),
        "hwm_kb": status_kb(pid, "VmHWM"),
        "pss_kb": pss_kb(pid),
        "threads": status_kb(pid, "Threads"),
        "children": len(kids),
        "children_rss_kb": sum(status_kb(k, "VmRSS") or 0 for k in kids),
        "children_pss_kb": sum(pss_kb(k) or 0 for k in kids),
    }


class Client:
    """One keep-alive connection, reopened after an error."""

    def __init__(self, port, timeout=60.0):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=self.timeout)
            try:
                headers = {"Content-Type": "application/json"} if body is not None else {}
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                return r.status, r.read()
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfINFaN]+)')


def metrics(client):
    """{name: {labels: value}} from /metrics."""
    status, body = client.request("GET", "/metrics")
    if status != 200:
        raise RuntimeError("GET /metrics answered %d" % status)
    out = {}
    for line in body.decode("utf-8", "replace").splitlines():
        m = METRIC_RE.match(line)
        if m:
            out.setdefault(m.group(1), {})[m.group(2) or ""] = float(m.group(3))
    return out


def jobs_done(m, verdict=None):
    """Jobs that reached a final status (moat_jobs_total summed)."""
    total = 0.0
    for labels, v in m.get("moat_jobs_total", {}).items():
        if verdict is None or ('verdict="%s"' % verdict) in labels:
            total += v
    return int(total)


def job_body(args, wait=False):
    doc = {"language": args.lang, "code": args.code}
    if wait:
        doc["wait"] = True
    return json.dumps(doc)


# ---------------------------------------------------------------- load

WRK_DONE = r'''
done = function(summary, latency, requests)
  io.write(string.format("JSON {\"requests\":%d,\"duration_us\":%d,\"status_errors\":%d,"
    .. "\"connect\":%d,\"read\":%d,\"write\":%d,\"timeout\":%d,"
    .. "\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d}\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
'''


def run_measured(argv, pid):
    """Runs argv; its output, its CPU seconds, the server's CPU seconds."""
    cpu0 = proc_cpu_s(pid) if pid else None
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    wall = time.monotonic() - t0
    # communicate() reaped it; its rusage is in our children's total.
    cpu1 = proc_cpu_s(pid) if pid else None
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), wall, \
        (None if cpu0 is None or cpu1 is None else cpu1 - cpu0)


def children_cpu():
    r = os.times()
    return r.children_user + r.children_system


def cmd_load(args):
    url = "http://127.0.0.1:%d%s" % (args.port, args.path)
    res = {"tool": args.tool, "conc": args.conc, "duration_s": args.duration,
           "method": args.method, "path": args.path}
    c0 = children_cpu()
    h0 = host_cpu()
    if args.tool == "wrk":
        script = os.path.join(args.workdir, "wrk-%s.lua" % args.method.lower())
        with open(script, "w") as f:
            f.write('wrk.method = "%s"\n' % args.method)
            if args.body is not None:
                f.write("wrk.body = %s\n" % json.dumps(args.body))
                f.write('wrk.headers["Content-Type"] = "application/json"\n')
            f.write(WRK_DONE)
        argv = ["wrk", "-t%d" % args.threads, "-c%d" % args.conc, "-d%ds" % args.duration,
                "-s", script, url]
        rc, out, err, wall, scpu = run_measured(argv, args.pid)
        m = re.search(r"^JSON (\{.*\})$", out, re.M)
        if rc != 0 or not m:
            raise SystemExit("wrk failed (%d): %s %s" % (rc, out[-500:], err[-500:]))
        w = json.loads(m.group(1))
        errors = w["connect"] + w["read"] + w["write"] + w["timeout"]
        ok = w["requests"] - w["status_errors"]
        dur = w["duration_us"] / 1e6
        res.update(requests=w["requests"], ok=ok, bad_status=w["status_errors"],
                   errors=errors, rps=ok / dur, p50_ms=w["p50_us"] / 1000.0,
                   p90_ms=w["p90_us"] / 1000.0, p99_ms=w["p99_us"] / 1000.0,
                   max_ms=w["max_us"] / 1000.0, p95_ms=None)
    else:
        argv = ["hey", "-z", "%ds" % args.duration, "-c", str(args.conc), "-m", args.method]
        if args.body is not None:
            argv += ["-T", "application/json", "-d", args.body]
        argv.append(url)
        rc, out, err, wall, scpu = run_measured(argv, args.pid)
        total = re.search(r"Total:\s+([0-9.]+) secs", out)
        if rc != 0 or not total:
            raise SystemExit("hey failed (%d): %s %s" % (rc, out[-500:], err[-500:]))
        dur = float(total.group(1))
        lat = {int(p): float(v) * 1000.0 for p, v in
               re.findall(r"^\s+(\d+)% in ([0-9.]+) secs", out, re.M)}
        codes = {int(c): int(n) for c, n in re.findall(r"^\s+\[(\d{3})\]\s+(\d+) responses", out,
                                                       re.M)}
        errs = sum(int(n) for n in re.findall(r"^\s+\[(\d+)\]\s+\D", out, re.M))
        ok = sum(n for c, n in codes.items() if 200 <= c < 300)
        slow = re.search(r"Slowest:\s+([0-9.]+) secs", out)
        res.update(requests=sum(codes.values()), ok=ok,
                   bad_status=sum(n for c, n in codes.items() if not 200 <= c < 300),
                   errors=errs, rps=ok / dur, p50_ms=lat.get(50), p90_ms=lat.get(90),
                   p95_ms=lat.get(95), p99_ms=lat.get(99),
                   max_ms=float(slow.group(1)) * 1000.0 if slow else None, codes=codes)
    res["client_cpu_s"] = children_cpu() - c0
    h1 = host_cpu()
    res["host_busy"] = (h1[0] - h0[0]) / max(1, h1[1] - h0[1])
    res["server_cpu_s"] = scpu
    res["wall_s"] = wall
    print(json.dumps(res))


# ---------------------------------------------------------------- latency

def spawn_wait(argv, devnull_fd):
    """fork+exec+wait of argv, stdout and stderr to /dev/null; seconds."""
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull_fd, 1),
                                       (os.POSIX_SPAWN_DUP2, devnull_fd, 2)])
    _, st = os.waitpid(pid, 0)
    dt = time.perf_counter() - t0
    if st != 0:
        raise SystemExit("%s failed: status %d" % (" ".join(argv), st))
    return dt


def sync_job(client, body, expect):
    """One wait=true job; its wall seconds and the job document."""
    t0 = time.perf_counter()
    status, raw = client.request("POST", "/v1/jobs", body)
    dt = time.perf_counter() - t0
    if status != 200:
        raise SystemExit("sync job answered %d: %s" % (status, raw[:300]))
    job = json.loads(raw)
    if job.get("status") != "completed" or job.get("verdict") != "ok" or \
            (expect is not None and job.get("output") != expect):
        raise SystemExit("sync job did not run as expected: %s" % raw[:500])
    return dt, job


def cmd_latency(args):
    client = Client(args.port)
    body = job_body(args, wait=True)
    bare_argv = args.bare
    devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    expect = args.expect.encode().decode("unicode_escape") if args.expect else None
    bare, api, run_wall = [], [], []
    for i in range(args.warmup + args.n):
        # Interleaved, the order alternating, so that both see the same
        # machine; the server is idle when each job is sent.
        if i % 2:
            b = spawn_wait(bare_argv, devnull)
            a, job = sync_job(client, body, expect)
        else:
            a, job = sync_job(client, body, expect)
            b = spawn_wait(bare_argv, devnull)
        if i >= args.warmup:
            bare.append(b)
            api.append(a)
            if isinstance(job.get("wallTimeMs"), (int, float)):
                run_wall.append(job["wallTimeMs"] / 1000.0)
        time.sleep(args.gap_ms / 1000.0)
    os.close(devnull)
    print(json.dumps({"bare": summary_ms(bare), "api": summary_ms(api),
                      "run_wall": summary_ms(run_wall)}))


# ---------------------------------------------------------------- floor

def cmd_floor(args):
    devnull = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    per = [args.n // args.par + (1 if i < args.n % args.par else 0) for i in range(args.par)]
    times = [[] for _ in range(args.par)]

    def loop(k):
        for _ in range(per[k]):
            times[k].append(spawn_wait(args.argv, devnull))

    for _ in range(min(20, args.n)):  # warm the page cache
        spawn_wait(args.argv, devnull)
    threads = [threading.Thread(target=loop, args=(k,)) for k in range(args.par)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    os.close(devnull)
    every = [x for t in times for x in t]
    print(json.dumps({"n": args.n, "par": args.par, "wall_s": wall, "per_s": args.n / wall,
                      "each": summary_ms(every)}))


# ---------------------------------------------------------------- saturate

def hey_post(port, n, conc, body):
    """hey submitting n jobs with conc workers, as a Popen."""
    return subprocess.Popen(["hey", "-n", str(n), "-c", str(conc), "-m", "POST",
                             "-T", "application/json", "-d", body,
                             "http://127.0.0.1:%d/v1/jobs" % port],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def hey_codes(out):
    return {int(c): int(n) for c, n in re.findall(r"^\s+\[(\d{3})\]\s+(\d+) responses", out, re.M)}


def cmd_saturate(args):
    client = Client(args.port)
    body = job_body(args)
    n = args.n - args.n % args.conc  # hey sends n / c per worker
    m0 = metrics(client)
    base, base_ok = jobs_done(m0), jobs_done(m0, "ok")
    base_hit = m0.get("moat_compile_cache_total", {}).get('{result="hit"}', 0.0)
    base_comp = m0.get("moat_compile_seconds_count", {}).get("", 0.0)
    win = CpuWindow(args.pid)
    t0 = time.monotonic()
    p = hey_post(args.port, n, args.conc, body)
    target, t_sub, t_done, accepted, done = n, None, None, None, 0
    deadline = t0 + args.timeout
    while time.monotonic() < deadline:
        if t_sub is None and p.poll() is not None:
            t_sub = time.monotonic() - t0
            out = p.stdout.read().decode("utf-8", "replace")
            codes = hey_codes(out)
            accepted = sum(v for c, v in codes.items() if c == 202)
            target = accepted
        done = jobs_done(metrics(client)) - base
        if done >= target and t_sub is not None:
            t_done = time.monotonic() - t0
            break
        time.sleep(args.poll_ms / 1000.0)
    if p.poll() is None:
        p.kill()
        p.wait()
    cpu = win.stop()
    m1 = metrics(client)
    res = {"n": n, "conc": args.conc, "accepted": accepted, "submit_s": t_sub,
           "done": jobs_done(m1) - base, "ok": jobs_done(m1, "ok") - base_ok,
           "cache_hits": int(m1.get("moat_compile_cache_total", {}).get('{result="hit"}', 0.0)
                             - base_hit),
           "compiles": int(m1.get("moat_compile_seconds_count", {}).get("", 0.0) - base_comp),
           "wall_s": t_done, "per_s": (accepted / t_done) if t_done else None}
    res.update(cpu)
    # Where a job's time went: the mean of each duration the server
    # records, over the jobs of this run.
    parts = {}
    for name, labels in (("moat_queue_wait_seconds", ""), ("moat_store_read_seconds", '{op="get"}'),
                         ("moat_store_write_seconds", '{op="start"}'),
                         ("moat_compile_seconds", ""), ("moat_run_seconds", ""),
                         ("moat_store_write_seconds", '{op="finish"}')):
        dn = m1.get(name + "_count", {}).get(labels, 0.0) - m0.get(name + "_count", {}).get(labels, 0.0)
        ds = m1.get(name + "_sum", {}).get(labels, 0.0) - m0.get(name + "_sum", {}).get(labels, 0.0)
        parts[name + labels] = {"n": int(dn), "mean_ms": ds / dn * 1000.0 if dn else None}
    res["parts"] = parts
    if t_done is None:
        res["timed_out_after_s"] = args.timeout
        res["per_s_lower_bound"] = res["done"] / args.timeout
    print(json.dumps(res))


# ---------------------------------------------------------------- paced

def cmd_paced(args):
    body = job_body(args, wait=True)
    total = int(args.rate * args.duration)
    lock = threading.Lock()
    state = {"next": 0}
    lat, service, errors = [], [], []
    t0 = time.monotonic() + 0.2

    def worker():
        client = Client(args.port)
        while True:
            with lock:
                i = state["next"]
                state["next"] += 1
            if i >= total:
                return
            due = t0 + i / args.rate
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            sent = time.monotonic()
            try:
                status, raw = client.request("POST", "/v1/jobs", body)
                end = time.monotonic()
                job = json.loads(raw) if status == 200 else {}
                if status != 200 or job.get("status") != "completed":
                    errors.append(status)
                    continue
            except (OSError, http.client.HTTPException, ValueError) as e:
                errors.append(str(e))
                continue
            # From when the request was due (an open-loop client does not
            # wait for the server), and from when it was sent.
            lat.append(end - due)
            service.append(end - sent)

    threads = [threading.Thread(target=worker) for _ in range(args.threads)]
    win = CpuWindow(args.pid)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    cpu = win.stop()
    print(json.dumps(dict(cpu, **{"rate": args.rate, "duration_s": args.duration, "sent": total,
                      "completed": len(lat), "errors": len(errors),
                      "error_sample": [str(e) for e in errors[:3]],
                      "achieved_per_s": len(lat) / elapsed, "from_due": summary_ms(lat),
                      "from_sent": summary_ms(service)})))


# ---------------------------------------------------------------- churn

def wait_done(client, target, deadline, poll_s=0.05):
    """Polls until the server has finished target jobs; the count."""
    done = jobs_done(metrics(client))
    while done < target and time.monotonic() < deadline:
        time.sleep(poll_s)
        done = jobs_done(metrics(client))
    return done


def cmd_churn(args):
    client = Client(args.port)
    body = job_body(args)
    batch = args.batch - args.batch % args.conc
    max_out = args.max_outstanding
    deadline = time.monotonic() + args.timeout
    t0 = time.monotonic()
    accepted = jobs_done(metrics(client))  # jobs finished before: counted too
    start = accepted
    rejected, samples = 0, []
    marks = [args.total // 2, args.total]
    reduced = None
    while marks and time.monotonic() < deadline:
        now = time.monotonic()
        if reduced is None and now - t0 >= args.probe_s:
            # A server slower than the phase's time allows gets a smaller
            # total, both samples kept: what fits, at the rate seen so far.
            rate = (jobs_done(metrics(client)) - start) / (now - t0)
            budget = (deadline - now) * 0.85 - 2 * args.settle - 5
            fit = int(start + rate * (now - t0) + rate * budget) // 1000 * 1000
            reduced = {"rate": rate}
            # From now on the queue holds about 5 s of work: enough that
            # the workers never wait for a batch, little enough that the
            # half-way mark is not passed before it is known.
            batch = min(args.batch, max(args.conc, int(rate * 5) // args.conc * args.conc))
            max_out = 3 * batch
            if fit < marks[-1]:
                fit = max(fit, accepted + 2 * args.conc)
                half = max(fit // 2, accepted)
                marks = [half, fit] if half < fit else [fit]
                reduced.update(total_from=args.total, total_to=fit)
        mark = marks[0]
        if accepted < mark:
            # Keep at most max_outstanding jobs queued: below the server's
            # bound, above what the workers take meanwhile.
            wait_done(client, accepted + batch - max_out, deadline)
            k = min(batch, mark - accepted)
            k = max(args.conc, k - k % args.conc)
            p = hey_post(args.port, k, min(args.conc, k), body)
            out = p.communicate()[0].decode("utf-8", "replace")
            codes = hey_codes(out)
            accepted += codes.get(202, 0)
            rejected += sum(v for c, v in codes.items() if c != 202)
            continue
        # At a mark: let the queue drain, then let the server idle a
        # moment, so that every sample is taken in the same state.
        done = wait_done(client, accepted, deadline)
        if done < accepted:
            break
        time.sleep(args.settle)
        r = rss_report(args.pid)
        r.update(jobs=done, t_s=time.monotonic() - t0)
        samples.append(r)
        marks.pop(0)
    m = metrics(client)
    print(json.dumps({"total": args.total, "start": start, "accepted": accepted,
                      "rejected": rejected, "done": jobs_done(m), "ok": jobs_done(m, "ok"),
                      "elapsed_s": time.monotonic() - t0, "samples": samples,
                      "complete": not marks, "reduced": reduced}))


# ---------------------------------------------------------------- fsync

def cmd_fsync(args):
    """Appends of 4 KiB, each followed by fdatasync: the disk's commit floor."""
    path = os.path.join(args.dir, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    block = b"x" * 4096
    times = []
    try:
        for _ in range(args.n):
            t0 = time.perf_counter()
            os.write(fd, block)
            os.fdatasync(fd)
            times.append(time.perf_counter() - t0)
    finally:
        os.close(fd)
        os.unlink(path)
    print(json.dumps(summary_ms(times)))


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)

    def job_args(p):
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--pid", type=int, default=0, help="server pid, for its CPU time")
        p.add_argument("--lang", default="bash")
        p.add_argument("--code", default="echo hi\n")

    def command(name, fn, *opts, job=False):
        """A subcommand: the job arguments when job, then opts, (flag, kwargs) each."""
        p = sub.add_parser(name)
        if job:
            job_args(p)
        for flag, kw in opts:
            p.add_argument(flag, **kw)
        p.set_defaults(fn=fn)

    def opt(flag, t=None, default=None, **kw):
        return flag, dict(type=t, default=default, **kw)

    command("load", cmd_load,
            opt("--port", int, required=True), opt("--pid", int, 0),
            opt("--tool", choices=("wrk", "hey"), required=True), opt("--method", default="GET"),
            opt("--path", default="/healthz"), opt("--body"), opt("--conc", int, 64),
            opt("--threads", int, 2, help="wrk threads"), opt("--duration", int, 10),
            opt("--workdir", default="/tmp"))
    command("latency", cmd_latency,
            opt("--n", int, 200), opt("--warmup", int, 20), opt("--gap-ms", float, 5.0),
            opt("--expect"), ("bare", dict(nargs="+")), job=True)
    command("floor", cmd_floor,
            opt("--n", int, 3000), opt("--par", int, 2), ("argv", dict(nargs="+")))
    command("saturate", cmd_saturate,
            opt("--n", int, 3000), opt("--conc", int, 16), opt("--poll-ms", float, 20.0),
            opt("--timeout", float, 120.0), job=True)
    command("paced", cmd_paced,
            opt("--rate", float, required=True), opt("--duration", float, 10.0),
            opt("--threads", int, 64), job=True)
    command("churn", cmd_churn,
            opt("--total", int, 100000), opt("--batch", int, 500),
            opt("--max-outstanding", int, 1500),
            opt("--probe-s", float, 20.0,
                help="after this long, lower the total to what fits in the timeout"),
            opt("--conc", int, 16), opt("--settle", float, 2.0), opt("--timeout", float, 300.0),
            job=True)
    command("fsync", cmd_fsync, opt("--dir", required=True), opt("--n", int, 300))
    command("rss", lambda a: print(json.dumps(rss_report(a.pid))),
            opt("--pid", int, required=True))

    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
