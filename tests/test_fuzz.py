"""Fuzzing the frontend and the checking passes: no input may cause a traceback.

Two generators:

- specs drawn from the grammar itself (``hypothesis.extra.lark.from_lark``), with explicit
  strategies for the terminals so that tokens are separated and names come from the
  language's vocabulary (otherwise nearly every draw dies in the lexer);
- mutations of the example specs in ``specs/``: tokens deleted, duplicated or swapped,
  lines dropped or repeated, numbers replaced by 0, negative or huge values, identifiers
  misspelt.

The oracle (:func:`run_case`): a rejection is an ``MbdslError`` whose span lies inside
the text and whose ``render()`` works; an acceptance is a network that passes
``mbdsl.passes.check`` (and whose estimates compute) or raises ``MbdslError``. Anything
else is a bug. ``bench/fuzz.py`` runs the same generators for 10,000+ cases.
"""

from __future__ import annotations

import os
import random
import re
import string
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark
from lark.lexer import PatternStr

from mbdsl.errors import MbdslError
from mbdsl.estimates import estimate
from mbdsl.frontend import load_string
from mbdsl.passes import check

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.mbn"))

# A spec that uses the constructs the examples do not: every layer kind, acc, shift,
# narrow, defaults with fold, repeat with names, both targets with units.
ALL_CONSTRUCTS = """\
# every construct once
network all_kinds {
  input 16x16x3 u8 { scale 1/255; mean 0.5; std 0.25 0.25 0.25 }
  defaults { weights int4 narrow; activations uint4; quant thresholds; fold(pe = 2) }
  weights random(seed = 5)
  conv    c0 3x3 stride 2 pad 1 -> 8 weights int8 acc int24 fold(pe = 4, simd = 3)
  dwconv  d1 3x3 stride 1 pad 1 fold(pe = 2, simd = 9)
  pwconv  p1 -> 16 activations uint3
  repeat 2 { dwsep blk stride 1 -> 16 fold(dw_pe = 2, dw_simd = 3, pe = 4, simd = 4) }
  dwsep   stride 2 -> 32 fold(auto)
  avgpool pool global shift 6 fold(pe = 4)
  fc      fc -> 10 fold(pe = 2, simd = 8)
  topk    top3 3
}
target fpga { clock 150 MHz; part "xc7z020" }
target gap8 { l1 48 KiB; l2 400 kB; l3 8 MiB; cores 4; clock 175 MHz }
"""

SEEDS = [(str(p.relative_to(ROOT)), p.read_text()) for p in SPECS] + [("tests/fuzz_all.mbn", ALL_CONSTRUCTS)]


# --- the oracle --------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def check_error(exc: MbdslError, text: str, path: str) -> None:
    """A rejection must be located inside the text (or an included file) and render."""
    span = exc.span
    assert span is not None, f"error without a location: {exc.message!r}"
    rendered = exc.render()
    assert rendered.startswith(f"{span.file}:{span.line}:{span.column}: error: "), rendered
    assert exc.message and "\n" not in exc.message, repr(exc.message)
    if span.file == path:
        lines = _lines(text)
        assert 1 <= span.line <= max(1, len(lines)), (span, len(lines))
        line = lines[span.line - 1] if lines else ""
        assert 1 <= span.column <= len(line) + 1, (span, line)
        assert span.text == line, (span.text, line)
        if span.end_column is not None:
            assert span.column <= span.end_column <= len(line) + 2, (span, line)


def run_case(text: str, path: str = "fuzz.mbn") -> str:
    """Parse, elaborate and check one text; return 'accepted' or 'rejected:<ErrorClass>'.

    Any exception that is not an MbdslError propagates: it is a bug.
    """
    cwd = os.getcwd()
    os.chdir(ROOT)  # includes resolve relative to the spec's path, as from the CLI
    try:
        try:
            net = load_string(text, path)
            net = check(net)
        except MbdslError as exc:
            check_error(exc, text, path)
            return f"rejected:{type(exc).__name__}"
        for layer in net.layers:
            assert layer.in_shape is not None and layer.out_shape is not None, layer
        estimate(net)
        return "accepted"
    finally:
        os.chdir(cwd)


# --- generator 1: the grammar ------------------------------------------------------------

