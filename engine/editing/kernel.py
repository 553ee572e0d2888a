"""The MCE kernel: plain @njit functions over the batch columns and the MCE arrays.

The rules (CMS's *Definitions of Medicare Code Edits*, checked against CMS's
own MCE on the public claims and on generated ones):

* every code: INVALID_CODE when no period of the code covers the edit date
  (an invalid code gets no other edit);
* every dx: AGE_CONFLICT when it carries an age category (newborn, pediatric,
  maternity, adult) whose range at the edit date excludes the age (the age
  as given, also when it is itself invalid); SEX_CONFLICT when it is flagged
  male (female) and the sex is not M (F); UNSPECIFIED; WRONG_PROCEDURE_PERFORMED;
* the principal dx: E_CODE_AS_PDX, MANIFESTATION_AS_PDX, QUESTIONABLE_ADMISSION,
  UNACCEPTABLE_PDX; a code flagged ``reqsdx`` is not an unacceptable pdx but
  REQUIRES_SDX when the claim has no secondary dx;
* a secondary dx equal to the principal dx: DUPLICATE_OF_PDX, also when both
  are invalid (``dup[j]`` marks a secondary equal to an unknown principal dx:
  codes the grouper does not know have no id to compare);
* every procedure: SEX_CONFLICT as above; NON_COVERED when flagged
  ``noncovered``, ``ncov12agele60`` with an age outside 0-60, or ``ncov6`` /
  ``ncov7`` / ``ncov_z302`` with a dx of the same flag on the claim;
  LIMITED_COVERAGE when flagged ``lcov`` — but a ``ncov45`` one (pancreas
  transplant) is NON_COVERED unless the claim has a type I diabetes dx
  (``diabtypeI``) or a kidney transplant (``kidneyxp``);
  QUESTIONABLE_OBSTETRIC_ADMISSION for a delivery procedure (``csect``,
  ``vagdel``) when no secondary dx is a delivery outcome (``delout``);
  INCONSISTENT_WITH_LENGTH_OF_STAY when flagged ``los`` and the stay is under
  5 days (not checked when the claim gives no length of stay);
* the claim: INVALID_AGE (outside 0-124), INVALID_SEX (sex U before
  2024-10-01; from then on CMS takes U), INVALID_DISCHARGE_STATUS (not valid at
  the edit date).

Flags with no edit of their own here: ``lcov_artheartxpa``/``xpb`` (artificial
heart; their codes left the data on 2022-03-31, before the editor's first edit
date) and ``clintrial`` (Z00.6; CMS's MCE raises nothing more or less with it
on the generated claims).

Counts: each firing counts once (procedure edits count per procedure).  The
edit type: every edit the current MCE raises is a prepayment edit.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit

from .tables import DX_FLAGS, PR_FLAGS, ymd_days

EDIT_NAMES = tuple(sorted((
    "AGE_CONFLICT", "DUPLICATE_OF_PDX", "E_CODE_AS_PDX", "INCONSISTENT_WITH_LENGTH_OF_STAY", "INVALID_AGE",
    "INVALID_CODE", "INVALID_DISCHARGE_STATUS", "INVALID_SEX", "LIMITED_COVERAGE", "MANIFESTATION_AS_PDX",
    "NON_COVERED", "QUESTIONABLE_ADMISSION", "QUESTIONABLE_OBSTETRIC_ADMISSION", "REQUIRES_SDX", "SEX_CONFLICT",
    "UNACCEPTABLE_PDX", "UNSPECIFIED", "WRONG_PROCEDURE_PERFORMED",
)))
(E_AGE_CONFLICT, E_DUPLICATE_OF_PDX, E_E_CODE_AS_PDX, E_LOS, E_INVALID_AGE, E_INVALID_CODE, E_INVALID_DSTAT,
 E_INVALID_SEX, E_LIMITED_COVERAGE, E_MANIFESTATION_AS_PDX, E_NON_COVERED, E_QUESTIONABLE_ADMISSION, E_QOA,
 E_REQUIRES_SDX, E_SEX_CONFLICT, E_UNACCEPTABLE_PDX, E_UNSPECIFIED, E_WRONG_PROCEDURE) = range(len(EDIT_NAMES))
N_EDITS = len(EDIT_NAMES)
#: edit type of each edit: 1 prepayment, 2 postpayment (all prepayment in the current MCE)
EDIT_KIND = np.ones(N_EDITS, np.int8)
EDIT_TYPES = ("NONE", "PREPAYMENT", "POSTPAYMENT", "BOTH")

#: sex U is valid from this edit date on (before it, INVALID_SEX)
SEX_U_VALID_FROM = ymd_days(20241001)
#: INCONSISTENT_WITH_LENGTH_OF_STAY below this many days
LOS_MIN = 5
#: NON_COVERED for an ``ncov12agele60`` procedure above this age
NCOV12_MAX_AGE = 60
MAX_AGE = 124

_D = {f: np.uint32(1 << i) for i, f in enumerate(DX_FLAGS)}
_P = {f: np.uint32(1 << i) for i, f in enumerate(PR_FLAGS)}
D_ADULT, D_MALE, D_FEMALE, D_NEWBORN, D_MATERNITY, D_PEDIATRIC = (_D[f] for f in (
    "adult", "male", "female", "newborn", "maternity", "pediatric"))
D_UNACCEPTABLE, D_NCOV7, D_NCOV6, D_MANIFESTATION, D_DIABTYPE1, D_QADM, D_UNSPECIFIED = (_D[f] for f in (
    "unacceptable", "ncov7", "ncov6", "manifestation", "diabtypeI", "qadm", "unspecified"))
D_ECODEPDX, D_WRNGPROC, D_NCOV_Z302, D_DELOUT, D_REQSDX = (_D[f] for f in (
    "ecodepdx", "wrngproc", "ncov_z302", "delout", "reqsdx"))
P_NONCOVERED, P_LCOV, P_FEMALE, P_MALE, P_NCOV45, P_NCOV12, P_KIDNEYXP, P_NCOV_Z302 = (_P[f] for f in (
    "noncovered", "lcov", "female", "male", "ncov45", "ncov12agele60", "kidneyxp", "ncov_z302"))
P_CSECT, P_VAGDEL, P_NCOV6, P_NCOV7, P_LOS = (_P[f] for f in ("csect", "vagdel", "ncov6", "ncov7", "los"))
#: age category order in the tables (engine.editing.tables.AGE_CATEGORIES)
_AGE_FLAGS = (D_NEWBORN, D_PEDIATRIC, D_MATERNITY, D_ADULT)

TABLE_FIELDS = ("dx_off", "dx_from", "dx_to", "dx_flags", "pr_off", "pr_from", "pr_to", "pr_flags",
                "age_cat", "age_low", "age_high", "age_from", "age_to", "ds_status", "ds_from", "ds_to")
EditTables = namedtuple("EditTables", TABLE_FIELDS)
OUT_FIELDS = ("edit_type", "counts", "pdx_mask", "sdx_mask", "px_mask")
EditOut = namedtuple("EditOut", OUT_FIELDS)


def new_output(n: int, ns: int, npx: int) -> EditOut:
    return EditOut(np.zeros(n, np.int8), np.zeros((n, N_EDITS), np.int32), np.zeros(n, np.uint32),
                   np.zeros(ns, np.uint32), np.zeros(npx, np.uint32))


@njit(cache=True, nogil=True)
def _flags(off, frm, to, fl, code, date):
    """The code's flags at ``date``; -1 when the code is not valid then."""
    if code < 0 or code + 1 >= len(off):
        return np.int64(-1)
    for k in range(off[code], off[code + 1]):
        if frm[k] <= date <= to[k]:
            return np.int64(fl[k])
    return np.int64(-1)


