"""The open implementation flow (mbdsl.backends.rtl.impl, mbdsl impl) and its devices.

The tests marked ``impl`` run yosys, nextpnr and ecppack on a test-only design
(tests/impl/long_path.sv, about two minutes on one core); deselect them with ``-m "not impl"``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from mbdsl import devices
from mbdsl.backends.rtl import impl
from mbdsl.backends.rtl._depth import netlist_depth
from mbdsl.backends.rtl.cost import layer_cost, network_resources
from mbdsl.cli import main
from mbdsl.errors import MbdslError
from mbdsl.frontend import load_string
from mbdsl.passes import check

ROOT = Path(__file__).resolve().parent.parent
LONG = ROOT / "tests" / "impl" / "long_path.sv"
SMALL = ROOT / "specs" / "mobilenet_v1_w0.25_32.mbn"


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.fixture(scope="module")
def long_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("impl")
    shutil.copy(LONG, folder / LONG.name)
    result = impl.implement(folder, [LONG.name], "long_path_top", devices.device("LFE5U-25F"), 150.0, units={"u_long": ("chain", "test")})
    return folder, result


@pytest.mark.yosys
@pytest.mark.impl
def test_flow_reports_fmax_utilisation_and_bitstream(long_path):
    folder, r = long_path
    log = (folder / "nextpnr.log").read_text()
    final = re.findall(r"Max frequency for clock '[^']*clk[^']*': ([0-9.]+) MHz", log)[-1]
    assert r["fmax_mhz"] == pytest.approx(float(final), abs=0.01)
    assert 5 < r["fmax_mhz"] < 150  # six chained adders after a multiplier cannot meet 150 MHz
    comb, ff = r["utilisation"]["TRELLIS_COMB"], r["utilisation"]["TRELLIS_FF"]
    assert comb["available"] == devices.device("LFE5U-25F").lut
    assert 100 < comb["used"] < comb["available"]
    assert ff["used"] >= 16 * 3 + 8  # a, b, y and the counter, at least
    assert r["utilisation"]["MULT18X18D"]["used"] == 0  # -nodsp: the multiplier is LUTs
    bit = folder / r["bitstream"]
    assert bit.stat().st_size > 100_000


@pytest.mark.yosys
@pytest.mark.impl
def test_long_combinational_path_is_named_critical(long_path):
    _, r = long_path
    cp = r["critical_path"]
    assert cp["from"]["instance"] == "u_long" and cp["to"]["instance"] == "u_long"
    assert cp["from"]["layer"] == "chain" and cp["from"]["unit"] == "test"
    assert f"long_path.sv:{_line_of(LONG, 'stage[i + 1] =')}" in cp["through"]
    assert cp["delay_ns"] == pytest.approx(1000 / r["fmax_mhz"], rel=0.05)
    assert "layer chain (test)" in impl.describe(cp["from"])


@pytest.mark.yosys
@pytest.mark.impl
def test_logic_depth_counts_the_chain(tmp_path):
    shutil.copy(LONG, tmp_path / LONG.name)
    d = impl.logic_depth(tmp_path, [LONG.name], "long_path_top", nodsp=True)
    # the six add-and-xor stages are each at least one LUT level deep; the counter is shallow
    assert d["by_instance"]["u_long"] >= 6
    assert d["luts"] == d["by_instance"]["u_long"]
    assert d["by_instance"].get("", 0) < d["luts"]


def _cell(kind: str, ins: dict, outs: dict) -> dict:
    return {"type": kind, "port_directions": {**{p: "input" for p in ins}, **{p: "output" for p in outs}}, "connections": {**ins, **outs}}


def test_depth_stops_at_registers():
    # ff0 -> lut a -> lut b -> ff1 -> lut c -> ff0: two levels, then one; a loop through registers is no loop
    cells = {
        "ff0": _cell("FDRE", {"D": [5], "C": [9]}, {"Q": [1]}),
        "a": _cell("LUT2", {"I0": [1], "I1": [1]}, {"O": [2]}),
        "b": _cell("LUT3", {"I0": [2], "I1": [1], "I2": [2]}, {"O": [3]}),
        "ff1": _cell("FDRE", {"D": [3], "C": [9]}, {"Q": [4]}),
        "c": _cell("LUT1", {"I0": [4]}, {"O": [5]}),
        "mx": _cell("MUXF7", {"I0": [2], "I1": [3], "S": [1]}, {"O": [6]}),
        "ram": _cell("RAM64X1D", {"A0": [6], "D": [3], "WE": [1]}, {"DPO": [7]}),
        "ff2": _cell("FDRE", {"D": [7], "C": [9]}, {"Q": [8]}),
    }
    d = netlist_depth({"cells": cells, "netnames": {}})
    assert d["luts"] == 2 and d["cells"] == 4  # a, b, mx (not a LUT), then the LUT RAM's read
    assert d["path"][0].startswith("a ") and d["path"][-1].startswith("ram ")


def test_depth_refuses_a_combinational_loop():
    cells = {"a": _cell("LUT1", {"I0": [2]}, {"O": [1]}), "b": _cell("LUT1", {"I0": [1]}, {"O": [2]})}
    with pytest.raises(RuntimeError, match="combinational loop"):
        netlist_depth({"cells": cells, "netnames": {}})


def test_unit_names_map_every_stage_to_its_layer():
    from mbdsl.backends.rtl.top import plan

    net = check(load_string(SMALL.read_text(), str(SMALL)))
    names = impl.unit_names(net)
    _, stages = plan(net)
    assert set(names) == {s.instance for s in stages}
    assert names["b3_pw"] == ("b3.pw", "mvau") and names["b3_dw_swg"] == ("b3.dw", "swg")
    assert names["b3_pw_fifo"] == ("b3.pw", "fifo")
    assert {layer for layer, _ in names.values()} == {l.name for l in net.layers}


def test_devices_and_ordering_codes():
    d = devices.device("LFE5U-45F-6BG256C")
    assert (d.size_flag, d.speed, d.package, d.bram) == ("--45k", 6, "CABGA256", 108)
    assert devices.device("lfe5u-85f") == devices.DEVICES["LFE5U-85F"]


@pytest.mark.parametrize("name, message, hint", [
    ("LFE5U-84F", r"unknown device 'LFE5U-84F'", r"did you mean 'LFE5U-85F'\? .*, or an ECP5 ordering code such as LFE5U-85F-8BG381C"),
    ("LFE5U-85F-9BG381C", r"device LFE5U-85F-9BG381C: speed grade 9 does not exist", r"ECP5 speed grades are 6, 7, 8"),
    ("LFE5U-85F-8BG256C", r"device LFE5U-85F-8BG256C: LFE5U-85F comes in no package CABGA256", r"packages of LFE5U-85F: .*CABGA381.*"),
])
def test_device_errors(name, message, hint):
    with pytest.raises(MbdslError) as exc:
        devices.device(name)
    assert re.fullmatch(message, exc.value.message) and re.fullmatch(hint, exc.value.hint)


def test_check_fit_names_the_resource():
    dev = devices.device("LFE5U-25F")
    impl.check_fit({"LUT4": 20_000, "CCU2C": 2_000, "DP16KD": 56}, dev, "t")  # 24,000 of 24,288 sites: fits
    with pytest.raises(impl.ImplError) as exc:
        impl.check_fit({"LUT4": 20_000, "CCU2C": 2_200}, dev, "t")
    assert exc.value.message == "t does not fit LFE5U-25F: it needs 24,400 LUT4, the device has 24,288"
    with pytest.raises(impl.ImplError) as exc:
        impl.check_fit({"MULT18X18D": 193}, devices.device("LFE5U-85F"), "t")
    assert exc.value.message == "t does not fit LFE5U-85F: it needs 193 MULT18X18D multipliers, the device has 156"
    assert exc.value.hint == "build the multipliers from LUTs (--dsp lut)"


def test_cli_errors(capsys, tmp_path):
    assert main(["impl", str(SMALL), "-o", str(tmp_path), "--device", "XC7A35T"]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(r"error: unknown device 'XC7A35T'", err.splitlines()[0])
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("value, message", [
    ("fast", r"cannot read the clock 'fast'"),
    ("-5", r"cannot read the clock '-5'"),
    ("1e999", r"1e999 is outside 1 kHz\.\.10 GHz"),
])
def test_clock_values_are_checked_by_the_parser(value, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["impl", str(SMALL), "-o", str(tmp_path), "--clock", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert re.search(r"error: argument --clock: " + message, err), err
    assert not any(tmp_path.iterdir())


def test_fps_uses_the_measured_fmax_only_for_the_same_design(tmp_path):
    net = check(load_string(SMALL.read_text(), str(SMALL)))
    dev = devices.device(devices.DEFAULT_DEVICE)
    hz, what = impl.throughput_clock(net, tmp_path)
    assert hz == net.fpga.clock_hz and what.startswith("assumed clock")
    path = impl.result_path(tmp_path, net, dev)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"fmax_mhz": 81.2, "dsp": "lut", "key": impl.design_key(net, dev, "lut")}))
    assert impl.throughput_clock(net, tmp_path) == (81.2e6, "measured Fmax on LFE5U-85F, mbdsl impl")
    path.write_text(json.dumps({"fmax_mhz": 81.2, "dsp": "lut", "key": "0" * 16}))  # another design (older RTL, other folding)
    assert impl.throughput_clock(net, tmp_path)[1].startswith("assumed clock")


def test_device_gives_fold_auto_its_budgets():
    text = re.sub(r"(?m)^(\s*(?:conv|dwsep|repeat).*)fold\([^)]*\)", r"\1fold(auto)", SMALL.read_text())
    text = text.replace("target fpga { clock 200 MHz }", 'target fpga { clock 150 MHz; device "LFE5U-85F" }')
    net = check(load_string(text, "dev.mbn"), layer_cost)
    b = devices.budget(devices.device("LFE5U-85F"))
    lut, bram = b.lut, b.bram18
    assert (net.fpga.goal.lut, net.fpga.goal.bram) == (lut, bram)
    used = network_resources(net, dsp="auto")
    assert sum(r.lut for r in used.values()) <= lut and sum(r.bram18 for r in used.values()) <= bram


def test_cli_refuses_a_spec_the_rtl_backend_does_not_build(capsys, tmp_path):
    from networks import TINY

    spec = tmp_path / "spec" / "tiny.mbn"  # signed activations into the pool
    spec.parent.mkdir()
    spec.write_text(TINY.format(ch="x3", fmt="u8", quant="thresholds", c0act="", c2act="activations int4"))
    out = tmp_path / "out"
    assert main(["impl", str(spec), "-o", str(out)]) == 2
    assert "error: the RTL pool sums unsigned activations; layer pool receives int4" in capsys.readouterr().err
    assert not out.exists()


def test_depth_runs_through_a_dsp_without_registers():
    def dsp(regs: str) -> dict:
        c = _cell("DSP48E2", {"A": [2], "B": [2], "CLK": [9]}, {"P": [3]})
        return c | {"parameters": {"AREG": regs, "BREG": regs, "MREG": regs, "PREG": regs}}

    base = {"ff0": _cell("FDRE", {"D": [5], "C": [9]}, {"Q": [1]}), "a": _cell("LUT1", {"I0": [1]}, {"O": [2]}),
            "b": _cell("LUT1", {"I0": [3]}, {"O": [4]}), "ff1": _cell("FDRE", {"D": [4], "C": [9]}, {"Q": [5]})}
    assert netlist_depth({"cells": base | {"m": dsp("0")}, "netnames": {}})["luts"] == 2  # a, m, b
    assert netlist_depth({"cells": base | {"m": dsp("1")}, "netnames": {}})["luts"] == 1  # a | m | b


def test_a_register_named_after_the_next_stage_belongs_to_its_writer():
    # flattening names the MVAU's output register after the FIFO's input port it drives
    units = {"b10_pw": ("b10.pw", "mvau"), "b11_dw_fifo": ("b11.dw", "fifo"), "b11_dw_swg": ("b11.dw", "swg")}
    cell = "b11_dw_fifo.s_axis_tdata_TRELLIS_FF_Q_3"
    netlist = {"cells": {cell: {"type": "TRELLIS_FF", "attributes": {"src": "hdl/mbdsl_mac_core.sv:207.9-207.30|/share/x.v:1"},
                                "port_directions": {}, "connections": {}}}, "netnames": {}}
    end = impl._endpoint(cell, netlist, {}, units)
    assert (end["layer"], end["unit"], end["source"]) == ("b10.pw", "mvau", "mbdsl_mac_core.sv:207")
    netlist["cells"][cell]["attributes"]["src"] = "hdl/mbdsl_fifo.sv:40.5-40.9"
    assert impl._endpoint(cell, netlist, {}, units)["unit"] == "fifo"
