#!/usr/bin/env python3
"""End-to-end tests of webhooks: a job's callbackUrl gets its final job.

A receiver (an HTTP server of this script, on loopback) answers each path
with a script of answers (status, headers, or no answer at all) and records
every request it gets. The servers allow loopback by --webhook-allow,
except the "strict" group's, which allows nothing.

Groups:
  deliver   signed delivery, the body the job's JSON; retries after 500s
            then success (attempt count exact); a 404 fails at once; a long
            answer cut, its status counting;
            Retry-After honoured; a receiver that never answers (timeout,
            attempts exhausted); SSRF refusals at submission
  strict    no allow-list: 127.0.0.1 refused at submission, the name
            localhost refused at delivery (it resolves to loopback); a bad
            webhooks.allow stops the start
  restart   a delivery pending (the receiver answered 500) when the server
            is killed -9: the restarted server delivers it; a SIGTERM while
            a receiver holds an attempt ends it at once, and the restarted
            server delivers
  two_nodes (--cluster only) an API node and a worker on one PostgreSQL:
            each delivery made once, by one of them

usage: webhooks_test.py --moat PATH [--group NAME | --case NAME | --list]
"""
import hashlib
import hmac
import http.server
import json
import os
import signal
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Failure, check, wait_for  # noqa: E402
from groups import Groups, run  # noqa: E402
from serve_util import Server, expect_error, metric_sum, owned, py  # noqa: E402

SECRET = "e2e-webhook-secret"
TIMEOUT_MS = 1000
ATTEMPTS = 4
FAST = ["--webhook-secret", SECRET, "--webhook-backoff", "200", "--webhook-attempts",
        str(ATTEMPTS), "--webhook-timeout", str(TIMEOUT_MS), "--webhook-poll", "50"]
ALLOW = ["--webhook-allow", "127.0.0.1/32"]

G = Groups()
G.group("deliver", FAST + ALLOW, cluster=True)
G.group("strict", FAST, cluster=True)
G.group("restart", None, cluster=True)
if "--cluster" in sys.argv:  # two nodes need the cluster's shared store
    G.group("two_nodes", None, cluster=True)
case = G.case


# ---- the receiver ----

