"""Generated claims aimed at every MCE rule, in the CMS oracle's format
(../shared/eval): codes carrying each MCE flag as principal and secondary dx
and as procedures, ages around every age range's bounds and outside 0-124, sex
U, every discharge status 0-99, lengths of stay around the limit, the
principal dx repeated as a secondary, no secondary dx, invalid codes."""

from __future__ import annotations

import random

from engine.editing.source import load_mce_source

PERIOD_START = {400: 20221001, 401: 20230401, 410: 20231001, 411: 20240401, 420: 20241001, 421: 20250401,
                430: 20251001, 431: 20260401}
AGES = [-3, -1, 0, 1, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 30, 54, 55, 56, 59, 60, 61, 63, 64, 65, 66, 90,
        123, 124, 125, 130, 200]
INVALID = ["Z@5119", "ZZZ99", "A00", "0Z", "XXXXXXX", "C9000"]


class McePools:
    """Codes by flag, valid at a date (yyyymmdd)."""

    def __init__(self):
        s = load_mce_source()
        self.dx, self.pr = s.dx, s.pr
        self._cache = {}

    def at(self, date: int):
        got = self._cache.get(date)
        if got is None:
            def pools(rows):
                by_flag, plain = {}, []
                for code, lo, hi, flags in rows:
                    if lo <= date <= hi:
                        if not flags:
                            plain.append(code)
                        for f in flags:
                            by_flag.setdefault(f, []).append(code)
                return by_flag, plain
            got = self._cache[date] = (pools(self.dx), pools(self.pr))
        return got


def generate(n: int, seed: int = 0, dates: dict | None = None, pools: McePools | None = None) -> list[dict]:
    """``n`` claims; ``dates``: version -> [yyyymmdd] discharge dates to use (default:
    the first day of each version's period, no discharge_date)."""
    rng = random.Random(seed)
    pools = pools or McePools()
    versions = sorted(dates or PERIOD_START)
    out = []
    for k in range(n):
        v = rng.choice(versions)
        date = rng.choice(dates[v]) if dates else PERIOD_START[v]
        (dflag, dplain), (pflag, pplain) = pools.at(date)

        def dx():
            r = rng.random()
            if r < 0.45 and dflag:
                return rng.choice(rng.choice(list(dflag.values())))
            if r < 0.48:
                return rng.choice(INVALID)
            return rng.choice(dplain)

        def px():
            r = rng.random()
            if r < 0.5 and pflag:
                return rng.choice(rng.choice(list(pflag.values())))
            if r < 0.53:
                return rng.choice(INVALID)
            return rng.choice(pplain)

        pdx = dx()
        sdx = [dx() for _ in range(rng.choice([0, 0, 1, 2, 3, 5, 8]))]
        if sdx and rng.random() < 0.1:
            sdx[rng.randrange(len(sdx))] = pdx
        pxs = [px() for _ in range(rng.choice([0, 1, 1, 2, 3, 5]))]
        age = rng.choice(AGES) if rng.random() < 0.6 else rng.randint(0, 124)
        c = {"id": f"gen-{seed}-{k}", "version": v, "age": age,
             "sex": rng.choice("MFU"), "dstat": rng.choice([1, 1, 1, 2, 3, 6, 20, 30, 62, 65]) if rng.random() < 0.5
             else rng.randint(0, 99),
             "pdx": pdx, "pdx_poa": "Y", "sdx": [[c_, "Y"] for c_ in sdx], "px": pxs,
             "hospital_status": "NON_EXEMPT", "los": rng.choice([0, 1, 2, 3, 4, 5, 6, 10, 30])}
        if dates:
            c["discharge_date"] = str(date)
        out.append(c)
    return out
