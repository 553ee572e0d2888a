"""The compiled road of a batch ``Bundle`` of Claims or ExplanationOfBenefits: request bytes to
the batch-response bytes, without a Python object per element.

Why: the Python road (engine.io.fhir: orjson, the compiled JSON Schema check of
engine.io.fhir_fast on the dicts, a Python mapping, ``Parameters`` dicts, orjson again) costs
some 250 us a Claim, twenty times the JSON batch's.  Here one compiled pass
(engine.io.fhir_scan) tokenizes the body, checks each resource's structure against tables
derived from the same schema (fhir.resources' R4B models), maps each Claim to our claim's
JSON text as engine.io.fhir.read_claim does, the grouper reads, groups and writes those texts
as it does /v1/group/batch's (``Grouper.group_json_texts``), and a second compiled pass
writes its result documents as the ``Parameters`` engine.io.fhir.parameters writes.

The road is taken only when every step is exact; anything else (a string with an escape or a
non-ASCII byte, an element or a resource type the tables do not state, a resource the Python
road would refuse or a claim the engine refuses, ``?edits=true``) makes :func:`group_bundle`
answer None and the caller takes the Python road, which stays the definition: every error
message and edge case is its.  ``tests/test_fhir_bundle.py`` holds the two roads equal.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import orjson

from ..encode import version_dates, version_label
from ..fastcall import Bound
from ..parse import Texts
from . import fhir as F
from . import fhir_scan as S
from .fhir_fast import _PRIMITIVES, schema_for

__all__ = ["compile_road", "group_bundle", "read_single", "ready", "road_of", "warm", "write_single"]

_PRIMITIVE_KINDS = {
    "String": S.E_STRING, "Code": S.E_CODE, "Id": S.E_ID, "Uri": S.E_URI, "Canonical": S.E_URI,
    "Date": S.E_DATE, "DateTime": S.E_DATETIME, "Instant": S.E_INSTANT, "Decimal": S.E_DECIMAL,
    "Integer": S.E_INTEGER, "UnsignedInt": S.E_UNSIGNED, "PositiveInt": S.E_POSITIVE, "Boolean": S.E_BOOLEAN,
}
_CONSTANTS = {"icd10cm": F.ICD10CM, "icd10pcs": F.ICD10PCS, "msdrg": F.MSDRG, "nubc_discharge": F.NUBC_DISCHARGE,
              "hospital_status_extension": F.HOSPITAL_STATUS_EXTENSION}
#: the resource types whose schemas the tables merge (a Bundle's entries: Claims, EOBs, Patients)
_ROOTS = ("Bundle", "Claim", "ExplanationOfBenefit", "Patient")


def _blob(texts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    off = np.zeros(len(texts) + 1, np.int64)
    np.cumsum([len(t) for t in texts], out=off[1:])
    return np.frombuffer(b"".join(texts), np.uint8).copy(), off


class _Tables:
    """engine.io.fhir_fast's JSON Schemas as arrays (engine.io.fhir_scan.check's ``tables``)."""

    def __init__(self) -> None:
        defs: dict = {}
        for rt in _ROOTS:
            for name, d in schema_for(rt)["$defs"].items():
                if name == "BundleEntry" and rt != "Bundle":
                    continue
                if name in defs and defs[name] != d:
                    raise ValueError(f"two schemas of {name}")
                defs[name] = d
        self.type_names = sorted(defs)
        index = {n: i for i, n in enumerate(self.type_names)}
        names = list(S.NAMES)
        for d in defs.values():
            for k in (d or {}).get("properties", {}):
                if k not in names:
                    names.append(k)
        if "resource" not in names:
            names.append("resource")
        key = {n: i for i, n in enumerate(names)}
        strings = [_CONSTANTS.get(s, s) for s in S.CONSTANTS_HEAD]
        type_rt = np.full(len(self.type_names), -1, np.int32)
        fields = []  # (type, key, kind, many)
        req_off, req, grp_off, grp_req, grp_mem_off, grp_mem = [0], [], [0], [], [0], []
        self.rt_types = None

        def kind_of(spec):
            if "$ref" in spec:
                return S.E_TYPE + index[spec["$ref"].rsplit("/", 1)[1]], False
            if spec.get("type") == "array":
                inner, many = kind_of(spec["items"])
                if many or spec.get("minItems") != 1 or set(spec) != {"type", "minItems", "items"}:
                    raise ValueError(f"an array the tables do not state: {spec}")
                return inner, True
            if "anyOf" in spec and all("$ref" in s for s in spec["anyOf"]):
                rts = sorted(index[s["$ref"].rsplit("/", 1)[1]] for s in spec["anyOf"])
                if self.rt_types is not None and self.rt_types != rts:
                    raise ValueError("two sets of contained resource types")
                self.rt_types = rts
                return S.E_RESOURCE, False
            if "const" in spec:
                return S.E_RESOURCE_TYPE, False
            for name, prim in _PRIMITIVES.items():
                if spec == prim:
                    return _PRIMITIVE_KINDS[name], False
            raise ValueError(f"an element the tables do not state: {spec}")

        for ty, name in enumerate(self.type_names):
            d = defs[name]
            if not d:
                raise ValueError(f"no schema of {name}")
            if set(d) - {"type", "minProperties", "additionalProperties", "properties", "required", "allOf"} \
                    or d.get("additionalProperties") is not False or d.get("minProperties") != 1:
                raise ValueError(f"a schema the tables do not state: {name}")
            props = dict(d["properties"])
            if name == "BundleEntry":
                props["resource"] = None
            first = len(fields)
            slot = {}
            for k, spec in props.items():
                if spec is None:
                    kind, many = S.E_ENTRY_RESOURCE, False
                else:
                    kind, many = kind_of(spec)
                if kind == S.E_RESOURCE_TYPE:
                    strings.append(spec["const"])
                    type_rt[ty] = len(strings) - 1
                slot[k] = len(fields)
                fields.append((ty, key[k], kind, many))
            req.extend(slot[k] for k in d.get("required", ()))
            req_off.append(len(req))
            for one in d.get("allOf", ()):
                present = one["oneOf"]
                members = [p["required"][0] for p in present if "required" in p]
                grp_req.append(all("required" in p for p in present))
                grp_mem.extend(slot[m] for m in members)
                grp_mem_off.append(len(grp_mem))
            grp_off.append(len(grp_req))
            assert first <= len(fields)
        field_of = np.full((len(self.type_names), len(names)), -1, np.int32)
        for f, (ty, k, _, _) in enumerate(fields):
            field_of[ty, k] = f
        self.names = names
        kblob, koff = _blob([n.encode() for n in names])
        size = 1 << max(4, (2 * len(names) - 1).bit_length())
        self.kbits = np.uint64(size.bit_length() - 1)
        self.ktab = np.full(size, -1, np.int64)
        self.kblob, self.koff = kblob, koff
        mask = size - 1
        for i, n in enumerate(names):
            b = np.frombuffer(n.encode(), np.uint8)
            s = int(S.key_slot(b, 0, len(b), self.kbits))
            while self.ktab[s] >= 0:
                s = (s + 1) & mask
            self.ktab[s] = i
        sblob, soff = _blob([s.encode() for s in strings])
        self.check = (
            field_of, np.array([f[2] for f in fields], np.int32), np.array([f[3] for f in fields], np.bool_),
            np.array(req_off, np.int64), np.array(req, np.int64), np.array(grp_off, np.int64),
            np.array(grp_req, np.bool_), np.array(grp_mem_off, np.int64), np.array(grp_mem, np.int64),
            type_rt, np.array(self.rt_types or [], np.int64), sblob, soff,
            index["Bundle"], index["Patient"], index["Claim"], index["ExplanationOfBenefit"],
        )
        frags = [f.replace("{MSDRG}", F.MSDRG).replace("{ICD10CM}", F.ICD10CM).replace("{ICD10PCS}", F.ICD10PCS)
                 .encode() for f in S.PARAM_FRAGS]
        self.frag_blob, self.frag_off = _blob(frags)


_TABLES: _Tables | None = None
_LOCK = threading.Lock()


def _tables() -> _Tables:
    global _TABLES
    with _LOCK:
        if _TABLES is None:
            _TABLES = _Tables()
        return _TABLES


#: grouper -> (version index by vN, DRG titles' offsets, their bytes): engine.io.fhir's drg_title, as arrays
_TITLES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _titles(grouper):
    found = _TITLES.get(grouper)
    if found is None:
        versions = list(grouper.version_numbers)
        ver_index = np.full(1000, -1, np.int64)
        texts = []
        for vi, v in enumerate(versions):
            ver_index[v] = vi
            label = version_label(v)
            for d in range(1000):
                info = grouper.drg_info(label, str(d))
                desc = info.get("description") if info else None
                texts.append(orjson.dumps(desc)[1:-1] if desc else b"")
        blob, off = _blob(texts)
        found = _TITLES[grouper] = (ver_index, off, blob)
    return found


class _Scratch:
    """One request's working arrays (tapes, texts), kept for the next request.

    Why: a Bundle of 1,000 Claims works in some 30 MB of arrays; fresh memory is faulted in
    page by page at each request (an array beyond glibc's largest mmap threshold, 32 MB, always
    is), which cost about a fifth of the compiled road.  A few sets are kept (:func:`_scratch`),
    each up to :data:`_KEEP_BYTES`; what the response holds is never scratch."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, rows: int, dtype, cols: int = 0) -> np.ndarray:
        a = self.arrays.get(name)
        if a is None or len(a) < rows:
            a = self.arrays[name] = np.empty((rows, cols) if cols else rows, dtype)
        return a

    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())


