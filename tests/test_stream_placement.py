"""The budget search streams weights from off-chip memory (``fold(weights = stream)``) only
when on-chip memory cannot hold them, the layers read fewest times a frame first
(``autofold.solve``, ``autofold.stream_order``)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from mbdsl import autofold as af
from mbdsl import devices, ir
from mbdsl.backends.rtl.cost import layer_cost
from mbdsl.dataflow import offchip_bytes
from mbdsl.frontend import load_string
from mbdsl.passes import check

ROOT = Path(__file__).resolve().parent.parent

# two small convolutions, then an fc with 256 x 4,096 8-bit weights (8.4 Mbit): in block RAM
# about 460 BRAM18s, in LUTs (64 bits a LUT6) over 130,000
NET = """network t {
  input 16x16x3 u8
  conv c0 3x3 stride 2 pad 1 -> 16 weights int8 fold(auto)
  pwconv p1 -> 64 weights int8 fold(auto)
  fc fc -> 256 weights int8 fold(auto)
}"""
SMALL = ir.FoldGoal(lut=60_000, bram=40, ff=10**7, dsp=10**4)
"""Room for the convolutions, not for the fc's weights (in block RAM or in LUTs)."""


def _net():
    return check(load_string(NET, "t.mbn"))


def test_the_fc_is_streamed_first_and_pointwise_layers_by_their_pixels():
    net = _net()
    names = [net.layers[i].name for i in af.stream_order(net)]
    assert names == ["fc", "p1", "c0"]  # 1 vector a frame, then 8 x 8 pixels each (the most weights first)


def test_nothing_is_streamed_while_the_weights_fit_on_chip():
    net = _net()
    roomy = attrs.evolve(SMALL, lut=10**6, bram=10**4, offchip_gbps=19.2)
    plan = af.solve(net, roomy, 200e6, coster=layer_cost(net))
    assert all(layer.fold.weights == "rom" for layer in plan.layers)


def test_weights_on_chip_cannot_hold_go_off_chip_the_fc_only():
    net = _net()
    coster = layer_cost(net)
    with pytest.raises(af.Infeasible):  # no off-chip memory: nothing fits
        af.solve(net, SMALL, 200e6, coster=coster)
    plan = af.solve(net, attrs.evolve(SMALL, offchip_gbps=19.2), 200e6, coster=coster)
    assert {layer.name: layer.fold.weights for layer in plan.layers} == {"c0": "rom", "p1": "rom", "fc": "stream"}
    assert plan.bram18 <= SMALL.bram and plan.lut <= SMALL.lut
    assert offchip_bytes(net.replace_layers(tuple(plan.layers))) == 256 * 4096  # the fc's weights, once a frame


def test_device_goals_carry_the_boards_offchip_bandwidth():
    assert devices.fold_goal(devices.device("xczu7ev-ffvc1156-2-e")).offchip_gbps == 19.2
    assert devices.fold_goal(devices.device("LFE5U-85F")).offchip_gbps == 0.0


@pytest.mark.slow
def test_the_int8_network_fits_the_zcu104_with_its_fc_streamed():
    from mbdsl.backends.rtl.top import needs_params
    from mbdsl.commands.common import load_checked
    from mbdsl.params import make_params
    net = load_checked(str(ROOT / "specs" / "mobilenet_v1_int8_gap8.mbn"))
    assert needs_params(net)
    coster = layer_cost(net, params=make_params(net))
    goal = devices.fold_goal(devices.device("xczu7ev-ffvc1156-2-e"))
    plan = af.solve(net, goal, 200e6, coster=coster)
    streamed = [layer.name for layer in plan.layers if getattr(layer, "fold", None) is not None and layer.fold.weights == "stream"]
    assert streamed == ["fc"]
    assert plan.bram18 <= goal.bram and plan.uram <= goal.uram and plan.lut <= goal.lut and plan.dsp <= goal.dsp
    with pytest.raises(af.Infeasible):  # without the board's memory it does not fit
        af.solve(net, attrs.evolve(goal, offchip_gbps=0.0), 200e6, coster=coster)
