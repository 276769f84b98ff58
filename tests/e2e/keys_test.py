"""End-to-end tests of API keys, quotas, Idempotency-Key and CORS on a real
`moat serve` (docs/http.md: "API keys", "Quotas", "Idempotency", "CORS").

Groups:
  cli       moat keys add|list|revoke against a server's store; 401 without
            or with a bad or revoked key, the open routes, X-Auth-Token
  limits    403 over a key's maxima and languages, 429 over jobs per minute
            under concurrent load (exact counts), concurrent jobs
  idem      Idempotency-Key: replays, another body, concurrent retries
  listen    a public address: refused without keys, served with
            --allow-anonymous or once a key exists
  cors      preflight and the headers of an allowed origin

usage: keys_test.py --moat PATH [--group NAME | --case NAME | --list]
"""
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import Failure, check, wait_for  # noqa: E402
from serve_util import Server, UUID_RE, expect_error, owned, py  # noqa: E402
from groups import Groups, run  # noqa: E402

G = Groups()
for name in ("cli", "limits", "idem", "listen", "cors"):
    G.group(name, None)
case = G.case

# jobs stay queued: a quota's count does not depend on how fast they run
NOEXEC = ["--no-exec", "--keys-reload", "100"]


def keys(srv, *args, ok=True):
    """moat keys ARGS on srv's store: (rc, stdout, stderr)."""
    p = subprocess.run([G.moat, "keys", *args, "--data-dir", srv.data_dir],
                       capture_output=True, text=True, timeout=60)
    if ok:
        check(p.returncode == 0, f"moat keys {' '.join(args)} exits 0",
              (p.returncode, p.stdout, p.stderr))
    return p.returncode, p.stdout, p.stderr


def add_key(srv, *limits):
    """A new key: (id, key)."""
    _, out, _ = keys(srv, "add", "--json", *limits)
    got = json.loads(out)
    check(UUID_RE.match(got["id"]) and got["key"].startswith("moat_") and
          len(got["key"]) == 5 + 43, "moat keys add: an id and moat_<43 base64url>", got)
    return got["id"], got["key"]


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def listed(srv):
    _, out, _ = keys(srv, "list", "--json")
    return {k["id"]: k for k in json.loads(out)}


def concurrently(n, fn):
    """fn(i) in n threads started together: their results, in order."""
    out = [None] * n
    gate = threading.Barrier(n)

    def one(i):
        gate.wait()
        try:
            out[i] = fn(i)
        except Failure as e:
            out[i] = e

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    for r in out:
        if isinstance(r, Failure):
            raise r
    return out


def wait_final(srv, jid, headers, timeout=120):
    """The job once final, read with headers (Server.wait_final sends none)."""
    def final():
        r = srv.get(f"/v1/jobs/{jid}", headers=headers)
        check(r.status == 200, f"GET /v1/jobs/{jid}", r)
        j = r.json()
        return j if j["status"] in ("completed", "failed", "cancelled") else None
    return wait_for(f"job {jid} final", final, timeout, interval=0.1)


def expect_401(r, code, invalid):
    expect_error(r, 401, code)
    want = 'Bearer realm="moat"' + (', error="invalid_token"' if invalid else "")
    check(r.header("www-authenticate") == want, "WWW-Authenticate", r.headers)


# ---- cli ----

