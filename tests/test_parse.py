"""The compiled claim reader (engine.parse, ``Grouper.group_json_texts``) against the
full path (orjson + the Python encoder): equal answers on every text, whichever
path takes it; and the envelope splitter the batch route uses."""

from __future__ import annotations

import datetime
import enum
import json
import uuid
from collections import Counter, OrderedDict

import numpy as np
import orjson
import pytest

from engine import json_array_items
from engine.synthetic import generate_claims

BASE = {"id": "enc-1", "version": "43.1", "age": 70, "sex": "F", "discharge_status": 1,
        "hospital_status": "not_exempt", "pdx": {"code": "I5021", "poa": "Y"},
        "sdx": [{"code": "N179", "poa": "N"}, "E1122"], "procedures": ["02703DZ"]}

# Texts at the edge of what the reader takes: each must be answered as the full path answers it.
EDGE_TEXTS = [
    orjson.dumps(BASE),
    b'  {"version":431,"age":0,"sex":"M","discharge_status":20,"pdx":"i50.21","sdx":[],"procedures":[]}\r\n',
    b'{"version":"43.1","age":124,"sex":"U","discharge_status":99,"pdx":"I5021","sdx":null,"procedures":null}',
    b'{"id":-0,"version":"43.1","age":1,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"id":-17,"version":"43.1","age":1,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"id":12345678901234567890,"version":"43.1","age":1,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"id":"a\\"b","version":"43.1","age":1,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"id":"\xc3\xa9","version":"43.1","age":1,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"id":1.5,"version":"43.1","age":1,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"version":"43.1","age":125,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"version":"43.1","age":01,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"version":"43.1","age":1.0,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"version":"43.1","age":"7","sex":"f","discharge_status":"01","pdx":"I5021"}',
    b'{"version":"43.1","age":"007","sex":"F","discharge_status":"1","pdx":"I5021","hospital_status":"NOT_EXEMPT"}',
    b'{"version":"43.1","age":"1250","sex":"F","discharge_status":"100","pdx":"I5021","hospital_status":"Unknown"}',
    b'{"version":"43.1","age":" 7","sex":"F","discharge_status":"","pdx":"I5021","hospital_status":"UNKNOWN "}',
    b'{"version":"43.1","age":"7","sex":"F","discharge_status":"-1","pdx":"I5021","hospital_status":"n0t_exempt"}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021",}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021"} x',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021","sdx":["N179",]}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":{"code":"I5021","poa":"Y",}}',
    b'{"version":"43.1","version":"40.0","age":7,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"version":null,"version":"40.0","age":7,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021","note":{"a":[1,2]}}',
    b'{"discharge_date":"2025-11-02","age":7,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"version":"43.1","discharge_date":"1999-01-01","age":7,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"version":"44.0","age":7,"sex":"F","discharge_status":1,"pdx":"I5021"}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":null}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"Q9999","sdx":["ZZZ99"]}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I50 21"}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"q99.99","sdx":["zz9"]}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"@@@"}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"A@B","sdx":["@X", "ABCDEFGHI"]}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"V0001","procedures":["XXXXXXX","0Z"]}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"W01","admit_dx":"Q9999"}',
    # unknown codes not in normal form, each in one place (the reader looks codes up after the claim)
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021","admit_dx":"q99.99"}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021","procedures":["02703DZ","0zz.zzzz"]}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021","sdx":["N179",{"code":"e11.22"},"zz.9"]}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":{"code":"q99.99","poa":"Y"},"sdx":["N179"]}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021","hospital_status":"Exempt"}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021","hospital_status":"exempt"}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021","hospital_status":null}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":{"poa":"y","code":"I5021"}}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":{"code":"I5021","poa":" "}}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021","admit_dx":"R69"}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021","procedures":[{"code":"02703DZ"}]}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021","procedures":[{"code":"02703DZ","poa":"Y"}]}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"I5021","sdx":"N179"}',
    b'{"version":"43.1","age":7,"sex":"F","discharge_status":1,"pdx":"\\u0049\\u0035\\u0030\\u0032\\u0031"}',
    b"{}",
]
NOT_OBJECTS = [b"", b"[]", b"5", b'"claim"', b"{", b"nul", b'{"version": "43.1"', b"\xff"]


