#!/usr/bin/env python3
"""End-to-end tests of `moat serve`: the HTTP API of API.md on a real server.

The cases are grouped by the server they need; one ctest test per group
(serve_test.py --group NAME). The cases of a group run one after the other
against one server started with the group's flags; a group whose case needs
servers of its own (the crash test) starts them itself. Every server stops
with SIGTERM at the end of its group: it must exit 0 and leave no process of
its box uids and no cgroup behind.

Groups:
  shared    every route, the seeds' own curl commands, verdicts, waits, the
            compile cache, 200 concurrent jobs, malformed requests, metrics
  one       --workers 1: priority order, DELETE of a queued job, retries of
            infrastructure faults, the longest wait
  noexec    --no-exec --max-queue 2: jobs stay queued; 429 when full
  nouids    every box uid taken: /readyz 503 until boxes can be made
  garbage   ~300 hostile requests and slow connections, then still right
  crash     kill -9 with jobs queued and running; restart finishes each once
  restart   SIGTERM with jobs in flight; restart on the same data dir
With --cluster, every group runs again on PostgreSQL and
NATS JetStream (cluster_test.py has the cluster's own cases and faults).
The cases of the shared group run in order; metrics_exposition counts what
the ones before it did.

usage: serve_test.py --moat PATH [--cluster] [--group NAME | --case NAME | --list]
"""
import base64
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_util import (Failure, check, descendants, lease_free, live,  # noqa: E402
                      proc_status, procs_in_tree, procs_listed, wait_for, write)
from serve_util import (ALLOW, EXPECTED_STATUS, MUST_ANSWER, RFC3339_RE,  # noqa: E402
                        TIME_RE, UUID_RE, Server, box_pythons, expect_error, garbage_payloads,
                        json_stream, kill_box_init_of_running_program, malformed_requests,
                        joined, metric_sum, owned, posts_waiting, py, raw_exchange,
                        run_jobs_waiting, sha256, shell)
from groups import Groups, run  # noqa: E402

G = Groups()
G.group("shared", [], cluster=True)
G.group("one", ["--workers", "1", "--max-wait", "500", "--retry-base-delay", "200"],
        cluster=True)
G.group("noexec", ["--no-exec", "--max-queue", "2"], cluster=True)
G.group("nouids", None, cluster=True)
G.group("garbage", ["--connection-timeout", "2"], cluster=True)
G.group("crash", None, cluster=True)
G.group("restart", None, cluster=True)
G.group("policy", ["--policy-file", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "programs", "policy.ini")])
case = G.case


# ======================================================================
# shared server: every route, the seeds, verdicts, waits, concurrency,
# malformed requests
# ======================================================================

@case("shared")
def ready_and_health(srv):
    r = wait_for("GET /readyz 200 once boxes are warm",
                 lambda: (lambda x: x if x.status == 200 else None)(srv.get("/readyz")), 60, 0.2)
    check((r.header("content-type") or "").startswith("application/json"), "readyz JSON", r)
    r = srv.get("/healthz")
    check(r.status == 200, "GET /healthz 200", r)


SEED000_POST = r"""curl -X POST http://<VM-IP>:8080/job \
  -H "Content-Type: application/json" \
  -d '{
    "code": "#include <bits/stdc++.h>\nusing namespace std;\n\nint main() {\n    cout << \"Hello World\";\n    return 0;\n}",
    "executionEngine": "c++"
  }'
"""
SEED000_GET = "curl http://<VM-IP>:8080/job/<job-id>\n"
SEED000_OUTPUT = "curl http://<VM-IP>:8080/job/<job-id>/output\n"
SEED000_CODE = ("#include <bits/stdc++.h>\nusing namespace std;\n\nint main() {\n"
                "    cout << \"Hello World\";\n    return 0;\n}")


@case("shared")
def seed000_curl_cpp_job(srv):
    rc, out, err = shell(SEED000_POST.replace("<VM-IP>:8080", srv.hostport))
    check(rc == 0, "curl POST /job succeeds", (rc, err))
    rec = json.loads(out)
    check(set(rec) == {"id", "executionEngine", "codePath", "codeHash", "status", "creationTime",
                       "retryCount", "tags"}, "seed 000 job record fields", rec)
    jid = rec["id"]
    check(UUID_RE.match(jid), "id is a UUID", jid)
    check(rec["executionEngine"] == "c++", "executionEngine as given", rec)
    check(rec["codePath"] == f"jobs/{jid}/code.bin", "codePath", rec)
    check(rec["codeHash"] == sha256(SEED000_CODE), "codeHash is the SHA-256 of the code", rec)
    check(rec["status"] == "Pending" and rec["retryCount"] == 0, "Pending, retryCount 0", rec)
    check(rec["tags"] is None, "tags null when none given (as the seed shows)", rec)
    check(isinstance(rec["creationTime"], str) and RFC3339_RE.match(rec["creationTime"]),
          "creationTime RFC 3339", rec)

    get = SEED000_GET.replace("<VM-IP>:8080", srv.hostport).replace("<job-id>", jid)
    end = time.monotonic() + 120
    while True:
        rc, out, err = shell(get)
        check(rc == 0, "curl GET /job/{id}", (rc, err))
        rec = json.loads(out)
        check(rec.get("status") in ("Pending", "Running", "Completed", "Failed"),
              "seed 000 status", rec)
        if rec["status"] in ("Completed", "Failed"):
            break
        check(time.monotonic() < end, "seed 000 job finishes within 120 s", rec)
        time.sleep(0.2)
    check(rec["status"] == "Completed", "the C++ job completed", rec)
    check(set(rec) == {"id", "executionEngine", "codePath", "codeHash", "status", "outputPath",
                       "creationTime", "endTime", "retryCount", "outputHash", "tags"},
          "seed 000 finished record fields", rec)
    check(rec["outputPath"] == f"jobs/{jid}/output.log", "outputPath", rec)
    check(rec["outputHash"] == sha256("Hello World"), "outputHash is the SHA-256 of stdout", rec)
    check(RFC3339_RE.match(rec["endTime"]) and rec["endTime"] >= rec["creationTime"],
          "endTime RFC 3339, not before creationTime", rec)
    check(rec["retryCount"] == 0, "retryCount 0", rec)

    rc, out, err = shell(SEED000_OUTPUT.replace("<VM-IP>:8080", srv.hostport)
                         .replace("<job-id>", jid))
    check(rc == 0 and out == b"Hello World", "curl GET /job/{id}/output is the raw stdout", out)

    native = srv.job(jid)
    check(native["language"] == "cpp" and native["compile"] is not None
          and native["output"] == "Hello World", "the same job on the native route", native)


SEED001_LOOP = r"""for i in {1..20}; do
  curl -X POST http://localhost:3001/v1/jobs \
    -H "Content-Type: application/json" \
    -d '{"language":"python","code":"print(\"hello\")"}' &
done
wait
"""


@case("shared")
def expected_output_judged(srv):
    """expectedOutput judges a run that ended well: the same output is ok,
    another is wrong_answer (compared by Judge0's trim unless told), the
    other modes tell their cases apart, a crash keeps its own verdict, and
    bad judging fields are refused naming the field."""
    prog = "import sys\nprint(sys.stdin.read().strip()[::-1])\n"
    cases = [  # (stdin, expected, extra, verdict)
        ("olleh", "hello\n", {}, "ok"),
        ("olleh", "hello  \n\n\n", {}, "ok"),  # trim: trailing blanks
        ("olleh", "hello", {"compare": "exact"}, "wrong_answer"),
        ("olleh", "hello\n", {"compare": "exact"}, "ok"),
        ("olleh", "world\n", {}, "wrong_answer"),
        ("c b a", "a   b\nc", {"compare": "tokens"}, "ok"),
        ("c b a", "a b", {"compare": "tokens"}, "wrong_answer"),
        ("1000000.3", "3.0000001", {"compare": "float"}, "ok"),
        ("1.3", "3.2", {"compare": "float", "absTolerance": 0.2}, "ok"),
        ("1.3", "3.2", {"compare": "float"}, "wrong_answer"),
        ("", "", {"compare": "exact"}, "wrong_answer"),  # it prints a newline
    ]
    for stdin, want, extra, verdict in cases:
        r = srv.post("/v1/jobs", py(prog, stdin=stdin, expectedOutput=want, wait=True, **extra))
        check(r.status == 200, "a judged job answered", r)
        j = r.json()
        check(j["status"] == "completed" and j["verdict"] == verdict,
              f"{stdin!r} against {want!r} {extra}: {verdict}", j)
        check(j["compare"] == extra.get("compare", "trim"), "the job says how it was judged", j)
        if verdict == "wrong_answer":
            check(j["error"] and "Wrong Answer" in j["error"], "with its sentence", j)
    r = srv.post("/v1/jobs", py("raise SystemExit(3)", expectedOutput="", wait=True))
    j = r.json()
    check(j["verdict"] == "runtime_error" and j["exitCode"] == 3,
          "a crash is not judged on its output", j)
    r = srv.post("/v1/jobs", py("print(1)", wait=True))
    check(r.json()["compare"] is None, "an unjudged job says so", r.json())
    # refusals, each naming its field
    for body, field in [
        (py("print(1)", compare="trim"), "compare"),
        (py("print(1)", absTolerance=0.1), "absTolerance"),
        (py("print(1)", expectedOutput=1), "expectedOutput"),
        (py("print(1)", expectedOutput="1", compare="fuzzy"), "compare"),
        (py("print(1)", expectedOutput="1", relTolerance=-1), "relTolerance"),
        (py("print(1)", expectedOutput="1", absTolerance="0.1"), "absTolerance"),
        (py("print(1)", expectedOutput="x" * (64 * 1024 + 1), maxOutputKb=64), "expectedOutput"),
    ]:
        r = srv.post("/v1/jobs", body)
        check(r.status == 400, f"{field}: refused", r)
        check(r.json()["error"]["field"] == field, f"naming {field}", r.json())


@case("shared")
def seed001_twenty_concurrent_curls(srv):
    rc, out, err = shell(SEED001_LOOP.replace("localhost:3001", srv.hostport))
    check(rc == 0, "the seed's loop runs", (rc, err[-500:]))
    answers = json_stream(out)
    check(len(answers) == 20, "20 answers", answers)
    for a in answers:
        check(set(a) == {"jobId", "status"} and a["status"] == "queued", "{jobId, queued}", a)
    ids = [a["jobId"] for a in answers]
    check(len(set(ids)) == 20, "20 distinct job ids", ids)
    for jid, j in srv.wait_final(ids).items():
        check(j["status"] == "completed" and j["output"] == "hello\n" and j["exitCode"] == 0,
              "each prints hello", j)


@case("shared")
def seed001_request_body(srv):
    body = {"language": "python", "code": "print(2 + 2)", "priority": 10, "timeoutMs": 3000,
            "metadata": {}}
    r = srv.post("/v1/jobs", body)
    check(r.status == 202, "202", r)
    a = r.json()
    check(set(a) == {"jobId", "status"} and a["status"] == "queued", "{jobId, queued}", a)
    j = srv.wait_final(a["jobId"])
    check(j["status"] == "completed" and j["output"] == "4\n" and j["exitCode"] == 0
          and j["priority"] == 10 and j["metadata"] == {}, "2 + 2", j)


