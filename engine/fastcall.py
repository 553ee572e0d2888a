"""Calling a compiled function without numba's per-call typing of its arguments.

Why: each call of an ``@njit`` function from Python first types every argument
(a fingerprint of each, recursing into tuples) to pick the compiled version.
The grouping kernel takes ~120 arrays in four tuples (tables, batch, output,
scratch) and the JSON writer ~75 arguments: in a one-claim call, an EHR's, that
typing cost ~20 µs, as much as reading, grouping and writing the claim.

A :class:`Bound` types its first call's arguments as numba does, and after
that calls the compiled entry point of that signature directly.  The entry
point converts each argument to its compiled type without checking it, so a
Bound is only for a call site whose argument types are fixed by construction
(the Grouper's own tables, columns that compiled code allocated, a byte buffer
made read-only where it is cut), but for the positions it is told to check:
those are fingerprinted on every call (~0.1 µs an array) and key one entry
point each.  One Bound per Grouper and call site: one Grouper's tables may be
read-only and another's not.  The test suite runs every Bound in checking
mode (:data:`CHECK`).

It reads two numba internals, the dispatcher's ``overloads`` (signature ->
compiled result, whose ``entry_point`` is the C wrapper numba itself calls)
and ``_dispatcher.compute_fingerprint`` (the type key numba's own dispatch
computes); numba is pinned in pyproject.toml, and the suite would fail on a
numba where either changed.
"""

from __future__ import annotations

import os

from numba import _dispatcher

#: ``FASTDRG_CHECK_CALLS=1`` (the test suite sets it, for its servers too): every
#: call of a Bound checks all its arguments' types against the signature it
#: calls, AssertionError on a difference (numba's typing on each call: slower).
CHECK = os.environ.get("FASTDRG_CHECK_CALLS") == "1"


class Bound:
    """``dispatcher(*args)``; the arguments at positions ``checked`` may change
    type between calls, the others keep the first call's."""

    __slots__ = ("dispatcher", "checked", "_entries", "_signatures")

    def __init__(self, dispatcher, checked: tuple[int, ...] = ()):
        self.dispatcher = dispatcher
        self.checked = tuple(checked)
        self._entries = {}
        self._signatures = {}

    def __call__(self, *args):
        key = tuple([_dispatcher.compute_fingerprint(args[i]) for i in self.checked])
        entry = self._entries.get(key)
        if entry is None:
            return self._first(key, args)
        if CHECK:
            sig = self._typeof(args)
            assert sig == self._signatures[key], f"{self.dispatcher.__name__}: called with {sig}, bound to " \
                                                 f"{self._signatures[key]}"
        return entry(*args)

    def _first(self, key, args):
        result = self.dispatcher(*args)  # compiles (or loads) the version for these types
        sig = self._typeof(args)
        self._signatures[key] = sig
        self._entries[key] = self.dispatcher.overloads[sig].entry_point
        return result

    def _typeof(self, args) -> tuple:
        return tuple(self.dispatcher.typeof_pyval(a) for a in args)