@case("cli")
def keys_add_list_revoke_and_401(_):
    srv = Server(G.moat, NOEXEC, label="keys-cli")
    with owned(srv):
        kid, key = add_key(srv, "--name", "ci", "--jobs-per-minute", "7", "--concurrent-jobs",
                           "3", "--max-memory-mb", "256", "--languages", "python,bash")
        _, key2 = add_key(srv)
        got = listed(srv)
        check(set(got) >= {kid}, "list shows the key", got)
        k = got[kid]
        check(k["name"] == "ci" and k["revoked"] is False and k["revokedMs"] == 0 and
              k["limits"] == {"jobsPerMinute": 7, "concurrentJobs": 3, "maxTimeMs": 0,
                              "maxWallTimeMs": 0, "maxMemoryMb": 256, "maxProcesses": 0,
                              "maxOutputKb": 0, "languages": "python,bash"},
              "list: name, limits, not revoked", k)
        check(key not in json.dumps(got), "list never shows a key", got)
        with open(os.path.join(srv.data_dir, "moat.db"), "rb") as f:
            check(key.encode() not in f.read(), "the store holds no key, only its hash")

        rc, _, err = keys(srv, "add", "--max-memory-mb", "999999", ok=False)
        check(rc == 2 and "above the server's maximum" in err, "a maximum above the server's", err)
        rc, _, err = keys(srv, "add", "--languages", "py", ok=False)
        check(rc == 2 and "say python" in err, "an alias is not a language's name", err)

        srv.start()
        expect_401(srv.get("/v1/languages"), "missing_key", False)
        expect_401(srv.post("/v1/jobs", py("print(1)")), "missing_key", False)
        expect_401(srv.get("/v1/languages", headers=bearer("moat_nope")), "invalid_key", True)
        expect_401(srv.get("/v1/languages", headers={"Authorization": "Basic eDp5"}),
                   "invalid_key", True)
        expect_401(srv.get("/v1/languages", headers={"Authorization": "Bearer "}),
                   "invalid_key", True)
        expect_401(srv.get("/v1/languages", headers={"Authorization": f"Bearer {key}x"}),
                   "invalid_key", True)
        for path in ("/healthz", "/readyz", "/metrics"):
            r = srv.get(path)
            check(r.status == 200, f"{path} needs no key", r)
        r = srv.get("/v1/languages", headers=bearer(key))
        check(r.status == 200 and r.json(), "a good key: 200", r)
        # Judge0's headers carry the same keys
        for h in ("X-Auth-Token", "X-Auth-User"):
            r = srv.get("/v1/languages", headers={h: key})
            check(r.status == 200, f"{h}: the key", r)
            expect_401(srv.get("/v1/languages", headers={h: "bad"}), "invalid_key", True)
        r = srv.post("/v1/jobs", py("print(1)"), headers=bearer(key))
        check(r.status == 202, "a submission with a key", r)
        jid = r.json()["jobId"]
        r = srv.get(f"/v1/jobs/{jid}", headers=bearer(key2))
        check(r.status == 200, "reads with another key", r)

        # moat submit sends $MOAT_API_KEY
        src = os.path.join(srv.data_dir, "hello.py")
        with open(src, "w") as f:
            f.write("print('hi')\n")
        argv = [G.moat, "submit", src, "--no-wait", "--server", f"http://{srv.hostport}"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                           env={**os.environ, "MOAT_API_KEY": key})
        check(p.returncode == 0 and UUID_RE.match(p.stdout.strip()),
              "moat submit with $MOAT_API_KEY: the id", (p.returncode, p.stdout, p.stderr))
        env = {k: v for k, v in os.environ.items() if k != "MOAT_API_KEY"}
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
        check(p.returncode != 0 and "missing_key" in p.stdout + p.stderr,
              "moat submit without a key: refused", (p.returncode, p.stdout, p.stderr))

        rc, out, _ = keys(srv, "revoke", kid)
        check(out.strip() == f"revoked {kid}", "revoke says so", out)
        rc, _, err = keys(srv, "revoke", kid, ok=False)
        check(rc == 1 and "revoked already" in err, "a second revoke", (rc, err))
        rc, _, err = keys(srv, "revoke", "01a25381-e533-7f16-8acd-6f6934cf03d3", ok=False)
        check(rc == 3 and "no key" in err, "an unknown id", (rc, err))
        check(listed(srv)[kid]["revoked"] is True, "list: revoked")
        wait_for("the revoked key refused", lambda: srv.get(
            "/v1/languages", headers=bearer(key)).status == 401, 10)
        expect_401(srv.get("/v1/languages", headers=bearer(key)), "invalid_key", True)
        r = srv.get("/v1/languages", headers=bearer(key2))
        check(r.status == 200, "the other key still works", r)
        srv.stop()


