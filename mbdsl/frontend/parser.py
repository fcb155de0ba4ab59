"""Text -> syntax tree (mbdsl.frontend.ast), with syntax errors in the user's terms."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from importlib import resources

import lark
from lark import Lark, Token, Transformer, v_args

from . import ast
from ..errors import Span, SpecSyntaxError

__all__ = ["parse"]

# What a terminal is called in a message.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "INT": "a whole number",
    "SIZE": "a size such as 3x3 or 224x224x3",
    "DTYPE": "an integer type such as int4 or uint8",
    "STRING": "a quoted string",
    "SIGNED_NUMBER": "a number",
    "_NL": "a new line",
    "SEMICOLON": "';'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "EQUAL": "'='",
    "COMMA": "','",
    "SLASH": "'/'",
    "AUTO": "'auto'",
    "NARROW": "'narrow'",
    "$END": "the end of the file",
}


MAX_NAME = 128
"""Longest name (layer, network, setting, ...): names become identifiers of generated code."""
MAX_STRING = 4096
"""Longest quoted string (a path)."""


_LONGEST = {"NAME": ("name", MAX_NAME), "STRING": ("string", MAX_STRING)}


def _check_lengths(tree, path: str, lines: list[str]) -> None:
    for t in tree.scan_values(lambda v: isinstance(v, Token) and v.type in _LONGEST):
        what, limit = _LONGEST[t.type]
        size = len(t) - 2 if t.type == "STRING" else len(t)
        if size > limit:
            raise SpecSyntaxError(f"a {what} of {size:,} characters; at most {limit:,} are taken",
                                  Span(path, t.line, t.column, t.column + 1, lines[t.line - 1]), f"use a shorter {what}")


@lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = resources.files(__package__).joinpath("grammar.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True)


class _Builder(Transformer):
    """Parse tree -> ast nodes. Every node gets a Span from Lark's positions."""

    def __init__(self, path: str, lines: list[str]):
        super().__init__()
        self.path = path
        self.lines = lines

    def _span(self, line: int, column: int, end_line: int | None = None, end_column: int | None = None) -> Span:
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        end = end_column if end_line in (None, line) else len(text) + 1
        return Span(self.path, line, column, end, text)

    def _tok(self, tok: Token) -> Span:
        return self._span(tok.line, tok.column, tok.end_line, tok.end_column)

    def _meta(self, meta) -> Span:
        return self._span(meta.line, meta.column, meta.end_line, meta.end_column)

    # literals
    @v_args(meta=True)
    def number(self, meta, items):
        span = self._meta(meta)
        text = [str(t) for t in items if t is not None]
        for t in text:
            _check_digits(t, span)
        if len(text) == 2:
            if float(text[1]) == 0:
                raise SpecSyntaxError(f"division by zero in {text[0]}/{text[1]}", span, "write a non-zero denominator")
            value = float(text[0]) / float(text[1])
        else:
            value = _num(text[0])
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecSyntaxError(f"the number {'/'.join(text)} is out of range", span, "write a number between -1e300 and 1e300")
        return ast.Value(value, "number", span)

    def string(self, items):
        (tok,) = items
        return ast.Value(str(tok)[1:-1], "string", self._tok(tok))

    def word(self, items):
        (tok,) = items
        return ast.Value(str(tok), "word", self._tok(tok))

    def kwarg(self, items):
        name, value = items
        return (str(name), value, self._tok(name))

    @v_args(meta=True)
    def dtype(self, meta, items):
        name, narrow = items
        _check_digits(str(name), self._tok(name))
        return ast.DType(str(name), narrow is not None, self._meta(meta))

    @v_args(meta=True)
    def fold(self, meta, items):
        span = self._meta(meta)
        if len(items) == 1 and isinstance(items[0], Token) and items[0].type == "AUTO":
            return ast.Arg("fold", ast.FoldArgs(True, (), span), span)
        return ast.Arg("fold", ast.FoldArgs(False, tuple(i for i in items if i is not None), span), span)

    # layer arguments
    def _arg(key):
        @v_args(meta=True)
        def build(self, meta, items):
            value = items[0] if items else None
            if isinstance(value, Token):
                _check_digits(str(value), self._tok(value))
                value = _size(value) if value.type == "SIZE" else int(value)
            return ast.Arg(key, value, self._meta(meta))

        return build

    kernel = _arg("kernel")
    stride = _arg("stride")
    pad = _arg("pad")
    outputs = _arg("outputs")
    global_ = _arg("global")
    shift = _arg("shift")
    count = _arg("count")
    weight_opt = _arg("weights")
    act_opt = _arg("activations")
    acc_opt = _arg("acc")
    bias_opt = _arg("bias")
    del _arg

    @v_args(meta=True)
    def quant_opt(self, meta, items):
        (name,) = items
        return ast.Arg("quant", ast.Value(str(name), "word", self._tok(name)), self._meta(meta))

    @v_args(meta=True)
    def layer(self, meta, items):
        kind, name, *args = items
        return ast.Layer(
            str(kind),
            self._tok(kind),
            str(name) if name is not None else None,
            self._tok(name) if name is not None else None,
            tuple(args),
            self._meta(meta),
        )

    @v_args(meta=True)
    def setting(self, meta, items):
        key, *values = items
        return ast.Setting(str(key), tuple(values), self._meta(meta))

    @v_args(meta=True)
    def preprocess(self, meta, items):
        return tuple(items)

    @v_args(meta=True)
    def input_decl(self, meta, items):
        size, fmt, fold, pre, fold_after = items
        if fold is not None and fold_after is not None:
            raise SpecSyntaxError("the input's fold is given twice", fold_after.value.span, "keep one")
        fold = fold or fold_after
        _check_digits(str(size), self._tok(size))
        return ast.InputDecl(_size(size), str(fmt), self._tok(fmt), pre or (), self._meta(meta), fold.value if fold is not None else None)

    @v_args(meta=True)
    def defaults(self, meta, items):
        return ast.Defaults(tuple(items), self._meta(meta))

    @v_args(meta=True)
    def call(self, meta, items):
        name, *kwargs = items
        return ast.MacroCall(str(name), tuple(k for k in kwargs if k is not None), self._meta(meta), self._tok(name))

    macro_call = call

    @v_args(meta=True)
    def weights_decl(self, meta, items):
        (what,) = items
        if isinstance(what, Token):
            return ast.WeightsDecl(str(what)[1:-1], None, self._meta(meta))
        return ast.WeightsDecl(None, what, self._meta(meta))

    @v_args(meta=True)
    def repeat(self, meta, items):
        count, *body = items
        _check_digits(str(count), self._tok(count))
        return ast.Repeat(int(count), tuple(body), self._meta(meta))

    @v_args(meta=True)
    def network(self, meta, items):
        name, *body = items
        return ast.NetworkDecl(str(name), tuple(body), self._meta(meta))

    @v_args(meta=True)
    def target(self, meta, items):
        kind, *settings = items
        return ast.TargetDecl(str(kind), tuple(settings), self._meta(meta), self._tok(kind))

    @v_args(meta=True)
    def include(self, meta, items):
        (path,) = items
        return ast.Include(str(path)[1:-1], self._meta(meta))

    def start(self, items):
        return tuple(items)


