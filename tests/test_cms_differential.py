"""Our engine vs the official CMS grouper on generated claims (tests/cmsdiff.py).

All five graded fields and the per-code detail are compared; any difference
fails (no classification rules).  The CMS grouper runs in this process through
JPype (one JVM, started once); the test skips with the reason where Java,
jpype1 or shared/cms-oracle is missing.  ~1,000 claims/s on the CMS side.

    python -m pytest tests/test_cms_differential.py -q -s          # 20,000 claims
    python -m pytest tests/test_cms_differential.py -q -s -m slow  # 1,000,000 claims
"""

from __future__ import annotations

import sys
import time

import pytest

import cmsdiff
from mismatch import report


@pytest.fixture(scope="module")
def cms():
    reason = cmsdiff.oracle_unavailable()
    if reason:
        print(f"\nSKIP CMS differential: {reason}", file=sys.stderr)
        pytest.skip(reason)
    return cmsdiff.cms_grouper()


def _check(tally: cmsdiff.Tally) -> None:
    print("\n" + tally.summary())
    if tally.n_diff:
        pytest.fail(tally.summary() + "\n" + report(
            [(c.get("id"), d) for c, _, d in tally.examples], tally.total, "differences (CMS -> ours)"),
            pytrace=False)


def test_cms_differential_20k(grouper, cms):
    chunks = [(2_000, 11_000 + k) for k in range(10)]
    tally = cmsdiff.run(grouper, chunks)
    assert tally.total == 20_000
    _check(tally)


@pytest.mark.slow
def test_cms_differential_1m(grouper, cms):
    """1,000,000 claims in chunks of 10,000 (bounded memory); progress on stderr after
    each chunk (claims so far, how many differ, seconds)."""
    t0 = time.perf_counter()

    def progress(t):
        print(f"  {t.total} claims, {t.n_diff} differ, {time.perf_counter() - t0:.0f} s",
              file=sys.stderr, flush=True)

    chunks = [(10_000, 500_000 + k) for k in range(100)]
    tally = cmsdiff.run(grouper, chunks, progress=progress)
    assert tally.total == 1_000_000
    print(f"\n1,000,000-claim CMS differential: {time.perf_counter() - t0:.0f} s")
    _check(tally)
