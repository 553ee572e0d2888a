"""The container image recipe, checked without a Docker engine.

The Dockerfile delegates its steps to docker/build.sh; these tests run the same
script in a fresh virtual environment (offline: it sees the system's packages
and installs only this project), so a broken step fails here, not at the next
image build.

* ``test_dockerfile_*`` read the Dockerfile: multi-stage, slim base, the
  script's steps, a non-root user, a HEALTHCHECK on /healthz, CMD fastdrg serve.
* ``test_build_script_installs_into_a_fresh_venv`` installs the project and
  checks the console script and the installed packages (well under a minute).
* ``test_image_steps_end_to_end`` (marked slow: a cold numba compile takes
  minutes) runs install, warm and check as the image build would: tables and
  kernels built into an empty cache, then the installed ``fastdrg serve``
  ready in seconds, grouping a claim, exiting 0 on SIGTERM.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
SCRIPT = REPO / "docker" / "build.sh"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_is_multi_stage_slim_and_uses_the_script():
    ins = _instructions()
    froms = [rest for word, rest in ins if word == "FROM"]
    assert len(froms) >= 2, "multi-stage build expected"
    base = next(rest for word, rest in ins if word == "ARG" and rest.startswith("PYTHON_IMAGE="))
    assert "slim" in base
    runs = " ".join(rest for word, rest in ins if word == "RUN")
    assert "fastdrg-build install" in runs and "fastdrg-build warm" in runs
    copies = " ".join(rest for word, rest in ins if word == "COPY")
    assert "docker/build.sh" in copies and "--from=build" in copies
    # Every path the build copies from the context exists.
    for word, rest in ins:
        if word == "COPY" and "--from" not in rest:
            for src in rest.split()[:-1]:
                if src != "README.md":  # written by the project's README task
                    assert (REPO / src).exists(), src


def test_dockerfile_runs_as_non_root_with_healthcheck_and_serve_cmd():
    ins = _instructions()
    users = [rest for word, rest in ins if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    final_stage = [word for word, _ in ins][max(i for i, (w, _) in enumerate(ins) if w == "FROM"):]
    assert "USER" in final_stage and "HEALTHCHECK" in final_stage
    health = next(rest for word, rest in ins if word == "HEALTHCHECK")
    assert "/healthz" in health
    cmd = [rest for word, rest in ins if word == "CMD"][-1]
    assert re.fullmatch(r'\[\s*"fastdrg"\s*,\s*"serve"\s*\]', cmd), cmd
    env = " ".join(rest for word, rest in ins if word == "ENV")
    assert "FASTDRG_CACHE_DIR=" in env and "NUMBA_CACHE_DIR=" in env and "FASTDRG_HOST=0.0.0.0" in env


def _missing_build_tools() -> str | None:
    """The offline install builds with the system's setuptools: it needs bdist_wheel
    (built into setuptools >= 70.1, else from the ``wheel`` package)."""
    try:
        import setuptools
    except ImportError:
        return "offline install needs setuptools in the system Python"
    version = tuple(int(p) for p in re.findall(r"\d+", setuptools.__version__)[:2])
    if version >= (70, 1):
        return None
    try:
        import wheel  # noqa: F401
    except ImportError:
        return f"offline install needs setuptools >= 70.1 or the wheel package (have setuptools {setuptools.__version__})"
    return None


def _install(tmp_path: Path) -> Path:
    reason = _missing_build_tools()
    if reason:
        pytest.skip(reason)
    prefix = tmp_path / "venv"
    env = dict(os.environ, FASTDRG_BUILD_OFFLINE="1", PYTHON=sys.executable)
    done = subprocess.run(["bash", str(SCRIPT), "install", str(prefix)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return prefix


@pytest.mark.timeout(600)
def test_build_script_installs_into_a_fresh_venv(tmp_path):
    prefix = _install(tmp_path)
    assert (prefix / "bin" / "fastdrg").is_file()
    code = "import engine, service.app, service.server; print(engine.__file__); print(service.app.__file__)"
    # the installed copy, not a source tree the caller's PYTHONPATH names
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([str(prefix / "bin" / "python"), "-c", code], cwd="/", capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    for path in done.stdout.split():
        assert str(prefix) in path, f"imported from outside the venv: {path}"
    # The console script reaches service.server.serve; bad settings stop it before it binds anything.
    done = subprocess.run([str(prefix / "bin" / "fastdrg"), "serve", "--workers", "0"], cwd="/",
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and "workers" in done.stderr


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_image_steps_end_to_end(tmp_path):
    if not shutil.which("curl"):
        pytest.skip("curl is needed by docker/build.sh check")
    prefix = _install(tmp_path)
    cache = tmp_path / "cache"
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop("FASTDRG_CACHE_DIR", None)
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run(["bash", str(SCRIPT), "warm", str(prefix), str(cache)], env=env, capture_output=True,
                          text=True, timeout=3000)
    assert done.returncode == 0, done.stdout + done.stderr
    assert any(p.name.startswith("tables-") for p in cache.iterdir()) and (cache / "numba").is_dir()
    env["READY_TIMEOUT"] = "30"  # tables and kernels are cached: ready in seconds
    done = subprocess.run(["bash", str(SCRIPT), "check", str(prefix), str(cache)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "exited 0 on SIGTERM" in done.stdout
