"""The syntax tree of a spec: what the user wrote, each node with its span."""

from __future__ import annotations

from typing import Union

import attrs

from ..errors import Span

__all__ = [
    "Value",
    "Arg",
    "DType",
    "FoldArgs",
    "Layer",
    "Repeat",
    "MacroCall",
    "InputDecl",
    "Defaults",
    "WeightsDecl",
    "NetworkDecl",
    "TargetDecl",
    "Include",
    "SpecFile",
    "Setting",
]


@attrs.frozen
class Value:
    """A literal: a number (int or float), a string, or a bare word."""

    value: Union[int, float, str]
    kind: str  # "number" | "string" | "word"
    span: Span = attrs.field(eq=False)


@attrs.frozen
class DType:
    name: str
    narrow: bool
    span: Span = attrs.field(eq=False)


@attrs.frozen
class FoldArgs:
    """``fold(auto)`` or ``fold(pe = 4, simd = 2, ...)``."""

    auto: bool
    kwargs: tuple[tuple[str, Value, Span], ...]
    span: Span = attrs.field(eq=False)


@attrs.frozen
class Arg:
    """One argument of a layer statement: key ("kernel", "stride", ...) and its value."""

    key: str
    value: Union[int, DType, FoldArgs, tuple[int, ...], None]
    span: Span = attrs.field(eq=False)


@attrs.frozen
class Layer:
    kind: str
    kind_span: Span = attrs.field(eq=False)
    name: str | None
    name_span: Span | None = attrs.field(eq=False)
    args: tuple[Arg, ...]
    span: Span = attrs.field(eq=False)


@attrs.frozen
class Repeat:
    count: int
    body: tuple
    span: Span = attrs.field(eq=False)


@attrs.frozen
class MacroCall:
    name: str
    kwargs: tuple[tuple[str, Value, Span], ...]
    span: Span = attrs.field(eq=False)
    name_span: Span | None = attrs.field(default=None, eq=False)


@attrs.frozen
class Setting:
    """``key value...`` inside a target or preprocessing block."""

    key: str
    values: tuple[Value, ...]
    span: Span = attrs.field(eq=False)


@attrs.frozen
class InputDecl:
    size: tuple[int, ...]
    format: str
    format_span: Span = attrs.field(eq=False)
    preprocess: tuple[Setting, ...]
    span: Span = attrs.field(eq=False)
    fold: FoldArgs | None = None
    """``fold(pixels = P)``: pixels per beat of the input port."""


@attrs.frozen
class Defaults:
    items: tuple  # of Arg (weights/activations/acc/fold) and ("quant", word)
    span: Span = attrs.field(eq=False)


@attrs.frozen
class WeightsDecl:
    """``weights random(seed = 1)`` (call) or ``weights "file.npz"`` (path)."""

    path: str | None
    call: MacroCall | None
    span: Span = attrs.field(eq=False)


@attrs.frozen
class NetworkDecl:
    name: str
    body: tuple
    span: Span = attrs.field(eq=False)


@attrs.frozen
class TargetDecl:
    kind: str
    settings: tuple[Setting, ...]
    span: Span = attrs.field(eq=False)
    kind_span: Span | None = attrs.field(default=None, eq=False)


@attrs.frozen
class Include:
    path: str
    span: Span = attrs.field(eq=False)


@attrs.frozen
class SpecFile:
    path: str
    items: tuple
