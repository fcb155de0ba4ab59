"""Whole generated networks in Verilator, bit-exact against the reference."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from mbdsl import backends
from mbdsl.backends.rtl import netsim
from mbdsl.backends.rtl.verilator import lint
from mbdsl.errors import MbdslError
from mbdsl.estimates import estimate
from mbdsl.frontend import load
from mbdsl.images import random_images
from mbdsl.output import write_tree
from mbdsl.params import make_params
from mbdsl.passes import check

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "test_rtl_network"
SMALL_SPECS = ["mobilenet_v1_w0.25_32.mbn", "mobilenet_v1_w0.25_64.mbn", "mobilenet_v1_nv12_w0.25_32.mbn"]


class Built:
    def __init__(self, spec: str):
        self.net = check(load(str(ROOT / "specs" / spec)))
        self.params = make_params(self.net)
        self.rtl = BUILD / self.net.name / "rtl"
        self.build = BUILD / self.net.name / "build"
        write_tree(str(self.rtl), backends.generate("rtl", self.net, self.params))
        netsim.build(self.rtl, self.build)

    def simulate(self, n: int, stall: float, seed: int, trace: bool = True):
        images = random_images(self.net.input, n, seed=seed)
        return netsim.simulate(self.net, self.params, images, self.rtl, self.build, stall=stall, seed=seed, trace=trace)


@pytest.fixture(scope="module", params=SMALL_SPECS)
def built(request) -> Built:
    return Built(request.param)


@pytest.mark.verilator
def test_bit_exact_under_stalls(built):
    result = built.simulate(4, stall=0.3, seed=11)
    assert result.mismatch is None, str(result.mismatch)
    assert len(result.outputs) == 4
    assert result.exact
    # different images give different answers: the check can fail
    assert len({tuple(o) for o in result.outputs}) > 1


@pytest.mark.verilator
def test_initiation_interval_matches_the_model(built):
    result = built.simulate(4, stall=0.0, seed=12, trace=False)
    assert result.exact
    ii = estimate(built.net).ii
    assert abs(result.ii - ii) <= 0.02 * ii, (result.ii, ii)


@pytest.mark.verilator
def test_a_corrupted_rom_is_reported_at_its_layer(built, tmp_path):
    """Flip one weight of a middle layer: the diagnosis must name that layer."""
    layer = built.net.layers[len(built.net.layers) // 2]
    while not hasattr(layer, "weight_type"):
        layer = built.net.layers[built.net.layers.index(layer) + 1]
    name = re.sub(r"\W", "_", layer.name)
    rtl = tmp_path / "rtl"
    shutil.copytree(built.rtl, rtl)
    rom = rtl / "weights" / f"{name}.memh"
    words = rom.read_text().split()
    first = int(words[0], 16)
    words[0] = f"{first ^ ((1 << (4 * len(words[0]))) - 1):0{len(words[0])}x}"  # invert every weight of word 0
    rom.write_text("\n".join(words) + "\n")
    build = tmp_path / "build"
    shutil.copytree(built.build, build, symlinks=True, ignore=shutil.ignore_patterns("obj", "trace"))
    images = random_images(built.net.input, 2, seed=13)
    result = netsim.simulate(built.net, built.params, images, rtl, build)
    assert result.mismatch is not None
    assert result.mismatch.layer == layer.name


@pytest.mark.verilator
def test_generated_top_lints_clean(built):
    sources = sorted((built.rtl / "hdl").glob("*.sv")) + sorted(built.rtl.glob("*_top.sv"))
    top = sorted(built.rtl.glob("*_top.sv"))[0].stem
    clean, messages = lint(sources, top)
    assert clean, messages


@pytest.mark.verilator
def test_regeneration_is_byte_identical(built):
    again = backends.generate("rtl", built.net, make_params(built.net))
    for rel, content in again.items():
        assert (built.rtl / rel).read_text() == content, rel


def test_a_signed_pool_input_is_refused_with_a_location():
    from networks import TINY, tiny

    net = tiny(signed=True)
    with pytest.raises(MbdslError, match=r"the RTL pool sums unsigned activations; layer pool receives int4") as info:
        backends.generate("rtl", net, make_params(net))
    span = info.value.span
    assert TINY.split("\n")[span.line - 1].strip().startswith("avgpool pool") and span.column == 3
