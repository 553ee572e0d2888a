#!/usr/bin/env bash
# The steps of the fastdrg image, as a script: the Dockerfile runs them, and so
# does tests/test_service_image.py in a fresh virtual environment on a machine
# with no Docker engine, so the image recipe cannot rot unseen.
#
#   docker/build.sh install PREFIX       create a venv at PREFIX and install fastdrg (from SRC, default: this checkout)
#   docker/build.sh warm PREFIX CACHE    build the grouping tables and compile the kernels into CACHE
#   docker/build.sh check PREFIX CACHE   serve from PREFIX on a free loopback port: ready in seconds,
#                                        groups a claim, drains on SIGTERM and exits 0
#
# FASTDRG_BUILD_OFFLINE=1 installs without any download: the venv sees the site-packages
# of the Python that runs the script (the system's, or the active virtual environment's
# and its base's) and only this project is installed (no dependencies, no index, no
# build isolation). The image build leaves it unset and installs from the index.
set -euo pipefail

SRC="${SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
PYTHON="${PYTHON:-python3}"

die() { echo "build.sh: $*" >&2; exit 2; }

# When $PYTHON runs inside a virtual environment (a user's `python -m venv .venv`),
# `venv --system-site-packages` gives the new venv the *base* interpreter's
# site-packages, not the active venv's, where the dependencies are. A .pth file
# in the new venv lists the running environment's site-packages directories
# after its own (as plain paths: their .pth files, such as an editable install
# of this project, are not run, so the new venv imports its own copy).
see_running_env() {
    local prefix="$1" dirs site
    dirs="$("$PYTHON" -c 'import site, sys; print("\n".join(site.getsitepackages()) if sys.prefix != sys.base_prefix else "")')"
    [ -n "$dirs" ] || return 0
    site="$("$prefix/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    printf '%s\n' "$dirs" > "$site/_fastdrg_build_running_env.pth"
}

install() {
    local prefix="$1"
    [ -e "$prefix" ] && die "$prefix exists; give a new directory"
    if [ "${FASTDRG_BUILD_OFFLINE:-0}" = "1" ]; then
        "$PYTHON" -m venv --system-site-packages "$prefix"
        see_running_env "$prefix"
        "$prefix/bin/python" -m pip install --quiet --no-deps --no-index --no-build-isolation "$SRC"
    else
        "$PYTHON" -m venv "$prefix"
        "$prefix/bin/python" -m pip install --quiet --no-cache-dir --upgrade pip
        # the pinned, hashed dependency set (bash requirements/refresh), then the project alone
        "$prefix/bin/python" -m pip install --quiet --no-cache-dir --require-hashes -r "$SRC/requirements/runtime.lock"
        "$prefix/bin/python" -m pip install --quiet --no-cache-dir --no-deps "$SRC"
    fi
    # The console script is what the image's CMD runs.
    [ -x "$prefix/bin/fastdrg" ] || die "no fastdrg console script in $prefix/bin"
    echo "installed fastdrg into $prefix"
}

warm() {
    local prefix="$1" cache="$2"
    mkdir -p "$cache"
    # Tables are written to FASTDRG_CACHE_DIR, numba's compiled kernels to NUMBA_CACHE_DIR;
    # Grouper() builds both (and groups a claim, so every kernel is compiled).
    # Run from / so that the installed package, not a source tree, is imported.
    (cd / && FASTDRG_CACHE_DIR="$cache" NUMBA_CACHE_DIR="$cache/numba" "$prefix/bin/python" -c '
import time
t = time.perf_counter()
from engine import Grouper
g = Grouper()
r = g.group([{"version": "43.1", "age": 70, "sex": "F", "discharge_status": 1, "pdx": "I5021", "sdx": ["N170"]}])[0]
assert r.get("drg") == "291", r
print(f"tables and kernels ready in {time.perf_counter() - t:.1f} s")
')
}

check() {
    local prefix="$1" cache="$2"
    local port log pid code i
    port="$("$prefix/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    log="$(mktemp)"
    (cd / && exec env FASTDRG_CACHE_DIR="$cache" NUMBA_CACHE_DIR="$cache/numba" \
        "$prefix/bin/fastdrg" serve --host 127.0.0.1 --port "$port" --workers 1) >"$log" 2>&1 &
    pid=$!
    # Whatever happens below, the server started here does not outlive this step.
    trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
    code=000
    for i in $(seq 1 "${READY_TIMEOUT:-60}"); do
        code="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)"
        [ "$code" = "200" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    if [ "$code" != "200" ]; then
        cat "$log" >&2
        die "not ready after ${i} s"
    fi
    echo "ready after about ${i} s"
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || die "/healthz failed"
    curl -sf -X POST -H 'Content-Type: application/json' \
        -d '{"version":"43.1","age":70,"sex":"F","discharge_status":1,"pdx":"I5021","sdx":["N170"]}' \
        "http://127.0.0.1:$port/v1/group" | grep -q '"drg":"291"' || die "/v1/group did not answer DRG 291"
    kill -TERM "$pid"
    local status=0
    wait "$pid" || status=$?
    trap - EXIT
    rm -f "$log"
    [ "$status" = "0" ] || die "exit status $status after SIGTERM"
    echo "grouped a claim and exited 0 on SIGTERM"
}

case "${1:-}" in
    install) [ $# -eq 2 ] || die "usage: $0 install PREFIX"; install "$2" ;;
    warm) [ $# -eq 3 ] || die "usage: $0 warm PREFIX CACHE"; warm "$2" "$3" ;;
    check) [ $# -eq 3 ] || die "usage: $0 check PREFIX CACHE"; check "$2" "$3" ;;
    *) die "usage: $0 install|warm|check ..." ;;
esac