MAX_DIGITS = 30
"""Longer numbers are refused by the parser (Python refuses to convert very long ones)."""


def _check_digits(text: str, span: Span) -> None:
    if len(text) > MAX_DIGITS and any(len(part) > MAX_DIGITS for part in re.split(r"[^0-9]+", text)):
        raise SpecSyntaxError(f"number too large: {text[:12]}... has more than {MAX_DIGITS} digits", span, "write a smaller number")


def _num(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def _size(tok: Token) -> tuple[int, ...]:
    return tuple(int(p) for p in str(tok).split("x"))


MAX_NESTING = 32
"""Deepest nesting of braces ({ ... }) in a spec: network, repeat, defaults, target blocks."""


def parse(text: str, path: str = "<string>") -> ast.SpecFile:
    """Parse spec text; raise SpecSyntaxError located at the offending token."""
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some editors write: not text
    lines = _lines(text)
    _check_nesting(lines, path)
    try:
        tree = _parser().parse(text)
    except lark.UnexpectedInput as exc:
        raise _syntax_error(exc, path, lines, text) from None
    _check_lengths(tree, path, lines)
    try:
        return ast.SpecFile(path, _Builder(path, lines).transform(tree))
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, SpecSyntaxError):
            raise exc.orig_exc from None
        raise


