"""The multiplier mapping chosen with the folding (issue 15, items 1 and 2): under a device's
budgets ``fold(auto)`` and ``mbdsl fold`` give each layer ``lut``, ``dsp`` or ``packed``
products with its PE/SIMD; checked against brute force over every folding and mapping of a
small network, the LUT budget never exceeded, a pinned ``mult`` kept, ``fold -o`` writing
the mapping back, and FINN's network at FINN's LUTs (the goal of issue 15)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import attrs
import pytest

from mbdsl import autofold as af
from mbdsl import devices, ir
from mbdsl.backends.rtl.cost import layer_cost, network_resources
from mbdsl.cli import main
from mbdsl.dataflow import input_cycles
from mbdsl.frontend import load, load_string
from mbdsl.passes import check

ROOT = Path(__file__).resolve().parent.parent
U250 = "xcu250-figd2104-2L-e"
RESOURCES = ("lut", "ff", "bram18", "dsp")

NET = """
network small {
  input 8x8x3 u8
  defaults { weights int4 narrow; activations uint4; quant thresholds; fold(auto) }
  weights random(seed = 5)
  conv    c0 3x3 stride 1 pad 1 -> 8  weights int8
  dwconv  d1 3x3 stride 2 pad 1
  pwconv  p1 -> 16
  avgpool pool global
  fc      fc -> 4
  topk    top 2
}
"""
"""Every kind of MAC layer: an 8-bit first layer, a depthwise unit (lut, dsp or packed), a pointwise
unit and a classifier (lut, dsp or packed)."""


def _net(text: str = NET):
    return check(load_string(text, "small.mbn"), layer_cost)


@pytest.fixture(scope="module")
def small():
    net = _net()
    coster = layer_cost(net)
    free = [i for i, l in enumerate(net.layers) if not isinstance(l, ir.TopK)]
    per = [af.every_option(net.layers[i], coster, ir.MULTS) for i in free]
    fixed = [sum(getattr(coster(l), r) for i, l in enumerate(net.layers) if i not in free) for r in RESOURCES]
    return net, coster, per, fixed


def _fitting(small, limits: dict, ii: int):
    """Brute force: the totals (LUT, FF, BRAM18, DSP) of every combination of every layer's
    foldings and mappings at most ``ii`` cycles that fits ``limits``; per layer, an option
    another beats in every resource is left out (it can never be needed)."""
    net, _, per, fixed = small
    kept = []
    for opts in per:
        fast = [o for o in opts if o.cycles <= ii]
        figures = [tuple(getattr(o, r) for r in RESOURCES) for o in fast]
        kept.append([f for f in figures if not any(g != f and all(a <= b for a, b in zip(g, f)) for g in figures)])
    out = []
    for combo in itertools.product(*kept):
        tot = [b + sum(c[k] for c in combo) for k, b in enumerate(fixed)]
        if all(tot[k] <= limits[r] + 1e-6 for k, r in enumerate(RESOURCES) if r in limits):
            out.append(tot)
    return out


def _fastest(small, limits: dict) -> int | None:
    net, _, per, _ = small
    port = input_cycles(net.input)
    for ii in sorted({o.cycles for opts in per for o in opts if o.cycles >= port} | {port}):
        if _fitting(small, limits, ii):
            return ii
    return None


def _used(plan, coster) -> dict:
    """The plan's totals, recomputed from its layers (not taken from the plan)."""
    return {r: sum(getattr(coster(l), r) for l in plan.layers if coster(l) is not None) for r in RESOURCES}


def _mults(plan) -> list:
    return [l.fold.mult for l in plan.layers if isinstance(l, af.MAC_KINDS)]


@pytest.mark.parametrize("lut", [2_900, 5_000, 7_000, 12_000])
@pytest.mark.parametrize("dsp", [0, 4, 40])
def test_the_mapping_is_chosen_optimally_against_brute_force(small, lut, dsp):
    """Every folding x mapping combination: the plan's II is the fastest any fits, it fits,
    and (BRAMs not binding, the exact case) it has the fewest DSPs of those that fit at that II."""
    net, coster, _, _ = small
    limits = {"lut": lut, "dsp": dsp}
    best = _fastest(small, limits)
    if best is None:
        with pytest.raises(af.Infeasible):
            af.fold_for_budget(net, lut=lut, dsp=dsp, coster=coster, mults=ir.MULTS)
        return
    plan = af.fold_for_budget(net, lut=lut, dsp=dsp, coster=coster, mults=ir.MULTS)
    used = _used(plan, coster)
    assert plan.ii == best
    assert used["lut"] <= lut + 1e-6 and used["dsp"] <= dsp
    assert used["dsp"] == min(c[3] for c in _fitting(small, limits, best))
    if plan.bound is not None:  # the next faster II: nothing fits there, and the plan says it is proven
        assert plan.bound_proven and not _fitting(small, limits, plan.bound[0])


