"""837I files through the front doors (ISSUE-26 section 2): ``fastdrg group`` and the service's
``application/edi-x12`` bodies give, per CLM, what ``Grouper.group`` gives the JSON twin; a file
refused whole is exit code 2 / 400 problem+json naming the segment, never a traceback.

Material from tests/x12_files.py; skipped while engine.io.x12 (the reader) is missing.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import orjson
import pytest

import x12_files as X
from test_cli import REPO, console_script
from test_service import client_for

pytestmark = pytest.mark.anyio
MEDIA = "application/edi-x12"
DATA = Path(__file__).parent / "data" / "x12"


@pytest.fixture(scope="module", autouse=True)
def reader():
    return pytest.importorskip("engine.io.x12",
                               reason="engine.io.x12 (the 837I reader of ISSUE-26) is not in this branch yet")


@pytest.fixture(scope="module")
def cli():
    """``fastdrg`` of this environment in a subprocess, this worktree's code first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")

    def run(*args):
        return subprocess.run([*console_script(), *args], capture_output=True, env=env, cwd=REPO, timeout=600)

    return run


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
def material(public_records) -> X.X12File:
    recs = random.Random(26).sample(public_records, 300)
    facts = [X.prepare(r, i, seed=2) for i, r in enumerate(recs)]
    return X.write_837i(facts, X.DELIMITER_SETS["star_lf"], interchanges=2, groups=2, sets=2)


@pytest.fixture(scope="module")
def expected(grouper, material) -> list[dict]:
    return grouper.group([X.twin(f) for f in material.facts])


@pytest.fixture(scope="module")
def se_mismatch(public_records) -> tuple[bytes, int]:
    data, segment, _ = X.whole_file_cases(public_records[:40])["se_count_mismatch"]
    return data, segment


def _same(got: list[dict], want: list[dict], locators: list[dict]) -> list:
    """Claims whose result differs from the twin's on any of the twin's result fields, or
    whose locator is not where the claim stands in the file."""
    return [(w.get("id"), {k: (g.get(k), v) for k, v in w.items() if g.get(k) != v}, g.get("locator"), loc)
            for g, w, loc in zip(got, want, locators)
            if g.get("locator") != loc or any(g.get(k) != v for k, v in w.items())] + \
        ([("count", len(got), len(want))] if len(got) != len(want) else [])


# ---------------------------------------------------------------------------------- CLI

def test_cli_groups_an_837i_file_recognised_by_its_isa(cli, tmp_path, material, expected):
    """Named ``claims.dat`` (not .837): recognised by its ISA header."""
    src = tmp_path / "claims.dat"
    src.write_bytes(material.data)
    out = tmp_path / "results.jsonl"
    p = cli("group", str(src), "-o", str(out))
    assert p.returncode == 0, p.stderr.decode()
    got = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert not _same(got, expected, material.locators)


def test_cli_refuses_a_file_whose_se_count_disagrees(cli, tmp_path, se_mismatch):
    data, segment = se_mismatch
    src = tmp_path / "bad.837"
    src.write_bytes(data)
    p = cli("group", str(src), "-o", str(tmp_path / "out.jsonl"))
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert "Traceback" not in err and str(segment) in err, err


def test_cli_refuses_an_837p_as_professional(cli, tmp_path):
    p = cli("group", str(DATA / "demo.example1.837"), "-o", str(tmp_path / "out.jsonl"))
    err = p.stderr.decode()
    assert p.returncode == 2 and "Traceback" not in err, err
    assert "professional" in err.lower() or "837P" in err or "X222" in err, err


# ------------------------------------------------------------------------------ service

@pytest.fixture
async def client(grouper):
    from service.app import create_app
    from service.settings import Settings

    async with client_for(create_app(grouper=grouper, settings=Settings())) as c:
        yield c


async def test_batch_route_takes_edi_x12(client, material, expected):
    r = await client.post("/v1/group/batch", content=material.data, headers={"content-type": MEDIA})
    assert r.status_code == 200, r.text
    assert not _same(r.json()["results"], expected, material.locators)


async def test_stream_route_takes_edi_x12(client, material, expected):
    r = await client.post("/v1/group/stream", content=material.data, headers={"content-type": MEDIA})
    assert r.status_code == 200, r.text
    got = [orjson.loads(line) for line in r.content.splitlines() if line.strip()]
    assert not _same(got, expected, material.locators)


async def test_batch_route_answers_400_naming_the_segment(client, se_mismatch):
    data, segment = se_mismatch
    r = await client.post("/v1/group/batch", content=data, headers={"content-type": MEDIA})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert str(segment) in r.text


async def test_service_results_carry_no_phi(client, material):
    r = await client.post("/v1/group/batch", content=material.data, headers={"content-type": MEDIA})
    for token in X.PHI_TOKENS:
        assert token not in r.text