#: scratch sets kept (one per request running at once, as many as the kernel threads, at most)
_KEEP = 2
_KEEP_BYTES = 96 << 20
_SCRATCH: list[_Scratch] = []


def _scratch() -> _Scratch:
    with _LOCK:
        return _SCRATCH.pop() if _SCRATCH else _Scratch()


def _release(s: _Scratch) -> None:
    if s.nbytes() <= _KEEP_BYTES:
        with _LOCK:
            if len(_SCRATCH) < _KEEP:
                _SCRATCH.append(s)


#: the road's compiled calls without numba's per-call typing of their ~10-20 arguments (engine.fastcall:
#: ~30 us of a single resource's ~80); their types are fixed here by construction, but for the
#: buffers read (bytes: read-only), checked on every call
_TOKENIZE = Bound(S.tokenize, checked=(0,))
_READ_BUNDLE = Bound(S.read_bundle, checked=(0,))
_WRITE_PARAMETERS = Bound(S.write_parameters, checked=(0, 2))


def _tokens(buf: np.ndarray, t: _Tables, strict: bool, s: _Scratch, name: str) -> tuple[np.ndarray, int]:
    """engine.io.fhir_scan.tokenize on a tape sized for FHIR's JSON: a token per 8 bytes at most
    most often, else a token per 2 bytes (the most JSON can have)."""
    for per in (8, 2):
        tape = s.get(name, len(buf) // per + 16, np.int32, 6)
        n = _TOKENIZE(buf, tape, t.ktab, t.kbits, t.kblob, t.koff, strict)
        if n != -2:
            return tape, n
    return tape, -1


def road_of(body: bytes, expect: str, max_entries: int) -> int:
    """Why ``body`` would take the Python road (engine.io.fhir_scan's SLOW_* reasons), SLOW_NONE
    when the compiled road reads every entry (for tests and the docs)."""
    read = _read(body, expect, max_entries, _Scratch())
    return read if isinstance(read, int) else S.SLOW_NONE


def _read(body: bytes, expect: str, max_entries: int, s: _Scratch):
    want = {"Claim": S.S_CLAIM, "ExplanationOfBenefit": S.S_EOB}.get(expect)
    if want is None:
        return S.SLOW_SHAPE
    t = _tables()
    buf = np.frombuffer(body, np.uint8)
    tape, nt = _tokens(buf, t, True, s, "tape")
    if nt < 0:
        return S.SLOW_JSON
    most = nt // 4 + 1
    spans = s.get("spans", most, np.int64, 2)
    info = s.get("info", most, np.int64, 2)
    expect_ = s.get("expect", nt, np.int16)
    kb = s.get("kb", len(body) + 16, np.uint8)
    # the claims' texts: about a tenth of the body; each claim needs its resource's bytes and 512 free
    for cap in (len(body) // 2 + 65536, 27 * len(body) + 65536):
        out = s.get("out", cap, np.uint8)
        status, n = _READ_BUNDLE(buf, tape, want, max_entries, t.check, out, spans, info, expect_, kb)
        if status != S.SLOW_FULL:
            break
    if status != S.SLOW_NONE:
        return status
    return buf, tape[:nt], out, spans[:n], info[:n]


def group_bundle(grouper, body: bytes, expect: str, max_entries: int, hospital_status: str | None = None,
                 base_rate=None):
    """A batch Bundle's request bytes -> ``(response, claims, counts)``: the batch-response
    Bundle engine.io.fhir.batch_response writes for it (every entry a ``Parameters``) as a
    memoryview of its bytes (a copy of megabytes saved; ``bytes(...)`` for bytes), the
    number of Claims, the grouped ones by (version, return code); None when the Bundle takes
    the Python road (engine.io.fhir.read_body and group_resources: they answer it).

    ``expect``: the operation's resource type (Claim or ExplanationOfBenefit; Encounter always
    takes the Python road); ``max_entries``: more entries is the Python road's 413;
    ``hospital_status``: for claims without one (default: the grouper's); ``base_rate`` as
    engine.io.fhir.group_resources takes it."""
    s = _scratch()
    try:
        return _group(grouper, body, expect, max_entries, hospital_status, base_rate, s)
    finally:
        _release(s)


def _group(grouper, body, expect, max_entries, hospital_status, base_rate, s: _Scratch):
    read = _read(body, expect, max_entries, s)
    if isinstance(read, int):
        return None
    buf, tape, out, spans, info = read
    n = len(spans)
    texts = Texts(out[:spans[n - 1, 1]].tobytes(), spans)
    results = grouper.group_json_texts(texts, detail=True, default_hospital_status=hospital_status,
                                       base_rate=base_rate)
    if any(e is not None for e in results.errors) or results.missing():
        return None  # a claim the engine refuses: the Python road names the element
    written = _write(grouper, results.join(prefix=b"[", suffix=b"]"), buf, tape, info, n, s)
    if written is None:
        return None
    return written, n, results.counts


def _write(grouper, docs: bytes, buf, tape, info, n: int, s: _Scratch):
    """The batch-response (a memoryview of its bytes) for the result documents ``docs`` (a JSON
    array, as group_json_texts joins them) of the ``n`` claims read into ``buf``/``tape``/``info``;
    None when a document is not one the writer takes."""
    t = _tables()
    rbuf = np.frombuffer(docs, np.uint8)
    rtape, nt = _tokens(rbuf, t, False, s, "results")
    if nt < 0:
        return None
    ver_index, title_off, title_blob = _titles(grouper)
    for cap in (4 * len(docs) + 8192, 12 * len(docs) + 4096 * n + 8192):  # (the usual size, the most)
        written = np.empty(cap, np.uint8)
        size = _WRITE_PARAMETERS(rbuf, rtape, buf, tape, info, ver_index, title_off, title_blob, t.frag_blob,
                                 t.frag_off, written)
        if size != -2:
            break
    if size < 0:
        return None
    return memoryview(written)[:size]


#: a single resource read as the one entry of a batch Bundle, and its answer cut out of the
#: batch-response engine.io.fhir_scan writes (its fixed envelope: ``_FRAGMENTS``' first ones)
_ONE_HEAD = b'{"resourceType":"Bundle","type":"batch","entry":[{"resource":'
_ONE_TAIL = b"}]}"
_ANSWER_HEAD = b'{"resourceType":"Bundle","type":"batch-response","entry":[{"resource":'
_ANSWER_TAIL = b',"response":{"status":"200 OK"}}]}'


def read_single(body: bytes, expect: str):
    """One Claim's or EOB's request bytes -> ``(its claim's JSON text, the state
    :func:`write_single` takes)``, read by the compiled road as the one entry of a batch
    Bundle; None when it takes the Python road (as :func:`group_bundle` declines).  The caller
    groups the text as /v1/group does (its micro-batcher: single requests share one call)."""
    if expect not in ("Claim", "ExplanationOfBenefit"):
        return None
    s = _Scratch()
    read = _read(_ONE_HEAD + body + _ONE_TAIL, expect, 1, s)
    if isinstance(read, int):
        return None
    buf, tape, out, spans, info = read
    if len(spans) != 1:
        return None
    # the body is one JSON object, the entry's resource, and nothing else (a body such as
    # '{...}}],"link":[{...' would make the Bundle around it valid JSON while it is not)
    lo = len(_ONE_HEAD) + len(body) - len(body.lstrip(b" \t\r\n"))
    hi = len(_ONE_HEAD) + len(body.rstrip(b" \t\r\n"))
    whole = (tape[:, S.C_START] == lo) & (tape[:, S.C_END] == hi) & (tape[:, S.C_KIND] == S.K_OBJ)
    if not whole.any() or len(tape) < 2 or tape[0, S.C_END] != len(buf):
        return None
    return out[spans[0, 0]:spans[0, 1]].tobytes(), (buf, tape, info, s)


def write_single(grouper, state, document: bytes) -> bytes | None:
    """The ``Parameters`` (bytes) for :func:`read_single`'s claim from its result document as
    ``Grouper.group_json_texts`` writes it (detail on); None when the Python road must answer
    (an engine error)."""
    buf, tape, info, s = state
    written = _write(grouper, b"[" + document + b"]", buf, tape, info, 1, s)
    if written is None:
        return None
    data = bytes(written)
    if not (data.startswith(_ANSWER_HEAD) and data.endswith(_ANSWER_TAIL)):
        return None
    return data[len(_ANSWER_HEAD):-len(_ANSWER_TAIL)]


def _warm_body(version: int) -> bytes:
    """A batch Bundle of one made-up Claim discharged in ``version``'s period."""
    day = version_dates(version)[0].isoformat()
    coding = lambda system, code: {"coding": [{"system": system, "code": code}]}  # noqa: E731
    claim = {
        "resourceType": "Claim", "id": "warm-up", "status": "active", "use": "claim",
        "type": coding("http://terminology.hl7.org/CodeSystem/claim-type", "institutional"),
        "patient": {"reference": "#p"}, "created": day, "provider": {"display": "warm-up"},
        "priority": coding("http://terminology.hl7.org/CodeSystem/processpriority", "normal"),
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "warm-up"}}],
        "billablePeriod": {"start": day, "end": day},
        "supportingInfo": [{"sequence": 1, "category": coding(F.SUPPORTING_INFO, "discharge-status"),
                            "code": coding(F.NUBC_DISCHARGE, "01")},
                           {"sequence": 2, "category": coding(F.SUPPORTING_INFO, "drg"),
                            "code": coding(F.MSDRG, "291")}],
        "diagnosis": [{"sequence": 1, "diagnosisCodeableConcept": coding(F.ICD10CM, "I50.21"),
                       "type": [coding(F.DIAGNOSIS_TYPE, "principal")]}],
        "procedure": [{"sequence": 1, "procedureCodeableConcept": coding(F.ICD10PCS, "02703DZ")}],
        "contained": [{"resourceType": "Patient", "id": "p", "gender": "female", "birthDate": "1950-01-01"}],
    }
    return orjson.dumps({"resourceType": "Bundle", "type": "batch", "entry": [{"resource": claim}]})


