"""Optimal folding (mbdsl.autofold): figures on FINN's network, the LUT tie-break, resource
budgets against brute force on a tiny network, and the ``mbdsl fold`` messages."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from mbdsl import autofold as af
from mbdsl.cli import main
from mbdsl.dataflow import layer_cycles
from mbdsl.frontend import load_string
from mbdsl.passes import check

ROOT = Path(__file__).resolve().parent.parent
U250 = ROOT / "specs" / "mobilenet_v1_w4a4_u250.mbn"

TINY = """
network tiny {
  input 8x8x3 u8
  defaults { weights int4 narrow; activations uint4; quant thresholds }
  weights random(seed = 1)
  conv  c0 3x3 stride 1 pad 1 -> 8  weights int8  fold(pe = 1, simd = 1)
  dwsep b1 stride 2 -> 16   fold(dw_pe = 1, pe = 1, simd = 1)
  avgpool pool global       fold(pe = 1)
  fc    fc -> 4             fold(pe = 1, simd = 1)
  topk  top 2
}
"""


@pytest.fixture(scope="module")
def u250():
    from mbdsl.commands.common import load_checked

    net = load_checked(str(U250))
    return net, af.Coster(net)


@pytest.fixture(scope="module")
def tiny():
    net = check(load_string(TINY))
    return net, af.Coster(net)


def test_lane_budget_keeps_the_published_figures(u250):
    net, coster = u250
    plan = af.fold_for_lanes(net, 5764, coster=coster)
    assert (plan.ii, plan.lanes) == (100_352, 5_686)
    assert plan.bound == (99_456, 10_846)


def test_equal_lane_foldings_are_broken_by_luts(u250):
    net, coster = u250
    plan = af.fold_for_lanes(net, 5764, coster=coster)
    for layer in plan.layers:
        if isinstance(layer, af.MAC_KINDS):
            chosen = coster(layer)
            same = [o for o in af.every_option(layer, coster) if o.lanes == layer.fold.lanes() and o.cycles <= plan.ii]
            assert chosen.lut == pytest.approx(min(o.lut for o in same))


def test_fewest_luts_at_an_ii_is_no_more_than_fewest_lanes(u250):
    net, coster = u250
    lanes = af.fold_for_ii(net, 100_352, cost="lanes", coster=coster)
    luts = af.fold_for_ii(net, 100_352, cost="lut", coster=coster)
    assert luts.ii <= 100_352 and lanes.ii <= 100_352
    assert luts.lut <= lanes.lut
    assert lanes.lanes <= luts.lanes


def _brute(net, coster, ii_ok):
    """Every combination of every layer's foldings: (II, LUT, BRAM) of each."""
    free = [i for i, l in enumerate(net.layers) if not isinstance(l, af.ir.TopK)]
    fixed = [l for i, l in enumerate(net.layers) if i not in free]
    base_lut = sum(coster(l).lut for l in fixed)
    base_bram = sum(coster(l).bram18 for l in fixed)
    per = [af.every_option(net.layers[i], coster) for i in free]
    for combo in itertools.product(*per):
        ii = max(max(o.cycles for o in combo), max((layer_cycles(l) for l in fixed), default=0))
        yield ii, base_lut + sum(o.lut for o in combo), base_bram + sum(o.bram18 for o in combo)


@pytest.mark.parametrize("budget", ["lut", "bram", "both"])
def test_budgets_match_brute_force(tiny, budget):
    net, coster = tiny
    combos = list(_brute(net, coster, None))
    luts = sorted({round(c[1]) for c in combos})
    brams = sorted({c[2] for c in combos})
    for lut in luts[:: max(1, len(luts) // 7)]:
        for bram in brams[:: max(1, len(brams) // 3)]:
            lim_l = lut if budget in ("lut", "both") else None
            lim_b = bram if budget in ("bram", "both") else None
            ok = [c for c in combos if (lim_l is None or c[1] <= lim_l + 1e-6) and (lim_b is None or c[2] <= lim_b)]
            if not ok:
                with pytest.raises(af.Infeasible):
                    af.fold_for_budget(net, lim_l, lim_b, coster=coster)
                continue
            best = min(c[0] for c in ok)
            plan = af.fold_for_budget(net, lim_l, lim_b, coster=coster)
            assert plan.ii == best
            assert lim_l is None or plan.lut <= lim_l + 1e-6
            assert lim_b is None or plan.bram18 <= lim_b
            if budget == "lut":  # the fewest LUTs among the plans at the best II
                assert plan.lut == pytest.approx(min(c[1] for c in ok if c[0] == best))


def test_the_bound_needs_more_than_the_budget(tiny):
    net, coster = tiny
    combos = list(_brute(net, coster, None))
    lut = sorted(c[1] for c in combos)[len(combos) // 2]
    plan = af.fold_for_budget(net, lut, None, coster=coster)
    assert plan.bound is not None
    faster_ii, need = plan.bound
    assert faster_ii < plan.ii and need > lut
    assert min(c[1] for c in combos if c[0] <= faster_ii) == pytest.approx(need)


def test_infeasible_budget_names_the_least_total_and_a_layer(tiny):
    net, coster = tiny
    with pytest.raises(af.Infeasible) as exc:
        af.fold_for_budget(net, 10, None, coster=coster)
    assert exc.value.resource == "LUTs"
    assert exc.value.best > 10
    assert re.match(r"even the cheapest folding needs [\d,]+ LUTs, more than 10 \(layer \S+ alone needs [\d,]+\)", str(exc.value))


def test_fold_cli_lut_budget(capsys):
    assert main(["fold", str(U250), "--lut", "364k"]) == 0
    out = capsys.readouterr().out
    m = re.search(r"chosen +II ([\d,]+) cycles, ([\d,]+) MAC lanes, [\d,.]+ FPS at 206 MHz, ([\d,]+) LUT", out)
    assert m and int(m.group(3).replace(",", "")) <= 364_000
    assert re.search(r"optimal +the next faster II, [\d,]+ cycles, needs at least [\d,]+ LUTs", out)


def test_fold_cli_infeasible_budget(capsys):
    assert main(["fold", str(U250), "--lut", "1000"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"error: no folding fits 1,000 LUTs: even the cheapest folding needs [\d,]+ LUTs", err)
    assert re.search(r"hint: the least achievable is [\d,]+ LUTs \(at the slowest folding\); layer \S+ limits it most", err)


def test_fold_cli_rejects_budget_with_goal(capsys):
    assert main(["fold", str(U250), "--lut", "364k", "--mac-lanes", "100"]) == 2
    assert "do not combine with --fps or --mac-lanes" in capsys.readouterr().err


def test_fold_cli_budget_on_a_multiplier_spec(capsys):
    assert main(["fold", str(ROOT / "specs" / "mobilenet_v1_int8_w0.25_32.mbn"), "--bram", "100"]) == 2
    assert "resource budgets need the RTL backend's resource model" in capsys.readouterr().err


def test_automatic_folding_beats_finns_on_its_own_network(u250):
    """bench/fold_vs_finn.py's claim: faster II, fewer lanes and no more LUTs than FINN's folding."""
    import attrs

    from mbdsl.resources import Resources, network_resources

    net, coster = u250
    plan = af.fold_for_lanes(net, 5764, coster=coster)

    def total(layers):
        return sum(network_resources(attrs.evolve(net, layers=tuple(layers))).values(), Resources())

    finn, auto = total(net.layers), total(plan.layers)
    assert plan.ii < max(layer_cycles(l) for l in net.layers)
    assert plan.lanes < 5764
    assert auto.lut <= finn.lut