# The grammar reads every name as NAME and leaves it to the elaborator to tell a layer
# kind from a setting. Generated from NAME alone, nearly every spec would stop at its first
# name; so the generator's copy of the grammar gives each name position its own declared
# terminal, drawn mostly from the words valid there (and sometimes a misspelt or random
# one). The texts are then parsed by the real grammar.
_NAME_SLOTS = [
    ("layer: NAME [NAME] _arg*", "layer: KIND [NAME] _arg*"),
    ('macro_call: NAME "("', 'macro_call: MACRO "("'),
    ('input_decl: "input" SIZE NAME', 'input_decl: "input" SIZE FORMAT'),
    ('target: "target" NAME "{"', 'target: "target" TARGET_KIND "{"'),
    ("setting: NAME value+", "setting: SETTING_KEY value+"),
    ('kwarg: NAME "=" value', 'kwarg: KWARG_KEY "=" value'),
    ('quant_opt: "quant" NAME', 'quant_opt: "quant" QUANT_STYLE'),
    ('call: NAME "("', 'call: SOURCE "("'),
]


def _words(*valid: str, wrong: tuple[str, ...] = ("x", "convv")) -> st.SearchStrategy[str]:
    """Mostly valid words, sometimes wrong ones or random identifiers; followed by a space."""
    ident = st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True)
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), st.sampled_from(valid), st.sampled_from(wrong), ident).map(
        lambda s: s + " "
    )


_KWARG_KEYS = ("pe", "simd", "dw_pe", "dw_simd", "mult", "weights", "pixels", "seed", "alpha", "resolution", "classes", "topk", "pad0", "fold", "fc_bias")
_SETTING_KEYS = ("clock", "part", "fps", "mac_lanes", "lut", "bram", "l1", "l2", "l3", "cores", "l1_reserve", "scale", "mean", "std")
_SIZES = ["1x1", "3x3", "5x5", "2x2", "3x5", "32x32x3", "16x16x3", "8x8x3", "32x32", "31x32", "8x8x1", "1x1x1", "3x3x3", "0x0x3",
          "16384x16384x3", "65536x1x1", "9" * 40 + "x3", "\u0663x\u0663"]
_INTS = ["0", "1", "2", "3", "4", "5", "8", "10", "16", "32", "64", "1000", "1000000000000", "9" * 5000, "\u0661\u0666", "\uff18"]
_NUMBERS = ["0", "1", "2", "-1", "0.5", "255", "0.485", "8", "200", "1e3", "1000000000000", "1e-300", "9" * 5000, "\u0968.5"]
_VALUE_WORDS = ("auto", "none", "MHz", "kHz", "KiB", "kB", "MiB", "x", "lut", "packed", "uram", "stream")


def _spaced(values) -> st.SearchStrategy[str]:
    return st.sampled_from(values).map(lambda s: s + " ")


def fuzz_grammar() -> Lark:
    """The spec grammar with a terminal of its own for each kind of name."""
    text = resources.files("mbdsl.frontend").joinpath("grammar.lark").read_text()
    for old, new in _NAME_SLOTS:
        assert text.count(old) == 1, f"grammar changed: update _NAME_SLOTS for {old!r}"
        text = text.replace(old, new)
    text += "\n%declare KIND MACRO FORMAT TARGET_KIND SETTING_KEY KWARG_KEY QUANT_STYLE SOURCE\n"
    return Lark(text, parser="lalr", lexer="contextual", maybe_placeholders=True)


