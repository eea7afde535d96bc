"""Importing the notebook tools (papermill, nbformat, nbconvert) without a start-up cost they never use.

nbformat imports jsonschema, and jsonschema 4.25 and later imports ``rfc3987_syntax`` for its ``iri`` and
``iri-reference`` formats wherever that package is installed (jupyter_events' ``format-nongpl`` extra
installs it). rfc3987_syntax 1.1 builds an Earley parser of the RFC 3987 grammar as it is imported: 2 to
3 s of every report run on this machine, more than loading a 50,000-student log, for formats that no
notebook schema uses (python-jsonschema/jsonschema#1428; jsonschema's own fix, a move to
``rfc3987-syntax2``, is not released yet).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

_NAME = "rfc3987_syntax"


def defer_iri_parsers() -> None:
    """Give jsonschema a stand-in for ``rfc3987_syntax`` that imports the real module (building its parser)
    when an IRI is first checked, instead of when jsonschema is imported. Every check gives the real
    module's answer.

    Call it before importing anything that imports jsonschema. It does nothing where jsonschema or
    rfc3987_syntax is already imported, or where rfc3987_syntax is not installed.
    """
    if _NAME in sys.modules or "jsonschema" in sys.modules:
        return
    spec = importlib.util.find_spec(_NAME)
    if spec is None:
        return
    stand_in = _StandIn(_NAME)
    stand_in.__path__ = list(spec.submodule_search_locations or [])  # its submodules import as they would
    sys.modules[_NAME] = stand_in


def _real() -> types.ModuleType:
    """The real ``rfc3987_syntax``, imported in place of the stand-in the first time it is needed."""
    if isinstance(sys.modules.get(_NAME), _StandIn):
        del sys.modules[_NAME]
    return importlib.import_module(_NAME)


class _StandIn(types.ModuleType):
    """``rfc3987_syntax`` until it is used: ``is_valid_syntax`` (what jsonschema imports from it) and every
    other attribute come from the real module, imported on first use."""

    @staticmethod
    def is_valid_syntax(term: str, value: str) -> bool:
        return _real().is_valid_syntax(term, value)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):  # import machinery probing a module (__file__, __spec__ ...) gets no import
            raise AttributeError(name)
        return getattr(_real(), name)
