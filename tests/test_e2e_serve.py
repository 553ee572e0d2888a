"""End to end: the real ``fastdrg serve`` process on a loopback port.

Starts the server as the ``fastdrg`` console script does (``engine.cli:main``
with ``serve --host --port --workers``), waits for ``/readyz``, groups the
public reference claims through the single, batch and stream routes and checks
them against the CMS results, reads ``/metrics``, then sends SIGTERM while a
stream request is still uploading and checks that the request completes and
that the process exits 0. Finally, the server's log must be JSON lines that
never mention a claim's codes or ids.

``FASTDRG_SERVE_CMD`` (a command prefix, e.g. ``fastdrg``) runs another build
of the command instead of this checkout's ``engine.cli``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

REPO = Path(__file__).resolve().parents[1]
from oracle import public_to_claim as to_claim  # noqa: E402  (one converter for every test)
GRADED = ("drg", "mdc", "initial_drg", "initial_mdc", "return_code")

pytestmark = pytest.mark.timeout(900)




def expected(rec: dict) -> dict:
    e = rec["expect"]
    fmt = lambda v, w: None if v is None else f"{int(v):0{w}d}"  # noqa: E731
    return {
        "drg": fmt(e["drg"], 3),
        "mdc": fmt(e["mdc"], 2),
        "initial_drg": fmt(e["initial_drg"], 3),
        "initial_mdc": fmt(e["initial_mdc"], 2),
        "return_code": e["rc"],
    }


def serve_command() -> list[str]:
    custom = os.environ.get("FASTDRG_SERVE_CMD")
    if custom:
        return shlex.split(custom)
    try:
        import engine.cli  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"engine.cli (the fastdrg command) is not importable yet: {exc}")
    return [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(records: list[dict], results: list[dict], route: str) -> None:
    assert len(results) == len(records), route
    bad = []
    for rec, res in zip(records, results):
        assert res.get("id") == rec["id"], f"{route}: order broken at {rec['id']}"
        got = {f: res.get(f) for f in GRADED}
        if got != expected(rec):
            bad.append((rec["id"], got, expected(rec)))
    assert not bad, f"{route}: {len(bad)} of {len(records)} differ from CMS, first: {bad[:3]}"


@pytest.fixture(scope="module")
def server(tmp_path_factory, public_records, grouper):
    # ``grouper`` (the session's in-process engine) has built the table and kernel caches
    # the server loads, so its start-up measures loading, not a first compile.
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "server.log"
    env = dict(os.environ)
    env.update({"FASTDRG_LOG_LEVEL": "info", "FASTDRG_MAX_BATCH_CLAIMS": "2000", "PYTHONUNBUFFERED": "1"})
    env.pop("FASTDRG_API_KEYS", None)
    cmd = serve_command() + ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        saw_503 = False
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                r = httpx.get(f"{base}/readyz", timeout=5)
                if r.status_code == 200:
                    ready = True
                    break
                saw_503 |= r.status_code == 503
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        if not ready:
            proc.kill()
            pytest.fail(f"server never became ready; log:\n{log_path.read_text()[-4000:]}")
        yield {"proc": proc, "base": base, "log": log_path, "saw_503": saw_503}
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_single_route_matches_cms(server, public_records):
    records = public_records[::47][:300]
    with httpx.Client(base_url=server["base"], timeout=60) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        results = []
        for rec in records:
            r = c.post("/v1/group", json=to_claim(rec))
            if r.status_code == 422:  # an engine error for this claim: compare as a mismatch
                results.append({"id": rec["id"], "error": r.json()})
                continue
            assert r.status_code == 200, r.text
            results.append(r.json())
    check(records, results, "/v1/group")


def test_batch_route_matches_cms(server, public_records):
    results = []
    with httpx.Client(base_url=server["base"], timeout=300) as c:
        for i in range(0, len(public_records), 2000):
            part = public_records[i:i + 2000]
            r = c.post("/v1/group/batch", content=orjson.dumps({"claims": [to_claim(x) for x in part]}),
                       headers={"content-type": "application/json"})
            assert r.status_code == 200, r.text[:500]
            results.extend(r.json()["results"])
        r = c.post("/v1/group/batch", json={"claims": [to_claim(public_records[0])] * 2001})
        assert r.status_code == 413 and "/v1/group/stream" in r.json()["detail"]
    check(public_records, results, "/v1/group/batch")


def test_stream_route_matches_cms(server, public_records):
    body = b"".join(orjson.dumps(to_claim(r)) + b"\n" for r in public_records)
    results = []
    with httpx.Client(base_url=server["base"], timeout=300) as c:
        with c.stream("POST", "/v1/group/stream", content=body, headers={"content-type": "application/x-ndjson"}) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("application/x-ndjson")
            for line in r.iter_lines():
                if line:
                    results.append(orjson.loads(line))
    check(public_records, results, "/v1/group/stream")


def test_metrics_after_traffic(server, public_records):
    text = httpx.get(f"{server['base']}/metrics", timeout=30).text
    assert 'fastdrg_http_requests_total{method="POST",route="/v1/group",status="200"}' in text
    assert 'fastdrg_batch_claims_count{route="/v1/group/stream"}' in text
    assert "fastdrg_engine_ready 1.0" in text
    total = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line.startswith("fastdrg_claims_grouped_total{"))
    assert total >= 2 * len(public_records)
    for rec in public_records[:200]:
        assert rec["id"] not in text and rec["pdx"] not in text


def test_sigterm_drains_in_flight_request_and_exits_0(server, public_records):
    proc = server["proc"]
    lines = [orjson.dumps(to_claim(r)) + b"\n" for r in public_records[:200]]
    started, go = threading.Event(), threading.Event()
    outcome: dict = {}

    def body():
        yield b"".join(lines[:100])
        started.set()
        go.wait(30)
        yield b"".join(lines[100:])

    def request():
        try:
            with httpx.Client(timeout=120) as c:
                r = c.post(f"{server['base']}/v1/group/stream", content=body())
                outcome["status"] = r.status_code
                outcome["lines"] = [orjson.loads(x) for x in r.content.splitlines()]
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["error"] = repr(exc)

    t = threading.Thread(target=request)
    t.start()
    assert started.wait(30)
    time.sleep(0.5)  # the first half is being grouped
    proc.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert proc.poll() is None, "the server exited with a request in flight"
    go.set()
    t.join(120)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["status"] == 200
    check(public_records[:200], outcome["lines"], "/v1/group/stream during SIGTERM")
    assert proc.wait(60) == 0


def test_server_log_is_json_and_free_of_claim_content(server, public_records):
    proc = server["proc"]
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    text = server["log"].read_text()
    access = []
    for line in text.splitlines():
        if not line.startswith("{"):
            continue  # e.g. a warning printed by a library, not a log record
        doc = json.loads(line)
        if doc.get("logger") == "fastdrg.access":
            access.append(doc)
    assert access and {"route", "status", "duration_ms", "claims", "method"} <= set(access[0])
    assert any(d["route"] == "/v1/group/stream" and d["claims"] >= 14000 for d in access)
    for rec in public_records[::50]:
        assert rec["id"] not in text and rec["pdx"] not in text


def test_two_workers_share_metrics_and_exit_0(tmp_path, public_records, grouper):
    """``--workers 2``: both workers group, /metrics sums them, SIGTERM stops all with status 0."""
    port = free_port()
    env = dict(os.environ, FASTDRG_LOG_LEVEL="warning")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cmd = serve_command() + ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        ready = 0
        while time.monotonic() < deadline and proc.poll() is None and ready < 5:
            try:
                ready = ready + 1 if httpx.get(f"{base}/readyz", timeout=5).status_code == 200 else 0
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert ready >= 5, log_path.read_text()[-3000:]
        records = public_records[:40]
        with httpx.Client(base_url=base, timeout=60) as c:
            results = []
            for rec in records:
                with httpx.Client(base_url=base, timeout=60) as fresh:  # new connections spread over workers
                    r = fresh.post("/v1/group", json=to_claim(rec))
                assert r.status_code == 200, r.text
                results.append(r.json())
            check(records, results, "/v1/group with 2 workers")
            text = c.get("/metrics").text
        total = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                    if line.startswith("fastdrg_claims_grouped_total{"))
        assert total == len(records), text
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0, log_path.read_text()[-3000:]
