#!/usr/bin/env python3
"""End-to-end tests of moat as a cluster: API nodes (`moat serve`) and
workers (`moat worker`) on one PostgreSQL and one NATS JetStream, which each
case starts itself in temporary directories (tests/servers/) and stops.

Every fault case checks that each accepted job completed exactly once with
the output its program writes: its final state in the store, the right
output, and, where the broker stays up, exactly one final event on
moat.events.final.<id>.

Groups (one ctest test each; every group's cases start their own nodes):
  nodes        an API node and two workers in network namespaces joined to
               the host by veth pairs; HTTP across nodes, the seed 004 NATS
               subjects through the tests' own NATS client, the native
               submit subject, final events; small jobs ride in their
               messages and events, big ones are read from the store
  cancel       DELETE on an API node stops a job running on a worker; a queued
               job cancelled never runs
  worker_kill  kill -9 of a worker while it runs jobs: another finishes them;
               a job whose workers all die is failed after max_deliveries
  worker_stall a worker frozen (SIGSTOP) past the ack deadline: another runs
               the job; resumed, its late result is refused. A live worker
               keeps a job longer than the ack deadline (in-progress acks)
  api_kill     kill -9 of an API node with waiters: its jobs still run
  nats_restart nats-server killed and restarted under load
  pg_restart   PostgreSQL stopped and started under load: 503 with
               Retry-After meanwhile, /readyz not ready
  nats_r3      a 3-node NATS cluster with an R3 stream loses a node

usage: cluster_test.py --moat PATH [--group NAME | --case NAME | --list]
"""
import base64
import json
import os
import signal
import sys
import threading
import time
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Failure, check, wait_for  # noqa: E402
from serve_util import Server, metric_sum, owned, posts_waiting, joined  # noqa: E402
from cluster_util import Bridge, Engines, NatsClient  # noqa: E402
from groups import Groups, run  # noqa: E402

G = Groups()
for name in ("nodes", "cancel", "worker_kill", "worker_stall", "api_kill", "nats_restart",
             "pg_restart", "nats_r3"):
    G.group(name, None)
case = G.case

EVENTS = "moat.events.final.>"


def sleeper(i, seconds):
    """A job that takes `seconds` of wall time and prints a token of its own."""
    return {"language": "bash", "code": f"sleep {seconds}; echo tok-{i}"}


def node(engines, role, args=(), label=None, **kw):
    """A node on the engines (not started)."""
    Server.engines = engines
    return Server(G.moat, list(args), label=label or role, role=role, **kw)


def check_each_once(srv, accepted, engines, events=None, timeout=120):
    """Every accepted job ({id: token}) completed, its output the token's
    line, recorded once (one final event each when events are given)."""
    jobs = srv.wait_final(list(accepted), timeout=timeout)
    wrong = {j: (v["status"], v.get("verdict"), v.get("output"))
             for j, v in jobs.items()
             if v["status"] != "completed" or v.get("output") != accepted[j] + "\n"}
    check(not wrong, "every accepted job completed with its own output", wrong)
    rows = engines.sql("SELECT id, status FROM jobs")
    state = dict(rows)
    check(all(state.get(j) == "completed" for j in accepted),
          "the store holds each accepted job completed",
          {j: state.get(j) for j in accepted if state.get(j) != "completed"})
    if events is not None:
        client, sid = events
        seen = Counter()
        end = time.monotonic() + 10
        while set(accepted) - set(seen) and time.monotonic() < end:
            for subject, _, _, data in client.drain(sid):
                seen[json.loads(data)["jobId"]] += 1
            time.sleep(0.05)
        client.flush()
        for subject, _, _, data in client.drain(sid):
            seen[json.loads(data)["jobId"]] += 1
        check(all(seen[j] == 1 for j in accepted), "exactly one final event per job",
              {j: seen[j] for j in accepted if seen[j] != 1})
    return jobs


def busy(srv):
    return metric_sum(srv.metrics()[0], "moat_workers_busy")


