"""Weights in UltraRAM (``fold(weights = uram)``) in the RTL backend: the load stream's
format, the generated top, the unit bench of mbdsl_mvau with WMEM 1, a whole network with
UltraRAM layers in Verilator, and the resource model's URAM288 count against yosys."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mbdsl import backends
from mbdsl.backends.rtl import netsim, pack
from mbdsl.backends.rtl.memories import uram288
from mbdsl.backends.rtl.resources import unit
from mbdsl.backends.rtl.sources import hdl_sources
from mbdsl.backends.rtl.top import LOAD_FILE
from mbdsl.backends.rtl.verilator import lint
from mbdsl.estimates import estimate
from mbdsl.frontend import load_string
from mbdsl.images import random_images
from mbdsl.output import write_tree
from mbdsl.params import make_params
from mbdsl.passes import check

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "test_weights_uram"

# c0: 2 x 9 lanes of 5 bits, a 90-bit word in three beats; b1.pw: 4 x 8 lanes of 8 bits, 256
# bits in eight beats; fc: 2 x 4 lanes, two beats; b2.pw stays in ROM between them
SPEC = """network uram_net {
  input 16x16x3 u8
  conv  c0 3x3 stride 2 -> 8 weights int5 fold(pe = 2, simd = 9, weights = uram)
  dwsep b1 stride 1 -> 16 fold(dw_pe = 8, pe = 4, simd = 8, weights = uram)
  dwsep b2 stride 1 -> 16 fold(dw_pe = 4, pe = 2, simd = 4)
  avgpool pool global
  fc    fc -> 10 fold(pe = 2, simd = 4, weights = uram)
}
"""


def _net(text: str = SPEC):
    return check(load_string(text, "uram_net.mbn"))


# ------------------------------------------------------------------ formats and the top

def test_load_beats_cut_each_word_least_significant_first():
    words = [[0x1_2345_6789_ABCD_EF01, 0x2], [0xFF]]
    assert pack.load_beats(words, [65, 8]) == [0xABCDEF01, 0x23456789, 0x1, 0x2, 0, 0, 0xFF]


def test_the_top_loads_uram_units_and_reads_roms_for_the_rest():
    net = _net()
    files = backends.generate("rtl", net, make_params(net))
    top = files["uram_net_top.sv"]
    assert "input  logic [31:0] wload_tdata" in top
    assert top.count("mbdsl_wload #(") == 3
    assert "mbdsl_wload #(.WIDTH(90), .DEPTH(12)) c0_wload" in top  # 8/2 x 27/9 words
    assert "assign s_axis_tready = s0_tready && loaded;" in top
    assert "weights/c0.memh" not in files and "weights/b1_pw.memh" not in files and "weights/fc.memh" not in files
    assert "weights/b2_pw.memh" in files and "weights/b1_dw.memh" in files
    assert json.loads(files["manifest.json"])["weight_load"] == LOAD_FILE
    params = make_params(net)
    beats = [int(b, 16) for b in files[LOAD_FILE].split()]
    c0 = next(l for l in net.layers if l.name == "c0")
    words = pack.weight_words(params["c0"].weights.reshape(c0.matrix), 2, 9, 5)
    assert beats[:3 * len(words)] == pack.load_beats([words], [90])
    assert len(beats) == 3 * 12 + 8 * (16 // 4) * (8 // 8) + 2 * (10 // 2) * (16 // 4)


def test_a_network_without_uram_has_no_load_port():
    net = _net(SPEC.replace(", weights = uram", ""))
    files = backends.generate("rtl", net, make_params(net))
    assert "wload" not in files["uram_net_top.sv"] and LOAD_FILE not in files
    assert "weight_load" not in json.loads(files["manifest.json"])


# ------------------------------------------------------------------ the unit bench

MVAU_URAM = [
    # 2 x 3 lanes of 8 bits: a 48-bit word; stalls on both sides
    (dict(I=3, K=3, IMG=5, STRIDE=2, PAD=0, MH=8, PE=2, SIMD=3, IN_BITS=8, IN_SIGNED=0, W_BITS=8, OUT_BITS=4),
     dict(p_valid=0.5, p_ready=0.7)),
    # an FC with raw outputs and a bias, 2 x 8 lanes of 4 bits
    (dict(I=16, K=1, IMG=1, STRIDE=1, PAD=0, MH=10, PE=2, SIMD=8, IN_BITS=4, IN_SIGNED=0, W_BITS=4, N_THRES=0, BIAS=9),
     dict(p_valid=0.8, p_ready=0.4)),
]


@pytest.mark.verilator
@pytest.mark.slow
@pytest.mark.parametrize("p,opts", MVAU_URAM, ids=["conv", "fc"])
def test_mvau_with_weights_written_at_run_time(p, opts):
    from harness import simulate
    case, res = simulate("mvau_uram", p, seed=5, frames=2, **opts)
    assert case["params"]["WMEM"] == 1 and "WEIGHT_FILE" not in case["params"]
    assert res["errors"] == [] and res["failed"] == 0
    assert len(res["out_cycles"]) == len(case["out"])


@pytest.mark.verilator
@pytest.mark.slow
def test_the_unit_bench_fails_on_a_wrong_beat():
    from harness import simulate
    p, opts = MVAU_URAM[0]

    def flip(beats):
        beats[1] ^= 1
        return beats

    _, res = simulate("mvau_uram", p, seed=5, frames=2, tamper=flip, **opts)
    assert res["failed"] == 1 and len(res["errors"]) == 1


@pytest.mark.verilator
@pytest.mark.slow
@pytest.mark.parametrize("width,depth", [(90, 12), (32, 5), (16, 1)])
def test_loader_and_uram_unit_lint_clean(width, depth):
    ok, out = lint(hdl_sources("mbdsl_wload"), "mbdsl_wload", dict(WIDTH=width, DEPTH=depth))
    assert ok, out
    ok, out = lint(hdl_sources("mbdsl_mvau"), "mbdsl_mvau", dict(MH=8, MW=16, PE=2, SIMD=4, WMEM=1))
    assert ok, out


# ------------------------------------------------------------------ a whole network

@pytest.fixture(scope="module")
def built():
    net = _net()
    params = make_params(net)
    # where ``mbdsl sim -o BUILD/out --build-dir BUILD/sim`` puts them (the CLI test reuses the build)
    rtl, build = BUILD / "out" / net.name / "rtl", BUILD / "sim" / net.name
    write_tree(str(rtl), backends.generate("rtl", net, params))
    netsim.build(rtl, build)
    return net, params, rtl, build


def _simulate(built, stall, seed, rtl=None, build=None):
    net, params, rtl0, build0 = built
    return netsim.simulate(net, params, random_images(net.input, 3, seed=seed), rtl or rtl0, build or build0, stall=stall, seed=seed)


@pytest.mark.verilator
@pytest.mark.slow
def test_a_network_with_uram_layers_is_bit_exact_under_stalls(built):
    result = _simulate(built, 0.3, 21)
    assert result.mismatch is None, str(result.mismatch)
    assert result.exact and len({tuple(o) for o in result.outputs}) > 1
    beats = len((built[2] / LOAD_FILE).read_text().split())
    assert result.load_cycles >= beats
    assert result.frame_in[0] >= result.load_cycles  # no frame before the weights are in


@pytest.mark.verilator
@pytest.mark.slow
def test_the_load_is_not_part_of_the_initiation_interval(built):
    result = _simulate(built, 0.0, 22)
    assert result.exact
    ii = estimate(built[0]).ii
    assert abs(result.ii - ii) <= 0.02 * ii, (result.ii, ii)


@pytest.mark.verilator
@pytest.mark.slow
def test_a_wrong_load_word_is_reported_at_its_layer(built, tmp_path):
    net, params, rtl, build = built
    bad = tmp_path / "rtl"
    shutil.copytree(rtl, bad)
    beats = (bad / LOAD_FILE).read_text().split()
    beats[-1] = f"{int(beats[-1], 16) ^ 0xFFFFFFFF:08x}"  # the last word of fc, the last UltraRAM layer
    (bad / LOAD_FILE).write_text("\n".join(beats) + "\n")
    copy = tmp_path / "build"
    shutil.copytree(build, copy, symlinks=True, ignore=shutil.ignore_patterns("obj", "trace"))
    result = _simulate(built, 0.0, 23, bad, copy)
    assert result.mismatch is not None and result.mismatch.layer == "fc"


@pytest.mark.verilator
@pytest.mark.slow
def test_mbdsl_sim_loads_the_weights_and_reports_the_load_apart(built, tmp_path, capsys):
    from mbdsl.cli import main
    spec = tmp_path / "uram_net.mbn"
    spec.write_text(SPEC)
    assert main(["sim", str(spec), "--images", "2", "--stall", "0.2", "-o", str(BUILD / "out"), "--build-dir", str(BUILD / "sim")]) == 0
    out = capsys.readouterr().out
    assert "bit-exact on 2 images" in out
    assert "not part of the latency or the II" in out and "weight load" in out


@pytest.mark.verilator
@pytest.mark.slow
def test_the_generated_top_lints_clean(built):
    rtl = built[2]
    clean, messages = lint(sorted((rtl / "hdl").glob("*.sv")) + [rtl / "uram_net_top.sv"], "uram_net_top")
    assert clean, messages


# ------------------------------------------------------------------ the resource model

def _mvau(pe, simd, mh, mw, wmem):
    return dict(MH=mh, MW=mw, PE=pe, SIMD=simd, IN_BITS=4, IN_SIGNED=0, W_BITS=4, W_SIGNED=1, ACC_BITS=16, N_THRES=0,
                OUT_BITS=16, OUT_MIN=0, WMEM=wmem)


def test_uram288_slices_and_cascades():
    assert uram288(4096, 72) == 1 and uram288(4097, 72) == 2 and uram288(4096, 73) == 2
    assert uram288(16384, 256) == 4 * 4


def test_a_uram_weight_memory_takes_no_block_ram():
    rom = unit("mbdsl_mvau", _mvau(2, 16, 256, 1024, 0), "lut")
    ram = unit("mbdsl_mvau", _mvau(2, 16, 256, 1024, 1), "lut")
    assert rom.bram18 > 0 and rom.uram == 0
    assert ram.bram18 == 0 and ram.uram == uram288(128 * 64, 128)


@pytest.mark.yosys
@pytest.mark.slow
def test_the_uram_count_is_what_yosys_maps():
    from mbdsl.backends.rtl.synth import cell_resources, synthesize
    p = _mvau(1, 16, 256, 512, 1)  # 64 bits x 8,192 words: two URAM288s cascaded
    got = cell_resources(synthesize("mbdsl_mvau", p, True))
    assert got.uram == unit("mbdsl_mvau", p, "lut").uram == 2
    assert got.bram18 == 0