def cached() -> bool:
    """Whether numba's disk cache holds the road's compiled code (its reader and writer)."""
    from ..coldstart import _cached

    return _cached(S.read_bundle) and _cached(S.write_parameters) and _cached(S.tokenize)


def compile_road(version: int) -> None:
    """Compile the road's reader and writer into numba's disk cache, grouping nothing (no
    kernel needed; :func:`ready`'s child process runs it).  The calls are typed as
    :func:`group_bundle` types them (the same read path; the writer over an empty result)."""
    s = _Scratch()
    read = _read(_warm_body(version), "Claim", 1, s)
    if isinstance(read, int):
        raise RuntimeError(f"the warm-up Claim took the Python road ({read})")
    buf, tape, _out, _spans, info = read
    t = _tables()
    rbuf = np.frombuffer(b"[]", np.uint8)
    rtape, _nt = _tokens(rbuf, t, False, s, "results")
    title_blob, title_off = _blob([b""])
    S.write_parameters(rbuf, rtape, buf, tape, info, np.full(1000, -1, np.int64), title_off, title_blob,
                       t.frag_blob, t.frag_off, np.empty(64, np.uint8))


#: grouper -> whether the road is warm for it (False: its warm-up failed; the Python road answers)
_READY: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_READY_LOCK = threading.Lock()
#: the child process compiling the road (one per process), once started
_COMPILING: list = []


