"""Device budgets on multiplier-style (int8) networks: the RTL resource model sizes each
layer's stages with the network's parameters, as the generated top does (widths equal to
``top.plan(net, params)``'s, also for the spec ``mbdsl fold`` writes); the chosen folding
fits and is the fastest that does (brute force); the refusals are precise."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mbdsl import autofold as af
from mbdsl import backends, devices, ir
from mbdsl.backends.rtl import cost, netsim
from mbdsl.backends.rtl.resources import Resources
from mbdsl.backends.rtl.top import plan
from mbdsl.cli import main
from mbdsl.commands.common import load_checked, rtl_cost
from mbdsl.errors import FoldingError
from mbdsl.estimates import estimate
from mbdsl.frontend import load_string
from mbdsl.images import random_images
from mbdsl.output import write_tree
from mbdsl.params import make_params
from mbdsl.passes import check
from test_devices import _combos, _fits  # brute force over every folding of every layer

ROOT = Path(__file__).resolve().parent.parent
SMALL8 = ROOT / "specs" / "mobilenet_v1_int8_w0.25_32.mbn"
ARTIX = "xc7a100t-csg324-1"

NET8 = """
network small8 {
  input 8x8x3 u8
  defaults { weights int8; activations uint7; quant multiplier; fold(auto) }
  weights random(seed = 3)
  conv  c0 3x3 stride 1 pad 1 -> 8
  dwsep b1 stride 2 -> 16
  avgpool pool global
  fc    fc -> 4
  topk  top 2
}
"""


def plan_units(net: ir.Network, params) -> dict[str, list[tuple[str, dict]]]:
    """Each layer's own stages in the generated top (width converters left out), as
    (module, parameters)."""
    per, pending = {}, []
    for s in plan(net, params)[1]:
        pending.append(s)
        if s.layer is not None:
            per[s.layer] = [(p.module, dict(p.params)) for p in pending if p.module != "mbdsl_dwc"]
            pending = []
    return per


def model_units(net: ir.Network, params) -> dict[str, list[tuple[str, dict]]]:
    """Each layer's units as the resource model builds them for the optimizer."""
    streams = cost.input_streams(net, params)
    return {l.name: cost.unit_stages(l, *streams[l.name], params[l.name]) for l in net.layers}


@pytest.fixture(scope="module")
def small8():
    net = load_checked(str(SMALL8))
    return net, make_params(net)


def test_the_models_widths_are_the_plans(small8):
    net, params = small8
    model, rtl = model_units(net, params), plan_units(net, params)
    assert model == rtl
    requant = [p for units in rtl.values() for m, p in units if p.get("REQUANT")]
    assert len(requant) == sum(isinstance(l, (ir.Conv, ir.DwConv, ir.AvgPool)) for l in net.layers)
    # the check can fail: thresholds-style stages (no parameters) are other units
    streams = cost.input_streams(net, params)
    b6 = next(l for l in net.layers if l.name == "b6.pw")
    assert cost.unit_stages(b6, *streams[b6.name]) != rtl[b6.name]


def test_the_folded_spec_is_sized_as_the_model_sized_it(tmp_path):
    """``mbdsl fold --device -o``: the written spec's own parameters and plan give every layer
    the units, widths and resources the optimizer counted, and they fit the budget."""
    spec, out = tmp_path / "small8.mbn", tmp_path / "folded.mbn"
    spec.write_text(NET8.replace("; fold(auto)", ""))  # every layer at PE = SIMD = 1
    net = load_checked(str(spec))
    params = make_params(net)
    assert main(["fold", str(spec), "--device", ARTIX, "--utilisation", "30%", "-o", str(out)]) == 0
    folded = load_checked(str(out))
    folds = [[(l.fold.pe, l.fold.simd) for l in n.layers if isinstance(l, af.MAC_KINDS)] for n in (net, folded)]
    assert folds[0] != folds[1]
    again = make_params(folded)
    for name, lp in params.layers.items():  # the parameters do not depend on the folding
        for field in ("weights", "bias", "m0", "shift"):
            assert np.array_equal(np.asarray(getattr(lp, field)), np.asarray(getattr(again[name], field))), (name, field)
    coster = rtl_cost(net)  # the optimizer's model, of the spec before folding
    rtl = plan_units(folded, again)
    stages = cost.stage_resources(folded, "auto", again)
    b = devices.budget(devices.device(ARTIX), 0.3)
    total = Resources()
    streams = cost.input_streams(net, params)
    for layer in folded.layers:
        assert cost.unit_stages(layer, *streams[layer.name], params[layer.name]) == rtl[layer.name], layer.name
        own = sum((s.resources for s in stages if s.layer == layer.name and s.module != "mbdsl_dwc"), Resources())
        assert coster(layer) == own, layer.name
        total += own
    assert total.lut <= b.lut and total.ff <= b.ff and total.bram18 <= b.bram18 and total.dsp <= b.dsp


@pytest.fixture(scope="module")
def tiny8():
    net = check(load_string(NET8, "small8.mbn"), rtl_cost)
    coster = cost.layer_cost(net, "auto", make_params(net))
    return net, coster, list(_combos(net, coster))