def _lines(text: str) -> list[str]:
    """The lines as Lark counts them: split at newlines only (not at form feeds or the
    other separators str.splitlines() knows), without their line ending."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


# Statement words that must be followed by a whole number.
_NEEDS_INT = {"->": "'->' needs the number of output channels", "stride": "'stride' needs a whole number",
              "pad": "'pad' needs a whole number", "shift": "'shift' needs a whole number",
              "repeat": "'repeat' needs a count"}


def _syntax_error(exc: lark.UnexpectedInput, path: str, lines: list[str], source: str = "") -> SpecSyntaxError:
    line = getattr(exc, "line", None)
    column = getattr(exc, "column", None)
    token = getattr(exc, "token", None)
    at_end = isinstance(exc, lark.UnexpectedEOF) or (token is not None and token.type == "$END")
    if at_end or not isinstance(line, int) or line < 1:
        while lines and not lines[-1].strip():
            lines = lines[:-1]
        line = max(1, len(lines))
        column = len(lines[-1]) + 1 if lines else 1
    text = lines[line - 1] if line <= len(lines) else ""
    terminals = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
    expected = sorted({_TERMINAL_NAMES.get(t, _literal(t)) for t in terminals if t not in ("__IGNORE_0", "__IGNORE_1")})
    hint = _hint(expected)
    before = text[: column - 1].split()
    previous = before[-1] if before else None
    if previous is not None and previous.startswith("repeat") and previous != "repeat":
        previous = None
    if isinstance(exc, lark.UnexpectedCharacters):
        bad = text[column - 1 : column] if column - 1 < len(text) else "?"
        end = column + 1
        if bad == '"':
            message = "unterminated string"
            end = len(text) + 1
            hint = "close the string with '\"' on the same line (strings cannot span lines)"
        elif bad.isdigit():
            message = f"unexpected character {bad!r}: a digit other than 0-9"
            hint = "write numbers with the ASCII digits 0-9"
        else:
            message = f"unexpected character {bad!r}"
    else:
        if at_end:
            message = "unexpected end of file"
            end = column + 1
            unclosed = _unclosed_brace(source)
            if unclosed is not None:
                message += f": the '{{' at line {unclosed[0]}, column {unclosed[1]} is never closed"
                hint = "add the missing '}'"
        elif token.type == "_NL":
            message = "unexpected end of line"
            column = len(text) + 1
            end = column + 1
        else:
            described = _TERMINAL_NAMES.get(token.type)
            if described and not described.startswith("'"):
                message = f"unexpected {described.split(' ', 1)[1]} {str(token)!r}"
            else:
                message = f"unexpected {str(token)!r}"
            end = column + len(str(token))
        if set(terminals) == {"INT"} and previous in _NEEDS_INT:
            message = f"{_NEEDS_INT[previous]}, not {_found(token, at_end)}"
            hint = f"e.g. '{previous} {'64' if previous == '->' else 2}'"
        elif "DTYPE" in terminals and token is not None and token.type == "NAME":
            hint = f"{hint}; types are written as one word: int4, uint8, int8 narrow"
    return SpecSyntaxError(message, Span(path, line, column, end, text), hint)


def _found(token, at_end: bool) -> str:
    if at_end:
        return "the end of the file"
    if token.type == "_NL":
        return "the end of the line"
    return repr(str(token))


def _braces(lines: list[str]):
    """(line, column, brace) of every '{' and '}' outside comments and strings."""
    for number, line in enumerate(lines, start=1):
        in_string = False
        for col, ch in enumerate(line, start=1):
            if in_string:
                in_string = ch != '"'
            elif ch == '"':
                in_string = True
            elif ch == "#":
                break
            elif ch in "{}":
                yield number, col, ch


def _check_nesting(lines: list[str], path: str) -> None:
    """Refuse blocks nested deeper than MAX_NESTING before parsing: the tree is built
    recursively, and a deep one would exhaust Python's stack."""
    depth = 0
    for number, col, ch in _braces(lines):
        depth = depth + 1 if ch == "{" else max(0, depth - 1)
        if depth > MAX_NESTING:
            raise SpecSyntaxError(
                f"blocks nested more than {MAX_NESTING} deep",
                Span(path, number, col, col + 1, lines[number - 1]),
                "nest fewer repeat blocks; a repeat count multiplies the layers already",
            )


def _unclosed_brace(text: str) -> tuple[int, int] | None:
    """(line, column) of the innermost '{' left open, ignoring comments and strings."""
    stack = []
    for number, col, ch in _braces(text.split("\n")):
        if ch == "{":
            stack.append((number, col))
        elif stack:
            stack.pop()
    return stack[-1] if stack else None


def _literal(terminal: str) -> str:
    """Lark names keyword terminals after their text (e.g. 'STRIDE'), other anonymous ones
    __ANON_n: show the text they match."""
    try:
        pattern = _parser().get_terminal(terminal).pattern
    except KeyError:
        return terminal
    if isinstance(pattern, lark.lexer.PatternStr):
        return repr(pattern.value)
    return repr(terminal.lower()) if terminal.isupper() else terminal


def _hint(expected: list[str]) -> str | None:
    if not expected:
        return None
    if len(expected) > 8:
        return "expected one of: " + ", ".join(expected[:8]) + ", ..."
    return "expected " + (expected[0] if len(expected) == 1 else "one of: " + ", ".join(expected))