# ---- limits ----

@case("limits")
def over_key_maxima_403(_):
    srv = Server(G.moat, NOEXEC, label="keys-max")
    with owned(srv):
        _, key = add_key(srv, "--max-memory-mb", "64", "--max-time-ms", "1000",
                         "--languages", "python")
        srv.start()
        h = bearer(key)
        e = expect_error(srv.post("/v1/jobs", py("1", memoryMb=65), headers=h), 403,
                         "over_key_limit", "memoryMb")
        check(e["message"] == "memoryMb is 65; this API key allows at most 64", "says both", e)
        expect_error(srv.post("/v1/jobs", py("1", timeoutMs=1001), headers=h), 403,
                     "over_key_limit", "timeoutMs")
        e = expect_error(srv.post("/v1/jobs", {"language": "bash", "code": "echo"}, headers=h),
                         403, "language_not_allowed", "language")
        check(e["message"] == "this API key may not run bash (allowed: python)", "says which", e)
        # a limit left at the server's default is lowered to the key's maximum
        r = srv.post("/v1/jobs", py("1"), headers=h)
        check(r.status == 202, "defaults within the key's maxima", r)
        got = srv.get(f"/v1/jobs/{r.json()['jobId']}", headers=h)
        check(got.status == 200, "read back", got)
        r = srv.post("/v1/jobs", py("1", memoryMb=64, timeoutMs=1000), headers=h)
        check(r.status == 202, "at the maxima", r)
        srv.stop()


@case("limits")
def jobs_per_minute_under_concurrent_load(_):
    srv = Server(G.moat, NOEXEC, label="keys-rate")
    with owned(srv):
        _, key = add_key(srv, "--jobs-per-minute", "5")
        _, other = add_key(srv)
        srv.start()
        got = concurrently(20, lambda i: srv.post("/v1/jobs", py(f"print({i})"),
                                                  headers=bearer(key)))
        ok = [r for r in got if r.status == 202]
        limited = [r for r in got if r.status == 429]
        check(len(ok) == 5 and len(limited) == 15,
              "20 at once with 5 per minute: exactly 5 accepted, 15 refused",
              sorted(r.status for r in got))
        check(len({r.json()["jobId"] for r in ok}) == 5, "five jobs")
        for r in limited:
            expect_error(r, 429, "rate_limited")
            ra = int(r.header("retry-after"))
            check(1 <= ra <= 12 and r.header("ratelimit-limit") == "5" and
                  r.header("ratelimit-remaining") == "0" and
                  1 <= int(r.header("ratelimit-reset")) <= 60,
                  "Retry-After and RateLimit-* (one job every 12 s)", r.headers)
        for r in ok:
            check(r.header("ratelimit-limit") == "5" and
                  0 <= int(r.header("ratelimit-remaining")) <= 4, "RateLimit-* on 202", r.headers)
        check(sorted(int(r.header("ratelimit-remaining")) for r in ok) == [0, 1, 2, 3, 4],
              "each accepted one took one", [r.headers for r in ok])
        # another key has its own quota; reads are not counted
        r = srv.post("/v1/jobs", py("1"), headers=bearer(other))
        check(r.status == 202 and r.header("ratelimit-limit") is None, "another key", r)
        r = srv.get("/v1/languages", headers=bearer(key))
        check(r.status == 200, "reads are not submissions", r)
        srv.stop()


