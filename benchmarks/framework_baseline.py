"""Framework ceiling: the cheapest FastAPI route that still does the service's I/O.

``POST /v1/group`` here reads the body, parses the claim with orjson and
answers a constant result: no engine, no metrics, no logging. Served by the
same uvicorn configuration as the real service (uvloop, httptools, one
worker, no access log), its requests per second are the most ``/v1/group``
could reach on this machine; ``bench_service.py`` reports the service as a
fraction of it.

    python benchmarks/framework_baseline.py --port 8101
"""

from __future__ import annotations

import argparse

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

ANSWER = orjson.dumps({"drg": "000", "mdc": "00", "return_code": "OK"})


def create_app() -> FastAPI:
    app = FastAPI(title="fastdrg framework baseline")

    @app.post("/v1/group", response_class=Response)
    async def group(request: Request) -> Response:
        claim = orjson.loads(await request.body())
        if type(claim) is not dict:
            return Response(b'{"error":"not an object"}', status_code=422, media_type="application/json")
        return Response(ANSWER, media_type="application/json")

    @app.get("/healthz", response_class=Response)
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    args = parser.parse_args()
    uvicorn.run(
        create_app(), host=args.host, port=args.port, workers=1, loop="uvloop", http="httptools",
        access_log=False, log_level="warning", server_header=False, backlog=2048,
    )


if __name__ == "__main__":
    main()
