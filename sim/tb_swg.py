"""cocotb bench and case generator for mbdsl_swg: windows checked against numpy."""

import cocotb
import numpy as np

from mbdsl.backends.rtl import pack
from tbutil import run_case

TOP = "mbdsl_swg"


def geometry(p):
    oh = (p["IFM_H"] + 2 * p["PAD"] - p["K"]) // p["STRIDE"] + 1
    ow = (p["IFM_W"] + 2 * p["PAD"] - p["K"]) // p["STRIDE"] + 1
    return oh, ow


def expected_cycles(p):
    """Analytic steady-state cycles per frame (REFERENCE.md section 1, RTL SWG)."""
    oh, ow = geometry(p)
    cf = p["C"] // p["CPAR"]
    k, s = p["K"], p["STRIDE"]
    row = max(ow * k * k * cf // p["KPAR"], s * p["IFM_W"] * cf)
    fill = max(0, k - s) * p["IFM_W"] * cf
    return oh * row + fill


def make_case(p, *, seed, frames, workdir):
    rng = np.random.default_rng(seed)
    h, w, c, b = p["IFM_H"], p["IFM_W"], p["C"], p["BITS"]
    x = rng.integers(0, 1 << b, size=(frames, h, w, c))
    inp = pack.tensor_to_beats(x, p["CPAR"], b)
    win = np.concatenate([
        pack.window_beats(x[f], p["K"], p["STRIDE"], p["PAD"], p["CPAR"], p["KPAR"], bool(p["DW"]))
        for f in range(frames)
    ])
    out = pack.pack_words(win, b)
    return dict(params=dict(p), inp=inp, out=out, bpf=len(out) // frames)


@cocotb.test()
async def swg_windows(dut):
    await run_case(dut)