SEED002_POST = ("curl -X POST -d \"print('Hello from an HTTP stream entry point!')\" "
                "http://localhost:2112/api/v1/execute\n")


@case("shared")
def seed002_raw_body_execute(srv):
    rc, out, err = shell(SEED002_POST.replace("localhost:2112", srv.hostport))
    check(rc == 0, "curl POST /api/v1/execute", (rc, err))
    a = json.loads(out)
    check(set(a) == {"task_id", "status"} and a["status"] == "queued", "{task_id, queued}", a)
    check(UUID_RE.match(a["task_id"]), "task_id a UUID", a)
    j = srv.wait_final(a["task_id"], route="/api/v1/execute/")
    check(j["jobId"] == a["task_id"] and j["language"] == "python" and j["status"] == "completed"
          and j["output"] == "Hello from an HTTP stream entry point!\n",
          "GET /api/v1/execute/{task_id} answers the native job", j)
    # ?language= picks another language
    r = srv.post("/api/v1/execute?language=c",
                 "#include <stdio.h>\nint main(void){puts(\"from c\");return 0;}\n",
                 headers={"Content-Type": "text/plain"})
    check(r.status == 202, "raw C body with ?language=c accepted", r)
    j = srv.wait_final(r.json()["task_id"], route="/api/v1/execute/")
    check(j["language"] == "c" and j["output"] == "from c\n", "ran as C", j)


JOB_TYPES = {
    "jobId": str, "status": str, "language": str, "version": str, "priority": int,
    "attempts": int, "tags": list, "metadata": dict, "createdAt": str, "startedAt": str,
    "finishedAt": str, "codeHash": str, "outputHash": str, "verdict": str, "exitCode": int,
    "signal": type(None), "error": type(None), "timeMs": int, "wallTimeMs": int,
    "memoryKb": int, "output": str, "stderr": str, "stdoutTruncated": bool,
    "stderrTruncated": bool, "compile": type(None),
}


@case("shared")
def native_submit_get_output(srv):
    code = "print(2 + 2)"
    r = srv.post("/v1/jobs", py(code))
    check(r.status == 202, "POST /v1/jobs 202", r)
    a = r.json()
    check(set(a) == {"jobId", "status"} and a["status"] == "queued", "{jobId, queued}", a)
    jid = a["jobId"]
    check(UUID_RE.match(jid), "jobId a UUID", jid)
    check(r.header("location") == f"/v1/jobs/{jid}", "Location: /v1/jobs/{id}", r.headers)
    first = srv.job(jid)
    check(first["status"] in ("queued", "running", "completed"), "a status at once", first)
    j = srv.wait_final(jid)
    for k, t in JOB_TYPES.items():
        check(k in j, f"field {k} present", j)
        check(type(j[k]) is t, f"{k} is {t.__name__}", (k, j[k]))
    check(j["jobId"] == jid and j["status"] == "completed" and j["language"] == "python",
          "the job", j)
    check(re.match(r"^\d+\.\d+", j["version"]), "version probed (e.g. 3.11.2)", j["version"])
    check(j["priority"] == 5 and j["attempts"] == 1 and j["tags"] == [] and j["metadata"] == {},
          "defaults: priority 5, one attempt, no tags, no metadata", j)
    for k in ("createdAt", "startedAt", "finishedAt"):
        check(TIME_RE.match(j[k]), f"{k} RFC 3339 with ms and Z", j[k])
    check(j["createdAt"] <= j["startedAt"] <= j["finishedAt"], "created <= started <= finished", j)
    check(j["codeHash"] == sha256(code), "codeHash = SHA-256 of the code", j)
    check(j["outputHash"] == sha256("4\n"), "outputHash = SHA-256 of stdout", j)
    check(j["verdict"] == "ok" and j["exitCode"] == 0 and j["output"] == "4\n"
          and j["stderr"] == "" and not j["stdoutTruncated"] and not j["stderrTruncated"],
          "result", j)
    check(j["memoryKb"] > 0 and j["wallTimeMs"] >= 0 and j["timeMs"] >= 0, "accounting", j)

    r = srv.get(f"/v1/jobs/{jid}/output")
    check(r.status == 200 and (r.header("content-type") or "").startswith("text/plain"),
          "output is text/plain", r)
    check(r.body == b"4\n", "output is exactly stdout", r.body)

    # alias, tags and metadata are stored and echoed
    meta = {"user": "u-1", "n": [1, 2, {"deep": True}], "s": "é"}
    jid = srv.submit({"language": "py", "code": "print('x')", "tags": ["t1", "t2"],
                      "metadata": meta, "priority": 7})
    j = srv.wait_final(jid)
    check(j["language"] == "python" and j["tags"] == ["t1", "t2"] and j["metadata"] == meta
          and j["priority"] == 7 and j["output"] == "x\n", "alias py, tags, metadata echoed", j)


@case("shared")
def output_409_until_finished(srv):
    jid = srv.submit(py("import time\ntime.sleep(1.5)\nprint('slept')"))
    r = srv.get(f"/v1/jobs/{jid}/output")
    expect_error(r, 409, "not_finished", what="output of an unfinished job")
    j = srv.wait_final(jid)
    check(j["output"] == "slept\n", "then it finishes", j)
    r = srv.get(f"/v1/jobs/{jid}/output")
    check(r.status == 200 and r.body == b"slept\n", "output once finished", r)


SEGV_C = "int main(void){ volatile int *p = 0; return *p; }\n"
SPIN_C = "int main(void){for(;;);}\n"
BAD_C = "int main(void){ return undefined_name; }\n"


@case("shared")
def verdicts_through_the_api(srv):
    helper = "def f():\n    return 'from helper'\n"
    cases = [
        ("exit 3", py("import sys\nprint('before')\nsys.exit(3)")),
        ("sigsegv", {"language": "c", "code": SEGV_C}),
        ("time limit", {"language": "c", "code": SPIN_C, "timeoutMs": 500}),
        ("memory limit", py("a = []\nwhile True: a.append(bytearray(1 << 20))\n", memoryMb=48)),
        ("output limit", py("import sys\nwhile True: sys.stdout.write('x' * 4096)\n",
                            maxOutputKb=8)),
        ("compile error", {"language": "c", "code": BAD_C}),
        ("stdin", py("import sys\nprint(int(sys.stdin.read()) * 2)", stdin="21\n")),
        ("args", py("import sys\nprint(sys.argv[1:])", args=["a b", "--json", "$(id)"])),
        ("files", {"language": "python", "files": [
            {"name": "main.py", "encoding": "base64",
             "content": base64.b64encode(b"import helper\nprint(helper.f())\n").decode()},
            {"name": "helper.py", "content": helper}]}),
        ("stderr", py("import sys\nprint('err', file=sys.stderr)\nprint('out')")),
        ("wall time", py("import time\ntime.sleep(5)", wallTimeoutMs=500)),
        ("fork bomb", py("import os\nwhile True:\n    try:\n        os.fork()\n"
                         "    except OSError:\n        pass\n", timeoutMs=1000,
                         maxProcesses=16)),
        ("unicode", py("import sys\nprint(sys.stdin.read().upper(), end='')",
                       stdin="héllo wörld ✓\n")),
        ("c ok", {"language": "c", "code": open(os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "programs", "hello.c")).read(),
            "stdin": "21\n"}),
    ]
    res = dict(zip([n for n, _ in cases], run_jobs_waiting(srv, [b for _, b in cases])))
    for n, j in res.items():
        check(j["status"] == "completed", f"{n}: completed", j)

    j = res["exit 3"]
    check(j["verdict"] == "runtime_error" and j["exitCode"] == 3 and j["signal"] is None
          and j["output"] == "before\n", "exit 3: runtime_error", j)
    check(isinstance(j["error"], str) and j["error"], "exit 3: an error sentence", j)
    j = res["sigsegv"]
    check(j["verdict"] == "runtime_error" and j["signal"] == "SIGSEGV" and j["exitCode"] == 139,
          "SIGSEGV: runtime_error, 128+11", j)
    check(isinstance(j["error"], str) and j["error"], "SIGSEGV: an error sentence", j)
    check(isinstance(j["compile"], dict) and j["compile"]["verdict"] == "ok", "compiled", j)
    j = res["time limit"]
    check(j["verdict"] == "time_limit" and j["exitCode"] == 124
          and j["error"] == "Time Limit Exceeded (program ran too long)", "time_limit", j)
    check(j["timeMs"] >= 500, "CPU time at least the limit", j["timeMs"])
    j = res["memory limit"]
    check(j["verdict"] == "memory_limit" and isinstance(j["error"], str), "memory_limit", j)
    check(j["memoryKb"] <= 49 * 1024, "peak within the limit", j["memoryKb"])
    j = res["output limit"]
    check(j["verdict"] == "output_limit" and len(j["output"]) == 8192 and j["stdoutTruncated"],
          "output_limit: exactly 8 KB kept", (j["verdict"], len(j["output"]), j["stdoutTruncated"]))
    j = res["compile error"]
    check(j["verdict"] == "compile_error" and isinstance(j["compile"], dict), "compile_error", j)
    check("undefined_name" in j["compile"]["stderr"] and j["compile"]["verdict"] != "ok",
          "compiler message in compile.stderr", j["compile"])
    check(isinstance(j["error"], str) and j["error"], "compile_error: an error sentence", j)
    check(res["stdin"]["output"] == "42\n", "stdin delivered", res["stdin"])
    check(res["args"]["output"] == "['a b', '--json', '$(id)']\n", "args literal", res["args"])
    check(res["files"]["output"] == "from helper\n" and res["files"]["verdict"] == "ok",
          "files[]: base64 entry point beside a utf8 helper", res["files"])
    check(res["stderr"]["stderr"] == "err\n" and res["stderr"]["output"] == "out\n",
          "stderr kept apart", res["stderr"])
    j = res["wall time"]
    check(j["verdict"] == "time_limit" and j["exitCode"] == 124 and 500 <= j["wallTimeMs"] < 4000
          and j["error"] == "Time Limit Exceeded (program ran too long)",
          "wall time limit: time_limit", j)
    j = res["fork bomb"]
    check(j["verdict"] in ("time_limit", "runtime_error"), "a fork bomb ends within its limits", j)
    check(res["unicode"]["output"] == "HÉLLO WÖRLD ✓\n", "UTF-8 in and out", res["unicode"])
    j = res["c ok"]
    check(j["verdict"] == "ok" and j["output"] == "hello 42\n", "C hello", j)
    c = j["compile"]
    check(isinstance(c, dict) and c["verdict"] == "ok" and c["cached"] is False
          and isinstance(c["timeMs"], int), "compile step like a step, not cached", c)