def _by_encoder(grouper, claims) -> list[dict]:
    """The Python encoder's answers (encode, group_batch, decode): what the compiled
    reader must equal.  (group() and group_json() read dicts through the reader
    too, so they are no reference.)"""
    batch = grouper.encode(claims)
    return grouper.decode(batch, grouper.group_batch(batch))


def _counts(results) -> dict:
    return dict(Counter((r["version"], r["return_code"]) for r in results if "error" not in r))


def _full_path(grouper, texts, default=None):
    """What group_json_texts must equal: every text parsed by orjson, grouped as dicts."""
    docs, errors = [], []
    claims, where = [], []
    for k, t in enumerate(texts):
        try:
            c = orjson.loads(t)
        except orjson.JSONDecodeError:
            c = None
        docs.append(None)
        errors.append(None)
        if type(c) is dict:
            if c.get("hospital_status") is None and default:
                c["hospital_status"] = default
            claims.append(c)
            where.append(k)
    results = _by_encoder(grouper, claims)
    for k, r in zip(where, results):
        docs[k], errors[k] = r, r.get("error")
    return docs, errors, _counts(results)


def _check(grouper, texts, default=None):
    got = grouper.group_json_texts(texts, default_hospital_status=default)
    docs, errors, counts = _full_path(grouper, texts, default)
    assert got.errors == errors
    assert got.counts == counts
    for t, a, b in zip(texts, got.documents, docs):
        assert (a is None) == (b is None), t
        if a is not None:
            assert orjson.loads(a) == b, t


def test_edge_texts_answer_as_the_full_path(grouper):
    _check(grouper, EDGE_TEXTS + NOT_OBJECTS)
    _check(grouper, EDGE_TEXTS, default="exempt")


def test_public_claims_answer_as_the_full_path(grouper, public_records):
    from oracle import public_to_claim

    texts = [orjson.dumps(public_to_claim(r)) for r in public_records]
    got = grouper.group_json_texts(texts)
    assert got.errors == [None] * len(texts)
    ref = _by_encoder(grouper, [orjson.loads(t) for t in texts])
    assert [orjson.loads(d) for d in got.documents] == ref
    assert got.counts == _counts(ref)


def test_generated_claims_answer_as_the_full_path(grouper):
    claims = generate_claims(5000, seed=11)
    _check(grouper, [orjson.dumps(c) for c in claims])
    # the same claims with whitespace, as other encoders write them
    _check(grouper, [orjson.dumps(c, option=orjson.OPT_INDENT_2) for c in claims[:500]])


class _Sex(enum.Enum):
    M = "M"


class _Code(str):
    pass


# Claim dicts at the edge of their JSON form (Grouper.group reads a dict as
# orjson writes it): each must be answered as the Python encoder answers it.
ODD_CLAIMS = [
    None, 5, "claim", {}, [BASE],
    {**BASE, "sdx": ("N179", {"code": "E1122", "poa": "Y"})},  # a tuple reads as a list
    {**BASE, "procedures": ("02703DZ",)},
    {**BASE, "sdx": [{"code": "N179", "poa": float("nan")}]},  # orjson writes NaN as null
    {**BASE, "sdx": [{"code": "N179", "poa": None}]},
    {**BASE, "sdx": [None]},
    {**BASE, "admit_dx": float("inf")},
    {**BASE, "age": float("nan")},
    {**BASE, "age": np.int64(70)},
    {**BASE, "age": True},
    {**BASE, "age": 70.0},
    {**BASE, "id": uuid.UUID(int=7)},  # echoed as the object, not its text
    {**BASE, "id": (1, 2)},
    {**BASE, "id": 2**70},
    {**BASE, "id": None},
    {**BASE, "id": "caf\u00e9"},
    {**BASE, "version": None, "discharge_date": datetime.date(2025, 1, 5)},
    {**BASE, "version": None, "discharge_date": "2025-01-05"},
    {**BASE, "pdx": _Code("I5021")},
    {**BASE, "pdx": "i50.21", "sdx": ["n17.9"]},
    OrderedDict(BASE),
]


def test_dicts_answer_as_the_python_encoder(grouper):
    """group() and group_json() read claim dicts through their JSON text and the
    compiled reader; what that cannot carry as it is goes to the Python encoder."""
    claims = ODD_CLAIMS + generate_claims(300, seed=5)
    ref = _by_encoder(grouper, claims)
    got = grouper.group(claims)
    assert got == ref
    assert [type(r.get("id")) for r in got[:len(ODD_CLAIMS)]].count(uuid.UUID) == 1
    batch = grouper.encode(claims)
    assert grouper.group(claims, detail=False) == grouper.decode(batch, grouper.group_batch(batch), detail=False)
    out = grouper.group_json(claims)
    assert out.errors == [r.get("error") for r in ref]
    assert out.counts == _counts(ref)
    assert [json.loads(d) for d in out.documents] == [json.loads(json.dumps(r, default=str)) for r in ref]


