"""Python's cyclic garbage collector paused while many small containers are built.

Encoding, decoding and the FHIR reader make hundreds of thousands of dicts and lists that
are never cyclic; reference counting frees them all, but the collector, triggered by their
number, scans them again and again (two thirds of decode's time, half of a FHIR Bundle's).
:func:`paused` turns it off for a block.  Process-wide and counted: the collector stays off
while any such block is open, in any thread, and is turned back on (when it was on) by the
last one to close; a backstop collects once when overlapping blocks keep it off for long.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager

_LOCK = threading.Lock()
_users = 0
_was_enabled = False
#: net allocations after which a pause that others keep open still collects once
BACKSTOP = 5_000_000


@contextmanager
def paused():
    global _users, _was_enabled
    with _LOCK:
        if _users == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _users += 1
    try:
        yield
    finally:
        with _LOCK:
            _users -= 1
            if _users == 0:
                if _was_enabled:
                    gc.enable()
            elif gc.get_count()[0] > BACKSTOP:
                gc.collect()
