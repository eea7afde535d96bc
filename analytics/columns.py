"""Documented output columns: how every metric returns exactly the columns it documents.

Each metric module declares a tuple of :class:`~analytics.tables.Column` for
its output; :func:`typed` makes a frame match it and :func:`document` appends
it to the function's docstring, so ``help(metric)`` shows the column contract.
Times inside the metrics travel as int64 nanoseconds since the epoch (NaT is
the int64 minimum, as in pandas); :func:`ns` and :func:`utc_times` convert.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from .tables import TIME, Column, describe_columns

DAY_NS = 86_400 * 10**9
NAT = np.iinfo(np.int64).min


def typed(frame: pd.DataFrame, columns: tuple[Column, ...], *,
          categories: Mapping[str, pd.CategoricalDtype] | None = None) -> pd.DataFrame:
    """The documented columns, in documented order and dtypes, with a fresh RangeIndex.

    A column documented as ``category`` takes its dtype from ``categories``.
    """
    categories = categories or {}
    dtypes = {column.name: categories.get(column.name, column.dtype) for column in columns}
    return frame[[column.name for column in columns]].astype(dtypes).reset_index(drop=True)


def empty(columns: tuple[Column, ...], *, categories: Mapping[str, pd.CategoricalDtype] | None = None) -> pd.DataFrame:
    """A zero-row frame with the documented columns and dtypes."""
    return typed(pd.DataFrame({column.name: [] for column in columns}), columns, categories=categories)


def document(function: Callable[..., object], columns: tuple[Column, ...]) -> None:
    """Append the column list to ``function``'s docstring."""
    listing = textwrap.indent(describe_columns(columns), "    ")
    function.__doc__ = (function.__doc__ or "") + "\n\n    Columns:\n\n" + listing + "\n"


def ns(times: pd.Series) -> np.ndarray:
    """UTC times as int64 nanoseconds since the epoch; NaT becomes the int64 minimum."""
    return np.asarray(times.astype(TIME).array.asi8)


def utc_times(values: np.ndarray) -> pd.DatetimeIndex:
    """int64 nanoseconds (int64 minimum = NaT) as UTC times."""
    return pd.DatetimeIndex(np.asarray(values, dtype=np.int64).view("M8[ns]"), tz="UTC")


def days_between(later: np.ndarray, earlier: np.ndarray | int) -> np.ndarray:
    """(later - earlier) in float days for int64 nanosecond times; NaN where either is NaT."""
    later = np.asarray(later, dtype=np.int64)
    earlier = np.broadcast_to(np.asarray(earlier, dtype=np.int64), later.shape)
    with np.errstate(over="ignore"):
        span = (later - earlier).astype(np.float64) / DAY_NS
    span[(later == NAT) | (earlier == NAT)] = np.nan
    return span
