"""The compiled claim reader (engine.parse, ``Grouper.group_json_texts``) against the
full path (orjson + the Python encoder): equal answers on every text, whichever
path takes it; and the envelope splitter the batch route uses."""

from __future__ import annotations

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
    out = grouper.group_json(claims)
    for k, d, e in zip(where, out.documents, out.errors):
        docs[k], errors[k] = d, e
    return docs, errors, out.counts


def _check(grouper, texts, default=None):
    got = grouper.group_json_texts(texts, default_hospital_status=default)
    docs, errors, counts = _full_path(grouper, texts, default)
    assert got.errors == errors
    assert got.counts == counts
    for t, a, b in zip(texts, got.documents, docs):
        assert (a is None) == (b is None), t
        if a is not None:
            assert orjson.loads(a) == orjson.loads(b), t


def test_edge_texts_answer_as_the_full_path(grouper):
    _check(grouper, EDGE_TEXTS + NOT_OBJECTS)
    _check(grouper, EDGE_TEXTS, default="exempt")


def test_public_claims_answer_as_the_full_path(grouper, public_records):
    from oracle import public_to_claim

    texts = [orjson.dumps(public_to_claim(r)) for r in public_records]
    got = grouper.group_json_texts(texts)
    assert got.errors == [None] * len(texts)
    ref = grouper.group_json([orjson.loads(t) for t in texts])
    assert got.documents == ref.documents and got.counts == ref.counts


def test_generated_claims_answer_as_the_full_path(grouper):
    claims = generate_claims(5000, seed=11)
    _check(grouper, [orjson.dumps(c) for c in claims])
    # the same claims with whitespace, as other encoders write them
    _check(grouper, [orjson.dumps(c, option=orjson.OPT_INDENT_2) for c in claims[:500]])


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

