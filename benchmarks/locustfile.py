"""The service's two real workloads, for locust.

* ``EHRUser`` — an EHR posting one encounter at a time to ``/v1/group`` as
  coders finalise charts (short think time, latency matters).
* ``ClearinghouseUser`` — a clearinghouse feeding claims in bulk: batches of
  1,000 to ``/v1/group/batch`` and NDJSON streams of 10,000 to
  ``/v1/group/stream`` (throughput matters).

Claims are the public reference claims (``FASTDRG_CLAIMS`` or
``../shared/eval/public_claims.jsonl``). Every answer is checked: status 200,
and one result per claim. Run headless and bounded in time through
``bench_service.py locust``, or by hand against a loopback server:

    locust -f benchmarks/locustfile.py --headless --host http://127.0.0.1:8000 -u 20 -r 20 --run-time 30s
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import orjson
from locust import HttpUser, between, task

_HS = {"NON_EXEMPT": "not_exempt", "EXEMPT": "exempt", "UNKNOWN": "unknown"}
_PUBLIC = Path(os.environ.get("FASTDRG_CLAIMS", Path(__file__).resolve().parents[2] / "shared/eval/public_claims.jsonl"))
_API_KEY = os.environ.get("FASTDRG_BENCH_API_KEY")


def _to_claim(rec: dict) -> dict:
    v = int(rec["version"])
    return {
        "id": rec["id"], "version": f"{v // 10}.{v % 10}", "age": rec["age"], "sex": rec["sex"],
        "discharge_status": rec["dstat"], "hospital_status": _HS[rec["hospital_status"]],
        "pdx": {"code": rec["pdx"], "poa": rec["pdx_poa"]},
        "sdx": [{"code": c, "poa": p} for c, p in rec["sdx"]], "procedures": list(rec["px"]),
    }


with open(_PUBLIC, "rb") as _fh:
    CLAIMS = [_to_claim(orjson.loads(line)) for line in _fh if line.strip()]
SINGLE_BODIES = [orjson.dumps(c) for c in CLAIMS]
BATCH_SIZE = 1_000
STREAM_SIZE = 10_000  # within two stream chunks: requests sends the whole body before reading
_LINES = SINGLE_BODIES * (STREAM_SIZE // len(SINGLE_BODIES) + 1)
STREAM_BODY = b"\n".join(_LINES[:STREAM_SIZE]) + b"\n"

_HEADERS = {"Content-Type": "application/json"}
_NDJSON = {"Content-Type": "application/x-ndjson"}
if _API_KEY:
    _HEADERS["X-API-Key"] = _NDJSON["X-API-Key"] = _API_KEY


class EHRUser(HttpUser):
    """One encounter per request, a second or so apart."""

    weight = 4
    wait_time = between(0.2, 1.0)

    @task
    def group_one(self) -> None:
        body = random.choice(SINGLE_BODIES)
        with self.client.post("/v1/group", data=body, headers=_HEADERS, name="/v1/group", catch_response=True) as r:
            if r.status_code != 200 or b'"drg"' not in r.content:
                r.failure(f"status {r.status_code}")


class ClearinghouseUser(HttpUser):
    """Bulk feeds: mostly batches, sometimes a large stream."""

    weight = 1
    wait_time = between(0.5, 2.0)

    def on_start(self) -> None:
        self.offset = random.randrange(len(CLAIMS))

    @task(4)
    def group_batch(self) -> None:
        start = self.offset % (len(CLAIMS) - BATCH_SIZE)
        self.offset += BATCH_SIZE
        body = orjson.dumps({"claims": CLAIMS[start:start + BATCH_SIZE]})
        with self.client.post("/v1/group/batch", data=body, headers=_HEADERS, name="/v1/group/batch",
                              catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
            elif len(orjson.loads(r.content)["results"]) != BATCH_SIZE:
                r.failure("wrong number of results")

    @task(1)
    def group_stream(self) -> None:
        with self.client.post("/v1/group/stream", data=STREAM_BODY, headers=_NDJSON, name="/v1/group/stream",
                              catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
            elif r.content.count(b"\n") != STREAM_SIZE:
                r.failure("wrong number of lines")