def submit_all(srv, bodies, within=0):
    """POSTs each body; {id: token}. With `within`, a 503 with Retry-After
    is tried again (after at most a second) as a client should, for up to
    that many seconds: the engines may be electing a leader."""
    out = {}
    for b in bodies:
        end = time.monotonic() + within
        while True:
            r = srv.post("/v1/jobs", b)
            if r.status == 503 and r.header("retry-after") and time.monotonic() < end:
                time.sleep(min(1.0, float(r.header("retry-after"))))
                continue
            check(r.status == 202, "POST /v1/jobs accepted (202)", r)
            break
        out[r.json()["jobId"]] = b["code"].split("echo ")[1]
    return out


def ready(*nodes, timeout=60):
    """Until each node's /readyz says ready (its store and queue reachable)."""
    for n in nodes:
        wait_for(f"{n.label} ready", lambda: n.get("/readyz").status == 200, timeout)


# ======================================================================

@case("nodes")
def api_node_and_workers_in_network_namespaces(_):
    """An API node on the host and two workers in namespaces of their own,
    reaching PostgreSQL and NATS across veth pairs: every way in (HTTP,
    seed 004's subjects, the native subject) reaches a worker, and every
    way out (a waiter on the API node, the events) hears the result."""
    with Bridge(2) as br, Engines(host=br.host_ip) as eng:
        # not a loopback address: served without keys only when told so
        api = node(eng, "serve", ["--no-exec", "--allow-anonymous"], host=br.host_ip)
        workers = [node(eng, "worker", ["--workers", "2"], netns=br.namespaces[i],
                        host=br.ip(i)) for i in range(2)]
        with owned(api, *workers):
            for s in [api] + workers:
                s.start()
            before = [br.counters(i) for i in range(2)]
            nc = NatsClient(eng.nats.url)
            try:
                ev = nc.subscribe(EVENTS)
                # HTTP: twelve jobs, four of them waited on the API node
                accepted = submit_all(api, [sleeper(i, 0.3) for i in range(8)])
                answers, threads = posts_waiting(
                    api, [dict(sleeper(100 + i, 0.3), wait=True) for i in range(4)], timeout=60)
                joined(threads, "the waiters answered", within=90)
                for k, r in answers.items():
                    check(not isinstance(r, Failure) and r.status == 200,
                          "a waiter on the API node answered 200 by a worker's event", r)
                    j = r.json()
                    check(j["status"] == "completed" and j["output"] == f"tok-{100 + k}\n",
                          "the waited job's result", j)
                    accepted[j["jobId"]] = f"tok-{100 + k}"
                check_each_once(api, accepted, eng, events=(nc, ev))
                ran = [metric_sum(w.metrics()[0], "moat_jobs_total") for w in workers]
                check(sum(ran) == len(accepted) and all(n > 0 for n in ran),
                      "the jobs ran on both workers, each once", ran)
                after = [br.counters(i) for i in range(2)]
                check(all(a[0] > b[0] + 10000 and a[1] > b[1] + 10000
                          for a, b in zip(after, before)),
                      "the workers' traffic crossed their veth interfaces", (before, after))

                # seed 004: request/reply with base64 code and input
                req = {"language": "python",
                       "code": base64.b64encode(b"print(input()[::-1])").decode(),
                       "input": base64.b64encode(b"olleh\n").decode()}
                r = json.loads(nc.request("compiler.execute.request", json.dumps(req), 90))
                check(r.get("success") is True and r.get("output") == "hello\n"
                      and r.get("status") == "completed" and r.get("verdict") == "ok",
                      "compiler.execute.request answers the run", r)
                check(isinstance(r.get("executionTime"), int) and r.get("exitCode") == 0,
                      "with its times and exit code", r)
                prob = dict(req, code=base64.b64encode(b"while True: pass").decode(),
                            timeoutMs=300, wallTimeoutMs=2000, memoryMb=64)
                r = json.loads(nc.request("problems.execute.request", json.dumps(prob), 90))
                check(r.get("success") is False and r.get("verdict") == "time_limit",
                      "problems.execute.request honours its timeoutMs", r)
                bad = json.loads(nc.request("compiler.execute.request",
                                            json.dumps(dict(req, code="%%%")), 30))
                check(bad.get("success") is False and bad.get("field") == "code",
                      "bad base64 refused, naming the field", bad)
                bad = json.loads(nc.request("problems.execute.request",
                                            json.dumps(dict(prob, memoryMb=10 ** 7)), 30))
                check(bad.get("success") is False and bad.get("field") == "memoryMb",
                      "a limit over the maximum refused, naming the field", bad)
                # the native subject, with and without a wait
                body = {"language": "bash", "code": "echo native"}
                r = json.loads(nc.request("moat.jobs.submit", json.dumps(body), 30))
                check(r.get("status") == "queued" and r.get("jobId"),
                      "moat.jobs.submit answers the id at once", r)
                jid = r["jobId"]
                j = api.wait_final(jid, timeout=60)
                check(j["output"] == "native\n", "the job submitted over NATS ran", j)
                r = json.loads(nc.request("moat.jobs.submit",
                                          json.dumps(dict(body, wait=True)), 90))
                check(r.get("status") == "completed" and r.get("output") == "native\n",
                      "with wait, the final job in the HTTP API's shape", r)
                r = json.loads(nc.request("moat.jobs.submit", b"{", 30))
                check(r.get("status") == 400 and r["error"]["code"] == "invalid_json",
                      "a bad body answered with the HTTP API's error", r)
            finally:
                nc.close()
            # a worker's HTTP: health and metrics only
            w = workers[0]
            check(w.get("/healthz").status == 200, "a worker answers /healthz")
            r = w.post("/v1/jobs", {"language": "bash", "code": "echo x"})
            check(r.status == 404, "a worker takes no submissions", r)
            for s in [api] + workers:
                s.stop()


