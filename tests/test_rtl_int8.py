"""The multiplier (int8) quantization style in the RTL backend: the GAP8-style network
bit-exact in Verilator, the requantization ROM's packing, and the plan's need of params."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mbdsl import backends, ir, semantics
from mbdsl.backends.rtl import netsim, pack
from mbdsl.backends.rtl.top import ident, plan
from mbdsl.errors import UnsupportedByBackend
from mbdsl.estimates import estimate
from mbdsl.frontend import load
from mbdsl.images import random_images
from mbdsl.output import write_tree
from mbdsl.params import make_params
from mbdsl.passes import check

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "test_rtl_int8"
SPEC = ROOT / "specs" / "mobilenet_v1_int8_w0.25_32.mbn"


@pytest.fixture(scope="module")
def built():
    net = check(load(str(SPEC)))
    params = make_params(net)
    rtl, build = BUILD / "rtl", BUILD / "build"
    write_tree(str(rtl), backends.generate("rtl", net, params))
    netsim.build(rtl, build)
    return net, params, rtl, build


@pytest.mark.verilator
def test_every_layer_bit_exact_under_stalls(built):
    net, params, rtl, build = built
    assert net.quant_style == ir.MULTIPLIER
    result = netsim.simulate(net, params, random_images(net.input, 2, seed=0), rtl, build, stall=0.2, seed=1)
    assert result.mismatch is None, str(result.mismatch)  # every layer's trace, then the output
    assert result.exact and len(result.outputs) == 2
    assert [list(o) for o in result.outputs] != [list(result.outputs[0])] * 2  # the images differ


@pytest.mark.verilator
def test_initiation_interval_matches_the_model(built):
    net, params, rtl, build = built
    result = netsim.simulate(net, params, random_images(net.input, 3, seed=2), rtl, build, trace=False)
    assert result.exact
    ii = estimate(net).ii
    assert abs(result.ii - ii) <= 0.02 * ii, (result.ii, ii)


@pytest.mark.verilator
@pytest.mark.parametrize("which", ["b6.pw", "pool"])
def test_a_corrupted_requant_rom_is_reported_at_its_layer(built, tmp_path, which):
    """Change one m0 in a layer's requantization ROM: the diagnosis names that layer."""
    net, params, rtl, build = built
    layer = next(l for l in net.layers if l.name == which)
    stage = dict(next(s for s in plan(net, params)[1] if s.layer == which).params)
    m0_bits = stage.get("RQ_M0_BITS", stage.get("M0_BITS"))
    bias_bits = stage.get("RQ_BIAS_BITS", 1)
    bad = tmp_path / "rtl"
    shutil.copytree(rtl, bad)
    rom = bad / "requant" / f"{ident(layer.name)}.memh"
    words = rom.read_text().split()
    top_bit = 1 << (bias_bits + m0_bits - 1)  # lane 0's m0, most significant bit
    words[0] = f"{int(words[0], 16) ^ top_bit:0{len(words[0])}x}"
    rom.write_text("\n".join(words) + "\n")
    b = tmp_path / "build"
    shutil.copytree(build, b, symlinks=True, ignore=shutil.ignore_patterns("obj", "trace"))
    result = netsim.simulate(net, params, random_images(net.input, 1, seed=3), bad, b)
    assert result.mismatch is not None
    assert result.mismatch.layer == which


def test_requant_rom_words_round_trip():
    rng = np.random.default_rng(1)
    bias, m0 = rng.integers(-5000, 5000, 12), rng.integers(1, 1 << 9, 12)
    w = pack.requant_widths(-70000, 65000, bias, m0, 15)
    assert (w.bias_bits, w.m0_bits) == (14, int(m0.max()).bit_length())
    lanes = pack.unpack_words(pack.requant_words(bias, m0, 12, 4, w.bias_bits, w.m0_bits), 4, w.bias_bits + w.m0_bits, False)
    assert np.array_equal(lanes.reshape(-1) & ((1 << 14) - 1), bias & ((1 << 14) - 1))
    assert np.array_equal(lanes.reshape(-1) >> 14, m0)
    # the product width holds the worst (acc + bias) * m0 plus the rounding constant, and no less
    worst = max(max(abs(-70000 + b), abs(65000 + b)) * m for b, m in zip(bias, m0)) + (1 << 14)
    assert worst < 1 << (w.prod_bits - 1) and worst >= 1 << (w.prod_bits - 2)
    with pytest.raises(ValueError, match="does not fit 8 unsigned bits"):
        pack.requant_words(bias, m0 | 256, 12, 4, 14, 8)


def test_requant_widths_are_exact_at_the_extremes():
    """round_shift((acc + bias) * m0) at the ends of the accumulator range, computed in
    prod_bits-bit two's complement as mbdsl_requant does, equals the int64 result."""
    bias, m0, shift = np.array([-300, 4000]), np.array([700, 3]), 12
    w = pack.requant_widths(-9000, 8000, bias, m0, shift)
    for acc in (-9000, 8000):
        exact = (acc + bias) * m0 + (1 << (shift - 1))
        wrapped = ((exact + (1 << (w.prod_bits - 1))) % (1 << w.prod_bits)) - (1 << (w.prod_bits - 1))
        assert np.array_equal(wrapped, exact)
        assert np.array_equal(wrapped >> shift, semantics.round_shift((acc + bias) * m0, shift))


def test_the_plan_of_a_multiplier_network_needs_its_params():
    net = check(load(str(SPEC)))
    with pytest.raises(UnsupportedByBackend) as e:
        plan(net)
    assert e.value.message == "the RTL plan of a multiplier-style network needs its parameters (each layer's shift, bias and m0 widths)"