class Receiver:
    """Paths answer with their script: a list of (status, headers) or
    "hang" (no answer for longer than moat's timeout); the last entry
    repeats. Every request is recorded with its arrival time."""

    def __init__(self):
        self.scripts = {}
        self.got = {}
        self.lock = threading.Lock()
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def handle_one(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with recv.lock:
                    seen = recv.got.setdefault(self.path, [])
                    seen.append({"method": self.command, "headers": dict(self.headers),
                                 "body": body, "at": time.monotonic()})
                    script = recv.scripts.get(self.path, [(200, {})])
                    step = script[min(len(seen) - 1, len(script) - 1)]
                if step == "hang":
                    time.sleep(TIMEOUT_MS / 1000 * 3)
                    return
                status, headers = step[0], step[1]
                body = b"x" * step[2] if len(step) > 2 else b"ok"
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:  # moat stopped reading: what it does past max_response_kb
                    with recv.lock:
                        seen[-1]["cut"] = True

            do_POST = do_PUT = handle_one

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def path(self, script):
        p = f"/hook/{uuid.uuid4()}"
        with self.lock:
            self.scripts[p] = script
        return p

    def url(self, path, host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    def requests(self, path):
        with self.lock:
            return list(self.got.get(path, []))

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


RECEIVER = None


def receiver():
    global RECEIVER
    if RECEIVER is None:
        RECEIVER = Receiver()
    return RECEIVER


# ---- checks ----

def verify_signature(req):
    """What docs/webhooks.md tells a receiver to do."""
    sig = req["headers"].get("Moat-Signature", "")
    parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
    check(set(parts) == {"t", "v1"}, "Moat-Signature is t=...,v1=...", sig)
    want = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + req["body"],
                    hashlib.sha256).hexdigest()
    check(hmac.compare_digest(want, parts["v1"]), "the signature verifies", (sig, want))
    check(abs(int(parts["t"]) - time.time()) < 300, "the timestamp is now", parts["t"])


def callback_of(srv, jid, status, timeout=60):
    """Waits until the job's callback has status; the callback object."""
    box = {}

    def done():
        j = srv.job(jid)
        box["job"] = j
        return j.get("callback", {}).get("status") == status
    try:
        wait_for(f"callback {status}", done, timeout, 0.05)
    except Failure:
        raise Failure(f"callback not {status}: {box.get('job', {}).get('callback')}")
    return box["job"]["callback"]


def attempts_by_outcome(srv):
    samples, _ = srv.metrics()
    return {o: metric_sum(samples, "moat_webhook_attempts_total", outcome=o)
            for o in ("delivered", "retry", "failed")}


def submit_hooked(srv, url, code="print(6 * 7)"):
    return srv.submit(py(code, callbackUrl=url))


# ---- deliver ----

@case("deliver")
def delivered_signed_with_the_jobs_json(srv):
    rc = receiver()
    p = rc.path([(200, {})])
    jid = submit_hooked(srv, rc.url(p))
    r = srv.get(f"/v1/jobs/{jid}")
    check(r.json()["callback"]["status"] in ("pending", "delivered"), "callback shown", r)
    cb = callback_of(srv, jid, "delivered")
    check(cb["url"] == rc.url(p) and cb["attempts"] == 1 and cb["lastError"] is None
          and isinstance(cb["deliveredAt"], str), "delivered once, no error", cb)
    reqs = rc.requests(p)
    check(len(reqs) == 1, "one request", len(reqs))
    req = reqs[0]
    check(req["method"] == "POST", "POST", req["method"])
    check(req["headers"].get("Moat-Delivery") == jid, "Moat-Delivery is the job id", req["headers"])
    check(req["headers"].get("Content-Type") == "application/json", "JSON", req["headers"])
    verify_signature(req)
    body = json.loads(req["body"])
    now = srv.job(jid)
    check(body["callback"]["status"] == "pending" and body["callback"]["attempts"] == 1,
          "the body shows the attempt it is", body["callback"])
    body.pop("callback")
    now.pop("callback")
    check(body == now, "the body is the job as GET shows it", (body, now))
    check(body["status"] == "completed" and body["output"] == "42\n", "the final job", body)


@case("deliver")
def retried_after_500s_then_delivered(srv):
    rc = receiver()
    p = rc.path([(500, {}), (500, {}), (200, {})])
    before = attempts_by_outcome(srv)
    jid = submit_hooked(srv, rc.url(p))
    cb = callback_of(srv, jid, "delivered")
    after = attempts_by_outcome(srv)
    check({k: after[k] - before[k] for k in after} == {"delivered": 1, "retry": 2, "failed": 0},
          "moat_webhook_attempts_total counts them", (before, after))
    check(cb["attempts"] == 3, "three attempts", cb)
    check(cb["lastError"] == "the receiver answered 500", "the last failure kept", cb)
    reqs = rc.requests(p)
    check(len(reqs) == 3, "three requests", len(reqs))
    for q in reqs:
        verify_signature(q)


@case("deliver")
def client_error_fails_at_once(srv):
    rc = receiver()
    p = rc.path([(404, {})])
    jid = submit_hooked(srv, rc.url(p))
    cb = callback_of(srv, jid, "failed")
    check(cb["attempts"] == 1 and cb["lastError"] == "the receiver answered 404"
          and cb["deliveredAt"] is None, "failed after one attempt", cb)
    time.sleep(0.5)  # longer than backoff + poll: a retry would have come
    check(len(rc.requests(p)) == 1, "no retry of a 404", len(rc.requests(p)))
    check(srv.job(jid)["callback"] == cb, "nothing changes after", srv.job(jid)["callback"])


@case("deliver")
def retry_after_is_honoured(srv):
    rc = receiver()
    p = rc.path([(503, {"Retry-After": "2"}), (429, {"Retry-After": "1"}), (200, {})])
    jid = submit_hooked(srv, rc.url(p))
    cb = callback_of(srv, jid, "delivered")
    check(cb["attempts"] == 3, "three attempts", cb)
    at = [q["at"] for q in rc.requests(p)]
    check(len(at) == 3, "three requests", len(at))
    # the backoff alone would be 0.1-0.4 s
    check(at[1] - at[0] >= 1.9, "the second waited Retry-After: 2", at[1] - at[0])
    check(at[2] - at[1] >= 0.9, "the third waited Retry-After: 1", at[2] - at[1])


@case("deliver")
def a_long_answer_is_cut_and_its_status_counts(srv):
    rc = receiver()
    p = rc.path([(200, {}, 8 << 20)])  # 8 MiB: past max_response_kb (16 KiB)
    jid = submit_hooked(srv, rc.url(p))
    cb = callback_of(srv, jid, "delivered")
    check(cb["attempts"] == 1 and cb["lastError"] is None, "delivered at once", cb)
    wait_for("moat closed the connection before the answer's end",
             lambda: rc.requests(p)[0].get("cut"), 10)


@case("deliver")
def a_receiver_that_never_answers_times_out(srv):
    rc = receiver()
    p = rc.path(["hang"])
    jid = submit_hooked(srv, rc.url(p))
    cb = callback_of(srv, jid, "failed", timeout=90)
    check(cb["attempts"] == ATTEMPTS, f"{ATTEMPTS} attempts", cb)
    check("timeout" in cb["lastError"].lower() or "timed out" in cb["lastError"].lower(),
          "the error says it timed out", cb)
    check(len(rc.requests(p)) == ATTEMPTS, "each attempt reached the receiver",
          len(rc.requests(p)))


@case("deliver")
def refused_urls_at_submission(srv):
    before = srv.stored("SELECT count(*) FROM jobs")[0][0]
    bad = [
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://[fd00:ec2::254]/", "cloud metadata"),
        ("http://10.0.0.1/hook", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://100.64.0.1/", "shared (CGNAT)"),
        ("http://169.254.1.1/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fc00::1]/", "private"),
        ("http://[::1]:8080/", "loopback"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[::ffff:127.0.0.2]/", "loopback"),  # not in 127.0.0.1/32
        ("http://127.0.0.2/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("ftp://example.com/x", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        ("example.com/hook", "not a valid URL"),
        ("http://user:pw@example.com/", "user information"),
        ("http://example.com/a b", "percent-encoded"),
        ("http://example.com/" + "a" * 2100, "longer than"),
        ("", "http or https URL"),
    ]
    for url, why in bad:
        r = srv.post("/v1/jobs", py("print(1)", callbackUrl=url))
        e = expect_error(r, 400, "invalid_field", "callbackUrl", f"callbackUrl {url[:60]!r}")
        check(why in e["message"], f"{url[:60]!r}: says {why!r}", e)
    for v in (5, ["http://example.com"], {"u": 1}, True):
        r = srv.post("/v1/jobs", py("print(1)", callbackUrl=v))
        expect_error(r, 400, "invalid_field", "callbackUrl", f"callbackUrl {v!r}")
    after = srv.stored("SELECT count(*) FROM jobs")[0][0]
    check(after == before, "no job stored for a refused URL", (before, after))
    # null: no callback, and the job's JSON has none
    jid = srv.submit(py("print(1)", callbackUrl=None))
    check("callback" not in srv.wait_final(jid), "no callback, no callback key", srv.job(jid))


# ---- strict ----

@case("strict")
def loopback_refused_without_allow(srv):
    for url in ("http://127.0.0.1:9/hook", "http://[::1]/", "http://[::ffff:127.0.0.1]/"):
        r = srv.post("/v1/jobs", py("print(1)", callbackUrl=url))
        e = expect_error(r, 400, "invalid_field", "callbackUrl", url)
        check("loopback" in e["message"], f"{url} is loopback", e)


@case("strict")
def a_name_resolving_to_loopback_is_refused_at_delivery(srv):
    rc = receiver()
    p = rc.path([(200, {})])
    jid = submit_hooked(srv, rc.url(p, host="localhost"))
    cb = callback_of(srv, jid, "failed")
    check(cb["attempts"] == 1, "one attempt", cb)
    check("localhost resolves to a loopback address" in cb["lastError"], "says why", cb)
    check(rc.requests(p) == [], "nothing reached the receiver", rc.requests(p))


@case("strict")
def a_bad_allow_list_stops_the_start(_):
    for bad, why in (("10.0.0.0/40", "the prefix must be 0..32"),
                     ("localhost", "not an address")):
        srv = Server(G.moat, ["--webhook-allow", bad, "--no-exec"], label="webhooks-bad-allow")
        with owned(srv):
            try:
                srv.start()
            except Failure as e:
                check("webhooks.allow" in str(e) and why in str(e), f"{bad}: says why", str(e))
            else:
                raise Failure(f"started with --webhook-allow {bad}")
            check(srv.proc.returncode == 1, "exit status 1", srv.proc.returncode)


# ---- restart ----

@case("restart")
def killed_with_a_delivery_pending_then_delivered_after_restart(_):
    rc = receiver()
    p = rc.path([(500, {}), (200, {})])
    # a retry far off: the kill comes while the delivery waits for it
    flags = ALLOW + ["--webhook-secret", SECRET, "--webhook-backoff", "3000",
                     "--webhook-poll", "50", "--webhook-timeout", str(TIMEOUT_MS)]
    srv = Server(G.moat, flags, label="webhooks-restart")
    with owned(srv):
        srv.start()
        jid = submit_hooked(srv, rc.url(p))
        wait_for("the first attempt recorded",
                 lambda: srv.job(jid).get("callback", {}).get("attempts") == 1
                 and srv.job(jid)["callback"]["lastError"] is not None, 60, 0.05)
        check(len(rc.requests(p)) == 1, "one request before the kill", len(rc.requests(p)))
        srv.kill9()
        check(srv.proc.returncode == -signal.SIGKILL, "killed", srv.proc.returncode)
        rows = srv.stored("SELECT cb_status, cb_attempts FROM jobs WHERE id = ?", (jid,))
        check(rows == [("pending", 1)], "stored pending after one attempt", rows)
        srv.start()
        cb = callback_of(srv, jid, "delivered")
        check(cb["attempts"] == 2, "the second attempt delivered", cb)
        reqs = rc.requests(p)
        check(len(reqs) == 2, "two requests in all", len(reqs))
        verify_signature(reqs[1])
        check(json.loads(reqs[1]["body"])["jobId"] == jid, "the same job", reqs[1]["body"][:200])
        srv.stop()



@case("restart")
def stopped_mid_attempt_then_delivered_after_restart(_):
    """SIGTERM while a receiver holds an attempt: the server does not wait
    for it (the attempt ends at once), the delivery stays pending, due at
    once, and the restarted server delivers it."""
    rc = receiver()
    p = rc.path(["hang", (200, {})])
    flags = ALLOW + ["--webhook-secret", SECRET, "--webhook-poll", "50",
                     "--webhook-timeout", "60000"]
    srv = Server(G.moat, flags, label="webhooks-stop")
    with owned(srv):
        srv.start()
        jid = submit_hooked(srv, rc.url(p))
        wait_for("the receiver holds the first attempt", lambda: len(rc.requests(p)) == 1, 60)
        t0 = time.monotonic()
        srv.stop()
        check(time.monotonic() - t0 < 30, "the stop did not wait out the 60 s attempt",
              time.monotonic() - t0)
        rows = srv.stored("SELECT cb_status, cb_attempts, cb_error FROM jobs WHERE id = ?", (jid,))
        check(rows == [("pending", 1, "moat stopped during the attempt")],
              "pending after the cut attempt", rows)
        srv.start()
        cb = callback_of(srv, jid, "delivered")
        check(cb["attempts"] == 2 and cb["lastError"] == "moat stopped during the attempt",
              "delivered by the second attempt", cb)
        srv.stop()


def two_nodes_each_delivery_made_once(_):
    """Two nodes (an API node and a worker) both poll the shared store every
    20 ms: each job's delivery is made by one of them, once."""
    rc = receiver()
    flags = ALLOW + ["--webhook-secret", SECRET, "--webhook-poll", "20"]
    api = Server(G.moat, flags, label="webhooks-api")
    worker = Server(G.moat, flags, label="webhooks-worker", role="worker")
    with owned(api, worker):
        api.start()
        worker.start()
        paths = [rc.path([(200, {})]) for _ in range(12)]
        ids = [submit_hooked(api, rc.url(p), code=f"print({i})") for i, p in enumerate(paths)]
        for jid in ids:
            cb = callback_of(api, jid, "delivered")
            check(cb["attempts"] == 1, "one attempt", cb)
        time.sleep(0.5)  # many polls of both nodes: a second delivery would have come
        counts = [len(rc.requests(p)) for p in paths]
        check(counts == [1] * len(paths), "each delivered exactly once", counts)
        by = [l for s in (api, worker) for l in s.log if "event=webhook " in l]
        check(len(by) == len(paths), "one attempt logged per job across the nodes", by)
        worker.stop()
        api.stop()


if "--cluster" in sys.argv:
    case("two_nodes")(two_nodes_each_delivery_made_once)

if __name__ == "__main__":
    run(G)