def test_dicts_are_read_as_their_json_form(grouper):
    """An enum counts by its value (orjson writes it so); the Python encoder,
    which takes plain values only, rejects it."""
    assert grouper.group([{**BASE, "sex": _Sex.M}]) == grouper.group([{**BASE, "sex": "M"}])
    assert "error" in _by_encoder(grouper, [{**BASE, "sex": _Sex.M}])[0]


def test_array_items():
    body = b' { "claims" : [ {"a": "]}\\""}, [1, {"b": 2}], 3 ,"x"] } '
    assert json_array_items(body, "claims", 10) == [b'{"a": "]}\\""}', b'[1, {"b": 2}]', b"3", b'"x"']
    assert json_array_items(b'{"claims":[]}', "claims", 10) == []
    assert json_array_items(b'{"claims":[1,2,3]}', "claims", 2) is None  # past the limit
    for other in (b'{"claims":[1,2]', b'{"claims":[1 2]}', b'{"claims":[1],"x":1}', b'{"other":[1]}',
                  b'[{"claims":[1]}]', b'{"claims":[{]}', b'{"claims":[1]} x', b""):
        assert json_array_items(other, "claims", 10) is None, other


@pytest.mark.parametrize("n", [1, 20000])  # 20,000: three parts read and rendered on threads
def test_group_json_texts_sizes(grouper, n):
    texts = [orjson.dumps({**BASE, "id": i}) for i in range(n)]
    out = grouper.group_json_texts(texts)
    assert [orjson.loads(d)["id"] for d in out.documents] == list(range(n))


@pytest.mark.parametrize("sep", [b",", b"\n"])
def test_join_is_the_documents_joined(grouper, sep):
    """JsonResults.join cuts the rendered buffers instead of copying each document:
    the same bytes as joining the documents, with stand-ins for the missing ones
    and for rejected claims, across parts."""
    texts = EDGE_TEXTS + NOT_OBJECTS + [orjson.dumps({**BASE, "id": i}) for i in range(20000)] + EDGE_TEXTS
    out = grouper.group_json_texts(texts, separator=sep)
    extra = {k: b'"stand-in"' for k in out.missing()}
    joined = out.join(extra)  # from the buffers: documents not materialised yet
    framed = out.join(extra, b"<", b">")
    assert joined == sep.join(extra.get(k, d) for k, d in enumerate(out.documents))
    assert out.join(extra) == joined  # and from the materialised documents
    assert framed == out.join(extra, b"<", b">") == b"<" + joined + b">"
    empty = grouper.group_json_texts([])
    assert empty.join(prefix=b"[", suffix=b"]") == b"[]"
    claims = []
    for t in texts[:40]:
        try:
            claims.append(orjson.loads(t))
        except orjson.JSONDecodeError:
            pass
    by_dicts = grouper.group_json(claims, separator=sep)
    assert by_dicts.join() == sep.join(grouper.group_json(claims).documents)


def test_texts_as_spans_of_one_body_answer_as_a_list(grouper):
    """json_array_items hands the grouper spans of the request body (no bytes
    object per claim): the same answers as the list of texts, misfits included."""
    # items are cut by brackets, then read (or not): every edge text but the one with trailing text
    items = [t for t in EDGE_TEXTS if not t.endswith(b" x")] + [b"[]", b"5", b'"claim"', b"null"]
    items += [orjson.dumps({**BASE, "id": i}) for i in range(600)]
    body = b'{"claims": [' + b" , ".join(items) + b"]}"
    texts = json_array_items(body, "claims", 10_000)
    assert len(texts) == len(items) and texts[3] == items[3] and texts[-2:] == items[-2:]
    _check(grouper, texts)  # against orjson + the dict path
    a, b = grouper.group_json_texts(texts), grouper.group_json_texts(list(texts))
    assert a.documents == b.documents and a.errors == b.errors and a.counts == b.counts
    assert a.join({k: b"0" for k in a.missing()}) == b.join({k: b"0" for k in b.missing()})