@case("nodes")
def small_jobs_travel_with_their_messages(_):
    """A job that fits cluster.inline_job_kb rides in its queue message and
    its final event: the worker runs it without reading the store, and the
    API node answers its waiter without reading it either. A bigger job (its
    code, or its output) is read from the store on the way, and comes out
    whole."""
    with Engines() as eng:
        api = node(eng, "serve", ["--no-exec"])
        worker = node(eng, "worker", ["--workers", "2"])
        with owned(api, worker):
            api.start()
            worker.start()

            def reads(srv):
                return metric_sum(srv.metrics()[0], "moat_store_read_seconds_count", op="get")

            api_reads, worker_reads = reads(api), reads(worker)
            copies = metric_sum(worker.metrics()[0], "moat_job_copies_total")
            for i in range(5):
                r = api.post("/v1/jobs", {"wait": True, "language": "python",
                                                    "code": f"print('small-{i}')"})
                check(r.status == 200 and r.json()["output"] == f"small-{i}\n",
                      "a small sync job answered", r)
            check(metric_sum(worker.metrics()[0], "moat_job_copies_total") == copies + 5,
                  "the worker ran each small job from its message's copy")
            check(reads(worker) == worker_reads, "without reading it from the store",
                  (worker_reads, reads(worker)))
            check(reads(api) == api_reads, "and the API node answered from the final event",
                  (api_reads, reads(api)))

            # 100 KB of code (base64: 133 KB) is past the 16 KB default
            big = "# " + "x" * 100000 + "\nprint('big code')\n"
            r = api.post("/v1/jobs", {"wait": True, "language": "python", "code": big})
            check(r.status == 200 and r.json()["output"] == "big code\n",
                  "a job too big for its message ran from the store", r)
            check(metric_sum(worker.metrics()[0], "moat_job_copies_total") == copies + 5,
                  "no copy was used for it")
            check(reads(worker) > worker_reads, "the worker read it")
            r = api.post("/v1/jobs", {"wait": True, "language": "python",
                                                "code": "print('y' * 60000)"})
            check(r.status == 200 and r.json()["status"] == "completed",
                  "a job with a big output answered its waiter", r)
            check(reads(api) > api_reads, "read from the store by the API node")
            j = api.get(f"/v1/jobs/{r.json()['jobId']}/output")
            check(j.status == 200 and j.body == b"y" * 60000 + b"\n",
                  "its output whole", (j.status, len(j.body)))
            api.stop()
            worker.stop()


