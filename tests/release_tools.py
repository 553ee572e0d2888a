"""Build CMS-style release files of our own from the shared v43.1 release (tests only).

``relabel(data, f)`` rewrites every version list of a ``msdrg_combined.bin``
(and every formula's version ranks) through ``f: version -> [versions]``,
copying every other field as it is; ``release_zip`` packs the result as CMS
ships it: ``runtime_buffers/msdrg_combined.bin`` (and its metadata) inside
``msdrg-binary-access-<ver>.jar``, inside the release zip.  So a test can make
the "next release" (the v43.1 entries also labelled V450) without waiting for CMS.
"""

from __future__ import annotations

import io
import struct
import zipfile

from engine.data import wire as w

#: Root field -> the field number of each item's ``versions`` (map entry -> value -> items in field 1).
_ITEM_VERSIONS = {1: 6, 2: 2, 3: 2, 5: 2, 6: 4, 7: 2, 9: 4, 10: 3, 13: 7, 14: 7, 15: 7, 16: 7}
_FORMULAS = 8  # FormulaItem.versionRanks = 13 (VersionRank: 1 rank, 2 version)


def _copy(out: bytearray, data, number, wtype, value) -> None:
    w.put_key(out, number, wtype)
    if wtype == w.VARINT:
        w.put_varint(out, value)
    elif wtype == w.LEN:
        w.put_varint(out, value[1] - value[0])
        out += data[value[0]:value[1]]
    elif wtype == w.I64:
        out += struct.pack("<q", value)
    else:
        out += struct.pack("<i", value)


def _rewrite(data, span, handlers: dict) -> bytes:
    """The message at ``span`` with fields in ``handlers`` (number -> fn(out, wtype, value)) rewritten."""
    out = bytearray()
    for number, wtype, value in w.fields(data, *span):
        h = handlers.get(number)
        if h is None:
            _copy(out, data, number, wtype, value)
        else:
            h(out, wtype, value)
    return bytes(out)


def relabel(data: bytes, f) -> bytes:
    data = memoryview(data)

    def sub(handlers):
        def h(out, wtype, value, number):
            w.put_len(out, number, _rewrite(data, value, handlers))
        return h

    def nested(number, handlers):
        return {number: lambda out, wt, v: sub(handlers)(out, wt, v, number)}

    def version_field(number):
        pending = []

        def h(out, wtype, value):
            vs = [v for old in w.ints(data, wtype, value) for v in f(old)]
            if vs:
                payload = bytearray()
                for v in vs:
                    w.put_varint(payload, v)
                w.put_len(out, number, bytes(payload))
        return {number: h}

    def ranks(out, wtype, value):
        r = {1: 0, 2: 0}
        for n, wt, v in w.fields(data, *value):
            r[n] = v
        for v in f(r[2]):
            msg = bytearray()
            w.put_key(msg, 1, w.VARINT)
            w.put_varint(msg, r[1])
            w.put_key(msg, 2, w.VARINT)
            w.put_varint(msg, v)
            w.put_len(out, 13, bytes(msg))

    handlers = {}
    for root_field, vfield in _ITEM_VERSIONS.items():
        item = version_field(vfield)
        handlers.update(nested(root_field, nested(1, nested(2, nested(1, item)))))
    handlers.update(nested(_FORMULAS, nested(1, nested(2, nested(1, {13: ranks})))))
    return _rewrite(data, (0, len(data)), handlers)


def also(old: int, new: int):
    """Every entry of ``old`` also labelled ``new``."""
    return lambda v: [v, new] if v == old else [v]


def jar_bytes(data: bytes | None, metadata: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        if data is not None:
            z.writestr("runtime_buffers/msdrg_combined.bin", data)
            z.writestr("runtime_buffers/msdrg_combined_metadata.txt", metadata)
        z.writestr("gov/cms/Placeholder.class", b"\xca\xfe\xba\xbe")
    return buf.getvalue()


def release_zip(path, data: bytes | None, version: str, metadata: str = "") -> None:
    """A release zip as CMS ships it: the jar inside a folder, beside other files."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"msdrg-{version}/README.txt", "MS-DRG grouper release\n")
        z.writestr(f"msdrg-{version}/msdrg-binary-access-{version}.jar", jar_bytes(data, metadata))


def mce_with_end_age(data: bytes, group: str, end_age: int) -> bytes:
    """An ``mce.bin`` whose age range ``group`` (e.g. "Adult") ends at ``end_age``
    instead (each such entry; the new age must take as many varint bytes)."""
    out = bytearray(data)
    for number, wtype, value in w.fields(data):
        if number != 1:  # Root.ageRangeRoot
            continue
        for n2, wt2, entry in w.fields(data, *value):
            fields = {n3: (wt3, v3) for n3, wt3, v3 in w.fields(data, *entry)}
            if n2 != 1 or w.text(data, *fields[1]) != group:  # entry: 1 ageGroup, 3 endAge
                continue
            pos = entry[0]
            for n3, wt3, v3 in w.fields(data, *entry):
                key_end = w.varint(data, pos, entry[1])[1]
                if n3 == 3:
                    new = bytearray()
                    w.put_varint(new, end_age)
                    old_end = w.varint(data, key_end, entry[1])[1]
                    assert old_end - key_end == len(new), "the new age takes another number of bytes"
                    out[key_end:old_end] = new
                pos = w.varint(data, key_end, entry[1])[1] if wt3 == w.VARINT else (
                    v3[1] if wt3 == w.LEN else key_end + (8 if wt3 == w.I64 else 4))
    return bytes(out)