def grammar_strategy() -> st.SearchStrategy[str]:
    grammar = fuzz_grammar()
    terminals, _, _ = grammar.grammar.compile(["start"], ())
    explicit = {}
    for t in terminals:
        if isinstance(t.pattern, PatternStr):  # keywords and punctuation
            explicit[t.name] = st.just(t.pattern.value + " ")
    explicit.update(
        {
            "KIND": _words("conv", "dwconv", "pwconv", "dwsep", "avgpool", "fc", "topk", wrong=("convv", "dwsepp", "pool")),
            "MACRO": _words("mobilenet_v1", wrong=("mobilenet_v2", "mobilenet")),
            "FORMAT": _words("u8", "nv12", wrong=("rgb", "U8")),
            "TARGET_KIND": _words("fpga", "gap8", wrong=("fgpa", "gpu")),
            "SETTING_KEY": _words(*_SETTING_KEYS, wrong=("clk", "core")),
            "KWARG_KEY": _words(*_KWARG_KEYS, wrong=("smid", "alpah")),
            "QUANT_STYLE": _words("thresholds", "multiplier", wrong=("float",)),
            "SOURCE": _words("random", wrong=("randn",)),
            "NAME": _words("c0", "b1", "fc", "top5", "pool", *_VALUE_WORDS),
            "SIZE": _spaced(_SIZES),
            "DTYPE": st.builds(lambda u, n: f"{u}int{n} ", st.sampled_from(["", "", "u"]), st.sampled_from([0, 1, 2, 4, 4, 8, 8, 9, 12, 32, 40])),
            "INT": _spaced(_INTS),
            "SIGNED_NUMBER": _spaced(_NUMBERS),
            "STRING": _spaced(['"specs/targets/fpga_200mhz.mbn"'] * 3 + ['"missing.mbn"', '"x.npz"', '""', '"xcu250"']),
            "NARROW": st.just("narrow "),
            "AUTO": st.just("auto "),
            "_NL": st.sampled_from(["\n", "\r\n", "  # comment\n"]),
            "__IGNORE_0": st.sampled_from([" ", "\t"]),
            "__IGNORE_1": st.just(" "),  # a comment would swallow the rest of the line
        }
    )

    def draw_from(start: str) -> st.SearchStrategy[str]:
        _, rules, ignored = grammar.grammar.compile([start], ())
        used = set(ignored) | {sym.name for r in rules for sym in r.expansion if sym.is_term}
        return from_lark(grammar, start=start, explicit={k: v for k, v in explicit.items() if k in used})

    whole = draw_from("start")
    # Drawn from 'start', most files hold no network; also draw networks (and targets) alone.
    network = draw_from("network")
    target = draw_from("target")
    alone = st.builds(lambda n, t: n + "\n" + "\n".join(t), network, st.lists(target, max_size=2))
    # And, to reach the passes, a network with an input whose statements are drawn alone.
    body = st.lists(draw_from("layer") | draw_from("defaults") | draw_from("repeat") | draw_from("macro_call"), min_size=1, max_size=8)
    inputs = st.sampled_from(["input 32x32x3 u8", "input 16x16x3 u8", "input 8x8x1 u8", "input 32x32 nv12", "input 224x224x3 u8"])
    built = st.builds(lambda i, b: "network g {\n  " + i + "\n  " + "\n  ".join(b) + "\n}\n", inputs, body)
    return whole | alone | built | built


# --- generator 2: mutations of the example specs ------------------------------------------

_TOKEN = re.compile(r'"[^"\n]*"|#[^\n]*|\d+(?:x\d+)+|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?(?:e-?\d+)?|->|\n|[^\s]')
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:e-?\d+)?$")
_SIZE = re.compile(r"\d+(?:x\d+)+$")
_VOCAB = ["{", "}", "(", ")", ";", "=", ",", "->", "/", "x", "stride", "pad", "fold", "weights", "acc", "bias", "global",
          "repeat", "network", "input", "target", "include", "narrow", "auto", "int4", "uint9", "int0", '"', "#",
          "@", "3x3", "0x0", "1", "-", ".", "\t", "\f", "\r", "é", "mobilenet_v1(alpha = 0.5)"]  # fmt: skip
_HUGE = ["0", "-1", "-5", "1000000000000", "10" * 20, "99999999", "65537", "16385", "1e400", "0.0", "2.5", "1/0", "7",
         "9" * 5000, "1" + "0" * 4400, "16384", "65536", "100000", "1e-300", "1e300",
         "\u0661\u0666", "\uff18", "\u0968\u0968\u096a", "3\u0663"]  # very long numbers, huge sizes, non-ASCII digits
_DEPTHS = [2, 31, 32, 33, 100, 2000]


def _misspell(word: str, rng: random.Random) -> str:
    if len(word) < 2:
        return word + rng.choice(string.ascii_lowercase)
    i = rng.randrange(len(word))
    op = rng.randrange(4)
    if op == 0:
        return word[:i] + word[i + 1 :]
    if op == 1:
        return word[:i] + rng.choice(string.ascii_lowercase + "_0") + word[i:]
    if op == 2 and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word.upper() if word.islower() else word.lower()