@case("cancel")
def cancel_reaches_running_and_queued_jobs(_):
    with Engines() as eng:
        api = node(eng, "serve", ["--no-exec"])
        w = node(eng, "worker", ["--workers", "1"])
        with owned(api, w):
            api.start()
            w.start()
            long_id = api.submit({"language": "bash", "code": "sleep 60; echo never"})
            wait_for("the long job runs on the worker", lambda: busy(w) == 1 and api.job(
                long_id)["status"] == "running", 60)
            queued_id = api.submit({"language": "bash", "code": "echo never-queued"})
            check(api.job(queued_id)["status"] == "queued", "the second job waits for the box")
            r = api.request("DELETE", f"/v1/jobs/{queued_id}")
            check(r.status in (200, 202), "DELETE of the queued job accepted", r)
            t0 = time.monotonic()
            r = api.request("DELETE", f"/v1/jobs/{long_id}")
            check(r.status in (200, 202), "DELETE of the running job accepted", r)
            j = api.wait_final(long_id, timeout=30)
            check(j["status"] == "cancelled", "the running job is cancelled", j)
            wait_for("the worker's box is free again", lambda: busy(w) == 0, 30)
            check(time.monotonic() - t0 < 30, "the program was stopped, not waited for")
            after = api.submit({"language": "bash", "code": "echo after"})
            check(api.wait_final(after, timeout=60)["output"] == "after\n",
                  "the worker runs the next job")
            q = api.job(queued_id)
            check(q["status"] == "cancelled" and q.get("startedAt") is None,
                  "the queued job cancelled never ran", q)
            check(metric_sum(w.metrics()[0], "moat_jobs_total", status="completed") == 1,
                  "the worker completed only the job after", w.metrics()[0])
            for s in (w, api):
                s.stop()


@case("worker_kill")
def worker_killed_its_jobs_finish_on_another(_):
    with Engines() as eng:
        api = node(eng, "serve", ["--no-exec"])
        a = node(eng, "worker", ["--workers", "2", "--ack-wait", "2"], label="worker-a")
        b = node(eng, "worker", ["--workers", "2", "--ack-wait", "2"], label="worker-b")
        with owned(api, a, b):  # b too: a failure must not leave it running
            api.start()
            a.start()
            nc = NatsClient(eng.nats.url)
            try:
                ev = nc.subscribe(EVENTS)
                accepted = submit_all(api, [sleeper(i, 2) for i in range(6)])
                wait_for("worker a runs two jobs", lambda: busy(a) == 2 and eng.sql(
                    "SELECT count(*) FROM jobs WHERE status = 'running'")[0][0] == 2, 60)
                a.kill9()
                b.start()
                jobs = check_each_once(api, accepted, eng, events=(nc, ev))
                again = [j for j, v in jobs.items() if v["attempts"] >= 2]
                check(len(again) == 2, "the two jobs of the killed worker ran again",
                      {j: v["attempts"] for j, v in jobs.items()})
                b.stop()
            finally:
                nc.close()
            api.stop()


@case("worker_kill")
def job_that_its_workers_never_finish_is_failed(_):
    """A job whose worker dies each time it runs it is delivered again, and
    once past cluster.max_deliveries it is failed, saying why, instead of
    taking worker after worker down for ever."""
    with Engines() as eng:
        flags = ["--workers", "1", "--ack-wait", "2", "--max-deliveries", "2"]
        api = node(eng, "serve", ["--no-exec"])
        ws = [node(eng, "worker", flags, label=f"worker-{c}") for c in "abc"]
        with owned(api, *ws):
            api.start()
            nc = NatsClient(eng.nats.url)
            try:
                ev = nc.subscribe(EVENTS)
                r = api.post("/v1/jobs", {"language": "bash", "code": "sleep 60"})
                check(r.status == 202, "accepted", r)
                jid = r.json()["jobId"]
                for k, w in enumerate(ws[:2]):
                    w.start()
                    wait_for(f"{w.label} runs delivery {k + 1}", lambda w=w: busy(w) == 1 and
                             eng.sql(f"SELECT attempts FROM jobs WHERE id = '{jid}'")[0][0]
                             == k + 1, 60)
                    w.kill9()
                ws[2].start()
                j = api.wait_final(jid, timeout=60)
                check(j["status"] == "failed" and "delivered 3 times" in
                      (j.get("error") or ""),
                      "failed after two deliveries, saying why", j)
                check(j["attempts"] == 3, "its third delivery failed it, counted", j)
                _, _, _, data = nc.next(ev, 30)
                e = json.loads(data)
                check(e["jobId"] == jid and e["status"] == "failed",
                      "the final event says failed", e)
                check(metric_sum(ws[2].metrics()[0], "moat_jobs_total", status="failed") == 1,
                      "the third worker failed it without running it", ws[2].metrics()[0])
                ws[2].stop()
            finally:
                nc.close()
            api.stop()