def test_packed_dsps_when_the_lut_budget_binds_and_luts_when_it_does_not(small):
    net, coster, _, _ = small
    loose = af.fold_for_budget(net, lut=10**6, dsp=1_000, coster=coster, mults=ir.MULTS)
    assert set(_mults(loose)) == {"lut"} and loose.dsp == 0
    # the same II with 10% fewer LUTs than the LUT multipliers need: packed products make room
    lut = 0.9 * loose.lut
    tight = af.fold_for_budget(net, lut=lut, dsp=1_000, coster=coster, mults=ir.MULTS)
    assert tight.ii == loose.ii and tight.lut <= lut
    assert "packed" in _mults(tight) and 0 < tight.dsp


MID = """
network mid {
  input 8x8x8 u8
  defaults { weights int4 narrow; activations uint4; quant thresholds; fold(auto) }
  weights random(seed = 3)
  pwconv p0 -> 64 weights int8
  pwconv p1 -> 128
  avgpool pool global
  fc    fc -> 10
  topk  top 2
}
"""
"""A network whose second layer's weights go to block RAM at some foldings: BRAMs, DSPs and
LUTs all bind (with no BRAM18 the choice within the DSP budget alone breaks the BRAM budget,
so the price search runs)."""


@pytest.fixture(scope="module")
def mid():
    net = _net(MID)
    coster = layer_cost(net)
    free = [i for i, l in enumerate(net.layers) if not isinstance(l, ir.TopK)]
    per = [af.every_option(net.layers[i], coster, ir.MULTS) for i in free]
    fixed = [sum(getattr(coster(l), r) for i, l in enumerate(net.layers) if i not in free) for r in RESOURCES]
    return net, coster, per, fixed


@pytest.mark.parametrize("lut, bram, dsp", [(l, b, d) for l in (6_000, 9_000, 14_000) for b in (0, 2) for d in (0, 8, 128)])
def test_the_lut_budget_is_never_exceeded(mid, lut, bram, dsp):
    """Whatever binds (BRAMs and DSPs together included, where the choice is a search), the
    plan's LUTs, BRAM18s and DSPs, recomputed from its layers, fit, and an infeasible budget
    is reported only when brute force finds nothing either. On this grid the search also
    reaches brute force's fastest II (not guaranteed where BRAMs and DSPs both bind)."""
    net, coster, _, _ = mid
    limits = {"lut": lut, "bram18": bram, "dsp": dsp}
    best = _fastest(mid, limits)
    try:
        plan = af.fold_for_budget(net, lut=lut, bram=bram, dsp=dsp, coster=coster, mults=ir.MULTS)
    except af.Infeasible:
        assert best is None
        return
    used = _used(plan, coster)
    assert used["lut"] <= lut + 1e-6 and used["bram18"] <= bram and used["dsp"] <= dsp
    assert plan.ii == best
    if plan.bound is not None and plan.bound_proven:
        assert not _fitting(mid, limits, plan.bound[0])


def test_a_pinned_mult_is_kept():
    text = NET.replace("fc -> 4", "fc -> 4 fold(pe = 1, simd = 1, mult = lut)").replace("weights int8", "weights int8 fold(pe = 1, simd = 1, mult = dsp)")
    assert text.count("mult = ") == 2
    net = _net(text)
    coster = layer_cost(net)
    loose = af.fold_for_budget(net, lut=10**6, dsp=1_000, coster=coster, mults=ir.MULTS)  # every layer refolded
    by_name = {l.name: l for l in loose.layers}
    assert by_name["c0"].fold.mult == "dsp" and by_name["fc"].fold.mult == "lut" and by_name["p1"].fold.mult == "lut"
    for lut in (3_000, 4_000, 6_000):  # LUTs binding: the others move, the pinned ones do not
        plan = af.fold_for_budget(net, lut=lut, dsp=1_000, coster=coster, mults=ir.MULTS)
        by_name = {l.name: l for l in plan.layers}
        assert by_name["c0"].fold.mult == "dsp" and by_name["fc"].fold.mult == "lut"


def test_only_families_validated_with_a_mapping_choose_one():
    assert devices.fold_goal(devices.device(U250)).mults == ir.MULTS
    for name in ("xc7a100t-csg324-1", "LFE5U-85F"):
        assert devices.fold_goal(devices.device(name)).mults == ()


