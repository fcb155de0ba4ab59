"""mbdsl.frontend.elaborate (and macros): defaults, naming, repeat, dwsep, the
mobilenet_v1 macro, includes, targets; elaboration errors pinned with anchored regexes."""

from __future__ import annotations

import re

import pytest

from mbdsl import ir
from mbdsl.dtypes import IntType
from mbdsl.errors import IncludeError, MbdslError, QuantError, ShapeError, SpecNameError, SpecStructureError, SpecValueError, TargetError
from mbdsl.frontend import load, load_string
from mbdsl.frontend.limits import MAX_CHANNELS, MAX_LAYERS, MAX_REPEAT
from mbdsl.frontend.macros import MOBILENET_V1_BLOCKS
from mbdsl.passes.shapes import infer_shapes

INT4N = IntType(4, True, narrow=True)
UINT4 = IntType(4, False)


def net(body: str, tail: str = "", inp: str = "input 32x32x3 u8") -> ir.Network:
    return load_string(f"network t {{\n  {inp}\n{body}\n}}\n{tail}", "t.mbn")


def names(n: ir.Network) -> list[str]:
    return [layer.name for layer in n.layers]


def raises(cls, message: str, text: str, hint: str | None = None, where: tuple[int, int] | None = None):
    """Elaborating ``text`` raises ``cls`` whose message (and hint) match whole."""
    with pytest.raises(cls) as info:
        load_string(text, "t.mbn")
    err = info.value
    assert re.fullmatch(message, err.message), err.message
    if hint is not None:
        assert re.fullmatch(hint, err.hint or ""), err.hint
    if where is not None:
        assert (err.span.line, err.span.column) == where, err.span
    assert err.span is not None and err.render()
    return err


# --- defaults and per-layer settings ------------------------------------------------------------


def test_builtin_defaults():
    n = net("conv c 3x3 -> 8\n dwconv d\n avgpool global\n fc f -> 10")
    c, d, _, f = n.layers
    assert c.weight_type == IntType(8, True) and c.act_type == IntType(8, False)
    assert (c.kernel, c.stride, c.pad) == (3, 1, 1)
    assert (d.kernel, d.stride, d.pad) == (3, 1, 1)
    assert c.fold == ir.Fold() and not c.fold.auto
    assert n.quant_style == ir.THRESHOLDS
    assert f.act_type is None  # the classifier outputs raw accumulators
    assert n.weights == ir.RandomWeights(0)


def test_defaults_apply_and_layers_override():
    n = net(
        "  defaults { weights int4 narrow; activations uint4; acc int20; quant multiplier }\n"
        "  conv a 3x3 -> 8\n"
        "  conv b 3x3 -> 8 weights int8 activations uint7 acc int24\n"
        "  avgpool global\n"
        "  fc f -> 10 activations uint8"
    )
    a, b, pool, f = n.layers
    assert (a.weight_type, a.act_type, a.acc_limit) == (INT4N, UINT4, IntType(20, True))
    assert (b.weight_type, b.act_type, b.acc_limit) == (IntType(8, True), IntType(7, False), IntType(24, True))
    assert n.quant_style == ir.MULTIPLIER
    assert f.act_type == IntType(8, False)  # given explicitly: the fc keeps it
    assert pool.act_type is None  # the pool keeps its input type unless told


def test_default_fold_keeps_the_keys_each_kind_takes():
    n = net("  defaults { fold(pe = 2, simd = 3, dw_pe = 4) }\n  conv c 3x3 -> 8\n  dwsep b -> 16\n  avgpool global\n  fc -> 2")
    c, dw, pw, pool, fc = n.layers
    assert (c.fold.pe, c.fold.simd) == (2, 3)
    assert (dw.fold.pe, dw.fold.simd) == (4, 1)  # dwsep's depthwise half takes dw_pe/dw_simd
    assert (pw.fold.pe, pw.fold.simd) == (2, 3)
    assert (pool.fold.pe, pool.fold.simd) == (2, 1)
    assert (fc.fold.pe, fc.fold.simd) == (2, 3)