@case("limits")
def concurrent_jobs_counted_until_final(_):
    srv = Server(G.moat, NOEXEC, label="keys-conc")
    with owned(srv):
        _, key = add_key(srv, "--concurrent-jobs", "2")
        srv.start()
        h = bearer(key)
        got = concurrently(6, lambda i: srv.post("/v1/jobs", py(f"print({i})"), headers=h))
        ok = [r.json()["jobId"] for r in got if r.status == 202]
        check(len(ok) == 2, "6 at once with 2 concurrent: 2 accepted",
              sorted(r.status for r in got))
        for r in got:
            if r.status != 202:
                expect_error(r, 429, "too_many_jobs")
                check(r.header("retry-after") == "1", "Retry-After", r.headers)
        # a job that becomes final frees its place
        r = srv.request("DELETE", f"/v1/jobs/{ok[0]}", headers=h)
        check(r.status == 200 and r.json()["status"] == "cancelled", "cancelled", r)
        r = srv.post("/v1/jobs", py("print('next')"), headers=h)
        check(r.status == 202, "a place again once one is final", r)
        expect_error(srv.post("/v1/jobs", py("1"), headers=h), 429, "too_many_jobs")
        srv.stop()


@case("limits")
def concurrent_jobs_free_when_they_complete(_):
    srv = Server(G.moat, ["--workers", "1", "--keys-reload", "100"], label="keys-run")
    with owned(srv):
        _, key = add_key(srv, "--concurrent-jobs", "1")
        srv.start()
        h = bearer(key)
        r = srv.post("/v1/jobs", py("import time; time.sleep(50)", timeoutMs=10000,
                                    wallTimeoutMs=60000), headers=h)
        check(r.status == 202, "the first", r)
        first = r.json()["jobId"]
        wait_for("the first running", lambda: srv.get(
            f"/v1/jobs/{first}", headers=h).json()["status"] == "running", 60, interval=0.1)
        expect_error(srv.post("/v1/jobs", py("print('b')"), headers=h), 429, "too_many_jobs")
        r = srv.request("DELETE", f"/v1/jobs/{first}", headers=h)
        check(r.status == 200, "the running one cancelled", r)
        # a job that completes frees its place: c (answered final) then d
        r = srv.post("/v1/jobs?wait=true", py("print('c')"), headers=h)
        check(r.status == 200 and r.json()["output"] == "c\n", "a place once it was cancelled", r)
        r = srv.post("/v1/jobs", py("print('d')"), headers=h)
        check(r.status == 202, "a place once c completed", r)
        got = wait_final(srv, r.json()["jobId"], h)
        check(got["status"] == "completed" and got["output"] == "d\n", "d ran", got)
        r = srv.post("/v1/jobs", py("print('e')"), headers=h)
        check(r.status == 202, "a place once d completed", r)
        wait_final(srv, r.json()["jobId"], h)
        srv.stop()


@case("limits")
def piston_execute_behind_keys(_):
    """Piston's route: the key check before routing (moat's 401), the key's
    maxima and quotas in Piston's shape ({"message"}), Idempotency-Key."""
    srv = Server(G.moat, ["--workers", "1", "--keys-reload", "100"], label="keys-piston")
    with owned(srv):
        _, key = add_key(srv, "--jobs-per-minute", "2", "--languages", "python")
        srv.start()
        run = {"language": "python", "version": "*",
               "files": [{"content": "print('p')"}]}
        expect_401(srv.post("/api/v2/execute", run), "missing_key", False)
        h = bearer(key)
        r = srv.post("/api/v2/execute", {**run, "language": "bash",
                                         "files": [{"content": "echo"}]}, headers=h)
        check(r.status == 403 and r.json() == {
            "message": "this API key may not run bash (allowed: python)"},
            "403 in Piston's shape", r)
        r = srv.post("/api/v2/execute", run, headers={**h, "Idempotency-Key": "p-1"})
        check(r.status == 200 and r.json()["run"]["stdout"] == "p\n", "runs with the key", r)
        again = srv.post("/api/v2/execute", run, headers={**h, "Idempotency-Key": "p-1"})
        check(again.status == 200 and again.body == r.body and
              again.header("idempotent-replayed") == "true", "replayed, not run again", again)
        r = srv.post("/api/v2/execute", run, headers=h)
        check(r.status == 200, "the second of 2 per minute", r)
        r = srv.post("/api/v2/execute", run, headers=h)
        check(r.status == 429 and r.json() == {
            "message": f"this API key may submit 2 jobs per minute; retry in "
                       f"{r.header('retry-after')} s"} and
              r.header("ratelimit-limit") == "2" and r.header("ratelimit-remaining") == "0",
              "429 in Piston's shape, with the headers", r)
        srv.stop()