@case("shared")
def wait_true_answers_the_finished_job(srv):
    r = srv.post("/v1/jobs", py("import time\ntime.sleep(0.3)\nprint('waited')", wait=True))
    check(r.status == 200, "wait: 200", r)
    j = r.json()
    check(j["status"] == "completed" and j["output"] == "waited\n" and j["verdict"] == "ok"
          and TIME_RE.match(j["finishedAt"]), "wait: the whole finished job", j)
    # the waiter is answered from the job the executor recorded, not read
    # back: it must be exactly what the store holds
    check(srv.job(j["jobId"]) == j, "wait: the same job as GET answers", (j, srv.job(j["jobId"])))
    s = srv.post("/job?wait=true", {"executionEngine": "python", "code": "print('s')"})
    check(s.status == 200, "seed 000 wait: 200", s)
    g = srv.get(f"/job/{s.json()['id']}")
    check(g.status == 200 and g.json() == s.json() and s.json()["status"] == "Completed",
          "seed 000 wait: the same record as GET /job/{id}", (s, g))
    r = srv.post("/v1/jobs?wait=true", py("print('q')"))
    check(r.status == 200 and r.json()["output"] == "q\n", "?wait=true: 200 finished", r)
    r = srv.post("/v1/jobs", py("print('nowait')", wait=False))
    check(r.status == 202, "wait false: 202", r)
    srv.wait_final(r.json()["jobId"])


@case("shared")
def compile_cache_second_run_cached(srv):
    nonce = uuid.uuid4().hex
    code = f'#include <stdio.h>\nint main(void){{puts("{nonce}");return 0;}}\n'
    first = srv.post("/v1/jobs", {"language": "c", "code": code, "wait": True}).json()
    second = srv.post("/v1/jobs", {"language": "c", "code": code, "wait": True}).json()
    for j in (first, second):
        check(j["status"] == "completed" and j["output"] == nonce + "\n", "runs", j)
    check(first["compile"]["cached"] is False, "first compile not cached", first["compile"])
    check(second["compile"]["cached"] is True, "second compile cached", second["compile"])


@case("shared")
def java_nested_classes_cached(srv):
    # javac writes Main$1.class and Main$Box.class beside Main.class: every
    # one must come back from the compile step for the cache to hold the job
    nonce = uuid.uuid4().hex
    code = ("public class Main {\n"
            "  static class Box { String v = \"" + nonce + "\"; }\n"
            "  public static void main(String[] a) {\n"
            "    Runnable r = new Runnable() { public void run() {"
            " System.out.println(new Box().v); } };\n"
            "    r.run();\n  }\n}\n")
    body = {"language": "java", "code": code, "wait": True, "timeoutMs": 10000,
            "wallTimeoutMs": 30000}
    first = srv.post("/v1/jobs", body, timeout=120).json()
    second = srv.post("/v1/jobs", body, timeout=120).json()
    for j in (first, second):
        check(j["status"] == "completed" and j["output"] == nonce + "\n", "java runs", j)
    check(first["compile"]["cached"] is False, "first java compile not cached", first["compile"])
    check(second["compile"]["cached"] is True,
          "second java compile cached, nested classes included", second["compile"])


@case("shared")
def binary_and_large_output(srv):
    raw = b"a\xff\xfeb\x00c\xc3\xa9"
    prog = "import sys\nsys.stdout.buffer.write(b'a\\xff\\xfeb\\x00c\\xc3\\xa9')"
    r = srv.post("/v1/jobs", py(prog, wait=True))
    j = r.json()
    check(r.status == 200 and j["output"] == "a\ufffd\ufffdb\x00c\u00e9",
          "invalid UTF-8 becomes U+FFFD in JSON", j)
    check(j["outputHash"] == sha256(raw), "outputHash of the bytes of stdout", j)
    r = srv.get(f"/v1/jobs/{j['jobId']}/output")
    check(r.status == 200 and r.body == raw, "GET output: the bytes of stdout", r.body)
    n = 1500 * 1024
    r = srv.post("/v1/jobs", py(f"import sys\nsys.stdout.write('y' * {n})", maxOutputKb=2048,
                                wait=True))
    j = r.json()
    inline = 256 * 1024  # server.max_inline_output_kb
    check(r.status == 200 and j["verdict"] == "ok" and len(j["output"]) == inline
          and set(j["output"]) == {"y"} and not j["stdoutTruncated"]
          and j["stdoutOmitted"] == n - inline,
          "1.5 MB of output kept, 256 KiB of it inline, the rest counted as omitted",
          (j["verdict"], len(j["output"]), j["stdoutTruncated"], j.get("stdoutOmitted")))
    r = srv.get(f"/v1/jobs/{j['jobId']}/output")
    check(r.status == 200 and r.body == b"y" * n, "the whole output from the output route",
          len(r.body))
    check(j["outputHash"] == sha256(b"y" * n), "outputHash", j["outputHash"])


@case("shared")
def cancel_during_wait_answers_the_waiter(srv):
    box = {}

    def waiter():
        box["r"] = srv.post("/v1/jobs", py("import time\ntime.sleep(20)", timeoutMs=10000,
                                           wallTimeoutMs=30000, wait=True), timeout=60)

    t = threading.Thread(target=waiter)
    t.start()
    jid = None
    end = time.monotonic() + 10
    while jid is None and time.monotonic() < end:
        rows = srv.stored("SELECT id FROM jobs WHERE status IN ('queued', 'running')")
        jid = rows[0][0] if rows else None
        time.sleep(0.05)
    check(jid, "the waited job is stored")
    wait_for("it runs", lambda: srv.job(jid)["status"] == "running", 20)
    t0 = time.monotonic()
    r = srv.request("DELETE", f"/v1/jobs/{jid}")
    check(r.status == 200, "DELETE 200", r)
    t.join(10)
    check(not t.is_alive(), "the waiting request is answered once the job is cancelled")
    r = box["r"]
    check(r.status == 200 and r.json()["status"] == "cancelled" and r.json()["jobId"] == jid,
          "the waiter gets the cancelled job", r)
    check(time.monotonic() - t0 < 3, "at once", time.monotonic() - t0)


@case("shared")
def fifty_concurrent_waits(srv):
    res = run_jobs_waiting(srv, [py(f"print({i} * 3)") for i in range(50)], threads=50)
    for i, j in enumerate(res):
        check(j["status"] == "completed" and j["output"] == f"{i * 3}\n", f"wait {i}", j)


