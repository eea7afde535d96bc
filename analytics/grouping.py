"""Putting the rows of each group (a student, a lesson) together, in order, fast.

The metrics reduce a million rows per student or per lesson after sorting
them by group and then by a value. ``np.lexsort`` does that with two merge
sorts and was the biggest cost of several metrics; these functions give the
same order (up to ties, which no caller depends on) with one quick sort and
radix passes.
"""

from __future__ import annotations

import numpy as np

#: What the functions below return for rows already in order: indexing with it is a view, not a copy.
IN_ORDER = slice(None)

_PIECE = 16  # bits per radix pass: NumPy's stable sort of 16-bit integers is a radix sort


def sorted_within(groups: np.ndarray, values: np.ndarray) -> np.ndarray | slice:
    """Positions that sort the rows by ``groups`` (integer codes), then by ``values``, NaN last:
    ``np.lexsort((values, groups))``, except that rows with equal values in a group may come in any order.

    Rows already in that order (a pacing table's lessons open in course
    order) are only checked, and :data:`IN_ORDER` is returned. Otherwise the
    values are sorted once (an unstable sort), then the groups by stable radix
    passes over 16 bits at a time, least significant first.
    """
    groups, values = np.asarray(groups, dtype=np.int64), np.asarray(values)
    if len(groups) < 2:
        return IN_ORDER
    same = groups[1:] == groups[:-1]
    if bool(np.all((groups[1:] > groups[:-1]) | (same & (values[1:] >= values[:-1])))):
        return IN_ORDER
    order = np.argsort(values)
    low = int(groups.min())
    spread = int(groups.max()) - low
    shifted = groups - low if low else groups
    shift = 0
    while True:
        piece = ((shifted[order] >> shift) & (2**_PIECE - 1)).astype(np.uint16)
        order = order[np.argsort(piece, kind="stable")]
        shift += _PIECE
        if spread >> shift == 0:
            return order


def sorted_keys(keys: np.ndarray) -> np.ndarray | slice:
    """Positions that sort distinct integer ``keys``; :data:`IN_ORDER`, no sort at all, when they are
    sorted already (a log exported in key order).

    Keys in a few sorted runs (logs appended one after another) are merged by
    NumPy's stable sort, which finds the runs (several times faster there than
    a quick sort, several times slower on keys in no order).
    """
    keys = np.asarray(keys)
    if len(keys) < 2:
        return IN_ORDER
    descents = int(np.count_nonzero(keys[1:] < keys[:-1]))
    if descents == 0:
        return IN_ORDER
    return np.argsort(keys, kind="stable" if descents <= len(keys) // 1024 else "quicksort")


def sorted_pairs(groups: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(groups, values) sorted by group (non-negative integer codes), then by value (int64, such as
    nanosecond times): the pairs themselves, for a caller that does not need to know which row went where.

    When a group and a value fit in one int64 together (the values measured
    in the coarsest unit of 1 s, 1 ms, 1 us or 1 ns that all of them are
    whole multiples of), one ``np.sort`` of the packed keys does it: several
    times faster than the argsort and gathers of :func:`sorted_within`,
    which is the way otherwise.
    """
    groups, values = np.asarray(groups, dtype=np.int64), np.asarray(values, dtype=np.int64)
    if len(groups) < 2:
        return groups, values
    low, top = int(values.min()), int(groups.max()) + 1
    for unit in (10**9, 10**6, 10**3, 1):
        width = (int(values.max()) - low) // unit + 1
        if top * width < 2**63 and (unit == 1 or not np.any(values % unit)):
            break
    else:
        order = sorted_within(groups, values)
        return groups[order], values[order]
    keys = groups * width
    keys += (values - low) // unit
    keys.sort()
    groups = keys // width
    keys -= groups * width
    keys *= unit
    keys += low
    return groups, keys


class Groups:
    """Rows grouped by an integer key (a lesson's ``order``): per group counts, sums and medians, groups in
    increasing key order. What ``groupby(key).agg(...)`` gives, on NumPy arrays, without pandas' per-call
    machinery (each of its aggregations cost more than a bincount here)."""

    def __init__(self, keys: np.ndarray) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        low = int(keys.min()) if len(keys) else 0
        spread = int(keys.max()) - low if len(keys) else 0
        if spread <= 4 * len(keys) + 1024:
            present = np.bincount(keys - low, minlength=spread + 1) > 0
            self.keys = np.flatnonzero(present) + low
            self.codes = (np.cumsum(present) - 1)[keys - low]
        else:
            self.keys, self.codes = np.unique(keys, return_inverse=True)
        self.size = np.bincount(self.codes, minlength=len(self.keys))
        # Each group's rows together, in row order within the group: a stable (radix) sort of the codes.
        codes = self.codes.astype(np.uint16) if len(self.keys) <= 2**16 else self.codes
        self._rows = np.argsort(codes, kind="stable")
        self._bounds = np.r_[0, np.cumsum(self.size)]

    def first(self) -> np.ndarray:
        """The first row of each group."""
        return self._rows[self._bounds[:-1]]

    def sum(self, values: np.ndarray) -> np.ndarray:
        """Per group, the sum of ``values`` (booleans count)."""
        return np.bincount(self.codes, weights=np.asarray(values, dtype=np.float64), minlength=len(self.keys))

    def rows(self, group: int) -> np.ndarray:
        """The rows of the ``group``-th group (in key order), in row order."""
        return self._rows[self._bounds[group]:self._bounds[group + 1]]

    def median(self, values: np.ndarray) -> np.ndarray:
        """Per group, the median of ``values`` skipping NaN; NaN for a group without a number."""
        grouped = np.asarray(values, dtype=np.float64)[self._rows]
        medians = np.full(len(self.keys), np.nan)
        for group, (start, end) in enumerate(zip(self._bounds[:-1], self._bounds[1:])):
            # A sort (NaN last) rather than np.median's partition: NumPy sorts floats with SIMD, several
            # times faster than the partition and the NaN filter before it.
            part = np.sort(grouped[start:end])
            known = len(part) - int(np.count_nonzero(np.isnan(part)))
            if known:
                middle = known // 2
                medians[group] = part[middle] if known % 2 else (part[middle - 1] + part[middle]) / 2
        return medians