# ---- idempotency ----

@case("idem")
def idempotent_retries(_):
    srv = Server(G.moat, NOEXEC, label="keys-idem")
    with owned(srv):
        srv.start()
        body = py("print('once')")
        a = srv.post("/v1/jobs", body, headers={"Idempotency-Key": "order-1"})
        check(a.status == 202 and a.header("idempotent-replayed") is None, "first: 202", a)
        b = srv.post("/v1/jobs", body, headers={"Idempotency-Key": "order-1"})
        check(b.status == 202 and b.body == a.body and
              b.header("location") == a.header("location") and
              b.header("idempotent-replayed") == "true", "retry: the same answer", (a, b))
        e = expect_error(srv.post("/v1/jobs", py("print('other')"),
                                  headers={"Idempotency-Key": "order-1"}),
                         422, "idempotency_key_reused", "Idempotency-Key")
        check("another request body" in e["message"], "says why", e)
        # the same key on another route is another request
        expect_error(srv.post("/api/v1/execute", "print(1)",
                              headers={"Idempotency-Key": "order-1"}),
                     422, "idempotency_key_reused", "Idempotency-Key")
        expect_error(srv.post("/v1/jobs", body, headers={"Idempotency-Key": "x" * 256}),
                     400, "invalid_field", "Idempotency-Key")
        # a refused request keeps nothing: its retry may go through
        expect_error(srv.post("/v1/jobs", {"language": "nope", "code": "1"},
                              headers={"Idempotency-Key": "order-2"}), 400, "unknown_language",
                     "language")
        r = srv.post("/v1/jobs", body, headers={"Idempotency-Key": "order-2"})
        check(r.status == 202 and r.json()["jobId"] != a.json()["jobId"], "order-2: a new job", r)

        # concurrent retries of one key: one job
        got = concurrently(12, lambda i: srv.post("/v1/jobs", py("print('race')"),
                                                  headers={"Idempotency-Key": "race-1"}))
        ids = {r.json()["jobId"] for r in got if r.status == 202}
        check(len(ids) == 1, "12 concurrent retries: one job", [(r.status, r.body) for r in got])
        for r in got:
            if r.status != 202:
                expect_error(r, 409, "idempotency_in_progress", "Idempotency-Key")
        r = srv.post("/v1/jobs", py("print('race')"), headers={"Idempotency-Key": "race-1"})
        check(r.status == 202 and r.json()["jobId"] in ids, "then the same job", r)

        # keys are per API key: the same Idempotency-Key of another caller is its own
        _, key = add_key(srv)
        wait_for("the key loaded", lambda: srv.get("/v1/languages").status == 401, 10)
        r = srv.post("/v1/jobs", body, headers={"Idempotency-Key": "order-1", **bearer(key)})
        check(r.status == 202 and r.json()["jobId"] != a.json()["jobId"] and
              r.header("idempotent-replayed") is None, "another caller: another job", r)
        srv.stop()


# ---- listen ----

