"""Hints for messages about names: "did you mean ...?"."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean", "one_of"]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A hint naming the closest choice, or listing them all."""
    choices = sorted(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"did you mean '{close[0]}'? ({one_of(choices)})"
    return one_of(choices)


def one_of(choices: Iterable[str]) -> str:
    choices = sorted(choices)
    return "expected one of: " + ", ".join(f"'{c}'" for c in choices)