@case("worker_stall")
def stalled_worker_late_result_refused(_):
    with Engines() as eng:
        api = node(eng, "serve", ["--no-exec"])
        a = node(eng, "worker", ["--workers", "1", "--ack-wait", "2"], label="worker-a")
        b = node(eng, "worker", ["--workers", "1", "--ack-wait", "2"], label="worker-b")
        with owned(api, a, b):
            api.start()
            a.start()
            nc = NatsClient(eng.nats.url)
            try:
                ev = nc.subscribe(EVENTS)
                accepted = submit_all(api, [sleeper(0, 4)])
                jid = next(iter(accepted))
                wait_for("worker a runs the job", lambda: busy(a) == 1 and eng.sql(
                    "SELECT count(*) FROM jobs WHERE status = 'running'")[0][0] == 1, 60)
                a.proc.send_signal(signal.SIGSTOP)
                try:
                    b.start()
                    j = api.wait_final(jid, timeout=60)
                    check(j["status"] == "completed" and j["attempts"] == 2,
                          "worker b ran the job again and recorded it", j)
                finally:
                    a.proc.send_signal(signal.SIGCONT)
                wait_for("worker a's late result refused",
                         lambda: metric_sum(a.metrics()[0], "moat_stale_results_total") == 1, 30)
                # counted, then logged: the line may reach the log a moment later
                wait_for("worker a logs its result as stale",
                         lambda: "event=job_result_stale id=" + jid in a.tail(400), 10)
                again = api.job(jid)
                check(again["finishedAt"] == j["finishedAt"] and again["attempts"] == 2,
                      "the recorded result is worker b's, unchanged", (j, again))
                check_each_once(api, accepted, eng, events=(nc, ev))
            finally:
                nc.close()
            for s in (a, b, api):
                s.stop()


@case("worker_stall")
def long_job_kept_by_in_progress_acks(_):
    """A job five times the ack deadline on a live worker: its in-progress
    acks keep it from being delivered again."""
    with Engines() as eng:
        api = node(eng, "serve", ["--no-exec"])
        a = node(eng, "worker", ["--workers", "1", "--ack-wait", "1"], label="worker-a")
        b = node(eng, "worker", ["--workers", "1", "--ack-wait", "1"], label="worker-b")
        with owned(api, a, b):
            for s in (api, a, b):
                s.start()
            accepted = submit_all(api, [sleeper(0, 5)])
            j = check_each_once(api, accepted, eng)[next(iter(accepted))]
            check(j["attempts"] == 1, "run once, by one worker", j)
            taken = [metric_sum(s.metrics()[0], "moat_takeovers_total") for s in (a, b)]
            check(taken == [0, 0], "no worker took it over", taken)
            for s in (a, b, api):
                s.stop()


@case("api_kill")
def api_node_killed_with_waiters(_):
    with Engines() as eng:
        api1 = node(eng, "serve", ["--no-exec"], label="api-1")
        api2 = node(eng, "serve", ["--no-exec"], label="api-2")
        w = node(eng, "worker", ["--workers", "2"])
        with owned(api1, api2, w):
            for s in (api1, api2, w):
                s.start()
            bodies = [dict(sleeper(i, 2), wait=True) for i in range(4)]
            answers, threads = posts_waiting(api1, bodies, timeout=60)
            wait_for("the four waited jobs stored",
                     lambda: eng.sql("SELECT count(*) FROM jobs")[0][0] == 4, 30)
            api1.kill9()
            joined(threads, "the waiters' connections ended", within=30)
            check(all(isinstance(r, Failure) for r in answers.values()),
                  "the killed node's waiters got no answer", answers)
            ids = [r[0] for r in eng.sql("SELECT id FROM jobs")]
            jobs = api2.wait_final(ids, timeout=60)
            outputs = sorted(v["output"] for v in jobs.values())
            check(outputs == sorted(f"tok-{i}\n" for i in range(4))
                  and all(v["status"] == "completed" and v["attempts"] == 1
                          for v in jobs.values()),
                  "every job of the killed node ran once, read from the other node", jobs)
            for s in (w, api2):
                s.stop()