def start_fails(srv):
    p = subprocess.run(srv.command(), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stderr


@case("listen")
def public_address_needs_keys(_):
    srv = Server(G.moat, NOEXEC, label="keys-public", host="0.0.0.0")
    with owned(srv):
        rc, err = start_fails(srv)
        check(rc == 1 and "is not a loopback address and no API key exists" in err and
              "--allow-anonymous" in err, "refused without keys", (rc, err))
        srv.args = NOEXEC + ["--allow-anonymous"]
        srv.start()
        r = srv.get("/v1/languages")
        check(r.status == 200, "--allow-anonymous: served without a key", r)
        # no key exists: what a client sends is ignored (as Judge0 without AUTHN_TOKEN)
        r = srv.get("/v1/languages", headers={"X-Auth-Token": "judge0-token"})
        check(r.status == 200, "no key exists: a token is ignored", r)
        _, key = add_key(srv)
        wait_for("the key loaded", lambda: srv.get(
            "/v1/languages", headers=bearer("moat_bad")).status == 401, 10)
        expect_401(srv.get("/v1/languages", headers=bearer("moat_bad")), "invalid_key", True)
        r = srv.get("/v1/languages")
        check(r.status == 200, "--allow-anonymous: still served without a key", r)
        srv.stop()
        srv.args = NOEXEC
        srv.start()
        expect_401(srv.get("/v1/languages"), "missing_key", False)
        r = srv.get("/v1/languages", headers=bearer(key))
        check(r.status == 200, "a key exists: served with it", r)
        srv.stop()


@case("listen")
def loopback_require_keys(_):
    srv = Server(G.moat, NOEXEC + ["--require-keys"], label="keys-require")
    with owned(srv):
        srv.start()
        expect_401(srv.get("/v1/languages"), "missing_key", False)
        check(srv.get("/healthz").status == 200, "/healthz is open")
        srv.stop()


# ---- cors ----

@case("cors")
def cors_preflight_and_headers(_):
    srv = Server(G.moat, NOEXEC + ["--cors-origins", "https://a.example, https://b.example"],
                 label="keys-cors")
    plain = Server(G.moat, NOEXEC, label="keys-nocors")
    with owned(srv, plain):
        srv.start()
        pre = {"Origin": "https://b.example", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization, idempotency-key"}
        r = srv.request("OPTIONS", "/v1/jobs", headers=pre)
        check(r.status == 204 and r.body == b"", "preflight: 204", r)
        check(r.header("access-control-allow-origin") == "https://b.example" and
              r.header("vary") == "Origin" and
              r.header("access-control-allow-methods") == "GET, POST, PUT, DELETE, OPTIONS" and
              r.header("access-control-allow-headers") ==
              "Authorization, Content-Type, Idempotency-Key, X-Auth-Token, X-Auth-User" and
              r.header("access-control-max-age") == "600", "preflight headers", r.headers)
        e = expect_error(srv.request("OPTIONS", "/v1/jobs",
                                     headers={**pre, "Origin": "https://evil.example"}),
                         403, "origin_not_allowed", "Origin")
        check("evil.example" in e["message"], "names the origin", e)
        r = srv.post("/v1/jobs", py("1"), headers={"Origin": "https://a.example"})
        check(r.status == 202 and r.header("access-control-allow-origin") == "https://a.example"
              and r.header("vary") == "Origin" and
              "Location" in r.header("access-control-expose-headers"), "allowed origin", r)
        r = srv.get("/v1/languages", headers={"Origin": "https://evil.example"})
        check(r.status == 200 and r.header("access-control-allow-origin") is None and
              r.header("vary") == "Origin", "another origin: no Allow-Origin", r.headers)
        srv.stop()
        # keys required: a preflight needs none; a 401 is readable by the page
        _, key = add_key(srv)
        srv.start()
        r = srv.request("OPTIONS", "/v1/jobs", headers=pre)
        check(r.status == 204 and r.header("access-control-allow-origin") == "https://b.example",
              "preflight without a key", r)
        r = srv.get("/v1/languages", headers={"Origin": "https://a.example"})
        expect_401(r, "missing_key", False)
        check(r.header("access-control-allow-origin") == "https://a.example",
              "a 401 carries Allow-Origin", r.headers)
        r = srv.get("/v1/languages", headers={"Origin": "https://a.example", **bearer(key)})
        check(r.status == 200 and r.header("access-control-allow-origin") == "https://a.example",
              "with the key", r)
        srv.stop()
        plain.start()
        r = plain.request("OPTIONS", "/v1/jobs", headers=pre)
        expect_error(r, 405, "method_not_allowed")
        check(r.header("access-control-allow-origin") is None and r.header("vary") is None,
              "no CORS configured: no CORS headers", r.headers)
        plain.stop()


if __name__ == "__main__":
    run(G)
