"""mbdsl.passes: shapes, accumulator types (against a brute-force bound), folding legality
and fold(auto); pass errors pinned with anchored regexes."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import pytest

from mbdsl import ir
from mbdsl.dtypes import IntType
from mbdsl.errors import FoldingError, QuantError, ShapeError
from mbdsl.frontend import load, load_string
from mbdsl.passes import PIPELINE, check
from mbdsl.legality import legal_pe, legal_simd
from mbdsl.passes.folding import AUTO_LANE_LIMIT

ROOT = Path(__file__).resolve().parent.parent
FINN = ROOT / "specs" / "mobilenet_v1_w4a4_u250.mbn"


@pytest.fixture(scope="module")
def finn() -> ir.Network:
    return check(load(str(FINN)))


def checked(body: str, head: str = "input 32x32x3 u8", tail: str = "") -> ir.Network:
    return check(load_string(f"network t {{\n  {head}\n{body}\n}}\n{tail}", "t.mbn"))


def fails(cls, message: str, body: str, hint: str | None = None, head: str = "input 32x32x3 u8"):
    with pytest.raises(cls) as info:
        checked(body, head)
    err = info.value
    assert re.fullmatch(message, err.message), err.message
    if hint is not None:
        assert re.fullmatch(hint, err.hint or ""), err.hint
    assert err.span is not None and err.span.file == "t.mbn"
    return err


# --- shapes -------------------------------------------------------------------------------------------

# The FINN MobileNet-v1 (first conv pad 0): (layer, input, output) as H, W, C.
FINN_SHAPES = [
    ("conv0", (224, 224, 3), (111, 111, 32)),
    ("b1.dw", (111, 111, 32), (111, 111, 32)), ("b1.pw", (111, 111, 32), (111, 111, 64)),
    ("b2.dw", (111, 111, 64), (56, 56, 64)), ("b2.pw", (56, 56, 64), (56, 56, 128)),
    ("b3.dw", (56, 56, 128), (56, 56, 128)), ("b3.pw", (56, 56, 128), (56, 56, 128)),
    ("b4.dw", (56, 56, 128), (28, 28, 128)), ("b4.pw", (28, 28, 128), (28, 28, 256)),
    ("b5.dw", (28, 28, 256), (28, 28, 256)), ("b5.pw", (28, 28, 256), (28, 28, 256)),
    ("b6.dw", (28, 28, 256), (14, 14, 256)), ("b6.pw", (14, 14, 256), (14, 14, 512)),
    *[(f"b{i}.{h}", (14, 14, 512), (14, 14, 512)) for i in range(7, 12) for h in ("dw", "pw")],
    ("b12.dw", (14, 14, 512), (7, 7, 512)), ("b12.pw", (7, 7, 512), (7, 7, 1024)),
    ("b13.dw", (7, 7, 1024), (7, 7, 1024)), ("b13.pw", (7, 7, 1024), (7, 7, 1024)),
    ("pool", (7, 7, 1024), (1, 1, 1024)),
    ("fc", (1, 1, 1024), (1, 1, 1000)),
    ("top5", (1, 1, 1000), (1, 1, 5)),
]  # fmt: skip


def test_finn_shapes(finn):
    got = [(l.name, (l.in_shape.h, l.in_shape.w, l.in_shape.c), (l.out_shape.h, l.out_shape.w, l.out_shape.c)) for l in finn.layers]
    assert got == FINN_SHAPES


def test_shapes_follow_the_convolution_formula():
    n = checked("  conv a 5x5 stride 3 pad 1 -> 4\n  dwconv b 3x3 stride 2 pad 0\n  conv c 1x1 stride 2 -> 6")
    # (32 + 2 - 5) // 3 + 1 = 10; (10 - 3) // 2 + 1 = 4; (4 - 1) // 2 + 1 = 2
    assert [l.out_shape for l in n.layers] == [ir.Shape(10, 10, 4), ir.Shape(4, 4, 4), ir.Shape(2, 2, 6)]


def test_passes_return_new_networks_and_leave_the_input_alone():
    raw = load(str(FINN))
    out = raw
    for run in PIPELINE:
        out = run(out)
    assert all(l.in_shape is None for l in raw.layers)
    assert out.layers[0].in_shape is not None and out is not raw


@pytest.mark.parametrize(
    "body, message, hint",
    [
        ("  conv c 3x3 pad 3 -> 8", r"padding 3 is not smaller than the 3x3 kernel of layer c", r"use pad 0\.\.2"),
        ("  conv c 1x1 pad 1 -> 8", r"padding 1 is not smaller than the 1x1 kernel of layer c", r"use pad 0\.\.0"),
        ("  conv a 3x3 stride 16 pad 0 -> 8\n  conv c 5x5 pad 0 -> 8", r"the 5x5 kernel of layer c does not fit its 2x2 input \(padding 0\)", r".*"),
        ("  conv c 3x3 -> 8\n  topk 3", r"topk topk0 needs a vector of class scores, not a 32x32x8 feature map", r"put an avgpool and an fc before it"),
        ("  conv c 3x3 -> 8\n  avgpool global\n  topk 9", r"topk 9 of only 8 classes", r"use topk 1\.\.8"),
    ],
)
def test_shape_errors(body, message, hint):
    fails(ShapeError, message, body, hint)


# --- accumulator types --------------------------------------------------------------------------------


def brute_force_range(fan_in: int, w: IntType, x: IntType) -> tuple[int, int]:
    """Extreme sums of ``fan_in`` products, trying every weight and input value."""
    products = [a * b for a, b in itertools.product(range(w.min, w.max + 1), range(x.min, x.max + 1))]
    return fan_in * min(products), fan_in * max(products)


def narrowest(lo: int, hi: int) -> IntType:
    """The narrowest type holding [lo, hi], by trying widths one by one."""
    for bits in range(1, 80):
        for t in (IntType(bits, False), IntType(bits, True)):
            if (lo >= 0 or t.signed) and t.min <= lo and hi <= t.max:
                return t
    raise AssertionError


def test_accumulator_widths_equal_the_brute_force_bound(finn):
    macs = finn.mac_layers()
    assert len(macs) == 1 + 26 + 1
    for layer in macs:
        lo, hi = brute_force_range(layer.fan_in, layer.weight_type, layer.in_type)
        assert layer.acc_type == narrowest(lo, hi), layer.name
        assert layer.acc_type.min <= lo and hi <= layer.acc_type.max


def test_accumulator_widths_of_the_finn_spec(finn):
    acc = {l.name: l.acc_type.name for l in finn.mac_layers()}
    # conv0: 27 products of int8 x uint8; depthwise: 9 of int4 narrow x uint4; pw: C of those.
    assert acc["conv0"] == "int21" and acc["b1.dw"] == "int11"
    assert acc["b1.pw"] == "int13" and acc["b13.pw"] == "int18" and acc["fc"] == "int18"


@pytest.mark.parametrize(
    "weights, acts, kernel, channels",
    [("int2", "uint1", 1, 1), ("int4 narrow", "uint4", 3, 8), ("int8", "uint8", 3, 3), ("int3", "uint2", 5, 16), ("int8 narrow", "uint7", 1, 64)],
)
def test_accumulator_width_brute_force_small(weights, acts, kernel, channels):
    n = checked(f"  conv c {kernel}x{kernel} -> 4 weights {weights} activations {acts}\n  conv d {kernel}x{kernel} -> 2 weights {weights}",
                head=f"input 8x8x{channels} u8")  # fmt: skip
    second = n.layers[1]
    lo, hi = brute_force_range(second.fan_in, second.weight_type, second.in_type)
    assert second.in_type == n.layers[0].act_type
    assert second.acc_type == narrowest(lo, hi)


def test_types_flow_along_the_stream(finn):
    assert finn.layers[0].in_type == IntType(8, False)  # raw pixels
    assert all(l.in_type == IntType(4, False) for l in finn.layers[1:-1])
    fc, top = finn.layers[-2:]
    assert fc.act_type is None and top.in_type == fc.acc_type  # topk ranks the raw logits


def test_pool_sum_and_default_shift(finn):
    pool = finn.layer("pool")
    assert pool.acc_type == narrowest(0, 49 * 15) and pool.shift == math.ceil(math.log2(49))
    assert checked("  conv c 3x3 -> 4\n  avgpool p global shift 3").layer("p").shift == 3


def test_declared_accumulator_exactly_wide_enough_passes():
    # 27 products of int4 narrow x uint8 reach +-48195: int17 is enough, int16 is not.
    assert checked("  conv c 3x3 -> 8 weights int4 narrow acc int17").layers[0].acc_type == IntType(17, True)
    fails(QuantError, r"accumulator overflow in layer c: 27 products of int4 narrow x uint8 reach \[-48195, 48195\], which needs int17; int16 is too narrow",
          "  conv c 3x3 -> 8 weights int4 narrow acc int16", r"write 'acc int17' or wider, .*")  # fmt: skip


def test_quant_errors():
    fails(QuantError, r"layer f outputs raw accumulators, but p follows it", "  fc f -> 4\n  avgpool p global", r"give f activations \(e\.g\. 'activations uint4'\)")
    fails(
        QuantError,
        r"accumulator overflow in layer f: 98304 products of int8 x uint8 reach \[-3208642560, 3183575040\], which needs int33; the multiplier style accumulates in int32",
        "  defaults { quant multiplier }\n  fc f -> 2",
        head="input 128x256x3 u8",
    )


# --- folding ------------------------------------------------------------------------------------------


def test_finn_folding_is_kept_and_legal(finn):
    folds = {l.name: (l.fold.pe, l.fold.simd) for l in finn.layers if hasattr(l, "fold")}
    assert folds["conv0"] == (32, 3) and folds["b3.dw"] == (64, 1) and folds["b3.pw"] == (32, 16) and folds["fc"] == (4, 4)
    assert sum(l.fold.lanes() for l in finn.mac_layers()) == 5764
    for layer in finn.layers:
        if hasattr(layer, "fold"):
            assert layer.fold.pe in legal_pe(layer) and layer.fold.simd in legal_simd(layer)


def test_legal_values(finn):
    conv0, b1dw, b1pw = finn.layers[:3]
    assert legal_pe(conv0) == [1, 2, 4, 8, 16, 32]
    assert legal_simd(conv0) == [1, 3, 9, 27]  # divisors of 3, and 3 x divisors of 9
    assert legal_pe(b1dw) == [1, 2, 4, 8, 16, 32] and legal_simd(b1dw) == [1, 3, 9]
    assert legal_simd(b1pw) == [1, 2, 4, 8, 16, 32]
    fc = finn.layer("fc")
    assert legal_simd(fc) == [d for d in range(1, 1025) if 1024 % d == 0]


def test_legal_values_for_a_large_fan_in_are_quick():
    n = checked("  fc f -> 4", head="input 16384x16384x3 u8")
    simd = legal_simd(n.layers[0])
    assert simd[:6] == [1, 2, 3, 4, 6, 8] and simd[-1] == 16384 * 16384 * 3 and len(simd) == 2 * 29


@pytest.mark.parametrize(
    "body, message, hint",
    [
        ("  conv c 3x3 -> 12 fold(pe = 5)", r"PE=5 does not divide the 12 output channels of layer c", r"legal PE values: 1, 2, 3, 4, 6, 12"),
        ("  conv c 3x3 -> 12 fold(simd = 4)", r"SIMD=4 is neither a divisor of the 3 input channels of layer c nor 3 times a divisor of its 9 kernel positions, so no window generator can feed it", r"legal SIMD values: 1, 3, 9, 27"),
        ("  dwconv d 3x3 fold(pe = 2)", r"PE=2 does not divide the 3 channels of layer d", r"legal PE values: 1, 3"),
        ("  dwconv d 5x5 fold(simd = 2)", r"SIMD=2 does not divide the 5x5 kernel positions of depthwise layer d", r"legal SIMD values: 1, 5, 25"),
        ("  dwsep b -> 8 fold(dw_pe = 2)", r"dw_pe=2 does not divide the 3 channels of layer b\.dw", r"legal dw_pe values: 1, 3"),
        ("  conv c 3x3 -> 8\n  avgpool p global fold(pe = 3)", r"PE=3 does not divide the 8 channels of layer p", r"legal PE values: 1, 2, 4, 8"),
        ("  fc f -> 10 fold(pe = 4)", r"PE=4 does not divide the 10 outputs of layer f", r"legal PE values: 1, 2, 5, 10"),
        ("  fc f -> 10 fold(simd = 7)", r"SIMD=7 does not divide the 3072 inputs of layer f", r"legal SIMD values: 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, \.\.\."),
    ],
)
def test_folding_errors(body, message, hint):
    err = fails(FoldingError, message, body, hint)
    key = re.match(r"(\w+)=", message)[1].lower()
    assert err.span.text[err.span.column - 1 :].startswith(key)  # points at the fold key


def test_fold_auto_gives_legal_folds_within_the_lane_limit():
    n = check(load(str(ROOT / "specs" / "mobilenet_v1_w0.25_64.mbn")))
    for layer in n.layers:
        if hasattr(layer, "fold"):
            assert not layer.fold.auto
            assert layer.fold.pe in legal_pe(layer) and layer.fold.simd in legal_simd(layer), layer.name
            assert layer.fold.lanes() <= max(AUTO_LANE_LIMIT, 1) or layer.name == "conv0", layer.name


def test_fold_auto_balances_to_the_slowest_fixed_layer():
    from mbdsl.dataflow import layer_cycles

    n = checked("  conv c 3x3 -> 8 fold(pe = 1, simd = 1)\n  dwsep b -> 16 fold(auto)")
    fixed = layer_cycles(n.layers[0])
    assert all(layer_cycles(l) <= fixed for l in n.layers[1:])
    assert n.layers[2].fold.lanes() == 1  # the slow conv sets the pace: no lanes to spare
