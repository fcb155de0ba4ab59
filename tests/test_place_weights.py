"""Where fold(auto) keeps each MAC layer's weights on a device with UltraRAM
(``autofold.place_weights``, ``fold_for_budget(uram=...)``), and the devices that have none."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from mbdsl import autofold as af
from mbdsl import devices
from mbdsl.autofold import Option
from mbdsl.backends.rtl.cost import layer_cost
from mbdsl.cli import main
from mbdsl.frontend import load_string
from mbdsl.passes import check

ROOT = Path(__file__).resolve().parent.parent
U250 = ROOT / "specs" / "mobilenet_v1_w4a4_u250.mbn"
ZCU104 = "xczu7ev-ffvc1156-2-e"

NONE = {"lut": 0, "ff": 0, "bram18": 0, "dsp": 0, "uram": 0}


def _rom(bram, lut=100.0):
    return Option(1, 1, 1, 10, lut=lut, bram18=bram)


def _uram(uram, lut=100.0):
    return Option(1, 1, 1, 10, lut=lut, uram=uram, weights="uram")


def test_weights_stay_in_rom_when_block_ram_suffices():
    avail = {0: [_rom(10), _uram(2)], 1: [_rom(20), _uram(4)]}
    choice, tot = af.place_weights(avail, NONE, {"bram18": 40, "uram": 8})
    assert [o.weights for o in choice.values()] == [None, None] and tot["uram"] == 0


def test_the_layer_that_frees_enough_block_ram_moves():
    avail = {0: [_rom(10), _uram(2)], 1: [_rom(40), _uram(4)]}
    choice, tot = af.place_weights(avail, NONE, {"bram18": 30, "uram": 8})
    assert (choice[0].weights, choice[1].weights) == (None, "uram")
    assert (tot["bram18"], tot["uram"]) == (10, 4)


def test_scarce_ultraram_goes_where_it_is_used_best():
    # layer 0 can only use UltraRAM narrowly (16 URAM288s); layer 1 widely (4 at more LUTs)
    avail = {0: [_rom(30), _uram(16)], 1: [_rom(30), _uram(4, lut=150), _uram(12)]}
    choice, tot = af.place_weights(avail, NONE, {"bram18": 30, "uram": 8})
    assert (choice[0].weights, choice[1].weights, choice[1].uram) == (None, "uram", 4)
    assert tot["uram"] <= 8 and tot["bram18"] <= 30


def test_products_move_back_into_luts_when_dsps_run_out():
    def both(saved):  # the layer's products in 8 DSP slices save ``saved`` LUTs
        return [_rom(50), Option(1, 1, 1, 10, lut=100.0, uram=4, dsp=8, mult="dsp", weights="uram"),
                Option(1, 1, 1, 10, lut=100.0 + saved, uram=4, mult="lut", weights="uram")]

    avail = {0: both(80), 1: both(40)}  # no ROM fits the block RAM
    choice, tot = af.place_weights(avail, NONE, {"bram18": 40, "uram": 8, "dsp": 10, "lut": 1000})
    assert (choice[0].mult, choice[1].mult) == ("dsp", "lut")  # the DSP slices go where they save most
    assert (tot["dsp"], tot["uram"], tot["bram18"]) == (8, 8, 0)


def test_none_when_no_placement_fits():
    avail = {0: [_rom(30), _uram(16)], 1: [_rom(30), _uram(16)]}
    assert af.place_weights(avail, NONE, {"bram18": 30, "uram": 8}) is None


def test_only_layers_whose_weights_may_live_in_ultraram_get_the_choice():
    net = check(load_string("""network t {
  input 8x8x3 u8
  conv c0 3x3 stride 1 pad 1 -> 8 weights int8 fold(pe = 1, simd = 1)
  dwconv d1 fold(pe = 1, simd = 1)
}"""))
    coster = layer_cost(net)
    conv, dw = (af.every_option(layer, coster, (), ("uram",)) for layer in net.layers)
    assert {o.weights for o in conv} == {None, "uram"} and {o.weights for o in dw} == {None}
    moved = [o for o in conv if o.weights == "uram"]
    assert all(o.uram >= 1 and o.bram18 == 0 for o in moved)


def test_devices_with_ultraram_give_its_budget():
    assert devices.fold_goal(devices.device(ZCU104)).uram == int(96 * devices.DEFAULT_UTILISATION)
    assert devices.fold_goal(devices.device("LFE5U-85F")).uram is None
    assert devices.fold_goal(devices.device("xc7a100t-csg324-1")).uram is None


@pytest.mark.slow
def test_finns_mobilenet_fits_the_zcu104_only_with_ultraram():
    from mbdsl.commands.common import load_checked
    net = load_checked(str(U250))
    coster = layer_cost(net)
    goal = devices.fold_goal(devices.device(ZCU104))
    with pytest.raises(af.Infeasible):
        af.solve(net, attrs.evolve(goal, uram=None, offchip_gbps=0.0), 206e6, coster=coster)  # nor streamed weights
    plan = af.solve(net, goal, 206e6, coster=coster)
    assert plan.uram <= goal.uram and plan.bram18 <= goal.bram and plan.lut <= goal.lut and plan.dsp <= goal.dsp
    placed = [layer for layer in plan.layers if getattr(layer, "fold", None) is not None and layer.fold.weights == "uram"]
    assert placed and plan.uram == sum(coster(layer).uram for layer in placed)


def test_fold_for_a_device_without_ultraram_refuses_pinned_uram(tmp_path, capsys):
    spec = tmp_path / "t.mbn"
    spec.write_text("""network t {
  input 8x8x3 u8
  conv c0 3x3 stride 1 pad 1 -> 8 weights int8 fold(pe = 1, simd = 1, weights = uram)
}
""")
    assert main(["fold", str(spec), "--device", "xc7a100t-csg324-1"]) == 2
    err = capsys.readouterr().err
    assert "layer c0 keeps its weights in UltraRAM (weights = uram), and xc7a100t-csg324-1 has none" in err
    assert f"{spec}:3:" in err


def test_impl_on_an_ecp5_refuses_pinned_uram(tmp_path, capsys):
    spec = tmp_path / "t.mbn"
    spec.write_text("""network t {
  input 8x8x3 u8
  conv c0 3x3 stride 1 pad 1 -> 8 weights int8 fold(pe = 1, simd = 1, weights = uram)
}
""")
    assert main(["impl", str(spec), "-o", str(tmp_path / "out")]) == 2
    assert "LFE5U-85F has none" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
