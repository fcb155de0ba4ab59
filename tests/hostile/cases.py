"""The hostile-input corpus: what a careless or hostile user may hand the CLI.

Each :class:`Case` is one command line run in a folder of its own that holds ``s.mbn``
(a small valid spec) and whatever the case's ``setup`` makes there (FIFOs, huge sparse
files, damaged archives, ...; everything large is made on the fly). Every case must be
refused: exit status 2, no traceback, a message matching ``expect``, and the folder left
exactly as it was. ``tests/test_hostile.py`` runs them.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import attrs
import numpy as np

SPEC = """\
network small {
  input 16x16x3 u8
  defaults { weights int4 narrow; activations uint4 }
  weights random(seed = 1)
  conv    c0 3x3 stride 2 pad 1 -> 8 fold(pe = 8, simd = 3)
  dwsep   b1 stride 1 -> 16 fold(dw_pe = 8, pe = 8, simd = 8)
  avgpool pool global
  fc      fc -> 10
  topk    top 3
}
"""

USAGE = r"usage: mbdsl"


@attrs.frozen
class Case:
    family: str
    name: str
    argv: tuple[str, ...]
    expect: str  # regex searched in stderr
    setup: Callable[[Path], None] | None = None

    @property
    def id(self) -> str:
        return f"{self.family}-{self.name}"


CASES: list[Case] = []


def case(family: str, name: str, argv, expect: str, setup=None) -> None:
    CASES.append(Case(family, name, tuple(argv), expect, setup))


def spec(text: str, name: str = "t.mbn"):
    def make(d: Path) -> None:
        (d / name).write_text(text)

    return make


def both(*makers):
    def make(d: Path) -> None:
        for m in makers:
            m(d)

    return make


def with_layers(body: str, header: str = "  input 16x16x3 u8\n", tail: str = "") -> str:
    return f"network t {{\n{header}{body}\n}}\n{tail}"


# --- files that are not files -----------------------------------------------------------------


def fifo(name: str):
    return lambda d: os.mkfifo(d / name)


def folder(name: str):
    return lambda d: (d / name).mkdir()


def sparse(name: str, size: int):
    def make(d: Path) -> None:
        with open(d / name, "wb") as f:
            f.truncate(size)

    return make


def symlink(name: str, target: str):
    return lambda d: os.symlink(target, d / name)


def data(name: str, content: bytes):
    return lambda d: (d / name).write_bytes(content)


NOT_FILES = {
    # name -> (setup for a path "X", regex)
    "fifo": (fifo, r"is a named pipe \(FIFO\), not a regular file"),
    "devzero": (lambda n: symlink(n, "/dev/zero"), r"is a character device, not a regular file"),
    "devnull": (lambda n: symlink(n, "/dev/null"), r"is a character device, not a regular file"),
    "directory": (folder, r"is a directory, not a regular file"),
    "missing": (lambda n: (lambda d: None), r"no such file or directory"),
    "dangling-link": (lambda n: symlink(n, "nowhere/at/all"), r"no such file or directory"),
    "link-loop": (lambda n: symlink(n, n), r"too many levels of symbolic links"),
}

SPEC_COMMANDS = ("check", "run", "gen", "fold", "report", "gap8-plan", "gap8-run", "sim", "csim")

# 1. The spec itself.
for kind, (make, regex) in NOT_FILES.items():
    for command in SPEC_COMMANDS:
        case("spec-file", f"{kind}-{command}", [command, "x.mbn"], r"error: .*spec x\.mbn.*" + regex, make("x.mbn"))
for command in ("check", "run", "gen", "fold", "report"):
    case("spec-file", f"dev-zero-path-{command}", [command, "/dev/zero"], r"spec /dev/zero is a character device")
    case("spec-file", f"too-large-{command}", [command, "big.mbn"], r"spec big\.mbn is 262,145 bytes, more than the limit of 262,144",
         sparse("big.mbn", (256 << 10) + 1))
    case("spec-file", f"not-utf8-{command}", [command, "bin.mbn"], r"spec bin\.mbn is not UTF-8 text \(byte 0 is 0xff\)",
         data("bin.mbn", b"\xff\xfe\x00network"))
for command in ("check", "run", "gen", "fold", "report"):
    case("spec-file", f"path-not-utf8-{command}", [command, "\udcff.mbn"], r"error: the spec path \\xff\.mbn is not UTF-8",
         data("\udcff.mbn", SPEC.encode()))
case("output", "import-path-not-utf8", ["import", "m.onnx", "-o", "\udcfe.mbn"], r"error: the spec path \\xfe\.mbn is not UTF-8")
case("spec-file", "empty", ["check", "e.mbn"], r"no network in e\.mbn", data("e.mbn", b""))
case("spec-file", "nul-bytes", ["check", "z.mbn"], r"unexpected character '\\x00'", data("z.mbn", b"\x00" * 64))
case("spec-file", "huge-comment-line", ["check", "c.mbn"], r"more than the limit of 262,144", data("c.mbn", b"#" + b"x" * (2 << 20)))
case("spec-file", "statements-4500", ["check", "c.mbn"], r"has more than 4096 layers",
     spec(with_layers("\n".join("  conv 3x3 stride 1 pad 1 -> 8 fold(pe = 8, simd = 3)" for _ in range(4500))), "c.mbn"))

# 2. Spec text: numbers, digits, nesting, sizes, target settings.
LONG = "9" * 5000
NUMBER_SPOTS = {
    "input-size": with_layers("  fc -> 10", header=f"  input {LONG}x16x3 u8\n"),
    "outputs": with_layers(f"  fc -> {LONG}"),
    "stride": with_layers(f"  conv 3x3 stride {LONG} -> 8"),
    "pad": with_layers(f"  conv 3x3 pad {LONG} -> 8"),
    "kernel": with_layers(f"  conv {LONG}x3 -> 8"),
    "repeat": with_layers(f"  repeat {LONG} {{ fc -> 10 }}"),
    "fold-pe": with_layers(f"  fc -> 10 fold(pe = {LONG})"),
    "dtype": with_layers(f"  fc -> 10 weights int{LONG}"),
    "seed": with_layers("  fc -> 10").replace("input 16x16x3 u8\n", f"input 16x16x3 u8\n  weights random(seed = {LONG})\n"),
    "clock": with_layers("  fc -> 10", tail=f"target fpga {{ clock {LONG} MHz }}\n"),
    "fps": with_layers("  fc -> 10", tail=f"target fpga {{ fps {LONG} }}\n"),
    "gap8-l1": with_layers("  fc -> 10", tail=f"target gap8 {{ l1 {LONG} B }}\n"),
    "scale": with_layers("  fc -> 10", header=f"  input 16x16x3 u8 {{ scale 1/{LONG} }}\n"),
    "topk": with_layers(f"  fc -> 10\n  topk {LONG}"),
    "shift": with_layers(f"  avgpool global shift {LONG}\n  fc -> 10"),
    "macro-arg": f"network t {{\n  mobilenet_v1(alpha = {LONG})\n}}\n",
}
for where, text in NUMBER_SPOTS.items():
    case("spec-text", f"long-number-{where}", ["check", "t.mbn"], r"t\.mbn:\d+:\d+: error: (number too large|.*out of range|.*must lie between)", spec(text))
DIGITS = {"arabic": "\u0661\u0666", "devanagari": "\u0967\u096c", "fullwidth": "\uff11\uff16", "bengali": "\u09e7\u09ec"}
for script, d in DIGITS.items():
    for where, text in {
        "input": with_layers("  fc -> 10", header=f"  input {d}x16x3 u8\n"),
        "outputs": with_layers(f"  fc -> {d}"),
        "repeat": with_layers(f"  repeat {d} {{ fc -> 10 }}"),
        "fold": with_layers(f"  fc -> 10 fold(pe = {d})"),
        "dtype": with_layers(f"  fc -> 10 weights int{d}"),
    }.items():
        regex = r"unexpected name 'int'" if where == "dtype" else r"unexpected character .*a digit other than 0-9"
        case("spec-text", f"digits-{script}-{where}", ["check", "t.mbn"], r"t\.mbn:\d+:\d+: error: " + regex, spec(text))
for depth in (33, 100, 1000, 5000):
    body = "  " + "repeat 1 { " * depth + "fc -> 10" + " }" * depth
    case("spec-text", f"repeat-nested-{depth}", ["check", "t.mbn"], r"t\.mbn:3:\d+: error: blocks nested more than 32 deep", spec(with_layers(body)))
case("spec-text", "braces-nested-100000", ["check", "t.mbn"], r"blocks nested more than 32 deep", spec("{" * 100000))
case("spec-text", "repeat-multiplied", ["check", "t.mbn"], r"has more than 4096 layers",
     spec(with_layers("  repeat 1000 { repeat 1000 { fc -> 10 } }")))
case("spec-text", "repeat-count-huge", ["check", "t.mbn"], r"repeat count 100000 is larger than 1024", spec(with_layers("  repeat 100000 { fc -> 10 }")))
for what, text, regex in (
    ("input-64k", with_layers("  fc -> 10", header="  input 100000x16x3 u8\n"), r"error: "),
    ("channels-huge", with_layers("  fc -> 10000000"), r"error: "),
    ("kernel-huge", with_layers("  conv 1000x1000 -> 8"), r"error: "),
    ("stride-huge", with_layers("  conv 3x3 stride 100000 -> 8"), r"error: "),
    ("fps-tiny", with_layers("  fc -> 10", tail="target fpga { fps 1e-300 }\n"), r"'fps' must lie between"),
    ("fps-huge", with_layers("  fc -> 10", tail="target fpga { fps 1e300 }\n"), r"'fps' must lie between"),
    ("fps-zero", with_layers("  fc -> 10", tail="target fpga { fps 0 }\n"), r"'fps' must be positive"),
    ("fps-negative", with_layers("  fc -> 10", tail="target fpga { fps -5 }\n"), r"error: "),
    ("clock-tiny", with_layers("  fc -> 10", tail="target fpga { clock 1e-300 MHz }\n"), r"'clock' must lie between"),
    ("clock-huge", with_layers("  fc -> 10", tail="target fpga { clock 1e300 GHz }\n"), r"'clock' must lie between"),
    ("mac-lanes-huge", with_layers("  fc -> 10", tail="target fpga { mac_lanes 99999999999999 }\n"), r"'mac_lanes' takes one whole number"),
    ("lut-huge", with_layers("  fc -> 10", tail="target fpga { lut 1e20 }\n"), r"'lut' takes one whole number"),
    ("gap8-l2-huge", with_layers("  fc -> 10", tail="target gap8 { l2 1e300 }\n"), r"'l2' must lie between"),
    ("gap8-cores-huge", with_layers("  fc -> 10", tail="target gap8 { cores 1e300 }\n"), r"1 to 8 cores"),
    ("division-tiny", with_layers("  fc -> 10", header="  input 16x16x3 u8 { scale 1e-300/1e300 }\n"), r"error: "),
    ("division-huge", with_layers("  fc -> 10", header="  input 16x16x3 u8 { scale 1e300/1e-300 }\n"), r"out of range"),
    ("exponent-huge", with_layers("  fc -> 10", header="  input 16x16x3 u8 { scale 1e99999 }\n"), r"out of range"),
    ("stray-unicode", with_layers("  fc \u2192 10"), r"unexpected character"),
    ("bidi-override", with_layers("  fc -> 10 \u202e"), r"unexpected character"),
    ("control-char", with_layers("  fc -> 10 \x07"), r"unexpected character"),
    ("string-huge", with_layers("  fc -> 10").replace("input 16x16x3 u8\n", "input 16x16x3 u8\n  weights \"" + "a" * 100000 + "\"\n"), r"a string of 100,000 characters; at most 4,096 are taken"),
    ("name-huge", with_layers("  fc " + "n" * 100000 + " -> 10"), r"a name of 100,000 characters; at most 128 are taken"),
    ("network-name-huge", "network " + "n" * 5000 + " {\n  input 16x16x3 u8\n  fc -> 10\n}\n", r"a name of 5,000 characters; at most 128 are taken"),
    ("kind-huge", with_layers("  " + "k" * 5000 + " -> 10"), r"a name of 5,000 characters; at most 128 are taken"),
    ("layers-many", with_layers("\n".join("  fc -> 10" for _ in range(5000))), r"has more than 4096 layers"),
):
    case("spec-text", what, ["check", "t.mbn"], regex, spec(text))
# Settings given twice used to override silently.
for what, text, regex in (
    ("seed-twice", with_layers("  fc -> 10").replace("input 16x16x3 u8\n", "input 16x16x3 u8\n  weights random(seed = 1, seed = 2)\n"), r"t\.mbn:3:\d+: error: 'seed' is given twice"),
    ("clock-twice", with_layers("  fc -> 10", tail="target fpga {\n  clock 100 MHz\n  clock 200 MHz\n}\n"), r"t\.mbn:7:3: error: 'clock' is given twice \(first at t\.mbn:6:3\)"),
    ("part-twice", with_layers("  fc -> 10", tail='target fpga { part "a"; part "b" }\n'), r"'part' is given twice"),
    ("fps-twice", with_layers("  fc -> 10", tail="target fpga { fps 10; fps 20 }\n"), r"'fps' is given twice"),
    ("gap8-l1-twice", with_layers("  fc -> 10", tail="target gap8 { l1 10 KiB; l1 60 KiB }\n"), r"'l1' is given twice"),
):
    case("spec-text", what, ["check", "t.mbn"], regex, spec(text))
# Networks beyond the reference's limits: refused by the commands that compute.
BIG = {
    "input-16k": with_layers("  conv 3x3 -> 8\n  fc -> 10", header="  input 16384x16384x3 u8\n"),
    "conv-65k": with_layers("  conv 3x3 -> 65536\n  fc -> 10"),
    "fc-65k": with_layers("  fc -> 65536\n  fc -> 65536"),
    "windows": with_layers("  conv 63x63 pad 31 -> 8\n  fc -> 10", header="  input 512x512x3 u8\n"),
}
for what, text in BIG.items():
    for command in ("run", "gen", "gap8-run", "sim", "csim"):
        case("spec-size", f"{what}-{command}", [command, "t.mbn"], r"t\.mbn:\d+:\d+: error: .*(values per image|weights); ", spec(text))
case("spec-size", "check-activations", ["check", "t.mbn", "--activations"], r"values per image", spec(BIG["input-16k"]))
WIDE = with_layers("  conv 3x3 stride 4 -> 4\n  fc -> 10", header="  input 1024x1024x3 u8\n")
for command in ("sim", "csim", "gap8-run"):
    case("spec-size", f"images-batch-{command}", [command, "t.mbn", "--images", "10000"],
         r"error: 10,000 images of 3,145,728 bytes need 31,457,280,000 bytes, more than 268,435,456", spec(WIDE))
GAP8_BIG = with_layers("  defaults { quant multiplier; weights int8; activations uint8 }\n  conv 3x3 pad 1 -> 64\n  avgpool global\n  fc -> 10",
                       header="  input 4096x4096x3 u8\n", tail="target gap8 { l3 1000 MiB }\n")
for command in ("check", "gap8-plan", "report", "gap8-run"):
    case("spec-size", f"gap8-plan-{command}", [command, "t.mbn"], r"t\.mbn:2:3: error: the input holds 50,331,648 values per image", spec(GAP8_BIG))

# 3. Includes.
def inc(path: str) -> str:
    return f'include "{path}"\n' + SPEC
for kind, (make, regex) in NOT_FILES.items():
    for command in ("check", "run", "gen"):
        case("include", f"{kind}-{command}", [command, "t.mbn"], r"t\.mbn:1:1: error: .*'x\.mbn'.*" + "(" + regex + ")",
             both(make("x.mbn"), spec(inc("x.mbn"))))
case("include", "dev-zero-absolute", ["check", "t.mbn"], r"t\.mbn:1:1: error: included file '/dev/zero' is a character device",
     spec(inc("/dev/zero")))
case("include", "empty-path", ["check", "t.mbn"], r"t\.mbn:1:1: error: .*is a directory", spec(inc("")))
case("include", "dot-path", ["check", "t.mbn"], r"t\.mbn:1:1: error: .*is a directory", spec(inc(".")))
case("include", "nul-in-path", ["check", "t.mbn"], r"t\.mbn:1:1: error: cannot read included file .*a path cannot hold a NUL character",
     spec(inc("a\0b.mbn")))
case("include", "name-too-long", ["check", "t.mbn"], r"t\.mbn:1:1: error: cannot read included file '.*': file name too long",
     spec(inc("a" * 300 + ".mbn")))
case("weights", "nul-in-path", ["run", "t.mbn"], r"t\.mbn:4:3: error: weight file .* not found",
     spec(SPEC.replace("weights random(seed = 1)", 'weights "a\0b.npz"')))
case("include", "self", ["check", "t.mbn"], r"include cycle: t\.mbn -> t\.mbn", spec(inc("t.mbn")))
case("include", "too-large", ["check", "t.mbn"], r"t\.mbn:1:1: error: included file 'x\.mbn' is 2,000,000 bytes, more than the limit",
     both(sparse("x.mbn", 2_000_000), spec(inc("x.mbn"))))
case("include", "not-utf8", ["check", "t.mbn"], r"t\.mbn:1:1: error: included file 'x\.mbn' is not UTF-8 text",
     both(data("x.mbn", b"# \xff\n"), spec(inc("x.mbn"))))


def twice(d: Path) -> None:
    (d / "x.mbn").write_text("target fpga { clock 100 MHz }\n")
    (d / "t.mbn").write_text('include "x.mbn"\ninclude "x.mbn"\n' + SPEC)


case("include", "twice", ["check", "t.mbn"], r"t\.mbn:2:1: error: 'x\.mbn' is already included at t\.mbn:1:1", twice)


def doubling(levels: int):
    """i0 includes i1 twice, i1 includes i2 twice, ...: 2^levels reads without the rule."""

    def make(d: Path) -> None:
        for i in range(levels):
            (d / f"i{i}.mbn").write_text(f'include "i{i + 1}.mbn"\ninclude "i{i + 1}.mbn"\n')
        (d / f"i{levels}.mbn").write_text("# leaf\n")
        (d / "t.mbn").write_text('include "i0.mbn"\n' + SPEC)

    return make


case("include", "doubling-12", ["check", "t.mbn"], r"i11\.mbn:2:1: error: 'i12\.mbn' is already included at i11\.mbn:1:1", doubling(12))
case("include", "doubling-25", ["check", "t.mbn"], r"i15\.mbn:1:1: error: includes nested more than 16 deep", doubling(25))


def diamond(d: Path) -> None:
    (d / "a.mbn").write_text('include "c.mbn"\n')
    (d / "b.mbn").write_text('include "c.mbn"\n')
    (d / "c.mbn").write_text("# shared\n")
    (d / "t.mbn").write_text('include "a.mbn"\ninclude "b.mbn"\n' + SPEC)


case("include", "diamond", ["check", "t.mbn"], r"b\.mbn:1:1: error: 'c\.mbn' is already included at a\.mbn:1:1", diamond)


def chain(length: int):
    def make(d: Path) -> None:
        for i in range(length):
            (d / f"c{i}.mbn").write_text(f'include "c{i + 1}.mbn"\n')
        (d / f"c{length}.mbn").write_text("# end\n")
        (d / "t.mbn").write_text('include "c0.mbn"\n' + SPEC)

    return make


for length in (17, 100, 3000):
    case("include", f"chain-{length}", ["check", "t.mbn"], r"c15\.mbn:1:1: error: includes nested more than 16 deep", chain(length))


def many(count: int):
    def make(d: Path) -> None:
        for i in range(count):
            (d / f"m{i}.mbn").write_text("# nothing\n")
        (d / "t.mbn").write_text("".join(f'include "m{i}.mbn"\n' for i in range(count)) + SPEC)

    return make


case("include", "many-300", ["check", "t.mbn"], r"t\.mbn:257:1: error: more than 256 included files", many(300))


def shares(count: int, size: int):
    """``count`` includes of ``size`` bytes each: each within the limit, together beyond it."""

    def make(d: Path) -> None:
        for i in range(count):
            (d / f"p{i}.mbn").write_text("#" * (size - 1) + "\n")
        (d / "t.mbn").write_text("".join(f'include "p{i}.mbn"\n' for i in range(count)) + SPEC)

    return make


case("include", "total-too-large", ["check", "t.mbn"], r"t\.mbn:3:1: error: with 'p2\.mbn' the spec and its included files hold 300,\d\d\d bytes, more than the limit of 262,144", shares(3, 100_000))


def cycle3(d: Path) -> None:
    (d / "a.mbn").write_text('include "b.mbn"\n')
    (d / "b.mbn").write_text('include "a.mbn"\n')
    (d / "t.mbn").write_text('include "a.mbn"\n' + SPEC)


case("include", "cycle", ["check", "t.mbn"], r"b\.mbn:1:1: error: include cycle: a\.mbn -> b\.mbn -> a\.mbn", cycle3)
case("include", "nested-blocks", ["check", "t.mbn"], r"x\.mbn:1:\d+: error: blocks nested more than 32 deep",
     both(data("x.mbn", b"{" * 1000), spec(inc("x.mbn"))))
case("include", "long-number", ["check", "t.mbn"], r"x\.mbn:1:\d+: error: number too large",
     both(data("x.mbn", f"target fpga {{ clock {LONG} }}\n".encode()), spec(inc("x.mbn"))))

# 4. Weight archives.
WSPEC = SPEC.replace("weights random(seed = 1)", 'weights "w.npz"')


def npz(members: dict[str, bytes], method=zipfile.ZIP_STORED):
    def make(d: Path) -> None:
        (d / "s.mbn").write_text(WSPEC)
        with zipfile.ZipFile(d / "w.npz", "w", method) as z:
            for name, content in members.items():
                z.writestr(name, content)

    return make


def npy(a) -> bytes:
    b = io.BytesIO()
    np.save(b, a, allow_pickle=True)
    return b.getvalue()


def npy_header(shape, descr="<i8") -> bytes:
    header = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header


def wfile(content: bytes, name="w.npz", spec_text=WSPEC):
    def make(d: Path) -> None:
        (d / "s.mbn").write_text(spec_text)
        (d / name).write_bytes(content)

    return make


def bomb(d: Path) -> None:
    """A small archive with a member that inflates to 1 GiB (deflated zeros, ~1 MB)."""
    (d / "s.mbn").write_text(WSPEC)
    with zipfile.ZipFile(d / "w.npz", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        info = zipfile.ZipInfo("c0.weights.npy")
        info.compress_type = zipfile.ZIP_DEFLATED
        with z.open(info, "w", force_zip64=True) as m:
            m.write(npy_header((1 << 27,)))
            chunk = bytes(1 << 22)
            for _ in range(256):
                m.write(chunk)


def duplicate(d: Path) -> None:
    import warnings

    (d / "s.mbn").write_text(WSPEC)
    with warnings.catch_warnings(), zipfile.ZipFile(d / "w.npz", "w") as z:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name it writes
        for _ in range(2):
            z.writestr("c0.weights.npy", npy(np.zeros((8, 3, 3, 3), np.int8)))


WEIGHT_CASES = {
    "fifo": (both(spec(WSPEC, "s.mbn"), fifo("w.npz")), r"weight file 'w\.npz' is a named pipe"),
    "devzero": (both(spec(WSPEC, "s.mbn"), symlink("w.npz", "/dev/zero")), r"weight file 'w\.npz' is a character device"),
    "directory": (both(spec(WSPEC, "s.mbn"), folder("w.npz")), r"weight file 'w\.npz' is a directory"),
    "missing": (spec(WSPEC, "s.mbn"), r"weight file 'w\.npz' not found"),
    "dangling-link": (both(spec(WSPEC, "s.mbn"), symlink("w.npz", "nowhere")), r"weight file 'w\.npz': no such file"),
    "too-large": (both(spec(WSPEC, "s.mbn"), sparse("w.npz", (256 << 20) + 1)), r"more than the limit of 268,435,456"),
    "text": (wfile(b"conv0.weights = 1 2 3\n"), r"is not an \.npz archive \(not a zip archive\)"),
    "empty": (wfile(b""), r"is not an \.npz archive \(not a zip archive\)"),
    "single-npy": (wfile(npy(np.zeros(3, np.int8))), r"is not an \.npz archive \(a single \.npy array"),
    "truncated-zip": (wfile(b"PK\x03\x04" + bytes(40)), r"is not an \.npz archive \(a damaged zip archive"),
    "member-not-npy": (npz({"c0.weights": npy(np.zeros(3, np.int8))}), r"member 'c0\.weights', which is not a \.npy array"),
    "member-text": (npz({"c0.weights.npy": b"hello"}), r"array 'c0\.weights' in 'w\.npz' is not a valid \.npy array"),
    "member-pickle": (npz({"c0.weights.npy": npy(np.array([object()], dtype=object))}), r"holds pickled Python objects"),
    "member-float": (npz({"c0.weights.npy": npy(np.zeros((8, 3, 3, 3), np.float32))}), r"has dtype float32; layer 'c0' needs integers"),
    "member-bool": (npz({"c0.weights.npy": npy(np.zeros((8, 3, 3, 3), bool))}), r"has dtype bool"),
    "member-complex": (npz({"c0.weights.npy": npy(np.zeros((8, 3, 3, 3), complex))}), r"has dtype complex128"),
    "member-struct": (npz({"c0.weights.npy": npy(np.zeros(3, [("a", "i4")]))}), r"has dtype"),
    "member-10e12": (npz({"c0.weights.npy": npy_header((10**6, 10**6))}), r"declares shape \(1000000, 1000000\)"),
    "member-negative-shape": (npz({"c0.weights.npy": npy_header((-8, 3)) + bytes(64)}), r"declares shape \(-8, 3\)"),
    "member-truncated": (npz({"c0.weights.npy": npy_header((100,)) + bytes(16)}), r"declares shape \(100,\)"),
    "member-unknown-layer": (npz({"nosuch.weights.npy": npy(np.zeros(3, np.int8))}), r"has array 'nosuch\.weights', but the network has no layer 'nosuch'"),
    "member-no-dot": (npz({"weights.npy": npy(np.zeros(3, np.int8))}), r"has array 'weights', but the network has no layer 'weights'"),
    "member-twice": (lambda d: duplicate(d), r"has array 'c0\.weights' twice"),
    "uint64-max": (npz({"c0.weights.npy": npy(np.full((8, 3, 3, 3), 2**64 - 1, np.uint64))}), r"has values up to 18446744073709551615"),
    "int64-min": (npz({"c0.weights.npy": npy(np.full((8, 3, 3, 3), -(2**63), np.int64))}), r"outside weight type int4"),
    "wrong-shape": (npz({"c0.weights.npy": npy(np.zeros((3, 3), np.int8))}), r"has shape \(3, 3\); layer 'c0' needs \(8, 3, 3, 3\)"),
    "missing-array": (npz({}), r"has no array 'c0\.weights'"),
    "bomb-1GiB": (bomb, r"unpacks to 1,073,741,952 bytes; at most 268,435,456 are read"),
}
for what, (make, regex) in WEIGHT_CASES.items():
    for command in ("run", "gen"):
        case("weights", f"{what}-{command}", [command, "s.mbn"], r"s\.mbn:4:3: error: " + ".*" + regex, make)


def members(n: int):
    def make(d: Path) -> None:
        (d / "s.mbn").write_text(WSPEC)
        with zipfile.ZipFile(d / "w.npz", "w") as z:
            for i in range(n):
                z.writestr(f"c0.x{i}.npy", b"")

    return make


case("weights", "members-70000", ["run", "s.mbn"], r"has 70,000 members; at most 65,536 are read", members(70000))

# 5. Images (format-independent failures only).
for kind, (make, regex) in NOT_FILES.items():
    for suffix in ("npy", "ppm", "raw"):
        case("image", f"{kind}-{suffix}-run", ["run", "s.mbn", "--image", f"x.{suffix}"], r"error: .*image x\." + suffix + ".*(" + regex + ")", make(f"x.{suffix}"))
    case("image", f"{kind}-csim", ["csim", "s.mbn", "--image", "x.npy"], r"error: .*image x\.npy.*(" + regex + ")", make("x.npy"))
case("image", "dev-zero-path", ["run", "s.mbn", "--image", "/dev/zero"], r"image /dev/zero is a character device")
case("image", "dev-urandom-path", ["run", "s.mbn", "--image", "/dev/urandom"], r"image /dev/urandom is a character device")
for suffix in ("npy", "ppm", "raw", "nv12"):
    case("image", f"too-large-{suffix}", ["run", "s.mbn", "--image", f"big.{suffix}"], r"more than the limit of 67,108,864", sparse(f"big.{suffix}", (64 << 20) + 1))
case("image", "second-of-two-fifo", ["run", "s.mbn", "--image", "ok.npy", "--image", "p.npy"], r"image p\.npy is a named pipe",
     both(data("ok.npy", npy(np.zeros((16, 16, 3), np.uint8))), fifo("p.npy")))

# 6. QONNX models (file-level here; graph-level cases need onnx and are built in the test).
for kind, (make, regex) in NOT_FILES.items():
    case("qonnx", f"{kind}", ["import", "x.onnx", "-o", "out.mbn"], r"error: .*model x\.onnx.*(" + regex + ")", make("x.onnx"))
case("qonnx", "dev-zero-path", ["import", "/dev/zero", "-o", "out.mbn"], r"model /dev/zero is a character device")
case("qonnx", "too-large", ["import", "big.onnx", "-o", "out.mbn"], r"more than the limit of 268,435,456", sparse("big.onnx", (256 << 20) + 1))
case("qonnx", "text", ["import", "t.onnx", "-o", "out.mbn"], r"cannot read t\.onnx as an ONNX model", data("t.onnx", b"this is not protobuf \xff\xff\xff"))
case("qonnx", "empty", ["import", "e.onnx", "-o", "out.mbn"], r"error: ", data("e.onnx", b""))
case("qonnx", "npz-as-model", ["import", "w.onnx", "-o", "out.mbn"], r"cannot read w\.onnx as an ONNX model", data("w.onnx", b"PK\x03\x04" + bytes(100)))

# 7. Output paths.
FILE_IN_WAY = data("f", b"a file\n")
for command, argv in {
    "gen": ["gen", "s.mbn", "-o", "f"],
    "gen-under": ["gen", "s.mbn", "-o", "f/sub"],
    "gen-hls": ["gen", "s.mbn", "--target", "hls", "-o", "f"],
    "fold-missing-folder": ["fold", "s.mbn", "-o", "nowhere/x.mbn"],
    "fold-onto-folder": ["fold", "s.mbn", "-o", "d"],
    "fold-onto-fifo": ["fold", "s.mbn", "-o", "p"],
    "fold-under-file": ["fold", "s.mbn", "-o", "f/x.mbn"],
    "report-onto-folder": ["report", "s.mbn", "-o", "d"],
    "report-under-file": ["report", "s.mbn", "-o", "f/r.html"],
    "report-onto-fifo": ["report", "s.mbn", "-o", "p"],
    "sim-build-dir-file": ["sim", "s.mbn", "--build-dir", "f"],
    "sim-output-file": ["sim", "s.mbn", "-o", "f"],
    "csim-build-dir-file": ["csim", "s.mbn", "--build-dir", "f/x"],
    "csim-output-file": ["csim", "s.mbn", "-o", "f"],
    "gap8-keep-file": ["gap8-run", "s.mbn", "--keep", "f"],
    "import-onto-folder": ["import", "m.onnx", "-o", "d"],
    "import-missing-folder": ["import", "m.onnx", "-o", "nowhere/x.mbn"],
    "import-under-file": ["import", "m.onnx", "-o", "f/x.mbn"],
}.items():
    case("output", command, argv, r"error: cannot write .*(is not a folder|does not exist|it is a folder|not a regular file|in the way)",
         both(FILE_IN_WAY, folder("d"), fifo("p")))

# 8. Command-line values.
VALUES = {
    "run": [("--seed", "-1"), ("--seed", "99999999999999999999"), ("--seed", "x"), ("--random", "0"), ("--random", "-1"),
            ("--random", "100000000"), ("--random", "1e3"), ("--random", LONG)],
    "sim": [("--images", "0"), ("--images", "-3"), ("--images", "100000000"), ("--stall", "1.0"), ("--stall", "-0.1"),
            ("--stall", "nan"), ("--stall", "inf"), ("--stall", "2"), ("--seed", "-1")],
    "csim": [("-j", "-1"), ("-j", "0"), ("-j", "1000000"), ("--images", "0"), ("--images", "100000000"), ("--seed", "-5")],
    "gap8-run": [("--images", "0"), ("--images", "-1"), ("--images", "100000000"), ("--seed", "-1")],
    "fold": [("--fps", "nan"), ("--fps", "0"), ("--fps", "-5"), ("--fps", "inf"), ("--fps", "1e-300"), ("--fps", "1e999"),
             ("--mac-lanes", "0"), ("--mac-lanes", "-1"), ("--mac-lanes", "1" + "0" * 30), ("--clock", "1e999"),
             ("--clock", "nan"), ("--clock", "0"), ("--clock", "-1MHz"), ("--clock", "1e-300"), ("--clock", "fast"),
             ("--lut", "nan"), ("--lut", "inf"), ("--lut", "0"), ("--lut", "-5"), ("--bram", "1e999"), ("--bram", LONG)],
}
for command, values in VALUES.items():
    for option, value in values:
        case("cli", f"{command}{option}={value[:20]}", [command, "s.mbn", option, value], USAGE + r"[\s\S]*error: argument " + ".*" + option.lstrip("-"))
for option, value in (("--verify", "100000000"), ("--verify", "-1"), ("--seed", "-1"), ("--fold", "maybe")):
    case("cli", f"import{option}={value}", ["import", "m.onnx", "-o", "out.mbn", option, value], USAGE + r"[\s\S]*error: argument " + option)
case("cli", "unknown-command", ["frobnicate"], USAGE)
case("cli", "no-command", [], USAGE)
case("cli", "unknown-target", ["gen", "s.mbn", "--target", "vhdl"], USAGE + r"[\s\S]*invalid choice")
case("cli", "unknown-dsp", ["fold", "s.mbn", "--dsp", "many"], USAGE + r"[\s\S]*invalid choice")


# QONNX graphs: a small valid model (tests/qonnx_models/graphs.py), damaged one way each.
def qonnx_model(mutate):
    def make(d: Path) -> None:
        import onnx
        from onnx import helper, numpy_helper
        from qonnx_models.graphs import Builder

        b = Builder(8, 8, 3, seed=1)
        b.conv(8, 3, 1, 0, wbits=8).bn().relu_quant(4)
        m = b.pool().flatten().gemm(4, bias=False).topk(2).model()
        mutate(m.graph, helper, numpy_helper)
        onnx.save(m, d / "m.onnx")

    return make


def _first(graph, op):
    return next(n for n in graph.node if n.op_type == op)


def _bits(value):
    def mutate(g, helper, nh):
        q = _first(g, "Quant")
        init = next(t for t in g.initializer if t.name == q.input[3])
        init.CopyFrom(nh.from_array(np.asarray(value, np.float32), init.name))

    return mutate


def _dims(dims):
    def mutate(g, helper, nh):
        init = max(g.initializer, key=lambda t: len(t.raw_data))
        del init.dims[:]
        init.dims.extend(dims)

    return mutate


def _identities(n):
    def mutate(g, helper, nh):
        conv = _first(g, "Conv")
        src = conv.input[1]
        for i in range(n):
            g.node.append(helper.make_node("Identity", [src], [f"id{i}"], name=f"id{i}"))
            src = f"id{i}"
        conv.input[1] = src

    return mutate


def _cycle(g, helper, nh):
    g.node.append(helper.make_node("Add", ["image", "loop_b"], ["loop_a"], name="loop_add"))
    g.node.append(helper.make_node("Relu", ["loop_a"], ["loop_b"], name="loop_relu"))


def _dangling(g, helper, nh):
    _first(g, "Conv").input[0] = "ghost"


def _unused_input(g, helper, nh):
    for n in g.node:
        for i, name in enumerate(n.input):
            if name == "image":
                n.input[i] = n.input[1] if len(n.input) > 1 else name
    g.initializer.append(nh.from_array(np.zeros(1, np.float32), "spare"))


def _weight_value(value):
    def mutate(g, helper, nh):
        conv = _first(g, "Conv")
        quant = next(n for n in g.node if conv.input[1] in n.output)
        init = next(t for t in g.initializer if t.name == quant.input[0])
        a = nh.to_array(init).copy()
        a.flat[0] = value
        init.CopyFrom(nh.from_array(a, init.name))

    return mutate


def _scale_shape(g, helper, nh):
    conv = _first(g, "Conv")
    quant = next(n for n in g.node if conv.input[1] in n.output)
    init = next(t for t in g.initializer if t.name == quant.input[1])
    init.CopyFrom(nh.from_array(np.ones(7, np.float32), init.name))


def _affine_inf(g, helper, nh):
    for n in g.node:
        if n.op_type in ("Mul", "Add", "BatchNormalization"):
            for name in n.input[1:]:
                init = next((t for t in g.initializer if t.name == name), None)
                if init is not None:
                    a = nh.to_array(init).copy()
                    a.flat[0] = np.inf
                    init.CopyFrom(nh.from_array(a, init.name))
                    return


QONNX_GRAPHS = {
    "weight-nan": (_weight_value(np.nan), r"the quantized constant holds nan or inf"),
    "weight-inf": (_weight_value(np.inf), r"the quantized constant holds nan or inf"),
    "scale-shape": (_scale_shape, r"the scale's shape \(7,\) does not fit the tensor's \(8, 3, 3, 3\)"),
    "affine-inf": (_affine_inf, r"its constants make the scale or offset infinite or not a number"),
    "bits-nan": (_bits(np.nan), r"bit width nan is not a whole number of bits"),
    "bits-inf": (_bits(np.inf), r"bit width inf is not a whole number of bits"),
    "bits-negative": (_bits(-3.0), r"bit width -3\.0 is not a whole number of bits"),
    "init-dims-exceed": (_dims([1000, 1000]), r"initializer '.*' (cannot be read|holds)"),
    "init-dims-huge": (_dims([10**6, 10**6]), r"initializer '.*' declares dims \[1000000, 1000000\]"),
    "init-dims-negative": (_dims([-1, 4]), r"initializer '.*' declares negative dims \[-1, 4\]"),
    "identity-chain-3000": (_identities(3000), r"more than 64 Identity nodes in a row"),
    "cycle": (_cycle, r"node 'loop_\w+' \(\w+\): the graph has a cycle through this node"),
    "dangling-tensor": (_dangling, r"node '.*' \(Conv\): it reads tensor 'ghost', which no node produces"),
    "unused-input": (_unused_input, r"graph input 'image' feeds no node"),
}
for what, (mutate, regex) in QONNX_GRAPHS.items():
    case("qonnx", f"graph-{what}", ["import", "m.onnx", "-o", "out.mbn"], r"error: (node .*: )?" + regex, qonnx_model(mutate))


def qonnx_large(d: Path) -> None:
    import onnx
    from qonnx_models.graphs import Builder

    b = Builder(300, 300, 3, seed=1, samples=2)
    b.conv(8, 3, 2, 0, wbits=8).bn().relu_quant(4)
    onnx.save(b.pool().flatten().gemm(4, bias=False).topk(2).model(), d / "m.onnx")


case("qonnx", "verify-images-too-large", ["import", "m.onnx", "-o", "out.mbn", "--verify", "1000"],
     r"error: --verify 1000 needs 270,000,000 bytes of images, more than 268,435,456", qonnx_large)


# 9. Image formats (decoded by Pillow) and evaluation datasets.
def _npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


IMAGE_FORMATS = {
    "ppm-empty": ("x.ppm", b"", r"cannot read it|not an image file"),
    "ppm-header-only": ("x.ppm", b"P6\n16 16\n255\n", r"cannot read it: image file is truncated"),
    "ppm-bad-header": ("x.ppm", b"P6\n99999999999 1\n255\n", r"cannot read it|not an image file"),
    "png-of-raw-bytes": ("x.png", bytes(16 * 16 * 3), r"not an image file that Pillow can decode"),
    "jpeg-truncated": ("x.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", r"cannot read it|not an image file"),
    "text-as-bmp": ("x.bmp", b"hello, not a bitmap\n" * 10, r"not an image file that Pillow can decode"),
    "npz-named-npy": ("x.npy", _npz_bytes(a=np.zeros((16, 16, 3), np.uint8)), r"is an \.npz archive, not a single \.npy array"),
    "npy-channels-first": ("x.npy", npy(np.zeros((3, 16, 16), np.uint8)), r"channels first|\(3, 16, 16\)"),
    "npy-float": ("x.npy", npy(np.zeros((16, 16, 3), np.float32)), r"holds float32 values; images are uint8"),
    "npy-pickled": ("x.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }" + b" " * 50 + b"\n" + bytes(8),
                    r"cannot read it|pickle"),
    "raw-bytes-for-u8": ("x.raw", bytes(16 * 16 * 3), r"not an image file that Pillow can decode"),
    "nv12-for-u8": ("x.nv12", bytes(16 * 16 * 3 // 2), r"raw bytes; the network takes no raw frames"),
}
for what, (name, content, regex) in IMAGE_FORMATS.items():
    case("image", f"format-{what}", ["run", "s.mbn", "--image", name], r"error: .*image " + name.replace(".", r"\.") + r".*(" + regex + ")", data(name, content))

DATASETS = {
    "npz-text": ("d.npz", data("d.npz", b"not a zip\n"), r"dataset d\.npz: not an \.npz archive"),
    "npz-no-labels": ("d.npz", data("d.npz", _npz_bytes(images=np.zeros((2, 16, 16, 3), np.uint8))), r"dataset d\.npz: no array 'labels'"),
    "npz-fifo": ("d.npz", fifo("d.npz"), r"dataset d\.npz is a named pipe"),
    "npz-too-large": ("d.npz", sparse("d.npz", (2 << 30) + 1), r"dataset d\.npz is [\d,]+ bytes, more than the limit of 2,147,483,648"),
    "empty-folder": ("ds", folder("ds"), r"dataset ds: no class folders"),
    "not-a-dataset": ("s.mbn", None, r"dataset s\.mbn: neither a folder nor an \.npz"),
}
for what, (name, make, regex) in DATASETS.items():
    case("eval", what, ["eval", "s.mbn", name], r"error: " + regex, make)
for option, value in (("-j", "0"), ("-j", "-2"), ("--limit", "0"), ("--shard-size", "-1"), ("--backend", "fpga")):
    case("cli", f"eval{option}={value}", ["eval", "s.mbn", "d.npz", option, value], USAGE + r"[\s\S]*error: argument ")