def ready(grouper) -> bool:
    """Whether :func:`group_bundle` may be called for ``grouper`` now without compiling (the
    caller takes the Python road while it is not).  When numba's cache holds the road, it is
    loaded and warmed here (~0.5 s, once per grouper); when it does not (a first start), a
    child process compiles it into the cache (some 40 s of one core: more than the rest of a
    first start, so the service answers meanwhile) and a later call finds it there.  Never
    raises; a child or a warm-up that fails leaves the Python road."""
    state = _READY.get(grouper)
    if state is not None:
        return state
    with _READY_LOCK:
        state = _READY.get(grouper)
        if state is not None:
            return state
        try:
            if cached():
                for child in _COMPILING:  # reaped, once done
                    getattr(child, "poll", lambda: None)()
                _READY[grouper] = state = warm(grouper)
                return state
            if not _COMPILING:
                from ..coldstart import spawn

                _COMPILING.append(spawn("from engine.io.fhir_bundle import compile_road as f",
                                        [int(grouper.version_numbers[-1])]))
        except Exception:  # noqa: BLE001 - the Python road answers
            _READY[grouper] = False
    return False


def warm(grouper) -> bool:
    """Compile the road (or load it from numba's disk cache), build its tables and the grouper's
    DRG titles now, with a Claim made up here: else the first Bundle pays (some 20 s on a cold
    cache: :func:`ready` has a child process compile it then).  True when the made-up Claim
    took the whole road; never raises."""
    try:
        return group_bundle(grouper, _warm_body(grouper.version_numbers[-1]), "Claim", 1) is not None
    except Exception:  # noqa: BLE001 - a warm-up: the first Bundle would compile instead
        return False
