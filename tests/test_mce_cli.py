"""``fastdrg edit`` and ``fastdrg group --edits``: public_edits.jsonl at 100% through the CLI."""

from __future__ import annotations

import orjson

from test_cli import cli  # noqa: F401  (the fixture)
from test_mce_parity import as_expect, edit_records, eval_claim  # noqa: F401


def _run(cli, tmp_path, records, *args):  # noqa: F811
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"".join(orjson.dumps(eval_claim(r)) + b"\n" for r in records) + b"{oops\n")
    out = tmp_path / "out.jsonl"
    p = cli(*args, str(src), "-o", str(out), "--no-progress")
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    lines = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert len(lines) == len(records) + 1 and "error" in lines[-1]
    return lines[:-1], p.stderr.decode()


def test_cli_edit_public_edits_exact(cli, edit_records, tmp_path):  # noqa: F811
    records = [r for r in edit_records if r["age"] <= 124]
    lines, err = _run(cli, tmp_path, records, "edit")
    wrong = [r["id"] for r, x in zip(records, lines) if "error" in x or as_expect(x) != r["expect_mce"]]
    assert not wrong, wrong[:5]
    assert "edited" in err and "PREPAYMENT" in err


def test_cli_group_with_edits(cli, edit_records, tmp_path):  # noqa: F811
    records = [r for r in edit_records if r["age"] <= 124][:2000]
    lines, _ = _run(cli, tmp_path, records, "group", "--edits")
    wrong = [r["id"] for r, x in zip(records, lines) if "error" in x or as_expect(x) != r["expect_mce"] or not x["drg"]]
    assert not wrong, wrong[:5]
