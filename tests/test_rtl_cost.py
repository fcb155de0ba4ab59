"""The RTL resource model per layer (mbdsl.backends.rtl.cost) is the sum of the stages the
generated top builds for that layer: the optimizer's figures and the report's agree, also
for a classifier with a bias (whose accumulator start value costs registers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mbdsl import ir
from mbdsl.backends.rtl import cost
from mbdsl.backends.rtl.resources import Resources, unit
from mbdsl.commands.common import load_checked

ROOT = Path(__file__).resolve().parent.parent
SPECS = ["mobilenet_v1_w0.25_64.mbn", "mobilenet_v1_w0.25_32.mbn"]


@pytest.mark.parametrize("spec", SPECS)
def test_layer_cost_is_the_sum_of_the_layers_stages(spec):
    net = load_checked(str(ROOT / "specs" / spec))
    layer_cost = cost.layer_cost(net)
    stages = cost.stage_resources(net)
    for layer in net.layers:
        own = [s.resources for s in stages if s.layer == layer.name and s.module != "mbdsl_dwc"]
        assert layer_cost(layer) == sum(own, Resources()), layer.name


def test_a_biased_classifier_costs_its_bias_registers():
    net = load_checked(str(ROOT / "specs" / "mobilenet_v1_w0.25_64.mbn"))
    fc = next(l for l in net.layers if isinstance(l, ir.FC))
    assert fc.bias_type is not None
    bits, signed = cost.input_streams(net)[fc.name]
    (module, params), = [(m, p) for m, p in cost.unit_stages(fc, bits, signed) if m == "mbdsl_mvau"]
    assert params["HAS_BIAS"] == 1
    without = {k: v for k, v in params.items() if k != "HAS_BIAS"}
    acc = params["ACC_BITS"]
    assert unit(module, params).ff - unit(module, without).ff == params["PE"] * acc


def test_a_multiplier_network_has_no_rtl_cost():
    net = load_checked(str(ROOT / "specs" / "mobilenet_v1_int8_w0.25_32.mbn"))
    assert cost.layer_cost(net) is None