@njit(cache=True, nogil=True)
def _dx_edits(T, f, age, sex, date, cat_low, cat_high, counts, i):
    """AGE_CONFLICT, SEX_CONFLICT, UNSPECIFIED, WRONG_PROCEDURE_PERFORMED of a valid dx's flags."""
    m = np.uint32(0)
    for c in range(4):
        if f & _AGE_FLAGS[c] and cat_low[c] <= cat_high[c] and not (cat_low[c] <= age <= cat_high[c]):
            m |= np.uint32(1 << E_AGE_CONFLICT)
            counts[i, E_AGE_CONFLICT] += 1
            break
    if (f & D_MALE and sex != 0) or (f & D_FEMALE and sex != 1):
        m |= np.uint32(1 << E_SEX_CONFLICT)
        counts[i, E_SEX_CONFLICT] += 1
    if f & D_UNSPECIFIED:
        m |= np.uint32(1 << E_UNSPECIFIED)
        counts[i, E_UNSPECIFIED] += 1
    if f & D_WRNGPROC:
        m |= np.uint32(1 << E_WRONG_PROCEDURE)
        counts[i, E_WRONG_PROCEDURE] += 1
    return m


@njit(cache=True, nogil=True)
def _mark(m, counts, i, e):
    counts[i, e] += 1
    return m | np.uint32(1 << e)


