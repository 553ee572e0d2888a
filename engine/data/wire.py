"""A small reader of the protobuf wire format (no schema compiler, no generated code).

CMS ships the grouper's and the code editor's reference data as serialized
protobuf messages.  Reading them needs four wire types and nothing else, so
the importer carries its own few lines instead of a generated module: the
field numbers it reads are named where they are used (engine.data.release),
taken from the schemas recovered from the jars' descriptors.

Every read checks its bounds: a truncated or corrupt file raises
:class:`WireError`, never an IndexError deep in a decoder or a silent zero.
"""

from __future__ import annotations

import struct

VARINT, I64, LEN, I32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def varint(data, pos: int, end: int) -> tuple[int, int]:
    """``(value, next position)`` of the base-128 varint at ``pos``."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise WireError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise WireError("varint longer than 10 bytes")


def fields(data, pos: int = 0, end: int | None = None):
    """Each field of the message in ``data[pos:end]`` as ``(number, wire type, value)``:
    an int for VARINT/I64/I32, a ``(start, stop)`` span for LEN (read it with
    :func:`fields` again, or :func:`text`)."""
    end = len(data) if end is None else end
    while pos < end:
        key, pos = varint(data, pos, end)
        number, wtype = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wtype == VARINT:
            value, pos = varint(data, pos, end)
        elif wtype == LEN:
            n, pos = varint(data, pos, end)
            if pos + n > end:
                raise WireError(f"field {number}: {n} bytes overrun the message")
            value = (pos, pos + n)
            pos += n
        elif wtype == I64:
            if pos + 8 > end:
                raise WireError("truncated 64-bit field")
            value = struct.unpack_from("<q", data, pos)[0]
            pos += 8
        elif wtype == I32:
            if pos + 4 > end:
                raise WireError("truncated 32-bit field")
            value = struct.unpack_from("<i", data, pos)[0]
            pos += 4
        else:
            raise WireError(f"field {number}: unsupported wire type {wtype}")
        yield number, wtype, value


def int32(value: int) -> int:
    """A varint as the signed 32-bit integer proto3 ``int32`` writes (negatives take 10 bytes)."""
    value &= 0xFFFFFFFFFFFFFFFF
    if value >= 1 << 63:
        value -= 1 << 64
    if not -(1 << 31) <= value < 1 << 31:
        raise WireError(f"int32 out of range: {value}")
    return value


def ints(data, wtype: int, value) -> list[int]:
    """A repeated integer field's values from one occurrence: packed (LEN) or not."""
    if wtype == VARINT:
        return [int32(value)]
    if wtype != LEN:
        raise WireError(f"wire type {wtype} for a repeated integer")
    out = []
    pos, end = value
    while pos < end:
        v, pos = varint(data, pos, end)
        out.append(int32(v))
    return out


def text(data, wtype: int, value) -> str:
    if wtype != LEN:
        raise WireError(f"wire type {wtype} for a string")
    try:
        return bytes(data[value[0]:value[1]]).decode("utf-8")
    except UnicodeDecodeError:
        raise WireError("a string is not UTF-8") from None


def message(wtype: int, value) -> tuple[int, int]:
    if wtype != LEN:
        raise WireError(f"wire type {wtype} for a message")
    return value


def scalar(wtype: int, value) -> int:
    if wtype != VARINT:
        raise WireError(f"wire type {wtype} for an integer")
    return int32(value)



_LISTS = ("ints", "strs", "msgs")


def decode(data, span, spec: dict, proto2: bool = False) -> dict:
    """One message's fields by ``spec``: number -> (name, kind), kind one of
    int, str, ints, strs, msg, msgs.  An absent field takes its proto3 default
    (0, "", None for a message, [] for a repeated one); with ``proto2`` a
    scalar or message left out is None (the file said nothing), a repeated one []."""
    out = {name: ([] if kind in _LISTS else (None if proto2 or kind == "msg" else ("" if kind == "str" else 0)))
           for name, kind in spec.values()}
    for n, wt, val in fields(data, *span):
        s = spec.get(n)
        if s is None:
            continue
        name, kind = s
        if kind == "int":
            out[name] = scalar(wt, val)
        elif kind == "str":
            out[name] = text(data, wt, val)
        elif kind == "ints":
            out[name].extend(ints(data, wt, val))
        elif kind == "strs":
            out[name].append(text(data, wt, val))
        elif kind == "msg":
            out[name] = message(wt, val)
        elif kind == "msgs":
            out[name].append(message(wt, val))
        else:
            raise ValueError(f"unknown field kind {kind!r}")
    return out

# ---- writing (what tests need to build a release of their own) ----------------------------------

def put_varint(out: bytearray, value: int) -> None:
    value &= 0xFFFFFFFFFFFFFFFF
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def put_key(out: bytearray, number: int, wtype: int) -> None:
    put_varint(out, (number << 3) | wtype)


def put_len(out: bytearray, number: int, payload: bytes) -> None:
    put_key(out, number, LEN)
    put_varint(out, len(payload))
    out += payload
