"""Small helpers shared by the tests."""

from __future__ import annotations


def num(x: float | None) -> float:
    """``x`` itself, failing the test if it is missing (result fields are ``None`` for missing numbers)."""
    assert x is not None
    return x