@pytest.mark.parametrize("share", [0.03, 0.05, 0.1, 0.3])
def test_the_chosen_folding_is_the_fastest_that_fits(tiny8, share):
    """Against every folding of every layer of a small int8 network, requantization units
    included: the plan fits the device at the ceiling, and nothing faster does."""
    net, coster, combos = tiny8
    b = devices.budget(devices.device(ARTIX), share)
    best = min((c[0] for c in combos if _fits(c, b)), default=None)
    goal = devices.fold_goal(devices.device(ARTIX), share)
    if best is None:
        with pytest.raises(af.Infeasible):
            af.solve(net, goal, 200e6, coster=coster)
    else:
        p = af.solve(net, goal, 200e6, coster=coster)
        assert p.ii == best and _fits((p.ii, p.lut, p.ff, p.bram18, p.dsp), b)


def test_the_shares_cover_fitting_and_refusal(tiny8):
    """The brute-force cases above include a refusal and a fit that folds."""
    _, _, combos = tiny8
    fits = [any(_fits(c, devices.budget(devices.device(ARTIX), s)) for c in combos) for s in (0.03, 0.3)]
    assert fits == [False, True]


def test_fold_auto_under_a_device_budget_in_the_spec():
    net = check(load_string(NET8 + f'target fpga {{ clock 200 MHz; device "{ARTIX}"; utilisation 30% }}', "small8.mbn"), rtl_cost)
    params = make_params(net)
    # the budgets count each layer's own units (width converters depend on two layers)
    own = sum((s.resources for s in cost.stage_resources(net, "auto", params) if s.module != "mbdsl_dwc"), Resources())
    b = devices.budget(devices.device(ARTIX), 0.3)
    assert own.lut <= b.lut and own.ff <= b.ff and own.bram18 <= b.bram18 and own.dsp <= b.dsp
    assert any(l.fold.lanes() > 1 for l in net.layers if isinstance(l, af.MAC_KINDS))


def test_a_device_too_small_is_refused_with_the_resource_and_layer():
    with pytest.raises(FoldingError) as e:
        check(load_string(NET8 + f'target fpga {{ clock 200 MHz; device "{ARTIX}"; utilisation 3% }}', "small8.mbn"), rtl_cost)
    assert re.fullmatch(r"no folding fits 3% of xc7a100t-csg324-1: even the cheapest folding needs [\d,]+ (LUTs|FFs|BRAM18s|DSPs), "
                        r"more than [\d,]+ \(layer \S+ alone needs [\d,]+\)", e.value.message), e.value.message
    assert (e.value.span.line, e.value.span.column) == (NET8.count("\n") + 1, 30)  # the device


def test_without_parameters_the_model_has_no_figures_and_budgets_say_so():
    net = check(load_string(NET8, "small8.mbn"))
    assert cost.layer_cost(net) is None
    with pytest.raises(af.Infeasible) as e:
        af.fold_for_budget(net, lut=100_000, coster=cost.layer_cost(net))
    message, hint = af.explain(e.value, ir.FoldGoal(lut=100_000), 200e6)
    assert message == ("no folding reaches the fastest II within 100,000 LUTs: resource budgets need the RTL backend's resource "
                       "model, which has no figures for this network (the RTL backend does not build it, or its parameters "
                       "were not given)")
    assert "layer_cost(net, dsp, params)" in hint


def test_fold_cli_refuses_budgets_for_a_network_the_rtl_does_not_build(tmp_path, capsys):
    spec = tmp_path / "wide.mbn"
    spec.write_text(NET8.replace("activations uint7", "activations int8"))  # the RTL pool sums unsigned activations only
    assert main(["fold", str(spec), "--lut", "100k"]) == 2
    err = capsys.readouterr().err
    assert "error: no folding reaches the fastest II within 100,000 LUTs: resource budgets need the RTL backend's resource model" in err
    assert "hint: 'mbdsl gen --target rtl' names what the RTL backend refuses" in err


@pytest.mark.verilator
@pytest.mark.slow
def test_folded_to_a_budget_bit_exact_in_verilator(tmp_path):
    """The small int8 spec folded to half an Artix-7 100T: every layer bit-exact under
    stalls, and the II the model gives without them."""
    out = tmp_path / "folded.mbn"
    assert main(["fold", str(SMALL8), "--device", ARTIX, "--utilisation", "50%", "-o", str(out)]) == 0
    net = load_checked(str(out))
    params = make_params(net)
    rtl, build = tmp_path / "rtl", tmp_path / "build"
    write_tree(str(rtl), backends.generate("rtl", net, params))
    netsim.build(rtl, build)
    result = netsim.simulate(net, params, random_images(net.input, 2, seed=4), rtl, build, stall=0.2, seed=5)
    assert result.mismatch is None, str(result.mismatch)
    assert result.exact and len(result.outputs) == 2
    steady = netsim.simulate(net, params, random_images(net.input, 3, seed=6), rtl, build, trace=False)
    ii = estimate(net).ii
    assert steady.exact and abs(steady.ii - ii) <= 0.02 * ii, (steady.ii, ii)
