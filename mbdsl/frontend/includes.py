"""Includes: a spec's items with the files it includes spliced in, within the limits."""

from __future__ import annotations

import os

import attrs

from . import ast
from .limits import MAX_INCLUDE_DEPTH, MAX_INCLUDES
from .parser import parse
from ..errors import IncludeError
from ..files import MAX_SPEC_BYTES, read_text

__all__ = ["Included", "collect"]


@attrs.define
class Included:
    seen: dict[str, ast.Include]
    """Every file included so far, and the include statement that included it."""
    size: int
    """Bytes of text read so far, the spec's included."""


def collect(spec: ast.SpecFile, stack: list[str], shown: str, state: Included) -> list:
    """Items of a file with its includes spliced in, depth first.

    ``shown`` is how the file is named in messages: the path the user gave, and for an
    included file that path's folder joined with the include's path (not a path relative
    to the working directory, which changes with where the command runs). A file is
    included once (twice would declare everything in it twice), at most
    ``MAX_INCLUDE_DEPTH`` deep and ``MAX_INCLUDES`` in all, and the spec with its includes
    holds at most ``MAX_SPEC_BYTES``.
    """
    seen = state.seen
    out = []
    for item in spec.items:
        if not isinstance(item, ast.Include):
            out.append(item)
            continue
        target = os.path.abspath(os.path.join(os.path.dirname(stack[-1]), item.path))
        if target in stack:
            chain = " -> ".join(os.path.basename(p) for p in stack[stack.index(target) :] + [target])
            raise IncludeError(f"include cycle: {chain}", item.span, "remove one of the includes")
        if target in seen:
            raise IncludeError(
                f"'{item.path}' is already included at {seen[target].span}",
                item.span,
                "include a file once: everything it declares would be declared twice",
            )
        if len(stack) > MAX_INCLUDE_DEPTH:
            raise IncludeError(f"includes nested more than {MAX_INCLUDE_DEPTH} deep", item.span, "include the files from one place")
        if len(seen) >= MAX_INCLUDES:
            raise IncludeError(f"more than {MAX_INCLUDES} included files", item.span, "merge some of the included files")
        seen[target] = item
        text = read_text(
            target,
            "included file",
            MAX_SPEC_BYTES,
            error=IncludeError,
            span=item.span,
            shown=f"'{item.path}'",
            hint=f"looked for {target}; include paths are relative to the including file's folder",
        )
        state.size += len(text.encode())
        if state.size > MAX_SPEC_BYTES:
            raise IncludeError(f"with '{item.path}' the spec and its included files hold {state.size:,} bytes, "
                               f"more than the limit of {MAX_SPEC_BYTES:,}", item.span, "the limits are listed in docs/dsl.md, 'Limits'")
        display = item.path if os.path.isabs(item.path) else os.path.normpath(os.path.join(os.path.dirname(shown), item.path))
        out.extend(collect(parse(text, display), stack + [target], display, state))
    return out

