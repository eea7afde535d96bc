"""Progress reporting as a dependency: the library says what it iterates over, the caller decides how
(or whether) to show it. ``paceline``'s rich progress bar fits; so does anything with ``track``.

Shared by the report runners here and by paceline's pipeline stages (``graders``), which use this
protocol rather than keep a copy: analytics imports nothing of graders, so the one copy lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")


class Progress(Protocol):
    def track(self, items: Iterable[T], *, description: str, total: int | None = None) -> Iterable[T]:
        """Yield ``items`` while showing progress through them (``total`` for iterators without a length)."""
        ...


class Silent:
    """Progress that shows nothing: the default for library callers and tests."""

    def track(self, items: Iterable[T], *, description: str, total: int | None = None) -> Iterator[T]:
        yield from items