@njit(cache=True, nogil=True)
def edit_range(T, ok, sex, dstat, pdx, sdx_off, sdx, px_off, px, age, los, edit_date, dup, kind, out, lo, hi):
    """Edit claims ``lo:hi`` into ``out`` (engine.editing.kernel.EditOut)."""
    counts = out.counts
    cat_low = np.empty(4, np.int64)
    cat_high = np.empty(4, np.int64)
    invalid = np.int64(-1)
    for i in range(lo, hi):
        if not ok[i]:
            continue
        date = edit_date[i]
        a = np.int64(age[i])
        s = sex[i]
        # the claim
        if a < 0 or a > MAX_AGE:
            counts[i, E_INVALID_AGE] += 1
        if s != 0 and s != 1 and date < SEX_U_VALID_FROM:
            counts[i, E_INVALID_SEX] += 1
        valid = False
        for k in range(len(T.ds_status)):
            if T.ds_status[k] == dstat[i] and T.ds_from[k] <= date <= T.ds_to[k]:
                valid = True
                break
        if not valid:
            counts[i, E_INVALID_DSTAT] += 1
        for c in range(4):  # no range at the date: no conflict (low > high)
            cat_low[c] = 1
            cat_high[c] = 0
        for k in range(len(T.age_cat)):
            if T.age_from[k] <= date <= T.age_to[k]:
                cat_low[T.age_cat[k]] = T.age_low[k]
                cat_high[T.age_cat[k]] = T.age_high[k]
        # diagnoses
        p = pdx[i]
        dall = np.uint32(0)
        sall = np.uint32(0)
        f = _flags(T.dx_off, T.dx_from, T.dx_to, T.dx_flags, p, date)
        m = np.uint32(0)
        if f == invalid:
            m = _mark(m, counts, i, E_INVALID_CODE)
        else:
            fu = np.uint32(f)
            dall |= fu
            m |= _dx_edits(T, fu, a, s, date, cat_low, cat_high, counts, i)
            if fu & D_ECODEPDX:
                m = _mark(m, counts, i, E_E_CODE_AS_PDX)
            if fu & D_MANIFESTATION:
                m = _mark(m, counts, i, E_MANIFESTATION_AS_PDX)
            if fu & D_QADM:
                m = _mark(m, counts, i, E_QUESTIONABLE_ADMISSION)
            if fu & D_REQSDX:
                if sdx_off[i + 1] == sdx_off[i]:
                    m = _mark(m, counts, i, E_REQUIRES_SDX)
            elif fu & D_UNACCEPTABLE:
                m = _mark(m, counts, i, E_UNACCEPTABLE_PDX)
        out.pdx_mask[i] = m
        for j in range(sdx_off[i], sdx_off[i + 1]):
            d = sdx[j]
            f = _flags(T.dx_off, T.dx_from, T.dx_to, T.dx_flags, d, date)
            m = np.uint32(0)
            if (d == p and p >= 0) or dup[j]:
                m = _mark(m, counts, i, E_DUPLICATE_OF_PDX)
            if f == invalid:
                m = _mark(m, counts, i, E_INVALID_CODE)
            else:
                fu = np.uint32(f)
                dall |= fu
                sall |= fu
                m |= _dx_edits(T, fu, a, s, date, cat_low, cat_high, counts, i)
            out.sdx_mask[j] = m
        # procedures
        pall = np.uint32(0)
        for j in range(px_off[i], px_off[i + 1]):
            f = _flags(T.pr_off, T.pr_from, T.pr_to, T.pr_flags, px[j], date)
            if f != invalid:
                pall |= np.uint32(f)
        for j in range(px_off[i], px_off[i + 1]):
            f = _flags(T.pr_off, T.pr_from, T.pr_to, T.pr_flags, px[j], date)
            m = np.uint32(0)
            if f == invalid:
                m = _mark(m, counts, i, E_INVALID_CODE)
            else:
                fu = np.uint32(f)
                if (fu & P_MALE and s != 0) or (fu & P_FEMALE and s != 1):
                    m = _mark(m, counts, i, E_SEX_CONFLICT)
                if fu & P_NONCOVERED:
                    m = _mark(m, counts, i, E_NON_COVERED)
                if fu & P_NCOV12 and not 0 <= a <= NCOV12_MAX_AGE:
                    m = _mark(m, counts, i, E_NON_COVERED)
                if fu & P_NCOV6 and dall & D_NCOV6:
                    m = _mark(m, counts, i, E_NON_COVERED)
                if fu & P_NCOV7 and dall & D_NCOV7:
                    m = _mark(m, counts, i, E_NON_COVERED)
                if fu & P_NCOV_Z302 and dall & D_NCOV_Z302:
                    m = _mark(m, counts, i, E_NON_COVERED)
                if fu & P_LCOV:
                    if fu & P_NCOV45 and not (dall & D_DIABTYPE1) and not (pall & P_KIDNEYXP):
                        m = _mark(m, counts, i, E_NON_COVERED)
                    else:
                        m = _mark(m, counts, i, E_LIMITED_COVERAGE)
                if fu & (P_CSECT | P_VAGDEL) and not (sall & D_DELOUT):
                    m = _mark(m, counts, i, E_QOA)
                if fu & P_LOS and 0 <= los[i] < LOS_MIN:
                    m = _mark(m, counts, i, E_LOS)
            out.px_mask[j] = m
        t = 0
        for e in range(N_EDITS):
            if counts[i, e]:
                t |= kind[e]
        out.edit_type[i] = t