def test_default_fold_keys_are_checked():
    raises(SpecNameError, r"no layer kind has a fold parameter 'pex'", "network t { defaults { fold(pex = 2) }; input 8x8x3 u8; fc -> 2 }", r"did you mean 'pe'\? .*")
    raises(SpecValueError, r"dw_pe must be a whole number >= 1, not 0", "network t { defaults { fold(dw_pe = 0) }; input 8x8x3 u8; fc -> 2 }")


def test_fold_auto_default_and_per_layer():
    n = net("  defaults { fold(auto) }\n  conv c 3x3 -> 8 fold(pe = 8)\n  dwsep b -> 16")
    assert [l.fold.auto for l in n.layers] == [False, True, True]
    assert n.layers[0].fold.pe == 8


def test_dwsep_fold_splits_into_its_halves():
    n = net("  dwsep b1 stride 2 -> 16 fold(dw_pe = 3, dw_simd = 9, pe = 4, simd = 3)")
    dw, pw = n.layers
    assert (dw.fold.pe, dw.fold.simd, pw.fold.pe, pw.fold.simd) == (3, 9, 4, 3)
    assert (dw.kernel, dw.stride, dw.pad) == (3, 2, 1)
    assert (pw.kernel, pw.stride, pw.pad, pw.out_channels) == (1, 1, 0, 16)


def test_dwsep_kernel_sets_depthwise_padding():
    dw, _ = net("  dwsep b 5x5 -> 16").layers
    assert (dw.kernel, dw.pad) == (5, 2)


def test_input_preprocessing_and_nv12():
    n = net("  conv 3x3 -> 4", inp="input 16x16x3 u8 { scale 1/255; mean 0.485 0.456 0.406; std 0.226 }")
    assert n.input.preprocess == ir.Preprocess(1 / 255, (0.485, 0.456, 0.406), (0.226,))
    n = net("  conv 3x3 -> 4", inp="input 16x32 nv12")
    assert (n.input.shape, n.input.format) == (ir.Shape(16, 32, 3), "nv12")


def test_weights_sources():
    assert net("  weights random(seed = 9)\n  fc -> 2").weights == ir.RandomWeights(9)
    w = net('  weights "w.npz"\n  fc -> 2').weights
    assert isinstance(w, ir.NpzWeights) and w.path == "w.npz" and w.span.line == 3


# --- naming ---------------------------------------------------------------------------------------


def test_dwsep_naming():
    n = net("  dwsep -> 8\n  dwsep blk -> 8\n  dwsep -> 8")
    assert names(n) == ["b1.dw", "b1.pw", "blk.dw", "blk.pw", "b2.dw", "b2.pw"]


def test_unnamed_dwsep_skip_explicit_block_names():
    """As in the FINN spec: b1..b6 named, five unnamed in a repeat become b7..b11."""
    body = "\n".join(f"  dwsep b{i} -> 8" for i in range(1, 7)) + "\n  repeat 5 { dwsep -> 8 }\n  dwsep b12 -> 8"
    assert names(net(body))[::2] == [f"b{i}.dw" for i in range(1, 13)]


def test_unnamed_layers_count_per_kind():
    n = net("  conv 3x3 -> 8\n  conv 1x1 -> 8\n  pwconv -> 8\n  dwconv\n  conv 3x3 -> 8\n  avgpool global\n  fc -> 10\n  topk 3")
    assert names(n) == ["conv0", "pw0", "pw1", "dw0", "conv1", "pool0", "fc0", "topk0"]


def test_repeat_naming_and_counts():
    n = net("  repeat 3 { dwsep blk -> 8; conv c 3x3 -> 8 }")
    assert names(n) == ["blk_1.dw", "blk_1.pw", "c_1", "blk_2.dw", "blk_2.pw", "c_2", "blk_3.dw", "blk_3.pw", "c_3"]
    assert names(net("  repeat 1 { dwsep blk -> 8 }")) == ["blk.dw", "blk.pw"]
    assert len(net("  repeat 7 { dwsep -> 8 }").layers) == 14


