"""Glue between the pytest entry points and the cocotb benches.

A *case* is a JSON file written by the pytest side (stimulus beats, expected beats, stall
probabilities, seed); the cocotb test of a unit (``tb_<unit>.py``) loads it through
:func:`run_case`, streams it through the DUT with :class:`axis.StreamBench`, compares with
the :class:`axis.Scoreboard` and writes a result JSON (errors, output-beat cycle stamps)
back for the pytest side, which asserts on it and on the cycle counts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

CASE_ENV = "MBDSL_CASE"
RESULT_ENV = "MBDSL_RESULT"


# --------------------------------------------------------------------------- cocotb side
async def run_case(dut, describe=None) -> None:
    """cocotb body shared by every unit bench: stream a case file through ``dut``."""
    from axis import Scoreboard, StreamBench

    case = json.loads(Path(os.environ[CASE_ENV]).read_text())
    exp = case["out"]
    bench = StreamBench(dut, case["in"], len(exp), seed=case["seed"],
                        p_valid=case["p_valid"], p_ready=case["p_ready"], side=case.get("side"))
    await bench.reset()
    if case.get("load"):  # run-time weights (WMEM 1): written through the unit's port first
        await write_words(dut, case["load"], case["seed"], case["p_valid"])
    await bench.run(case["max_cycles"])
    bpf = case.get("out_beats_per_frame") or len(exp) or 1
    describe = describe or (lambda i: f"frame {i // bpf}, beat {i % bpf}")
    errors = bench.sink.errors + Scoreboard(exp, describe).check(bench.sink.beats)
    for src in (bench.src, *bench.side):
        if not src.done:
            errors.append(f"source {src.prefix} still had {len(src.beats) - src.idx} beats after "
                          f"{bench.cycle} cycles")
    result = {"errors": errors, "out_cycles": bench.sink.cycles, "cycles": bench.cycle}
    Path(os.environ[RESULT_ENV]).write_text(json.dumps(result))
    assert not errors, "\n".join(errors)


async def write_words(dut, words, seed: int, p_write: float) -> None:
    """Write ``words`` to addresses 0, 1, ... through ``i_wen``/``i_waddr``/``i_wdata``, each
    cycle with probability ``p_write`` (seeded), as mbdsl_wload does (registered, one a cycle)."""
    import random

    from cocotb.triggers import FallingEdge

    rng = random.Random(seed)
    addr = 0
    while addr < len(words):
        await FallingEdge(dut.clk)
        write = rng.random() < p_write
        dut.i_wen.value = int(write)
        dut.i_waddr.value = addr if write else 0
        dut.i_wdata.value = words[addr] if write else 0
        addr += write
    await FallingEdge(dut.clk)
    dut.i_wen.value = 0


# --------------------------------------------------------------------------- pytest side
def to_ints(beats) -> list[int]:
    return [int(b) for b in beats]


def write_case(path: Path, top: str, in_beats, out_beats, *, seed: int, p_valid: float,
               p_ready: float, max_cycles: int, out_beats_per_frame: int | None = None, load=(),
               side: dict | None = None) -> None:
    """``load``: weight words written through the unit's write port before the first beat
    (WMEM 1); ``side``: beats of further input streams by port prefix (a weight stream ``s_w``)."""
    path.write_text(json.dumps({
        "top": top, "in": to_ints(in_beats), "out": to_ints(out_beats), "seed": seed,
        "p_valid": p_valid, "p_ready": p_ready, "max_cycles": int(max_cycles),
        "out_beats_per_frame": out_beats_per_frame, "load": to_ints(load),
        "side": {k: to_ints(v) for k, v in (side or {}).items()},
    }))


def draw(rng, t, size, extreme: bool = False):
    """Values of integer type ``t``: uniform, or (``extreme``) only its minimum and maximum,
    the worst cases of a product (min * min, min * max, ...)."""
    if extreme:
        return rng.choice([t.min, t.max], size=size)
    return rng.integers(t.min, t.max + 1, size=size)


def mult_params(p: dict, xt, wt, shared_x: bool = True) -> dict:
    """A MAC unit's MULT (and PACK) parameters for case key MULT ("lut", "dsp", "packed");
    PACK only where the lanes share x (the MVAU; a VVAU packs lane pairs)."""
    from mbdsl.backends.rtl.mult import MULT_CODES, packing
    if "MULT" not in p:
        return {}
    out = {"MULT": MULT_CODES[p["MULT"]]}
    if p["MULT"] == "packed" and shared_x:
        out["PACK"] = min(p["PE"], packing(xt.bits, xt.signed, wt.bits))
    return out


def quantile_thresholds(acc, n: int, rng):
    """(CH, n) sorted thresholds from per-channel quantiles of ``acc`` (..., CH).

    Spreads the activations over all codes of a multi-threshold activation.
    """
    import numpy as np

    a = acc.reshape(-1, acc.shape[-1]).astype(np.float64)
    qs = (np.arange(1, n + 1) / (n + 1))
    t = np.quantile(a, qs, axis=0).T  # (CH, n)
    t = np.ceil(t + rng.uniform(-0.5, 0.5, size=t.shape)).astype(np.int64)
    return np.sort(t, axis=1)


def raw_outputs(acc, lo: int, hi: int, p, rng, bias_file: Path):
    """Raw outputs of a MAC unit (N_THRES = 0) for accumulators ``acc`` (..., CH) in
    [lo, hi]: (expected, module parameters). With ``p["BIAS"]`` (a bit width), every channel
    gets a random bias of that signed type, which the unit's accumulators start from."""
    from mbdsl import semantics
    from mbdsl.backends.rtl import pack
    from mbdsl.dtypes import IntType

    params = dict(N_THRES=0, OUT_MIN=0, THRESH_FILE="")
    if p.get("BIAS"):
        bt = IntType(p["BIAS"], True)
        b = rng.integers(bt.min, bt.max + 1, size=acc.shape[-1])
        lo, hi, acc = lo + bt.min, hi + bt.max, acc + b
        pack.write_biases(bias_file, b, p["PE"], semantics.acc_bits(lo, hi))
        params.update(HAS_BIAS=1, BIAS_FILE=str(bias_file))
    bits = semantics.acc_bits(lo, hi)
    params.update(ACC_BITS=bits, OUT_BITS=bits)
    return acc, params
