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

    def median(self, values: np.ndarray) -> np.ndarray:
        """Per group, the median of ``values`` skipping NaN; NaN for a group without a number."""
        grouped = np.asarray(values, dtype=np.float64)[self._rows]
        medians = np.full(len(self.keys), np.nan)
        for group, (start, end) in enumerate(zip(self._bounds[:-1], self._bounds[1:])):
            part = grouped[start:end]
            part = part[~np.isnan(part)]
            if len(part):
                medians[group] = np.median(part)
        return medians
