"""User errors, each located at a span of a spec file.

Every error a user can cause is an :class:`MbdslError` (or a subclass per kind). The CLI
prints it as ``file:line:col: error: message``, the source line with a caret, and a hint,
then exits with status 2.
"""

from __future__ import annotations

import unicodedata

import attrs

__all__ = [
    "Span",
    "MbdslError",
    "SpecSyntaxError",
    "SpecNameError",
    "ShapeError",
    "SpecValueError",
    "SpecStructureError",
    "QuantError",
    "FoldingError",
    "MemoryBudgetError",
    "WeightFileError",
    "IncludeError",
    "TargetError",
    "UnsupportedByBackend",
]


@attrs.frozen
class Span:
    """Where a construct stands in a spec: 1-based line and column, and the line's text."""

    file: str
    line: int
    column: int
    end_column: int | None = None
    text: str = attrs.field(default="", eq=False, repr=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


_SHOWN = 160
"""Longest part of a source line an error shows."""


def _invisible(c: str) -> bool:
    return c != "\t" and unicodedata.category(c) in ("Cc", "Cf")


def _visible(text: str) -> str:
    return "".join(c.encode("unicode_escape").decode() if _invisible(c) else c for c in text)


class MbdslError(Exception):
    """Root of all user errors: a message, where it happened, and what to do."""

    kind = "error"

    def __init__(self, message: str, span: Span | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint

    def render(self) -> str:
        """The full diagnostic, as printed by the CLI (control and format characters, which a
        terminal would act on, shown escaped)."""
        where = f"{self.span}: " if self.span else ""
        lines = [f"{where}error: {_visible(self.message)}"]
        if self.span and self.span.text:
            text = "".join("?" if _invisible(c) else c for c in self.span.text.rstrip("\n").expandtabs(1))
            gutter = f"{self.span.line:5d} | "
            width = 1
            if self.span.end_column and self.span.end_column > self.span.column:
                width = self.span.end_column - self.span.column
            column = self.span.column
            if len(text) > _SHOWN:  # a window of a very long line around the column
                start = max(0, min(column - 1 - _SHOWN // 2, len(text) - _SHOWN))
                text = ("..." if start else "") + text[start : start + _SHOWN] + ("..." if start + _SHOWN < len(text) else "")
                column = column - start + (3 if start else 0)
                width = min(width, _SHOWN - column + 1 + (3 if start else 0))
            lines.append(gutter + text)
            lines.append(" " * (len(gutter) - 2) + "| " + " " * (column - 1) + "^" + "~" * (width - 1))
        if self.hint:
            lines.append(f"hint: {_visible(self.hint)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


class SpecSyntaxError(MbdslError):
    """The text does not follow the .mbn grammar."""


class SpecNameError(MbdslError):
    """An unknown or duplicate name: layer kind, option, macro argument, layer name."""


class ShapeError(MbdslError):
    """A layer cannot be applied to the tensor it receives."""


class SpecValueError(MbdslError):
    """A value the spec gives that its construct does not take: a number out of range or
    above a limit, a size or kernel written in the wrong form, a setting with the wrong
    count of values."""


class SpecStructureError(MbdslError):
    """A network missing a part it needs (an input, layers), or with a layer where none
    may stand (after topk)."""


class QuantError(MbdslError):
    """A bit width out of range, or an accumulator that could overflow."""


class FoldingError(MbdslError):
    """A PE/SIMD choice the hardware cannot implement."""


class MemoryBudgetError(MbdslError):
    """A layer does not fit a target's memory budget."""


class WeightFileError(MbdslError):
    """A weight file is missing, unreadable, or does not match the network."""


class IncludeError(MbdslError):
    """An include that cannot be read or that includes itself."""


class TargetError(MbdslError):
    """A target block with an unknown or impossible setting."""


class UnsupportedByBackend(MbdslError):
    """A valid network that the chosen backend cannot implement (a quantization style, a
    type width, a layer kind or a port it has no hardware or kernel for)."""