def test_nested_repeat_naming():
    n = net("  repeat 2 { repeat 2 { conv c 3x3 -> 8 } }")
    assert names(n) == ["c_1_1", "c_1_2", "c_2_1", "c_2_2"]


def test_repeat_shares_the_span_of_its_statement():
    n = net("  repeat 2 { conv c 3x3 -> 8 }")
    assert n.layers[0].span == n.layers[1].span and n.layers[0].span.line == 3


# --- the mobilenet_v1 macro --------------------------------------------------------------------------

# REFERENCE.md section 4 at 224x224, alpha 1: (name, output channels, output size).
REFERENCE_224 = [("conv0", 32, 112)] + [
    (f"b{i}", c, s)
    for i, c, s in [(1, 64, 112), (2, 128, 56), (3, 128, 56), (4, 256, 28), (5, 256, 28), (6, 512, 14)]
    + [(i, 512, 14) for i in range(7, 12)]
    + [(12, 1024, 7), (13, 1024, 7)]
]


@pytest.mark.parametrize("alpha", [1.0, 0.25])
@pytest.mark.parametrize("resolution", [224, 128, 32])
def test_macro_expands_to_the_standard_shapes(alpha, resolution):
    n = infer_shapes(load_string(f"network m {{ mobilenet_v1(alpha = {alpha}, resolution = {resolution}) }}", "m.mbn"))
    assert n.input.shape == ir.Shape(resolution, resolution, 3)
    by_name = {l.name: l for l in n.layers}
    for name, channels, size in REFERENCE_224:
        layer = by_name[name] if name == "conv0" else by_name[f"{name}.pw"]
        expected_size = size * resolution // 224
        assert layer.out_shape == ir.Shape(expected_size, expected_size, int(channels * alpha)), name
    assert by_name["b1.dw"].in_shape.c == int(32 * alpha)
    assert [l.stride for l in n.layers if l.name.endswith(".dw")] == [s for s, _ in MOBILENET_V1_BLOCKS]
    pool, fc, topk = n.layers[-3:]
    assert pool.out_shape == ir.Shape(1, 1, int(1024 * alpha))
    assert (fc.name, fc.out_shape, fc.in_shape.c) == ("fc", ir.Shape(1, 1, 1000), int(1024 * alpha))
    assert (topk.name, topk.k) == ("topk", 5)
    assert len(n.layers) == 1 + 2 * 13 + 3


def test_macro_arguments():
    n = infer_shapes(
        load_string("network m { input 64x64x3 u8\n mobilenet_v1(alpha = 0.5, resolution = 64, classes = 10, topk = 0, pad0 = 0, fold = auto) }")
    )
    assert n.layers[0].out_shape == ir.Shape(31, 31, 16)  # pad0 = 0: (64 - 3) // 2 + 1
    assert n.layers[-1].name == "fc" and n.layers[-1].out_channels == 10  # topk = 0: no topk
    assert all(l.fold.auto for l in n.layers if hasattr(l, "fold"))
    assert n.layers[0].span.line == 2  # every layer points at the call


def test_macro_uses_network_defaults():
    n = load_string("network m { defaults { weights int4 narrow; activations uint4 }\n mobilenet_v1(resolution = 32) }")
    assert {l.weight_type for l in n.mac_layers()} == {INT4N}


# --- includes ----------------------------------------------------------------------------------------


def test_include_brings_in_targets(tmp_path):
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "t.mbn").write_text("target fpga { clock 150 MHz }\n")
    (tmp_path / "net.mbn").write_text('include "inc/t.mbn"\nnetwork n { input 8x8x3 u8; fc -> 2 }\n')
    n = load(str(tmp_path / "net.mbn"))
    assert n.fpga.clock_hz == 150e6


