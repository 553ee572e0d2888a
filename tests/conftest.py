"""Shared fixtures: one Grouper per test session, the shared/ reference data.

Building a Grouper loads (or builds) the cached tables and compiles the numba
kernels, which is the expensive part of the suite: do it once.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest

# The suite never reads a developer's own imports (CMS releases, Table 5 years) from the
# user data directory: it gets one of its own unless one is named.
os.environ.setdefault("FASTDRG_DATA_DIR", tempfile.mkdtemp(prefix="fastdrg-test-data-"))
# Every compiled call typed once (engine.fastcall.Bound) is checked against numba's own typing
# of its arguments, in the suite's processes and the servers it starts.
os.environ.setdefault("FASTDRG_CHECK_CALLS", "1")

#: shared/ is a sibling of the repository (locally /work/shared, in CI next to the clone);
#: FASTDRG_SHARED_DIR names it for a checkout elsewhere (a git worktree, say).
SHARED = Path(os.environ.get("FASTDRG_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
PUBLIC_CLAIMS = SHARED / "eval" / "public_claims.jsonl"


@pytest.fixture(scope="session")
def grouper():
    from engine import Grouper

    return Grouper()


@pytest.fixture(scope="session")
def public_records() -> list[dict]:
    """The public reference claims with the official CMS results (skip when absent)."""
    if not PUBLIC_CLAIMS.is_file():
        pytest.skip(f"shared reference claims not found at {PUBLIC_CLAIMS} "
                    "(shared/ must be a sibling of the repository)")
    with open(PUBLIC_CLAIMS) as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="session")
def msdrg_oracle():
    """msdrg's grouper behind tests/oracle.py (skip when the package is missing)."""
    pytest.importorskip("msdrg")
    from oracle import MsdrgOracle

    o = MsdrgOracle(lenient=True)
    yield o
    o.close()
