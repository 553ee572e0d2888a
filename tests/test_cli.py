"""The ``fastdrg`` console script, run for real in a subprocess.

Uses the console script installed beside the running interpreter when present
(``pip install -e .``: in a virtual environment, the environment's own, never
another ``fastdrg`` first on PATH, which may run another Python); otherwise the
same ``engine.cli:main`` through ``python -m engine.cli``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

REPO = Path(__file__).resolve().parents[1]
FIVE = ("drg", "mdc", "initial_drg", "initial_mdc", "return_code")


def console_script() -> list[str]:
    """The ``fastdrg`` of the running interpreter's environment, else ``python -m engine.cli``."""
    exe = Path(sys.executable).with_name("fastdrg")
    return [str(exe)] if exe.is_file() and os.access(exe, os.X_OK) else [sys.executable, "-m", "engine.cli"]


@pytest.fixture(scope="module")
def cli():
    base = console_script()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")

    def run(*args, stdin: bytes | None = None, timeout: float = 600):
        return subprocess.run([*base, *args], input=stdin, capture_output=True, env=env,
                              cwd=REPO, timeout=timeout)

    return run


def test_cli_runs_in_the_running_environment():
    """The command the tests run is this environment's (a venv's own console script, whose
    interpreter is the one running the tests), not whichever ``fastdrg`` PATH finds first."""
    cmd = console_script()
    if cmd[0] == sys.executable:
        return
    shebang = Path(cmd[0]).read_bytes().split(b"\n", 1)[0].decode()
    assert shebang.startswith("#!")
    interpreter = Path(shebang[2:].split()[0])
    assert interpreter.parent == Path(sys.executable).parent, (shebang, sys.executable)


@pytest.fixture(scope="module")
def claims():
    from engine.synthetic import generate_claims

    return generate_claims(300, seed=11)


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def _lines(data: bytes) -> list[dict]:
    return [orjson.loads(x) for x in data.splitlines() if x.strip()]


def test_group_file_in_order_with_bad_lines(cli, claims, grouper, tmp_path):
    body = [orjson.dumps(c) for c in claims]
    body[10:10] = [b"{not json", b"", b"[1, 2]"]  # bad JSON, a blank line, a non-object
    src = _write(tmp_path / "in.jsonl", body)
    out = tmp_path / "out.jsonl"
    r = cli("group", str(src), "-o", str(out), "--chunk", "64")
    assert r.returncode == 0, r.stderr.decode()
    got = _lines(out.read_bytes())
    assert len(got) == len(claims) + 2  # the blank line gives no output
    assert got[10]["error"]["field"] == "json" and got[10]["line"] == 11
    assert got[11]["error"]["field"] == "json" and got[11]["line"] == 13
    results = got[:10] + got[12:]
    expected = grouper.group(claims)
    assert [r_["id"] for r_ in results] == [c["id"] for c in claims]
    for a, b in zip(results, expected):
        assert {f: a.get(f) for f in FIVE} == {f: b.get(f) for f in FIVE}, a["id"]
    err = r.stderr.decode()
    assert "OK" in err and "ERROR:json" in err and "grouped" in err


def test_group_stdin_stdout_and_default_hospital_status(cli, claims, grouper):
    sample = [dict(c) for c in claims[:60]]
    for c in sample:
        c.pop("hospital_status", None)
    r = cli("group", "--hospital-status", "EXEMPT", "-q", stdin=b"\n".join(orjson.dumps(c) for c in sample))
    assert r.returncode == 0, r.stderr.decode()
    assert r.stderr.strip() == b""  # --quiet
    got = _lines(r.stdout)
    expected = grouper.group([{**c, "hospital_status": "exempt"} for c in sample])
    assert [g["id"] for g in got] == [c["id"] for c in sample]
    assert [{f: g.get(f) for f in FIVE} for g in got] == [{f: e.get(f) for f in FIVE} for e in expected]
    assert [g.get("hac_status") for g in got] == [e.get("hac_status") for e in expected]


def test_chunk_size_does_not_change_output(cli, claims, tmp_path):
    src = _write(tmp_path / "in.jsonl", [orjson.dumps(c) for c in claims[:100]])
    a = cli("group", str(src), "--chunk", "7", "-q", "--no-detail")
    b = cli("group", str(src), "-q", "--no-detail")
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout and a.stdout.count(b"\n") == 100


def test_bad_arguments_exit_2(cli, tmp_path):
    assert cli("group", "--hospital-status", "sometimes").returncode == 2
    assert cli("group", str(tmp_path / "missing.jsonl")).returncode == 2
    assert cli("frobnicate").returncode == 2


def test_tables_build_uses_cache(cli):
    r = cli("tables", "build")
    assert r.returncode == 0, r.stderr.decode()
    assert b"ready" in r.stdout


def test_serve_help(cli):
    r = cli("serve", "--help")
    assert r.returncode == 0
    for opt in (b"--host", b"--port", b"--workers", b"--log-level"):
        assert opt in r.stdout