@case("shared")
def keep_alive_connection(srv):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        for i in range(30):
            path = ("/healthz", "/v1/languages", f"/v1/jobs/{uuid.uuid4()}")[i % 3]
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            check(r.status == (200, 200, 404)[i % 3], f"request {i} on one connection",
                  (r.status, body[:200]))
        body = json.dumps(py("print('ka')")).encode()
        conn.request("POST", "/v1/jobs", body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        a = json.loads(r.read())
        check(r.status == 202, "POST on the same connection", a)
    finally:
        conn.close()
    check(srv.wait_final(a["jobId"])["output"] == "ka\n", "ran")


@case("shared")
def limits_at_the_boundaries_accepted(srv):
    mib = 1024 * 1024
    head = "print('big')\n"
    code = head + "#" * (mib - len(head) - 1) + "\n"
    check(len(code.encode()) == mib, "exactly 1 MiB of code", len(code))
    langs = {l["name"]: l for l in srv.get("/v1/languages").json()}
    bodies = [
        py(code),
        py("import sys\nprint(len(sys.stdin.buffer.read()))", stdin="z" * mib),
        py("print('max')", timeoutMs=10000, memoryMb=1024, maxOutputKb=16384, priority=10),
        py("print('min')", priority=0),
        py("print('v')", version=langs["python"]["version"]),
    ]
    res = run_jobs_waiting(srv, bodies)
    check(res[0]["output"] == "big\n", "code of exactly 1 MiB runs", res[0])
    check(res[1]["output"] == f"{mib}\n", "stdin of exactly 1 MiB delivered", res[1])
    check(res[2]["output"] == "max\n" and res[2]["priority"] == 10, "every maximum", res[2])
    check(res[3]["output"] == "min\n" and res[3]["priority"] == 0, "priority 0", res[3])
    check(res[4]["output"] == "v\n" and res[4]["version"] == langs["python"]["version"],
          "the listed version", res[4])
    r = srv.post("/v1/jobs", py("print(1)", version="1.0"))
    expect_error(r, 400, "invalid_field", "version", what="a version this host lacks")
    r = srv.post("/v1/jobs", json.dumps(py("print('ct')")),
                 headers={"Content-Type": "Application/JSON; charset=utf-8"})
    check(r.status == 202, "Content-Type with parameters and any case", r)
    check(srv.wait_final(r.json()["jobId"])["output"] == "ct\n", "ran")
    # curl sends Expect: 100-continue for a large body
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(py("print('expect')\n" + "#" * 600000), f)
        f.flush()
        rc, out, err = shell(f"curl -sS -H 'Expect: 100-continue' -H 'Content-Type: "
                             f"application/json' --data-binary @{f.name} "
                             f"http://{srv.hostport}/v1/jobs")
    check(rc == 0, "curl with Expect: 100-continue", err)
    a = json.loads(out)
    check(srv.wait_final(a["jobId"])["output"] == "expect\n", "ran", a)
    # seed 000 with tags
    r = srv.post("/job", {"code": "print('tagged')", "executionEngine": "python",
                          "tags": ["x", "y"]})
    check(r.status == 202 and r.json()["tags"] == ["x", "y"] and r.json()["status"] == "Pending",
          "seed 000 tags echoed", r)


@case("shared")
def cancel_races_are_consistent(srv):
    """DELETEs racing the executors: a 200 means the job ends cancelled, a 409
    that it completed; the counters of final jobs agree with the store."""
    # jobs of earlier cases still queued or running would be counted in the
    # window below: start from an idle server
    def idle():
        m, _ = srv.metrics()
        return (metric_sum(m, "moat_queue_depth") == 0
                and metric_sum(m, "moat_workers_busy") == 0)
    wait_for("the server is idle", idle, 30)
    before, _ = srv.metrics()
    ids = [srv.submit(py(f"import time\ntime.sleep(0.05)\nprint({i})")) for i in range(60)]
    answers = {}

    def delete(jid, delay):
        time.sleep(delay)
        if jid in ids[:3]:
            srv.wait_final(jid)  # some surely finish first
        answers[jid] = srv.request("DELETE", f"/v1/jobs/{jid}")

    ts = [threading.Thread(target=delete, args=(jid, i * 0.02)) for i, jid in enumerate(ids)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    done = srv.wait_final(ids)
    n = {"cancelled": 0, "completed": 0}
    for i, jid in enumerate(ids):
        r, j = answers[jid], done[jid]
        if r.status == 200:
            check(j["status"] == "cancelled", f"job {i}: DELETE 200, so it ends cancelled",
                  (r, j))
        else:
            expect_error(r, 409, "already_finished", what=f"job {i}: DELETE after it finished")
            check(j["status"] == "completed" and j["output"] == f"{i}\n",
                  f"job {i}: DELETE 409, so it completed", (r, j))
        n[j["status"]] += 1
    check(n["cancelled"] and n["completed"], "both outcomes happened", n)

    # an executor counts a job just after its result is durable, which is
    # when GET may already show it final: give it a moment (bounded)
    def counted():
        m, _ = srv.metrics()
        return m if all(metric_sum(m, "moat_jobs_total", status=st)
                        - metric_sum(before, "moat_jobs_total", status=st) >= want
                        for st, want in n.items()) else None
    after = wait_for("every final job counted", counted, 10)
    for st, want in n.items():
        got = (metric_sum(after, "moat_jobs_total", status=st)
               - metric_sum(before, "moat_jobs_total", status=st))
        check(got == want, f"moat_jobs_total{{status=\"{st}\"}} counts every job that "
              f"reached {st} (cancelled while queued too)", (got, want))
    # the cluster's depth is the stream's count as last read (every second)
    # corrected by this node's own pushes and ends: wait for the next read
    wait_for("no cancelled job left in the queue",
             lambda: metric_sum(srv.metrics()[0], "moat_queue_depth") == 0, 5)


@case("shared")
def delete_running_job_kills_it(srv):
    wait_for("no program running before", lambda: not box_pythons(srv), 10)
    jid = srv.submit(py("while True:\n    pass\n", timeoutMs=10000))
    wait_for("the job runs", lambda: srv.job(jid)["status"] == "running", 20)
    running = srv.job(jid)
    check(TIME_RE.match(running["startedAt"]) and running["finishedAt"] is None
          and not {"verdict", "output", "exitCode"} & set(running),
          "a running job: started, no result fields yet", running)
    pid = wait_for("its program runs in a box", lambda: box_pythons(srv), 10)[0][0]
    uid = proc_status(pid)[3][0]
    # the box's processes: its uid may serve the next box of the pool (the
    # slot is reused), so the box is gone when these are
    of_box = [p[0] for p in srv.uid_procs() if proc_status(p[0]) and uid in proc_status(p[0])[3]]
    t0 = time.monotonic()
    r = srv.request("DELETE", f"/v1/jobs/{jid}")
    check(r.status == 200, "DELETE a running job: 200", r)
    j = r.json()
    check(j["jobId"] == jid and j["status"] in ("cancelled", "running"), "with the job", j)
    j = wait_for("cancelled", lambda: (lambda x: x if x["status"] == "cancelled" else None)(
        srv.job(jid)), 2.0)
    wait_for("the program is killed", lambda: not box_pythons(srv), 2.0)
    wait_for("its box is gone: none of its processes left, in its cgroup or anywhere",
             lambda: not [p for p in of_box if live(p)]
             and not [g for g in srv.box_groups() if g.endswith(f"/box-{uid}")
                      and set(map(str, of_box)) & set(procs_listed(g))], 2.0)
    took = time.monotonic() - t0
    check(took < 2.5, "cancelled and killed within ~2 s", took)
    check(j["verdict"] in (None, "cancelled") or j.get("timeMs", 0) < 10000,
          "not run to its time limit", j)
    r = srv.request("DELETE", f"/v1/jobs/{jid}")
    expect_error(r, 409, "already_finished", what="DELETE of a cancelled job")
    # the worker is free again
    r = srv.post("/v1/jobs", py("print('after')", wait=True))
    check(r.status == 200 and r.json()["output"] == "after\n", "the next job runs", r)


@case("shared")
def delete_finished_job_409(srv):
    jid = srv.submit(py("print('done')"))
    before = srv.wait_final(jid)
    r = srv.request("DELETE", f"/v1/jobs/{jid}")
    expect_error(r, 409, "already_finished", what="DELETE of a finished job")
    after = srv.job(jid)
    check(after == before, "the finished job is unchanged", (before, after))
    r = srv.request("DELETE", f"/v1/jobs/{uuid.uuid4()}")
    expect_error(r, 404, "not_found", what="DELETE of an unknown job")


@case("shared")
def submit_cli(srv):
    url = f"http://{srv.hostport}"
    with tempfile.TemporaryDirectory() as tmp:
        prog = write(tmp, "three.py", "import sys\nprint('out')\nsys.exit(3)\n")
        p = subprocess.run([G.moat, "submit", prog, "--server", url], capture_output=True,
                           timeout=120)
        check(p.returncode == 3, "moat submit exits with the program's code", (p.returncode,
                                                                               p.stderr))
        check(p.stdout == b"out\n", "prints the program's output", p.stdout)
        p = subprocess.run([G.moat, "submit", "--json", prog, "--server", url],
                           capture_output=True, timeout=120)
        try:
            j = json.loads(p.stdout)
        except ValueError:
            raise Failure(f"--json: not JSON: {p.stdout!r} {p.stderr!r}")
        check(j["status"] == "completed" and j["exitCode"] == 3 and j["output"] == "out\n"
              and j["verdict"] == "runtime_error" and UUID_RE.match(j["jobId"]),
              "--json prints the job", j)
        check(srv.job(j["jobId"])["output"] == "out\n", "the job is on the server", j)
        echo = write(tmp, "echo.py", "import sys\nprint(sys.stdin.read().upper(), end='')\n")
        inp = write(tmp, "in.txt", "some input\n")
        p = subprocess.run([G.moat, "submit", echo, "--stdin", inp, "--server", url],
                           capture_output=True, timeout=120)
        check(p.returncode == 0 and p.stdout == b"SOME INPUT\n", "--stdin FILE",
              (p.returncode, p.stdout, p.stderr))


APLUSB_CPP = ("#include <iostream>\nint main(int argc, char **argv) {\n"
              "  long a, b; std::cin >> a >> b;\n"
              "  std::cout << a + b * (argc > 1 ? 10 : 1) << std::endl;\n}\n")


@case("shared")
def tests_compiled_once_each_in_its_own_box(srv):
    """tests: one compile, then each test in a box of its own with its own
    stdin, args and limits, a verdict each (accepted, wrong_answer, ok when
    not judged, the sandbox's), the job's verdict its first failure's."""
    tests = [{"stdin": "1 2", "expectedOutput": "3"},
             {"stdin": "5 5", "expectedOutput": "10\n"},
             {"stdin": "2 2", "expectedOutput": "5"},
             {"stdin": "4 4"},
             {"stdin": "1 2", "args": ["x10"], "expectedOutput": "21"}]
    r = srv.post("/v1/jobs", {"language": "cpp", "code": APLUSB_CPP, "tests": tests, "wait": True},
                 timeout=120)
    check(r.status == 200, "a job with tests answered", r)
    j = r.json()
    got = [(t["index"], t["verdict"], t["stdout"]) for t in j["tests"]]
    check(got == [(0, "accepted", "3\n"), (1, "accepted", "10\n"), (2, "wrong_answer", "4\n"),
                  (3, "ok", "8\n"), (4, "accepted", "21\n")], "each test's verdict", got)
    check(j["status"] == "completed" and j["verdict"] == "wrong_answer" and j["compare"] == "trim",
          "the job's verdict is its first failure's", j)
    check(j["compile"] and j["compile"]["verdict"] == "ok", "one compile step", j["compile"])
    check(all(t["timeMs"] >= 0 and t["memoryKb"] > 0 for t in j["tests"]),
          "each test has its own time and memory", j["tests"])
    check(srv.job(j["jobId"])["tests"] == j["tests"], "GET shows the same tests", j["jobId"])

    # every test in a fresh box: a mark left in /tmp or /box is never seen
    prog = ("import os\nseen = [p for p in ('/tmp/mark', '/box/mark') if os.path.exists(p)]\n"
            "print('seen' if seen else 'fresh')\n"
            "open('/tmp/mark', 'w').close(); open('/box/mark', 'w').close()\n")
    r = srv.post("/v1/jobs", py(prog, tests=[{"expectedOutput": "fresh"}] * 6, wait=True),
                 timeout=120)
    j = r.json()
    check([t["verdict"] for t in j["tests"]] == ["accepted"] * 6 and j["verdict"] == "accepted",
          "no test sees what another left", j.get("tests"))

    # a test's own limits; a crash keeps its own verdict
    prog = ("import sys\nw = sys.stdin.read().strip()\n"
            "if w == 'spin':\n    while True: pass\n"
            "if w == 'crash':\n    sys.exit(7)\nprint(w)\n")
    r = srv.post("/v1/jobs", py(prog, tests=[
        {"stdin": "a", "expectedOutput": "a"},
        {"stdin": "spin", "timeoutMs": 300},
        {"stdin": "crash"},
        {"stdin": "b", "expectedOutput": "b"}], wait=True), timeout=120)
    j = r.json()
    v = [t["verdict"] for t in j["tests"]]
    check(v == ["accepted", "time_limit", "runtime_error", "accepted"], "per-test verdicts", v)
    check(j["tests"][1]["timeMs"] < 2000 and j["tests"][2]["exitCode"] == 7,
          "the test's own time limit; the crash's exit code", j["tests"])
    check(j["verdict"] == "time_limit", "the job: its first failure", j["verdict"])

    # float comparison of every test
    r = srv.post("/v1/jobs", py("print(float(input()) / 3)", compare="float", absTolerance=0.001,
                                tests=[{"stdin": "1", "expectedOutput": "0.333"},
                                       {"stdin": "2", "expectedOutput": "0.7"}], wait=True),
                 timeout=120)
    j = r.json()
    check([t["verdict"] for t in j["tests"]] == ["accepted", "wrong_answer"]
          and j["compare"] == "float", "compare applies to every test", j.get("tests"))


@case("one")
def tests_stop_on_first_failure(srv):
    """One executor: tests run one at a time, so once the first fails every
    other is skipped (with more executors, those already started finish)."""
    prog = "import sys\nw = sys.stdin.read()\nprint(w)\n"
    tests = [{"stdin": "bad", "expectedOutput": "good"}] + [
        {"stdin": f"t{i}", "expectedOutput": f"t{i}"} for i in range(1, 6)]
    j = srv.wait_final(srv.submit(py(prog, tests=tests, stopOnFirstFailure=True)), timeout=60)
    v = [t["verdict"] for t in j["tests"]]
    check(v == ["wrong_answer"] + ["skipped"] * 5 and j["verdict"] == "wrong_answer",
          "the failure, then every other test skipped", v)
    check(all(t["error"] and "Skipped" in t["error"] for t in j["tests"][1:]),
          "a skipped test says why", j["tests"])
    j = srv.wait_final(srv.submit(py(prog, tests=tests)), timeout=60)
    v = [t["verdict"] for t in j["tests"]]
    check(v == ["wrong_answer"] + ["accepted"] * 5, "without it, every test runs", v)


@case("shared")
def tests_refused_and_compile_error(srv):
    # a compile error: no test runs
    r = srv.post("/v1/jobs", {"language": "cpp", "code": "int main() { nope; }",
                              "tests": [{"stdin": "1"}, {"stdin": "2"}], "wait": True},
                 timeout=120)
    j = r.json()
    check(j["verdict"] == "compile_error" and all(t["verdict"] is None for t in j["tests"]),
          "a compile error: no test runs", j)
    # refusals, each naming its field
    for body, status, field in [
        (py("print(1)", tests=[]), 400, "tests"),
        (py("print(1)", tests="x"), 400, "tests"),
        (py("print(1)", tests=[{"stdin": "1"}], stdin="x"), 400, "stdin"),
        (py("print(1)", tests=[{"stdin": "1"}], expectedOutput="1"), 400, "expectedOutput"),
        (py("print(1)", tests=[{"stdin": 1}]), 400, "tests[0].stdin"),
        (py("print(1)", tests=[{"stdin": "1"}, {"input": "2"}]), 400, "tests[1]"),
        (py("print(1)", tests=[{"timeoutMs": 10 ** 9}]), 400, "tests[0].timeoutMs"),
        (py("print(1)", tests=[{"memoryMb": 0}]), 400, "tests[0].memoryMb"),
        (py("print(1)", tests=[{}, {"memoryMb": 10 ** 6}]), 400, "tests[1].memoryMb"),
        (py("print(1)", tests=[{"args": [1]}]), 400, "tests[0].args"),
        (py("print(1)", tests=[{}] * 65), 400, "tests"),
        (py("print(1)", stopOnFirstFailure=True), 400, "stopOnFirstFailure"),
    ]:
        r = srv.post("/v1/jobs", body)
        check(r.status == status, f"{field}: refused {status}", r)
        check(r.json()["error"]["field"] == field, f"naming {field}", r.json())


@case("shared")
def tests_cancelled_while_running(srv):
    jid = srv.submit(py("import time\ntime.sleep(30)\n", tests=[{}] * 4, timeoutMs=10000,
                        wallTimeoutMs=40000))
    wait_for("its tests run", lambda: srv.job(jid)["status"] == "running", 30)
    wait_for("a test's program runs in a box", lambda: box_pythons(srv), 10)
    t0 = time.monotonic()
    r = srv.request("DELETE", f"/v1/jobs/{jid}")
    check(r.status == 200, "DELETE: 200", r)
    j = wait_for("cancelled", lambda: (lambda x: x if x["status"] == "cancelled" else None)(
        srv.job(jid)), 5.0)
    wait_for("every test's program is killed", lambda: not box_pythons(srv), 5.0)
    check(time.monotonic() - t0 < 10, "long before the tests would end", time.monotonic() - t0)
    check(j["status"] == "cancelled", "the job is cancelled", j)


@case("shared")
def submit_cli_tests_dir(srv):
    url = f"http://{srv.hostport}"
    with tempfile.TemporaryDirectory() as tmp:
        prog = write(tmp, "sum.cpp", APLUSB_CPP)
        d = os.path.join(tmp, "tests")
        os.mkdir(d)
        for name, inp, out in [("1", "1 2", "3\n"), ("2", "2 2", "5\n"), ("10", "5 5", "10\n"),
                               ("3", "0 0", None)]:
            write(d, f"{name}.in", inp)
            if out is not None:
                write(d, f"{name}.out", out)
        p = subprocess.run([G.moat, "submit", prog, "--tests", d, "--server", url],
                           capture_output=True, timeout=120)
        rows = [line.split() for line in p.stdout.decode().splitlines()]
        check(p.returncode == 4, "a test failed: exit 4", (p.returncode, p.stdout, p.stderr))
        check([r[:2] for r in rows[1:5]] == [["1", "accepted"], ["2", "wrong_answer"],
                                             ["3", "ok"], ["10", "accepted"]],
              "a row per test, in the order of N", rows)
        check(rows[5][:4] == ["3", "of", "4", "passed:"] and rows[5][-1] == "wrong_answer",
              "and the summary", rows)
        os.remove(os.path.join(d, "2.out"))
        p = subprocess.run([G.moat, "submit", prog, "--tests", d, "--server", url],
                           capture_output=True, timeout=120)
        check(p.returncode == 0, "all passed: exit 0", (p.returncode, p.stdout, p.stderr))
        empty = os.path.join(tmp, "empty")
        os.mkdir(empty)
        p = subprocess.run([G.moat, "submit", prog, "--tests", empty, "--server", url],
                           capture_output=True, timeout=120)
        check(p.returncode == 2 and b"no N.in files" in p.stderr, "an empty directory: usage",
              (p.returncode, p.stderr))


@case("shared")
def two_hundred_concurrent_submissions(srv):
    n = 200
    ids = [None] * n
    errors = []
    go = threading.Event()

    def one(i):
        try:
            go.wait()
            r = srv.post("/v1/jobs", py(f"print({i})"), timeout=120)
            check(r.status == 202, f"submission {i}: 202", r)
            ids[i] = r.json()["jobId"]
        except BaseException as e:
            errors.append(e)

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    go.set()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]
    check(len(set(ids)) == n, "200 distinct ids", len(set(ids)))
    done = srv.wait_final(ids, timeout=200)
    for i, jid in enumerate(ids):
        j = done[jid]
        check(j["status"] == "completed" and j["output"] == f"{i}\n" and j["exitCode"] == 0,
              f"job {i} printed its own number", j)
    for i in random.sample(range(n), 10):
        r = srv.get(f"/v1/jobs/{ids[i]}/output")
        check(r.status == 200 and r.body == f"{i}\n".encode(), "output route", r)


@case("shared")
def malformed_requests_refused_nothing_stored(srv):
    # from an idle queue: in a cluster its depth is read every second, and
    # the earlier cases' jobs must have left it
    wait_for("the queue empty", lambda: metric_sum(srv.metrics()[0], "moat_queue_depth") == 0, 10)
    stored0 = srv.stored_jobs()
    depth0 = 0
    bad = []
    for what, method, path, body, headers, status, code, field in malformed_requests():
        r = srv.request(method, path, body=body, headers=headers)
        try:
            expect_error(r, status, code, field, what=f"{what} ({method} {path})")
            if status == 405:
                allow = {m.strip() for m in (r.header("allow") or "").split(",") if m.strip()}
                check(ALLOW[what] <= allow, f"{what}: Allow header names the methods",
                      r.header("allow"))
        except Failure as e:
            bad.append(str(e))
    check(not bad, f"{len(bad)} malformed requests answered wrongly:\n  - " + "\n  - ".join(bad))
    check(srv.stored_jobs() == stored0, "no job stored by a refused request",
          (stored0, srv.stored_jobs()))
    check(metric_sum(srv.metrics()[0], "moat_queue_depth") == depth0, "queue depth unchanged")


@case("shared")
def content_length_over_limit_413_before_body(srv):
    stored0 = srv.stored_jobs()
    head = (b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1073741824\r\n\r\n")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall(head)
        got = b""
        end = time.monotonic() + 10
        while b"\r\n\r\n" not in got and time.monotonic() < end:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
        hdr, _, body = got.partition(b"\r\n\r\n")
        m = re.search(rb"(?im)^content-length: *(\d+)", hdr)
        while m and len(body) < int(m.group(1)) and time.monotonic() < end:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    finally:
        s.close()
    check(got.startswith(b"HTTP/1.1 413"), "413 arrives without the body being sent", got[:300])
    check(b"application/json" in hdr.lower(), "a JSON error body", got[:300])
    try:
        e = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        raise Failure(f"413 body: not the error JSON: {body[:300]!r}")
    check(e.get("code") == "payload_too_large" and e.get("message"), "payload_too_large", e)
    # a client that sends the whole over-long body (with and without Expect)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(py("#" * (3 * 1024 * 1024)), f)
        f.flush()
        for expect in ("-H 'Expect: 100-continue'", "-H 'Expect:'"):
            rc, out, err = shell(f"curl -sS -w '\\n%{{http_code}}' {expect} -H 'Content-Type: "
                                 f"application/json' --data-binary @{f.name} "
                                 f"http://{srv.hostport}/v1/jobs")
            body, _, code = out.decode().rpartition("\n")
            check(rc == 0 and code == "413", f"3 MiB body ({expect}): 413", (rc, out, err))
            check(json.loads(body)["error"]["code"] == "payload_too_large", "payload_too_large",
                  body)
    check(srv.stored_jobs() == stored0, "nothing stored", srv.stored_jobs())
    check(srv.get("/healthz").status == 200, "still healthy")


@case("shared")
def languages_listed_with_versions(srv):
    r = srv.get("/v1/languages")
    check(r.status == 200 and (r.header("content-type") or "").startswith("application/json"),
          "GET /v1/languages 200 JSON", r)
    langs = r.json()
    check(isinstance(langs, list) and langs, "a list", langs)
    by = {}
    for l in langs:
        check(isinstance(l, dict) and set(l) >= {"name", "aliases", "version", "compiled"},
              "{name, aliases, version, compiled}", l)
        check(isinstance(l["name"], str) and isinstance(l["aliases"], list)
              and all(isinstance(a, str) for a in l["aliases"])
              and isinstance(l["compiled"], bool), "types", l)
        check(isinstance(l["version"], str) and re.search(r"\d", l["version"]),
              "a probed version", l)
        by[l["name"]] = l
    for name in ("python", "c", "cpp"):
        check(name in by, f"{name} listed", sorted(by))
    check(by["c"]["compiled"] and by["cpp"]["compiled"] and not by["python"]["compiled"],
          "compiled flags", by)
    check("py" in by["python"]["aliases"] and "c++" in by["cpp"]["aliases"], "aliases", by)
    check(by["python"]["version"].startswith("3."), "python 3", by["python"])


@case("shared")
def version_everywhere_the_same(srv):
    """GET /v1/version, moat_build_info, the first log line and `moat
    --version` name the same build."""
    r = srv.get("/v1/version")
    check(r.status == 200, "GET /v1/version 200", r)
    v = r.json()
    out = subprocess.run([srv.moat, "--version"], capture_output=True, text=True, timeout=10)
    check(out.returncode == 0 and out.stdout == f"moat {v['version']} (commit {v['commit']}, "
          f"{v['variant']})\n", "moat --version says the same", (out.stdout, v))
    check(re.fullmatch(r"\d+\.\d+\.\d+", v["version"]) and v["commit"]
          and v["variant"] in ("release", "asan+ubsan") and v["runsBoxes"] is True,
          "version, commit, variant", v)
    k = v["kernel"]
    check(k["release"] == os.uname().release and k["cgroupVersion"] in (1, 2)
          and k["userNamespaces"] is True and k["seccomp"] is True, "the kernel in use", k)
    m, _ = srv.metrics()
    check(metric_sum(m, "moat_build_info", version=v["version"], commit=v["commit"],
                     variant=v["variant"]) == 1, "moat_build_info names it", v)
    with srv.log_lock:
        starts = [line for line in srv.log if "event=starting" in line]
    check(starts and f"version={v['version']} commit={v['commit']}" in starts[-1],
          "the log's first line names it", starts[-1:])


@case("shared")
def openapi_describes_every_route(srv):
    r = srv.get("/openapi.yaml")
    check(r.status == 200, "GET /openapi.yaml 200", r)
    text = r.body.decode()
    check(re.search(r"^openapi: *['\"]?3\.", text, re.M), "an OpenAPI 3 document", text[:200])
    for path in ("/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/output", "/v1/languages",
                 "/healthz", "/readyz", "/metrics", "/job", "/job/{id}", "/job/{id}/output",
                 "/api/v1/execute", "/api/v1/execute/{id}"):
        pat = re.escape(path).replace(r"\{id\}", r"\{[A-Za-z_]+\}")
        check(re.search(r"^\s*['\"]?" + pat + r"['\"]?:\s*$", text, re.M),
              f"path {path} described", None)


@case("shared")
def metrics_exposition(srv):
    srv.get("/healthz")
    samples, types = srv.metrics()
    h = "moat_http_request_duration_seconds"
    check(types.get(h) == "histogram", f"{h} is a histogram", types.get(h))
    # the native submissions of the cases above
    cnt = metric_sum(samples, h + "_count", route="/v1/jobs", status="202")
    check(cnt >= 200, "POST /v1/jobs 202 counted by route and status", cnt)
    check(metric_sum(samples, h + "_count", route="/v1/jobs", status="400") >= 10,
          "400s counted")
    check(metric_sum(samples, h + "_count", route="/healthz", status="200") >= 1,
          "/healthz counted")
    series = {}
    for (name, labels), v in samples.items():
        if name == h + "_bucket":
            key = tuple(kv for kv in labels if kv[0] != "le")
            series.setdefault(key, []).append((dict(labels)["le"], v))
    check(series, "histogram buckets", None)
    for key, buckets in series.items():
        check(any(le == "+Inf" for le, _ in buckets), f"{key}: +Inf bucket", buckets)
        ordered = sorted(buckets, key=lambda b: float(b[0]))
        vals = [v for _, v in ordered]
        check(vals == sorted(vals), f"{key}: buckets cumulative", ordered)
        check(vals[-1] == samples.get((h + "_count", key)), f"{key}: +Inf == count", ordered)
        check((h + "_sum", key) in samples, f"{key}: _sum", key)
    check(types.get("moat_queue_depth") == "gauge", "moat_queue_depth gauge", types)
    # the cluster's depth is the stream's count as last read (every second):
    # the earlier cases' jobs leave it within a read or two
    wait_for("queue empty now", lambda: metric_sum(srv.metrics()[0], "moat_queue_depth") == 0, 5)
    ok = metric_sum(samples, "moat_jobs_total", status="completed", verdict="ok")
    check(ok >= 220, "jobs counted by verdict: ok", ok)
    for v in ("runtime_error", "time_limit", "memory_limit", "output_limit", "compile_error"):
        check(metric_sum(samples, "moat_jobs_total", verdict=v) >= 1, f"verdict {v} counted")
    for name in ("moat_store_write_seconds", "moat_store_read_seconds"):
        check(types.get(name) == "histogram", f"{name} histogram", types.get(name))
        check(metric_sum(samples, name + "_count") > 0, f"{name} observed")



@case("shared")
def metrics_route_status_exact(srv):
    """Each request counted once, under its own route and status: the
    server keeps each (route, status) series' handle after the first
    request, so the second and later ones must land in the same series."""
    h = "moat_http_request_duration_seconds_count"
    nil = "00000000-0000-7000-8000-000000000000"
    plan = [  # (method, path, route label, status, times)
        ("GET", f"/v1/jobs/{nil}/compile/stderr", "/v1/jobs/{id}/compile/stderr", 404, 3),
        ("GET", f"/v1/jobs/{nil}/compile/output", "/v1/jobs/{id}/compile/output", 404, 2),
        ("GET", "/no/such/route", "unknown", 404, 2),
        ("POST", "/openapi.yaml", "unknown", 405, 1),  # no route takes the method
        ("GET", "/openapi.yaml", "/openapi.yaml", 200, 2),
    ]
    before, _ = srv.metrics()
    for method, path, _, status, times in plan:
        for _ in range(times):
            r = srv.request(method, path, body=b"" if method == "POST" else None)
            check(r.status == status, f"{method} {path} answered {status}", r)
    after, _ = srv.metrics()
    for method, path, label, status, times in plan:
        d = metric_sum(after, h, route=label, status=status) - \
            metric_sum(before, h, route=label, status=status)
        check(d == times, f"{method} {path}: counted {times} times under {label} {status}", d)

# ======================================================================
# one worker: priority order, DELETE of a queued job, the longest wait
# ======================================================================

@case("one")
def one_ready(srv):
    wait_for("ready", lambda: srv.get("/readyz").status == 200, 60, 0.2)


@case("one")
def priority_order_and_delete_queued(srv):
    blocker = srv.submit(py("import time\ntime.sleep(2)\nprint('blocker')"))
    wait_for("the blocker runs", lambda: srv.job(blocker)["status"] == "running", 20)
    subs = [("p1", 1), ("p9a", 9), ("p5", 5), ("p9b", 9)]
    ids = {}
    for label, prio in subs:
        ids[label] = srv.submit(py(f"print('{label}')", priority=prio))
    never = srv.submit(py("open('/tmp/x','w')\nprint('never')", priority=10))
    r = srv.request("DELETE", f"/v1/jobs/{never}")
    check(r.status == 200, "DELETE of a queued job: 200", r)
    j = r.json()
    check(j["jobId"] == never and j["status"] == "cancelled", "cancelled at once", j)
    check(srv.job(blocker)["status"] == "running", "the blocker still ran during submissions")
    done = srv.wait_final(list(ids.values()) + [blocker])
    for label, jid in ids.items():
        check(done[jid]["status"] == "completed" and done[jid]["output"] == label + "\n",
              f"{label} ran", done[jid])
    order = sorted(ids, key=lambda l: (done[ids[l]]["startedAt"], done[ids[l]]["finishedAt"]))
    check(order == ["p9a", "p9b", "p5", "p1"], "higher priority first, FIFO within one",
          [(l, done[ids[l]]["startedAt"]) for l in order])
    check(done[blocker]["finishedAt"] <= done[ids["p9a"]]["startedAt"],
          "one worker: the next starts after the blocker", None)
    j = srv.job(never)
    check(j["status"] == "cancelled" and j["startedAt"] is None, "the cancelled job never ran", j)
    r = srv.get(f"/v1/jobs/{never}/output")
    check(r.status == 200 and r.body == b"", "no output of a job that never ran", r)
    r = srv.request("DELETE", f"/v1/jobs/{never}")
    expect_error(r, 409, "already_finished", what="DELETE of a cancelled job")


@case("one")
def infrastructure_fault_retried(srv):
    before = metric_sum(srv.metrics()[0], "moat_retries_total")
    jid = srv.submit(py("import time\ntime.sleep(1)\nprint('survived')"))
    kill_box_init_of_running_program(srv)
    j = srv.wait_final(jid, timeout=60)
    check(j["status"] == "completed" and j["verdict"] == "ok" and j["output"] == "survived\n"
          and j["attempts"] == 2, "retried once in a new box, then completed", j)
    check(metric_sum(srv.metrics()[0], "moat_retries_total") == before + 1,
          "moat_retries_total counts the retry")
    # a fault at every attempt: failed after --retry-attempts (3) attempts
    jid = srv.submit(py("import time\ntime.sleep(3)\nprint('never')"))
    for attempt in range(3):
        wait_for(f"attempt {attempt + 1} runs",
                 lambda: srv.job(jid)["attempts"] == attempt + 1 and box_pythons(srv), 30, 0.02)
        kill_box_init_of_running_program(srv)
    j = srv.wait_final(jid, timeout=60)
    check(j["status"] == "failed" and j["verdict"] == "internal_error" and j["attempts"] == 3,
          "failed with internal_error after three attempts", j)
    check(isinstance(j["error"], str) and j["error"].startswith("Internal Error"),
          "an Internal Error sentence", j["error"])
    check(j["output"] == "", "no output of a program that never finished", j)


@case("one")
def longest_wait_answers_202(srv):
    t0 = time.monotonic()
    r = srv.post("/v1/jobs", py("import time\ntime.sleep(3)\nprint('late')", wait=True))
    took = time.monotonic() - t0
    check(r.status == 202, "after --max-wait 500 the wait ends with 202", r)
    j = r.json()
    check(j["status"] in ("queued", "running") and UUID_RE.match(j.get("jobId", "")),
          "the job as it is now", j)
    check(0.45 <= took < 2.5, "answered at the longest wait", took)
    check(r.header("location") == f"/v1/jobs/{j['jobId']}", "Location header", r.headers)
    j = srv.wait_final(j["jobId"])
    check(j["status"] == "completed" and j["output"] == "late\n", "then it finishes", j)


# ======================================================================
# --no-exec --max-queue 2: jobs stay queued; a full queue refuses
# ======================================================================

@case("noexec")
def noexec_jobs_stay_queued_and_full_queue_429(srv):
    r = srv.get("/readyz")
    check(r.status == 200, "an API-only node is ready (store and queue answer)", r)
    a = srv.submit(py("print('a')"))
    b = srv.submit(py("print('b')", priority=9))
    # no executor exists to take them: nothing to wait for
    m, _ = srv.metrics()
    check(metric_sum(m, "moat_workers") == 0 and metric_sum(m, "moat_queue_depth") == 2,
          "no executors, both jobs in the queue", (metric_sum(m, "moat_workers"),
                                                  metric_sum(m, "moat_queue_depth")))
    for jid in (a, b):
        j = srv.job(jid)
        check(j["status"] == "queued" and j["startedAt"] is None and j["attempts"] == 0
              and "verdict" not in j, "stays queued without executors", j)
    expect_error(srv.get(f"/v1/jobs/{a}/output"), 409, "not_finished", what="output of queued")
    check(srv.stored_jobs() == 2, "two jobs stored", srv.stored_jobs())
    check(metric_sum(srv.metrics()[0], "moat_queue_depth") == 2, "queue depth 2")

    for path, body, hdrs in (("/v1/jobs", py("print('c')"), None),
                             ("/v1/jobs", py("print('c')", wait=True), None),
                             ("/job", {"code": "print(1)", "executionEngine": "python"}, None),
                             ("/api/v1/execute", "print(1)", {"Content-Type": "text/plain"})):
        r = srv.post(path, body, headers=hdrs)
        expect_error(r, 429, "queue_full", what=f"third submission on {path}")
        ra = r.header("retry-after")
        check(ra is not None and ra.isdigit() and int(ra) >= 1, "Retry-After seconds", ra)
    check(srv.stored_jobs() == 2, "nothing stored for a refused submission", srv.stored_jobs())
    check(metric_sum(srv.metrics()[0], "moat_queue_depth") == 2, "queue depth still 2")

    r = srv.request("DELETE", f"/v1/jobs/{a}")
    check(r.status == 200 and r.json()["status"] == "cancelled", "DELETE of a queued job", r)
    check(srv.job(a)["status"] == "cancelled", "stays cancelled", srv.job(a))
    expect_error(srv.request("DELETE", f"/v1/jobs/{a}"), 409, "already_finished")
    c = srv.submit(py("print('c')"))
    check(srv.stored_jobs() == 3, "a place freed by the cancel takes a new job",
          srv.stored_jobs())
    check(srv.job(c)["status"] == "queued" and srv.job(b)["status"] == "queued", "still queued")


# ======================================================================
# every box uid held by someone else: no box gets warm, not ready; ready
# once the uids are free again
# ======================================================================

@case("nouids")
def not_ready_while_no_box_can_be_made(_):
    import fcntl
    srv = Server(G.moat, ["--workers", "2", "--warm-boxes", "2"], label="nouids")
    locks = []
    with owned(srv, lines=40, also=lambda: [os.close(fd) for fd in locks]):
        # the leases of API.md's sandbox: an exclusive flock on
        # run_dir/uid/<uid>; holding all of them is another moat using the range
        lease_dir = os.path.join(srv.run_dir, "uid")
        os.makedirs(lease_dir, mode=0o700, exist_ok=True)
        for u in range(srv.first_uid, srv.first_uid + srv.uid_count):
            fd = os.open(os.path.join(lease_dir, str(u)), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            locks.append(fd)
        srv.start()
        wait_for("the pool tried to make a box and could not",
                 lambda: any("warm box failed" in line for line in srv.log), 20)
        r = srv.get("/readyz")
        expect_error(r, 503, "not_ready", what="/readyz with no box warm")
        ra = r.header("retry-after")
        check(ra is not None and ra.isdigit(), "Retry-After on 503", r.headers)
        check(srv.get("/healthz").status == 200, "/healthz 200 while the process serves")
        jid = srv.submit(py("print('late box')"))
        for fd in locks:
            os.close(fd)
        locks = []
        wait_for("ready once the uids are free", lambda: srv.get("/readyz").status == 200, 30,
                 0.2)
        j = srv.wait_final(jid, timeout=60)
        check(j["status"] == "completed" and j["output"] == "late box\n",
              "the job waiting for a box runs", j)
        srv.stop()


# ======================================================================
# garbage: ~300 hostile requests, then the server still answers right
# ======================================================================

@case("garbage")
def garbage_requests_then_still_healthy(srv):
    wait_for("ready", lambda: srv.get("/readyz").status == 200, 60, 0.2)
    stored0 = srv.stored_jobs()
    rng = random.Random(20261121)
    payloads = garbage_payloads(rng, srv.port)
    errors = []
    answers = {}
    lock = threading.Lock()

    def worker(chunk):
        for what, data in chunk:
            try:
                half = what not in MUST_ANSWER and rng.random() < 0.5
                got = raw_exchange(srv.port, data, timeout=3.0, shutdown=half)
                with lock:
                    answers.setdefault(what, []).append(got[:12])
                if got:
                    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", got)
                    check(m, f"{what}: an answer is an HTTP response", got[:200])
                    st = int(m.group(1))
                    check(st < 500 or st == 505, f"{what}: never a server error", got[:300])
                    if what in EXPECTED_STATUS:
                        check(st in EXPECTED_STATUS[what], f"{what}: {EXPECTED_STATUS[what]}",
                              got[:300])
                elif what in MUST_ANSWER:
                    raise Failure(f"{what}: no answer")
                if what == "pipelined":
                    check(got.count(b"HTTP/1.1 200") == 3, "three pipelined answers", got[:400])
            except ConnectionRefusedError as e:
                errors.append(Failure(f"{what}: connection refused: {e}"))
                return
            except Failure as e:
                errors.append(e)
            except OSError:
                pass

    chunks = [payloads[i::16] for i in range(16)]
    ts = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in ts:
        t.start()

    # slowloris: connections that never finish their headers hold no worker
    slow = []
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow.append(s)
    r = srv.post("/v1/jobs", py("print('during')", wait=True))
    check(r.status == 200 and r.json()["output"] == "during\n",
          "a job runs while 40 slow connections hang", r)
    t0 = time.monotonic()
    joined(ts, "the garbage senders finished", within=120)
    # --connection-timeout 2: the server closes the slow ones
    closed = 0
    for s in slow:
        while True:
            s.settimeout(max(0.1, 8 - (time.monotonic() - t0)))
            try:
                if s.recv(65536) == b"":
                    closed += 1
                    break
            except socket.timeout:
                break
            except OSError:
                closed += 1
                break
        s.close()
    check(closed == len(slow), "idle half-sent connections closed by the server",
          (closed, len(slow)))
    if errors:
        raise errors[0]
    check(srv.alive(), "the server survived", srv.tail())
    check(srv.get("/healthz").status == 200, "healthy afterwards")
    r = srv.post("/v1/jobs", py("print(6 * 7)", wait=True))
    check(r.status == 200 and r.json()["output"] == "42\n", "answers correctly afterwards", r)
    expect_error(srv.post("/v1/jobs", b"{", headers={"Content-Type": "application/json"}), 400,
                 "invalid_json")
    check(srv.metrics()[0], "metrics afterwards")
    check(srv.stored_jobs() == stored0 + 2 + sum(
        1 for a in answers.get("binary JSON body", []) if a.startswith(b"HTTP/1.1 202")),
        "garbage stored no job", (stored0, srv.stored_jobs()))


# ======================================================================
# crash: kill -9 of the server with jobs queued and running, restart
# ======================================================================

@case("crash")
def kill9_then_restart_finishes_every_job_once(_):
    srv = Server(G.moat, ["--workers", "2", "--retry-base-delay", "0"], label="crash")
    with owned(srv, lines=60):
        srv.start()
        wait_for("ready", lambda: srv.get("/readyz").status == 200, 60, 0.2)
        exe = os.readlink(f"/proc/{srv.proc.pid}/exe")
        check(os.path.basename(exe).startswith("moat-server"), "moat execs moat-server", exe)
        ids = []
        # 0-3 quick (done before the kill), 4 and 5 sleep 1 s (running at the
        # kill), then a mix (queued at the kill)
        for i in range(20):
            code = (f"import time\ntime.sleep({1 if i in (4, 5) else 0.5})\nprint({i})"
                    if i in (4, 5) or (i > 5 and i % 3 == 0) else f"print({i})")
            ids.append(srv.submit(py(code)))
        wait_for("a long job runs",
                 lambda: any(srv.job(j)["status"] == "running" for j in ids[4:6]), 30, 0.02)
        wait_for("some jobs finished before the kill",
                 lambda: srv.stored("SELECT count(*) FROM jobs WHERE status = 'completed'")[0][0]
                 >= 2, 30, 0.02)
        family = descendants(srv.proc.pid)
        srv.kill9()
        check(srv.proc.returncode == -signal.SIGKILL, "killed", srv.proc.returncode)
        try:
            wait_for("the killed server's processes die with it",
                     lambda: not [p for p in family if live(p)] and not srv.uid_procs(), 3.0)
        except Failure:
            raise Failure("processes of the killed server survived: "
                          + repr([p for p in family if live(p)] + srv.uid_procs()))
        state = dict(srv.stored("SELECT id, status FROM jobs"))
        check(set(state) == set(ids), "every accepted job stored", state)
        running = [j for j in ids if state[j] == "running"]
        queued = [j for j in ids if state[j] == "queued"]
        finished = {j: srv.stored("SELECT finished_ms FROM jobs WHERE id = ?", (j,))[0][0]
                    for j in ids if state[j] == "completed"}
        check(running, "at least one job running at the kill", state)
        check(finished, "at least one job completed before the kill", state)
        check(queued, "at least one job queued at the kill", state)
        print(f"  at the kill: {len(running)} running, {len(queued)} queued, "
              f"{len(finished)} completed")
        leftover = srv.box_groups()

        srv.start()
        done = srv.wait_final(ids, timeout=120)
        for i, jid in enumerate(ids):
            j = done[jid]
            check(j["status"] == "completed" and j["output"] == f"{i}\n" and j["verdict"] == "ok",
                  f"job {i} completed with its output", j)
            check(j["attempts"] >= 1, "attempts >= 1", j)
            if jid in running:
                check(j["attempts"] == 2, "a job running at the kill ran a second time", j)
            else:
                check(j["attempts"] == 1, "other jobs ran once", j)
        for jid, ms in finished.items():
            got = srv.stored("SELECT finished_ms FROM jobs WHERE id = ?", (jid,))[0][0]
            check(got == ms, "a job finished before the kill is not run again", (jid, ms, got))
        samples, _ = srv.metrics()
        total = metric_sum(samples, "moat_jobs_total")
        check(total == len(ids) - len(finished),
              "the restarted server finished each remaining job exactly once",
              (total, len(ids) - len(finished)))
        # the restart swept the killed server's boxes: every box group left
        # belongs to a live box of the new server
        def strays():
            procs = srv.uid_procs()
            family = set(descendants(srv.proc.pid))
            return [p for p in procs if p[0] not in family and live(p[0])]

        # an empty group whose uid lease the new server holds is a slot it
        # keeps for its next box, not a leftover
        def stale_groups():
            return [g for g in srv.box_groups() if procs_in_tree(g) == 0
                    and lease_free(srv.run_dir, int(g.rsplit("-", 1)[1]))]

        def swept():
            return not stale_groups() and not strays()

        try:
            wait_for("the killed server's leftovers swept", swept, 5.0)
        except Failure:
            raise Failure("leftovers of the killed server: groups "
                          f"{stale_groups()} "
                          f"(at the kill: {leftover}), processes "
                          f"{strays()}")
        srv.stop()


# ======================================================================
# SIGTERM with jobs running, queued and waited for; restart on the same
# data dir: nothing accepted is lost
# ======================================================================

@case("restart")
def sigterm_in_flight_then_restart_loses_nothing(_):
    srv = Server(G.moat, ["--workers", "1"], label="restart")
    with owned(srv, lines=60):
        srv.start()
        wait_for("ready", lambda: srv.get("/readyz").status == 200, 60, 0.2)
        cached_code = f'#include <stdio.h>\nint main(void){{puts("{uuid.uuid4().hex}");}}\n'
        first = srv.post("/v1/jobs", {"language": "c", "code": cached_code, "wait": True}).json()
        check(first["compile"]["cached"] is False, "compiled", first)
        a = srv.submit(py("import time\ntime.sleep(3)\nprint('A')"))
        b = srv.submit(py("print('B')"))
        wait_for("A runs", lambda: srv.job(a)["status"] == "running", 20)
        # ten wait=true submissions, stored and queued behind A, when SIGTERM comes
        answers, ts = posts_waiting(srv, [py(f"print('W{k}')", wait=True) for k in range(10)])
        wait_for("the waited jobs stored", lambda: srv.stored_jobs() == 13, 10)
        t0 = time.monotonic()
        srv.stop(timeout=30)
        print(f"  stopped in {time.monotonic() - t0:.1f} s")
        joined(ts, "no waiting request hangs past the exit")
        # the store keeps each job's code under jobs/{id}/code.bin (API.md)
        by_code = {bytes(data).decode(errors="replace"): key.split("/")[1] for key, data in
                   srv.stored("SELECT key, data FROM blobs WHERE key LIKE 'jobs/%/code.bin'")}
        waited = {k: by_code[f"print('W{k}')"] for k in range(10)}
        unanswered = [k for k, r in answers.items() if isinstance(r, Failure)]
        for k, r in answers.items():
            if not isinstance(r, Failure):
                check(r.status in (200, 202) and r.json().get("jobId") == waited[k],
                      "a waiter answered at shutdown gets its job", r)
        srv.start()
        done = srv.wait_final([a, b] + list(waited.values()), timeout=60)
        expect = [(a, "A\n"), (b, "B\n")] + [(waited[k], f"W{k}\n") for k in range(10)]
        for jid, out in expect:
            j = done[jid]
            check(j["status"] == "completed" and j["output"] == out and 1 <= j["attempts"] <= 2,
                  "every accepted job completes across a graceful restart", j)
        again = srv.post("/v1/jobs", {"language": "c", "code": cached_code, "wait": True}).json()
        check(again["compile"]["cached"] is True and again["output"] == first["output"],
              "the compile cache outlives a restart (it lives in the data dir)", again)
        srv.stop()
        check(not unanswered, f"SIGTERM answers every suspended wait=true request (202 with "
              f"the job as it is): {len(unanswered)} of 10 got the connection closed with no "
              f"answer although their jobs were stored",
              [str(answers[k])[:90] for k in unanswered[:3]])


@case("restart")
def sigterm_answers_every_waiter(_):
    """wait=true submissions suspended when SIGTERM comes are answered (202
    with the job as it is) before the server exits: their jobs are stored, so
    a client left without an answer never learns its job id. Three rounds on
    an API-only server, because the loss depends on timing."""
    for rnd in range(3):
        srv = Server(G.moat, ["--no-exec"], label=f"waiters-{rnd}")
        with owned(srv, lines=40):
            srv.start()
            base = srv.stored_jobs()  # 0, or the rounds before on a cluster's shared store
            answers, ts = posts_waiting(srv, [py(f"print({k})", wait=True) for k in range(10)])
            wait_for("the waited jobs stored", lambda: srv.stored_jobs() == base + 10, 10)
            srv.stop()
            joined(ts, "no waiter hangs past the exit")
            lost = [str(r)[:80] for r in answers.values() if isinstance(r, Failure)]
            check(not lost, f"round {rnd + 1}: every suspended waiter answered at SIGTERM; "
                  f"{len(lost)} of 10 got the connection closed with no answer", lost[:2])
            for r in answers.values():
                check(r.status == 202 and r.json()["status"] == "queued", "202, still queued", r)


@case("restart")
def sigterm_under_load_keeps_every_accepted_job(_):
    """A 202 means the job is stored: SIGTERM in the middle of a burst of
    submissions loses none of those answered 202."""
    srv = Server(G.moat, ["--workers", "2"], label="burst")
    with owned(srv, lines=40):
        srv.start()
        wait_for("ready", lambda: srv.get("/readyz").status == 200, 60, 0.2)
        accepted, outcomes = {}, []
        lock = threading.Lock()

        def submitter(k):
            for i in range(k * 1000, k * 1000 + 40):
                try:
                    r = srv.post("/v1/jobs", py(f"print({i})"), timeout=30)
                except Failure:
                    with lock:
                        outcomes.append("refused")
                    continue
                with lock:
                    outcomes.append(r.status)
                    if r.status == 202:
                        accepted[r.json()["jobId"]] = i

        ts = [threading.Thread(target=submitter, args=(k,)) for k in range(8)]
        for t in ts:
            t.start()
        wait_for("some accepted", lambda: len(accepted) >= 40, 30, 0.01)
        srv.stop(timeout=60)
        joined(ts, "no client hangs after the server exits", within=60)
        bad = [o for o in outcomes if o not in (202, 503, "refused")]
        check(not bad, "each submission accepted, refused with 503, or not connected", bad[:5])
        stored = {i for (i,) in srv.stored("SELECT id FROM jobs")}
        lost = [jid for jid in accepted if jid not in stored]
        check(not lost, f"every job answered 202 is stored ({len(accepted)} accepted)", lost[:5])
        print(f"  {len(accepted)} accepted, {len(stored)} stored, "
              f"{outcomes.count('refused')} without an answer")
        unanswered = len(stored) - len(accepted)
        srv.start()
        done = srv.wait_final(list(accepted), timeout=120)
        for jid, i in accepted.items():
            check(done[jid]["status"] == "completed" and done[jid]["output"] == f"{i}\n",
                  "each accepted job runs after the restart", done[jid])
        srv.stop()
        check(unanswered == 0, "a job is stored only if its client was answered 202 (else it "
              "resubmits, and the job runs twice)", f"{unanswered} stored without an answer")


@case("restart")
def queued_on_an_api_node_run_later_by_priority(_):
    """Jobs accepted by an --no-exec server stay in the store; a server with
    executors on the same data dir runs them, by priority."""
    api = Server(G.moat, ["--no-exec"], label="api-only")
    with owned(api, lines=40) as own:
        api.start()
        ids = {}
        for label, prio in (("p1", 1), ("p9", 9), ("p5", 5), ("p9b", 9), ("p0", 0)):
            ids[label] = api.submit(py(f"print('{label}')", priority=prio))
        api.stop()
        node = Server(G.moat, ["--workers", "1"], data_dir=api.data_dir, label="node")
        own.append(node)
        node.start()
        done = node.wait_final(list(ids.values()), timeout=60)
        for label, jid in ids.items():
            check(done[jid]["status"] == "completed" and done[jid]["output"] == label + "\n"
                  and done[jid]["attempts"] == 1, f"{label} ran once", done[jid])
        order = sorted(ids, key=lambda l: (done[ids[l]]["startedAt"], done[ids[l]]["finishedAt"]))
        check(order == ["p9", "p9b", "p5", "p1", "p0"],
              "recovered jobs run by priority, FIFO within one",
              [(l, done[ids[l]]["startedAt"]) for l in order])
        node.stop()


@case("restart")
def bad_start_exits_nonzero(_):
    with tempfile.TemporaryDirectory() as tmp:
        afile = os.path.join(tmp, "file")
        open(afile, "w").close()
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        try:
            for args, needle in (
                    (["--data-dir", afile], "not a directory"),
                    (["--data-dir", tmp, "--workers", "abc"], "workers"),
                    (["--data-dir", tmp, "--listen", "nonsense"], "listen"),
                    (["--data-dir", tmp, "--max-queue", "0"], "queue"),
                    (["--data-dir", tmp, "--no-exec",
                      "--listen", f"127.0.0.1:{busy.getsockname()[1]}"], "listen")):
                p = subprocess.run([G.moat, "serve"] + args, capture_output=True, timeout=60,
                                   stdin=subprocess.DEVNULL)
                err = p.stderr.decode(errors="replace")
                check(p.returncode not in (0, None) and needle in err.lower(),
                      f"moat serve {' '.join(args)}: exits non-zero naming {needle}",
                      (p.returncode, err[-600:]))
                check("event=listening" not in err, "never listened", err[-300:])
        finally:
            busy.close()
        # A worker runs only against the cluster's engines: the embedded store
        # and the in-process queue would make it a node of its own.
        for args, needle in (
                ([], "postgres://"),
                (["--store", "postgres://moat@127.0.0.1:1/moat"], "nats://"),
                (["--store", "postgres://moat@127.0.0.1:1/moat",
                  "--queue", "nats://127.0.0.1:1", "--no-exec"], "exec")):
            p = subprocess.run([G.moat, "worker", "--data-dir", tmp] + args,
                               capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
            err = p.stderr.decode(errors="replace")
            check(p.returncode == 2 and needle in err.lower(),
                  f"moat worker {' '.join(args)}: exits 2 naming {needle}",
                  (p.returncode, err[-600:]))


def refused(srv, body, where, rule, what):
    """The job ends policy_violation naming the file, line and rule, and
    nothing of it ran (no output, no compile step)."""
    j = srv.post("/v1/jobs", dict(body, wait=True)).json()
    check(j["status"] == "completed" and j["verdict"] == "policy_violation"
          and j["error"] == f"Policy Violation ({where}: {what} (policy rule {rule}))"
          and j["output"] == "" and j["stderr"] == "" and j["compile"] is None
          and j["timeMs"] == 0, f"refused: {where} {what}", j)
    return j


@case("policy")
def policy_refuses_before_anything_runs(srv):
    """--policy-file: each language's check runs first, in the job's box,
    with the language's own parser (Python's ast, the C preprocessor)."""
    refused(srv, py("print(1)\nimport os\nos.system('id')"), "main.py:2", "forbid_imports",
            "import of os: os is forbidden")
    refused(srv, py("from os.path import join"), "main.py:1", "forbid_imports",
            "import from os.path: os is forbidden")
    refused(srv, py("def f():\n    return eval('1')\nprint(f())"), "main.py:2", "forbid_calls",
            "call of eval")
    refused(srv, py("print(().__class__.__base__.__subclasses__())"), "main.py:1",
            "forbid_attributes", "use of the attribute __subclasses__")
    refused(srv, py("x = __import__('o' + 's')"), "main.py:1", "forbid_calls",
            "call of __import__")
    # every file of a job is checked, not only the entry
    refused(srv, {"language": "python", "files": [
        {"name": "main.py", "content": "import helper\nprint(helper.run())"},
        {"name": "helper.py", "content": "\n\nimport subprocess\ndef run(): return 1"}]},
        "helper.py:3", "forbid_imports", "import of subprocess: subprocess is forbidden")
    # C: the preprocessor says which header an #include opens
    refused(srv, {"language": "c", "code": "#include <stdio.h>\n#include <sys/socket.h>\n"
                  "int main(void) { return socket(0, 0, 0) < 0; }\n"},
            "main.c:2", "forbid_includes", "#include of sys/socket.h")
    refused(srv, {"language": "c", "files": [
        {"name": "main.c", "content": '#include "net.h"\nint main(void) { return 0; }\n'},
        {"name": "net.h", "content": "// net\n\n#include <sys/socket.h>\n"}]},
        "net.h:3", "forbid_includes", "#include of sys/socket.h")
    refused(srv, {"language": "cpp", "code": "#include <sys/ptrace.h>\nint main() {}\n"},
            "main.cpp:1", "forbid_includes", "#include of sys/ptrace.h")
    # judged: refused once, no test runs
    j = refused(srv, py("import ctypes\nprint(input())", tests=[{"stdin": "1\n"},
                                                                  {"stdin": "2\n"}]),
                "main.py:1", "forbid_imports", "import of ctypes: ctypes is forbidden")
    check(len(j["tests"]) == 2 and all(t["verdict"] is None for t in j["tests"]), "no test ran",
          j["tests"])
    # what the policy allows runs as always; a syntax error is the run's to report
    ok = srv.post("/v1/jobs", py("import sys, json\nprint(json.dumps([1]))", wait=True)).json()
    check(ok["verdict"] == "ok" and ok["output"] == "[1]\n", "an allowed program runs", ok)
    c = srv.post("/v1/jobs", {"language": "c", "code": "#include <stdio.h>\n"
                              "int main(void) { puts(\"c\"); return 0; }\n", "wait": True}).json()
    check(c["verdict"] == "ok" and c["output"] == "c\n", "an allowed C program compiles and runs", c)
    bad = srv.post("/v1/jobs", py("def f(:\n", wait=True)).json()
    check(bad["verdict"] == "runtime_error" and "SyntaxError" in bad["stderr"],
          "a syntax error: the run reports it", bad)
    sh = srv.post("/v1/jobs", {"language": "bash", "code": "echo os", "wait": True}).json()
    check(sh["verdict"] == "ok" and sh["output"] == "os\n", "a language without a policy runs", sh)
    # too deep for the parser: refused, not waved through
    refused(srv, py("x = " + "-" * 200000 + "1"), "main.py:1", "complexity",
            "too deeply nested to check")
    # the checker's own file names are not the user's
    r = srv.post("/v1/jobs", {"language": "python", "files": [
        {"name": "main.py", "content": "print(1)"}, {"name": ".moat-check", "content": "x"}],
        "wait": True})
    expect_error(r, 400, "invalid_field", "files",
                 what="a file named as the checker's own (.moat-*)")


if __name__ == "__main__":
    run(G)
