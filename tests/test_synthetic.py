"""engine.synthetic: deterministic, well-formed claims that cover the edge cases."""

from __future__ import annotations

import collections

from engine.synthetic import INVALID_DISCHARGE, generate_claims


def _codes(claim):
    entries = [claim["pdx"], *claim.get("sdx", [])]
    return [e["code"] if isinstance(e, dict) else e for e in entries] + list(claim["procedures"])


def test_deterministic_for_a_seed():
    assert generate_claims(2000, seed=5) == generate_claims(2000, seed=5)
    assert generate_claims(200, seed=5) != generate_claims(200, seed=6)


def test_versions_filter_and_shape():
    claims = generate_claims(1000, seed=1, versions=["40.0", 431], edge_cases=False)
    assert {c["version"] for c in claims} == {"40.0", "43.1"}
    for c in claims:
        assert 0 <= c["age"] <= 124 and c["sex"] in ("M", "F", "U")
        assert c["hospital_status"] in ("not_exempt", "exempt", "unknown")
        assert 0 <= len(c["sdx"]) <= 30 and 0 <= len(c["procedures"]) <= 12
        assert all(code and code == code.upper() and "." not in code for code in _codes(c))


def test_edge_cases_present():
    claims = generate_claims(20_000, seed=3)
    seen = collections.Counter()
    for c in claims:
        codes = _codes(c)
        assert all(isinstance(x, str) and x for x in codes)  # never empty
        seen["discharge_date"] += "discharge_date" in c
        seen["int_version"] += isinstance(c.get("version"), int)
        seen["int_sex"] += isinstance(c["sex"], int)
        seen["upper_hospital"] += c["hospital_status"].isupper()
        seen["dotted"] += any("." in x for x in codes)
        seen["lower"] += any(x != x.upper() for x in codes)
        seen["many_sdx"] += len(c.get("sdx", [])) > 24
        seen["no_sdx_key"] += "sdx" not in c
        seen["invalid_dstat"] += int(c["discharge_status"]) in INVALID_DISCHARGE
        pdx = c["pdx"]["code"] if isinstance(c["pdx"], dict) else c["pdx"]
        seen["pdx_as_sdx"] += any((e["code"] if isinstance(e, dict) else e) == pdx for e in c.get("sdx", []))
        sdx = [e["code"] if isinstance(e, dict) else e for e in c.get("sdx", [])]
        seen["dup_sdx"] += len(sdx) != len(set(sdx))
        poas = [e.get("poa") if isinstance(e, dict) else None for e in [c["pdx"], *c.get("sdx", [])]]
        seen["poa_1"] += "1" in poas
        seen["poa_missing"] += None in poas
    missing = [k for k, n in seen.items() if n == 0]
    assert not missing, f"edge cases never generated: {missing}"
    assert len(seen) == 13