def mutate(text: str, rng: random.Random, rounds: int | None = None) -> str:
    """Apply 1-3 random mutations to ``text`` (tokens, numbers, identifiers, lines)."""
    for _ in range(rounds or rng.randint(1, 3)):
        pieces = []  # (start, end) of tokens, whitespace kept in between
        for m in _TOKEN.finditer(text):
            pieces.append((m.start(), m.end()))
        if not pieces:
            return text + rng.choice(_VOCAB)
        op = rng.choices(range(10), weights=(2, 1, 1, 3, 3, 2, 1, 1, 1, 1))[0]
        i = rng.randrange(len(pieces))
        a, b = pieces[i]
        tok = text[a:b]
        if op == 0:  # delete a token
            text = text[:a] + text[b:]
        elif op == 1:  # duplicate a token
            text = text[:b] + " " + tok + text[b:]
        elif op == 2 and i + 1 < len(pieces):  # swap with the next token
            c, d = pieces[i + 1]
            text = text[:a] + text[c:d] + text[b:c] + tok + text[d:]
        elif op in (3, 4):  # replace a number (or a part of a size)
            numbers = [(s, e) for s, e in pieces if _NUMBER.match(text[s:e]) or _SIZE.match(text[s:e])]
            if numbers:
                s, e = rng.choice(numbers)
                value = rng.choice(_HUGE)
                if _SIZE.match(text[s:e]):
                    parts = text[s:e].split("x")
                    parts[rng.randrange(len(parts))] = value if value.isdigit() else "0"
                    value = "x".join(parts)
                text = text[:s] + value + text[e:]
        elif op == 5:  # misspell an identifier
            words = [(s, e) for s, e in pieces if text[s].isalpha() or text[s] == "_"]
            if words:
                s, e = rng.choice(words)
                text = text[:s] + _misspell(text[s:e], rng) + text[e:]
        elif op == 6:  # insert a token from the vocabulary
            text = text[:a] + rng.choice(_VOCAB) + " " + text[a:]
        elif op == 9:  # nest a line in repeat blocks, or open many braces
            lines = text.split("\n")
            j = rng.randrange(len(lines))
            depth = rng.choice(_DEPTHS)
            if rng.random() < 0.7:
                lines[j] = "repeat 1 { " * depth + lines[j] + " }" * depth
            else:
                lines[j] += " " + "{" * depth
            text = "\n".join(lines)
        else:  # drop, duplicate or swap lines
            lines = text.split("\n")
            j = rng.randrange(len(lines))
            k = rng.randrange(len(lines))
            if op == 7:
                del lines[j]
            elif rng.random() < 0.5:
                lines.insert(j, lines[k])
            else:
                lines[j], lines[k] = lines[k], lines[j]
            text = "\n".join(lines)
    return text


@st.composite
def mutated_specs(draw) -> tuple[str, str]:
    path, text = draw(st.sampled_from(SEEDS))
    rng = draw(st.randoms(use_true_random=False))
    return path, mutate(text, rng)


# --- the tests -----------------------------------------------------------------------------

def _fuzz(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


@pytest.mark.parametrize("path, text", SEEDS, ids=[p for p, _ in SEEDS])
def test_seeds_are_accepted(path, text):
    assert run_case(text, path) == "accepted"


@pytest.mark.slow
@_fuzz(450)
@given(grammar_strategy())
def test_grammar_generated_specs(text):
    run_case(text)


@pytest.mark.slow
@_fuzz(750)
@given(mutated_specs())
def test_mutated_example_specs(case):
    path, text = case
    run_case(text, path)


@pytest.mark.parametrize("seed", range(40))
def test_huge_numbers_fail_fast(seed):
    """A 10**12 in any number position is refused (or computed) at once."""
    import time

    path, text = SEEDS[seed % len(SEEDS)]
    numbers = [m for m in _TOKEN.finditer(text) if _NUMBER.match(m.group())]
    m = numbers[(seed * 7) % len(numbers)]
    mutated = text[: m.start()] + "1000000000000" + text[m.end() :]
    t0 = time.perf_counter()
    run_case(mutated, path)
    assert time.perf_counter() - t0 < 5.0