def test_fold_cli_device_with_a_lut_budget_writes_the_mapping_back(tmp_path, capsys):
    spec = tmp_path / "small.mbn"
    spec.write_text(NET)
    out = tmp_path / "folded.mbn"
    assert main(["fold", str(spec), "--device", U250, "--utilisation", "1%", "--lut", "4000", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    b = devices.budget(devices.device(U250), 0.01)
    assert f"budget   1% of {U250} with 4,000 LUTs in the model's units: 4,000 LUT, {b.ff:,} FF, {b.bram18:,} BRAM18, {b.dsp:,} DSP" in text
    used = re.search(r"used     ([\d,]+) LUT, ([\d,]+) FF, ([\d,]+) BRAM18, ([\d,]+) DSP", text)
    lut, ff, bram, dsp = (int(g.replace(",", "")) for g in used.groups())
    assert lut <= 4_000 and bram <= b.bram18 and dsp <= b.dsp
    net = _net()
    plan = af.fold_for_budget(net, lut=4_000, bram=b.bram18, ff=b.ff, dsp=b.dsp, coster=layer_cost(net), mults=ir.MULTS)
    written = check(load(str(out)))
    assert [(l.name, l.fold.pe, l.fold.simd, l.fold.mult) for l in written.layers if hasattr(l, "fold")] == \
           [(l.name, l.fold.pe, l.fold.simd, l.fold.mult) for l in plan.layers if hasattr(l, "fold")]
    assert "packed" in _mults(plan) and re.search(r"mapping  .*\d+ layers? packed", text)
    # folding the written spec again changes nothing: its mappings are now pinned
    again = tmp_path / "again.mbn"
    assert main(["fold", str(out), "--device", U250, "--utilisation", "1%", "--lut", "4000", "-o", str(again)]) == 0
    assert again.read_text().split("\n", 1)[1] == out.read_text().split("\n", 1)[1]


def test_fold_auto_in_a_spec_chooses_the_mapping_as_the_cli_does():
    net = _net(NET + f'\ntarget fpga {{ clock 200 MHz; device "{U250}"; utilisation 1% }}\n')
    goal = devices.fold_goal(devices.device(U250), 0.01)
    plan = af.solve(_net(), goal, 200e6, coster=layer_cost(_net()))
    assert [(l.fold.pe, l.fold.simd, l.fold.mult) for l in net.layers if hasattr(l, "fold")] == \
           [(l.fold.pe, l.fold.simd, l.fold.mult) for l in plan.layers if hasattr(l, "fold")]
    assert all(l.fold.mult in ir.MULTS for l in net.layers if isinstance(l, af.MAC_KINDS))


@pytest.mark.slow
def test_finn_network_at_finns_luts_reaches_the_input_port():
    """Issue 15's goal: within the LUTs FINN's own folding takes on our RTL (the model's
    figure for it, width converters included) and DSP packing allowed, the fastest II is the
    input port's: at two pixels a beat, 25,088 cycles, the weights the LUTs cannot hold in
    UltraRAM; with LUT multipliers only and every weight in ROM it is 100,352."""
    finn = check(load(str(ROOT / "specs" / "mobilenet_v1_w4a4_u250.mbn")))
    coster = layer_cost(finn)
    finn_luts = sum(network_resources(finn).values()).lut
    # the spec 'mbdsl fold --device ... --lut L -o' wrote, L leaving room for its width converters
    written = check(load(str(ROOT / "specs" / "mobilenet_v1_w4a4_u250_finn_luts.mbn")))
    budget = int(re.search(r"with ([0-9,]+) LUTs", (ROOT / "specs" / "mobilenet_v1_w4a4_u250_finn_luts.mbn").read_text())[1].replace(",", ""))
    assert sum(network_resources(written).values()).lut <= finn_luts
    goal = attrs.evolve(devices.fold_goal(devices.device(U250)), lut=budget)
    plan = af.solve_pixels(finn, goal, 206e6, coster=coster)
    assert plan.pixels == written.input.pixels == 2
    assert plan.ii == input_cycles(written.input) == 25_088 and _used(plan, coster)["lut"] <= budget
    assert "packed" in _mults(plan) and any(l.fold.weights == "uram" for l in plan.layers if isinstance(l, af.MAC_KINDS))
    assert af.fold_for_budget(finn, lut=budget, coster=coster).ii == 100_352
    assert [(l.name, l.fold.pe, l.fold.simd, l.fold.mult, l.fold.weights) for l in written.layers if hasattr(l, "fold")] == \
           [(l.name, l.fold.pe, l.fold.simd, l.fold.mult, l.fold.weights) for l in plan.layers if hasattr(l, "fold")]
