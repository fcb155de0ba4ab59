"""The error corpus (tests/errors/*.mbn): each bad spec gives exactly its expected diagnostic.

See tests/errors/README.md for the header format. Each case runs through the CLI on a
copy of the corpus, so that the test can also check that nothing is written on disk.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from mbdsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "errors"
MBDSL = Path(sys.executable).with_name("mbdsl")

_EXPECT = re.compile(r"# expect: (?:(?P<file>[^:\s]+):)?(?P<line>\d+):(?P<column>\d+): (?P<message>.+)")
_HINT = re.compile(r"# hint: (?P<hint>.+)")
_COMMAND = re.compile(r"# command: (?P<command>check|run)\s*$")
_FIRST = re.compile(r"(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): error: (?P<message>.*)")


@attrs.frozen
class Case:
    name: str
    command: str
    file: str  # where the error is located (the case itself, or an included file)
    line: int
    column: int
    message: str  # regex, matched whole
    hint: str | None  # regex, matched whole; None: no hint


def read_case(path: Path) -> Case:
    header = [line for line in path.read_text().split("\n") if line.startswith("#")]
    expect = [m for m in map(_EXPECT.fullmatch, header) if m]
    hint = [m for m in map(_HINT.fullmatch, header) if m]
    command = [m for m in map(_COMMAND.fullmatch, header) if m]
    assert len(expect) == 1, f"{path.name}: needs exactly one '# expect: LINE:COL: REGEX' line"
    assert len(hint) == 1, f"{path.name}: needs exactly one '# hint: REGEX' line ('# hint: NONE' for none)"
    e = expect[0]
    h = hint[0]["hint"]
    return Case(
        name=path.name,
        command=command[0]["command"] if command else "check",
        file=e["file"] or path.name,
        line=int(e["line"]),
        column=int(e["column"]),
        message=e["message"],
        hint=None if h == "NONE" else h,
    )


CASES = [read_case(p) for p in sorted(CORPUS.glob("*.mbn"))]
SUBPROCESS_CASES = [
    "syntax_missing_brace.mbn",
    "unknown_layer_kind.mbn",
    "fold_pe_not_dividing.mbn",
    "acc_too_narrow.mbn",
    "include_cycle_a.mbn",
    "weights_missing_npz.mbn",
    "no_network.mbn",
    "topk_larger_than_classes.mbn",
]


def snapshot(top: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``top`` with its size and mtime."""
    out = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            p = os.path.join(folder, name)
            st = os.stat(p)
            out[os.path.relpath(p, top)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """A private copy of the corpus as the working directory, and an empty TMPDIR."""
    work = tmp_path / "work"
    shutil.copytree(CORPUS, work / "tests" / "errors")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.chdir(work / "tests" / "errors")
    monkeypatch.setenv("TMPDIR", str(tmp))
    before = snapshot(work)
    yield work / "tests" / "errors"
    assert snapshot(work) == before, "the CLI wrote, changed or removed files"
    assert not os.listdir(tmp), f"the CLI wrote temporary files: {os.listdir(tmp)}"


def check_diagnostic(case: Case, status: int, out: str, err: str, folder: Path) -> None:
    assert status == 2, f"exit status {status}\n{err}"
    assert out == "", f"unexpected output on stdout:\n{out}"
    assert "Traceback" not in err, err
    lines = err.rstrip("\n").split("\n")
    first = _FIRST.fullmatch(lines[0])
    assert first, f"first line is not 'file:line:col: error: message':\n{err}"
    assert (first["file"], int(first["line"]), int(first["column"])) == (case.file, case.line, case.column), lines[0]
    assert re.fullmatch(case.message, first["message"]), f"message {first['message']!r} does not match {case.message!r}"
    # The source line, then the caret under the column.
    source = (folder / case.file).read_text().split("\n")[case.line - 1].expandtabs(1)
    assert lines[1] == f"{case.line:5d} | {source}", lines[1]
    caret = re.fullmatch(r"      \| ( *)\^(~*)", lines[2])
    assert caret, lines[2]
    assert len(caret[1]) == case.column - 1, f"caret at column {len(caret[1]) + 1}, expected {case.column}"
    assert case.column + len(caret[2]) <= len(source) + 1, "the underline runs past the end of the line"
    hints = [line[len("hint: ") :] for line in lines[3:] if line.startswith("hint: ")]
    if case.hint is None:
        assert not hints, hints
    else:
        assert len(hints) == 1, f"expected one hint line:\n{err}"
        assert re.fullmatch(case.hint, hints[0]), f"hint {hints[0]!r} does not match {case.hint!r}"
    assert len(lines) == 3 + len(hints), f"unexpected extra output:\n{err}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(case, corpus, capsys):
    status = main([case.command, case.name])
    out, err = capsys.readouterr()
    check_diagnostic(case, status, out, err, corpus)


@pytest.mark.slow
@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_corpus_case_through_the_installed_command(name, corpus):
    case = next(c for c in CASES if c.name == name)
    env = dict(os.environ, COLUMNS="200", PYTHONWARNINGS="ignore")
    p = subprocess.run([str(MBDSL), case.command, case.name], capture_output=True, text=True, env=env, timeout=120)
    check_diagnostic(case, p.returncode, p.stdout, p.stderr, corpus)


def test_corpus_is_large_and_covers_every_kind_of_mistake():
    names = {c.name for c in CASES}
    assert len(CASES) >= 30
    required = {
        # syntax
        "syntax_missing_brace.mbn", "syntax_stray_character.mbn", "syntax_missing_outputs.mbn",
        "syntax_unterminated_string.mbn", "syntax_bad_kernel_size.mbn", "syntax_bad_input_size.mbn",
        # names
        "unknown_layer_kind.mbn", "unknown_fold_key.mbn", "unknown_macro.mbn", "unknown_macro_argument.mbn",
        "unknown_target.mbn", "unknown_target_setting.mbn", "unknown_unit.mbn", "duplicate_layer_name.mbn",
        "duplicate_input.mbn", "duplicate_defaults.mbn",
        # shapes
        "kernel_larger_than_input.mbn", "padding_not_smaller_than_kernel.mbn", "topk_larger_than_classes.mbn",
        "layer_after_topk.mbn", "no_input.mbn", "no_layers.mbn", "nv12_odd_size.mbn", "repeat_zero.mbn",
        # bit widths and accumulators
        "weights_9_bits.mbn", "weights_0_bits.mbn", "weights_unsigned.mbn", "narrow_unsigned.mbn",
        "acc_too_narrow.mbn", "multiplier_acc_overflow.mbn",
        # folding
        "fold_pe_not_dividing.mbn", "fold_simd_not_dividing.mbn", "fold_depthwise_simd.mbn",
        # includes and weight files
        "include_cycle_a.mbn", "include_cycle_b.mbn", "include_missing.mbn", "weights_missing_npz.mbn",
        "weights_malformed_npz.mbn",
    }  # fmt: skip
    assert required <= names, sorted(required - names)


def test_every_case_has_a_hint():
    assert [c.name for c in CASES if c.hint is None] == []


def test_did_you_mean_names_the_intended_word():
    for name, word in [
        ("unknown_layer_kind.mbn", "dwconv"),
        ("unknown_fold_key.mbn", "simd"),
        ("unknown_macro.mbn", "mobilenet_v1"),
        ("unknown_macro_argument.mbn", "alpha"),
        ("unknown_target.mbn", "fpga"),
        ("unknown_target_setting.mbn", "cores"),
        ("unknown_quant_style.mbn", "multiplier"),
    ]:
        case = next(c for c in CASES if c.name == name)
        assert case.hint.startswith(f"did you mean '{word}'\\?"), (name, case.hint)


def test_folding_hints_list_the_legal_values():
    for name in ("fold_pe_not_dividing.mbn", "fold_simd_not_dividing.mbn", "fold_depthwise_simd.mbn", "fold_conv_simd.mbn"):
        case = next(c for c in CASES if c.name == name)
        assert re.match(r"legal (PE|SIMD|dw_pe|dw_simd) values: 1, \d", case.hint), (name, case.hint)