def load(srv, seconds, on_tick=None):
    """Submits a short job every 20 ms for `seconds`, calling on_tick(t)
    on the way: ({id: token} accepted, Counter of the other answers)."""
    accepted, others = {}, Counter()
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < seconds:
        tok = f"tok-{i}"
        try:
            r = srv.post("/v1/jobs", {"language": "bash", "code": f"echo {tok}"}, timeout=30)
            if r.status == 202:
                accepted[r.json()["jobId"]] = tok
            else:
                others[(r.status, r.header("retry-after") is not None)] += 1
        except Failure as e:
            others[str(e)[:60]] += 1
        if on_tick:
            on_tick(time.monotonic() - t0)
        i += 1
        time.sleep(0.02)
    return accepted, others


@case("nats_restart")
def nats_restarted_under_load(_):
    with Engines() as eng:
        api = node(eng, "serve", ["--no-exec", "--reconcile", "1"])
        w = node(eng, "worker", ["--workers", "2", "--reconcile", "1"])
        with owned(api, w):
            api.start()
            w.start()
            state = {"killed": False, "back": False}

            def tick(t):
                if t > 2 and not state["killed"]:
                    eng.nats.kill()
                    state["killed"] = True
                elif t > 3.5 and not state["back"]:
                    eng.nats.restart()
                    state["back"] = True

            accepted, others = load(api, 6, tick)
            check(state["back"], "NATS was killed and restarted during the load")
            check(len(accepted) > 50, "jobs accepted around the restart", (len(accepted), others))
            check(all(k[0] == 503 and k[1] for k in others if isinstance(k, tuple)),
                  "anything refused was a 503 with Retry-After", others)
            check_each_once(api, accepted, eng)
            for s in (w, api):
                s.stop()


@case("pg_restart")
def postgres_restarted_under_load(_):
    with Engines() as eng:
        # a submission waits a second for the database, then gets its 503
        api = node(eng, "serve", ["--no-exec", "--store-wait", "1000"])
        w = node(eng, "worker", ["--workers", "2", "--store-wait", "1000"])
        with owned(api, w):
            api.start()
            w.start()
            state = {"stopped": False, "started": False, "readyz": set()}

            def tick(t):
                if t > 2 and not state["stopped"]:
                    eng.pg.stop()
                    state["stopped"] = True
                elif state["stopped"] and not state["started"]:
                    state["readyz"].add(api.get("/readyz").status)
                    if t > 4:
                        eng.pg.start()
                        state["started"] = True

            accepted, others = load(api, 7, tick)
            check(state["started"], "PostgreSQL was stopped and started during the load")
            check(503 in state["readyz"], "/readyz said not ready while the database was away",
                  state["readyz"])
            check(others.get((503, True), 0) > 0,
                  "submissions while the database was away got 503 with Retry-After", others)
            check(set(others) <= {(503, True)}, "nothing else went wrong", others)
            wait_for("/readyz ready again by itself", lambda: api.get("/readyz").status == 200,
                     30)
            check_each_once(api, accepted, eng)
            r = api.post("/v1/jobs?wait=true", {"language": "bash", "code": "echo after"})
            check(r.status == 200 and r.json()["output"] == "after\n",
                  "service resumed by itself", r)
            for s in (w, api):
                s.stop()


@case("nats_r3")
def nats_cluster_loses_a_node(_):
    with Engines(nats_nodes=3, extra=["--stream-replicas", "3"]) as eng:
        api = node(eng, "serve", ["--no-exec", "--reconcile", "1"])
        w = node(eng, "worker", ["--workers", "2", "--reconcile", "1"])
        with owned(api, w):
            api.start()
            w.start()
            ready(api, w)
            first = submit_all(api, [{"language": "bash", "code": f"echo tok-{i}"}
                                     for i in range(10)], within=30)
            check_each_once(api, first, eng)
            queued = submit_all(api, [sleeper(100 + i, 1) for i in range(6)], within=30)
            eng.nats.servers[0].kill()
            later = submit_all(api, [{"language": "bash", "code": f"echo tok-{200 + i}"}
                                     for i in range(10)], within=30)
            check_each_once(api, {**queued, **later}, eng)
            for s in (w, api):
                s.stop()


if __name__ == "__main__":
    run(G)
