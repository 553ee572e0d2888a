"""``python -m service``: the same as ``fastdrg serve``, for images and shells without the console script."""

from __future__ import annotations

import argparse
import sys

from .settings import SettingsError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service", description="Serve the fastdrg HTTP API.")
    parser.add_argument("--host", help="bind address (FASTDRG_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (FASTDRG_PORT, default 8000)")
    parser.add_argument("--workers", type=int, help="worker processes (FASTDRG_WORKERS, default 1)")
    parser.add_argument("--log-level", help="critical|error|warning|info|debug (FASTDRG_LOG_LEVEL)")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:  # accept `python -m service serve ...`, as `fastdrg serve ...`
        argv = argv[1:]
    args = parser.parse_args(argv)
    from .server import serve

    try:
        serve(args.host, args.port, args.workers, args.log_level)
    except SettingsError as exc:
        print(f"fastdrg: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
