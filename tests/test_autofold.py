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
from mbdsl.backends.rtl.cost import layer_cost, network_resources
from mbdsl.backends.rtl.resources import Resources
from mbdsl.passes import check

def rtl_check(net):
    """The passes with the RTL backend's resource model, as ``mbdsl check`` runs them."""
    return check(net, layer_cost)


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
    return net, layer_cost(net)


@pytest.fixture(scope="module")
def tiny():
    net = rtl_check(load_string(TINY))
    return net, layer_cost(net)


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


@pytest.mark.slow
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


@pytest.mark.slow
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
    """The int8 spec's resource model takes its parameters (tests/test_int8_budgets.py)."""
    assert main(["fold", str(ROOT / "specs" / "mobilenet_v1_int8_w0.25_32.mbn"), "--bram", "100"]) == 0
    m = re.search(r"chosen +II [\d,]+ cycles, [\d,]+ MAC lanes, [\d,.]+ FPS at 200 MHz, [\d,]+ LUT, ([\d,]+) BRAM18", capsys.readouterr().out)
    assert m and int(m.group(1).replace(",", "")) <= 100


def test_automatic_folding_beats_finns_on_its_own_network(u250):
    """bench/fold_vs_finn.py's claim: faster II, fewer lanes and no more LUTs than FINN's folding."""
    import attrs

    net, coster = u250
    plan = af.fold_for_lanes(net, 5764, coster=coster)

    def total(layers):
        return sum(network_resources(attrs.evolve(net, layers=tuple(layers))).values(), Resources())

    finn, auto = total(net.layers), total(plan.layers)
    assert plan.ii < max(layer_cycles(l) for l in net.layers)
    assert plan.lanes < 5764
    assert auto.lut <= finn.lut


# --------------------------------------------------------------- goals in the spec's target


def _u250_auto(goal: str, keep_conv0: bool = False) -> str:
    """FINN's network with fold(auto) on every layer (conv0 kept as FINN folds it if asked)
    and ``goal`` in its target fpga block."""
    lines = U250.read_text().splitlines(keepends=True)
    text = "".join(line if keep_conv0 and "conv0" in line else re.sub(r"fold\([^)]*\)", "", line) for line in lines)
    text = text.replace("quant thresholds }", "quant thresholds; fold(auto) }")
    return text.replace('part "xcu250-figd2104-2L-e" }', f'part "xcu250-figd2104-2L-e"; {goal} }}')


@pytest.mark.slow
def test_spec_lane_goal_folds_like_mbdsl_fold(u250):
    """specs/mobilenet_v1_w4a4_u250_auto.mbn: fold(auto) everywhere, mac_lanes 5764."""
    net = rtl_check(load_string((ROOT / "specs" / "mobilenet_v1_w4a4_u250_auto.mbn").read_text(), "u250_auto.mbn"))
    want = af.fold_for_lanes(u250[0], 5764, coster=u250[1])
    assert net.fpga.goal.mac_lanes == 5764
    folds = [(l.fold.pe, l.fold.simd, l.fold.auto) for l in net.layers if hasattr(l, "fold")]
    assert folds == [(l.fold.pe, l.fold.simd, False) for l in want.layers if hasattr(l, "fold")]
    assert max(layer_cycles(l) for l in net.layers) == 100_352


@pytest.mark.slow
def test_spec_fps_goal_folds_only_the_auto_layers():
    text = _u250_auto("fps 2500", keep_conv0=True)
    assert "fold(pe = 32, simd = 3)" in text  # conv0 stays as FINN folds it...
    with pytest.raises(Exception) as exc:
        rtl_check(load_string(text, "u250_auto.mbn"))
    err = exc.value.render()  # ...and its window generator (111,337 cycles) cannot reach 2,500 FPS
    assert re.match(r"u250_auto\.mbn:\d+:\d+: error: no folding reaches 2,500 FPS at 206 MHz: layer conv0 is fixed at 111,337 cycles", err)
    assert "fps 2500" in err.splitlines()[1] and "hint: the best achievable is 1,850.2 FPS at 206 MHz, limited by layer conv0" in err
    net = rtl_check(load_string(text.replace("fps 2500", "fps 1800"), "u250_auto.mbn"))
    assert (net.layers[0].fold.pe, net.layers[0].fold.simd) == (32, 3)
    ii = max(layer_cycles(l) for l in net.layers)
    assert 111_337 <= ii <= 206e6 // 1800  # 112,896: the depthwise units' fewest lanes for 1800 FPS
    # every auto layer took the fewest lanes that keep it within 206 MHz / 1800 FPS
    for layer in net.layers[1:]:
        if isinstance(layer, af.MAC_KINDS):
            cheaper = [o for o in af.options(layer) if o.lanes < layer.fold.lanes() and o.cycles <= 206e6 // 1800]
            assert not cheaper, layer.name


@pytest.mark.slow
def test_spec_goal_is_written_back(tmp_path, capsys):
    spec = tmp_path / "auto.mbn"
    spec.write_text(_u250_auto("mac_lanes 5764"))
    assert main(["fold", str(spec), "-o", str(tmp_path / "folded.mbn")]) == 0
    out = capsys.readouterr().out
    assert "folding for the fastest II within 5,764 MAC lanes" in out
    folded = (tmp_path / "folded.mbn").read_text()
    assert "mac_lanes 5764 }" in folded and "fold(auto)" not in folded
    assert max(layer_cycles(l) for l in rtl_check(load_string(folded)).layers) == 100_352