def test_include_of_a_network_and_nested_includes(tmp_path):
    (tmp_path / "a.mbn").write_text('include "sub/b.mbn"\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.mbn").write_text('include "c.mbn"\nnetwork n { input 8x8x3 u8; fc -> 2 }\n')
    (tmp_path / "sub" / "c.mbn").write_text("target gap8 { cores 4 }\n")
    n = load(str(tmp_path / "a.mbn"))
    assert n.name == "n" and n.gap8.cores == 4


def test_error_in_included_file_names_it_relative_to_the_includer(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "t.mbn").write_text("target fpga { clok 1 }\n")
    (tmp_path / "net.mbn").write_text('include "sub/t.mbn"\nnetwork n { input 8x8x3 u8; fc -> 2 }\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TargetError) as info:
        load("net.mbn")
    assert str(info.value.span) == "sub/t.mbn:1:15"


def test_include_cycle_through_itself(tmp_path):
    (tmp_path / "self.mbn").write_text('include "self.mbn"\nnetwork n { input 8x8x3 u8; fc -> 2 }\n')
    with pytest.raises(IncludeError) as info:
        load(str(tmp_path / "self.mbn"))
    assert info.value.message == "include cycle: self.mbn -> self.mbn"


# --- targets --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting, hz",
    [("clock 200 MHz", 200e6), ("clock 200", 200e6), ("clock 0.25 GHz", 250e6), ("clock 150000 kHz", 150e6), ("clock 100 mhz", 100e6)],
)
def test_fpga_clock_units(setting, hz):
    assert net("  fc -> 2", f"target fpga {{ {setting} }}").fpga.clock_hz == pytest.approx(hz)


def test_gap8_sizes_and_units():
    g = net("  fc -> 2", "target gap8 { l1 48 KiB; l2 400 kB; l3 8 MiB; l1_reserve 1 kB; l2_reserve 100000 B; cores 4; clock 175 MHz }").gap8
    assert (g.l1, g.l2, g.l3, g.l1_reserve, g.l2_reserve, g.cores) == (49152, 400000, 8 << 20, 1000, 100000, 4)
    assert g.clock_hz == 175e6


def test_targets_are_optional_and_part_is_kept():
    n = net("  fc -> 2", 'target fpga { part "xc7z020" }')
    assert n.fpga.part == "xc7z020" and n.gap8 is None
    assert net("  fc -> 2").fpga is None


# --- elaboration errors ---------------------------------------------------------------------------------

HEAD = "network t {\n  input 32x32x3 u8\n"


@pytest.mark.parametrize(
    "cls, body, message, hint",
    [
        (SpecNameError, "conv 3x3", r"conv needs '->' \(output channels\)", r"e\.g\. 'conv 3x3 stride 2 -> 32'"),
        (SpecNameError, "conv -> 8", r"conv needs a kernel size", r"e\.g\. .*"),
        (SpecNameError, "avgpool", r"avgpool needs 'global'", r"write 'avgpool global' .*"),
        (SpecNameError, "dwsep pad 1 -> 8", r"dwsep does not take 'pad'", r"dwsep pads its depthwise half by kernel/2; .*"),
        (SpecNameError, "pwconv 3x3 -> 8", r"pwconv does not take a kernel size", r"a pointwise convolution is 1x1: .*"),
        (SpecNameError, "conv 3x3 stride 1 stride 2 -> 8", r"'stride' is given twice", r"keep one"),
        (SpecNameError, "conv 3x3 -> 8 fold(pe = 2, pe = 4)", r"fold parameter 'pe' is given twice", None),
        (SpecNameError, "fc -> 8 fold(dw_pe = 2)", r"fc has no fold parameter 'dw_pe'", r"expected one of: 'mult', 'pe', 'simd', 'weights'"),
        (SpecValueError, "conv 3x5 -> 8", r"kernels are square \(KxK\), not 3x5", None),
        (SpecValueError, "conv 99x99 -> 8", r"the kernel 99x99 is larger than the largest supported, 64x64", None),
        (SpecValueError, "conv 3x3 stride 0 -> 8", r"'stride' must be at least 1, not 0", None),
        (SpecValueError, "conv 3x3 -> 0", r"'->' \(output channels\) must be at least 1, not 0", None),
        (SpecValueError, f"fc -> {MAX_CHANNELS + 1}", rf"'->' \(output channels\) {MAX_CHANNELS + 1} is larger than the limit {MAX_CHANNELS}", rf"use at most {MAX_CHANNELS}"),
        (SpecValueError, f"repeat {MAX_REPEAT + 1} {{ fc -> 2 }}", rf"repeat count {MAX_REPEAT + 1} is larger than {MAX_REPEAT}", r".*"),
        (SpecValueError, "repeat 100 { repeat 100 { fc -> 2 } }", rf"network 't' has more than {MAX_LAYERS} layers", r"use fewer or smaller repeat blocks"),
        (SpecValueError, "conv 3x3 -> 8 fold(pe = 0)", r"pe must be a whole number >= 1, not 0", r"e\.g\. pe = 4"),
        (SpecValueError, "conv 3x3 -> 8 fold(simd = two)", r"simd must be a whole number >= 1, not two", r"e\.g\. simd = 4"),
        (SpecNameError, "repeat 2 { input 8x8x3 u8 }", r"only layers may stand inside repeat", r"move input, defaults and weights out of the repeat block"),
        (SpecNameError, "repeat 2 { mobilenet_v1() }", r"a network macro cannot stand inside repeat", None),
        (SpecNameError, "weights random(sed = 1)\n fc -> 2", r"random\(\) has no argument 'sed'", r"did you mean 'seed'\? .*"),
        (SpecValueError, "weights random(seed = -1)\n fc -> 2", r"the seed must be a whole number >= 0, not -1", r"e\.g\. random\(seed = 1\)"),
        (QuantError, "fc -> 2 activations uint9", r"activations of 9 bits are not supported", r"use 1 to 8 bits"),
        (QuantError, "fc -> 2 acc uint32", r"accumulators are signed: uint32 is not supported", r"use int32"),
        (QuantError, "fc -> 2 acc int65", r"accumulators of 65 bits are not supported", r"use 2 to 64 bits"),
        (QuantError, "fc -> 2 weights int1", r"weights of 1 bits are not supported", r"use 2 to 8 bits"),
        (SpecNameError, "dwsep -> 8\n dwsep b1 -> 8", r"layer name 'b1' is already the automatic name of the unnamed layer at t\.mbn:3:2", r"choose another name, .*"),
        (SpecNameError, "fc x -> 2\n fc x -> 2", r"layer name 'x' is already used at t\.mbn:3:5", r"choose another name"),
        (SpecNameError, "mobilenet_v1(resolution = 32)\n mobilenet_v1(resolution = 32)", r"a network holds one macro call, and one is already at t\.mbn:3:2", r"remove one call; .*"),
        (SpecValueError, "mobilenet_v1(alpha = 5)", r"alpha must lie in \(0, 4\], not 5\.0", None),
        (SpecValueError, "mobilenet_v1(resolution = 32, classes = 10, topk = 11)", r"topk must lie in 0\.\.classes \(10\), not 11", None),
        (SpecValueError, "mobilenet_v1(resolution = 32, pad0 = 2)", r"pad0 \(padding of the first convolution\) must be 0 or 1", None),
        (SpecValueError, "mobilenet_v1(resolution = 32.5)", r"mobilenet_v1 argument 'resolution' must be a whole number", None),
        (SpecNameError, "mobilenet_v1(resolution = 32, fold = fast)", r"fold must be 'auto' or 'none', not 'fast'", None),
        (SpecValueError, "mobilenet_v1(resolution = 100000)", r"resolution 100000 is larger than the limit 16384", r"use at most 16384"),
    ],
)
def test_elaboration_errors(cls, body, message, hint):
    raises(cls, message, HEAD + " " + body + "\n}\n", hint)


@pytest.mark.parametrize(
    "cls, inp, message",
    [
        (SpecValueError, "input 32x32 nv12x", None),
        (SpecNameError, "input 32x32x3 rgb", r"unknown pixel format 'rgb'"),
        (SpecValueError, "input 32x32x3 nv12", r"an nv12 input is written HxW \(it carries 3 channels\)"),
        (SpecValueError, "input 0x32x3 u8", r"input sizes must be at least 1, not 0x32x3"),
        (SpecValueError, "input 20000x20000x3 u8", r"the input 20000x20000x3 is too large"),
        (SpecNameError, "input 8x8x3 u8 { scal 1 }", r"unknown preprocessing setting 'scal'"),
        (SpecValueError, "input 8x8x3 u8 { mean 1 2 }", r"'mean' takes 1 or 3 value\(s\), not 2"),
        (SpecValueError, "input 8x8x3 u8 { std 0 }", r"'std' must be positive"),
        (SpecValueError, 'input 8x8x3 u8 { scale "x" }', r"'scale' takes numbers, not 'x'"),
        (SpecNameError, "input 8x8x3 u8 { scale 1; scale 2 }", r"'scale' is given twice"),
    ],
)
def test_input_errors(cls, inp, message):
    if message is None:  # nv12x is not a format name the grammar splits: an unknown format
        raises(SpecNameError, r"unknown pixel format 'nv12x'", f"network t {{ {inp}; fc -> 2 }}", r"did you mean 'nv12'\? .*")
        return
    raises(cls, message, f"network t {{ {inp}; fc -> 2 }}")


@pytest.mark.parametrize(
    "target, message, hint",
    [
        ("target fpga { clock 0 MHz }", r"'clock' must be positive", None),
        ("target fpga { clock fast }", r"'clock' takes a number", None),
        ("target fpga { clock 1 MHz now }", r"'clock' takes a number and an optional unit", None),
        ("target fpga { part xc7 }", r"'part' takes a quoted part name", r"e\.g\. part \"xcu250-figd2104-2L-e\""),
        ("target gap8 { cores 9 }", r"the GAP8 cluster has 1 to 8 cores", None),
        ("target gap8 { cores 8 x }", r"'cores' takes one whole number, without a unit", r"e\.g\. cores 8"),
        ("target gap8 { l1 4000 }", r"the reserves leave no L1/L2 for data", r"l1 4000 \(reserve 4000\), .*"),
        ("target fpga { clock 1 }\ntarget fpga { clock 2 }", r"target fpga is already given at t\.mbn:2:1", None),
        ("target gpu { }", r"unknown target 'gpu'", r"did you mean 'gap8'\? .*|expected one of: 'fpga', 'gap8'"),
    ],
)
def test_target_errors(target, message, hint):
    raises(TargetError, message, "network t { input 8x8x3 u8; fc -> 2 }\n" + target + "\n", hint)


def test_file_level_errors():
    raises(SpecNameError, r"no network in t\.mbn", "target fpga { clock 1 }\n", where=(1, 1))
    raises(SpecNameError, r"a spec describes one network; 'a' is already declared at t\.mbn:1:1", "network a { }\nnetwork b { }\n", where=(2, 1))
    raises(SpecStructureError, r"network 'a' has no input", "network a { fc -> 2 }", r"add e\.g\. 'input 224x224x3 u8'")
    raises(SpecStructureError, r"network 'a' has no layers", "network a { input 8x8x3 u8 }")
    raises(ShapeError, r"the macro builds a network for 32x32x3 images but the input is 64x64x3",
           "network a { input 64x64x3 u8; mobilenet_v1(resolution = 32) }", r"set resolution = 64 or change the input")  # fmt: skip


def test_every_error_is_an_mbdsl_error_with_a_location():
    with pytest.raises(MbdslError) as info:
        load_string("network a { input 8x8x3 u8; convv 3x3 -> 2 }", "x.mbn")
    assert str(info.value.span) == "x.mbn:1:29"
