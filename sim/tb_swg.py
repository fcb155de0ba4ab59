"""cocotb bench and case generator for mbdsl_swg: windows checked against numpy."""

import cocotb

from tbutil import run_case

TOP = "mbdsl_swg"


def geometry(p):
    from mbdsl.semantics import window_out
    return (window_out(p["IFM_H"], p["K"], p["STRIDE"], p["PAD"]),
            window_out(p["IFM_W"], p["K"], p["STRIDE"], p["PAD"]))


def expected_cycles(p):
    """Analytic steady-state cycles per frame: the model the tools use,
    :attr:`mbdsl.dataflow.Window.cycles` (``OH * max(OW*K*K*CF/KPAR, STRIDE*IFM_W*CF)``
    plus the rows of the next frame's first window that the ring could not preload;
    ``STRIDE*IFM_W*CF/PIX`` with ``PIX`` pixels per input beat)."""
    from mbdsl.dataflow import Window
    return Window(p["IFM_H"], p["IFM_W"], p["C"], p["K"], p["STRIDE"], p["PAD"], p["CPAR"], p["KPAR"], bool(p["DW"]),
                  p.get("PIX", 1)).cycles


def finn_formula(p):
    """The formula as REFERENCE.md states it: OH*max(...) + (K - STRIDE) rows of fill."""
    oh, ow = geometry(p)
    cf = p["C"] // p["CPAR"]
    k, s = p["K"], p["STRIDE"]
    row = max(ow * k * k * cf // p["KPAR"], s * p["IFM_W"] * cf)
    return oh * row + max(0, k - s) * p["IFM_W"] * cf


def make_case(p, *, seed, frames, workdir):
    import numpy as np
    from mbdsl.backends.rtl import pack
    rng = np.random.default_rng(seed)
    h, w, c, b = p["IFM_H"], p["IFM_W"], p["C"], p["BITS"]
    x = rng.integers(0, 1 << b, size=(frames, h, w, c))
    inp = pack.tensor_to_beats(x, p["CPAR"] * p.get("PIX", 1), b)  # PIX > 1: whole pixels, CPAR = C
    win = np.concatenate([
        pack.window_beats(x[f], p["K"], p["STRIDE"], p["PAD"], p["CPAR"], p["KPAR"], bool(p["DW"]))
        for f in range(frames)
    ])
    out = pack.pack_words(win, b)
    return dict(params=dict(p), inp=inp, out=out, bpf=len(out) // frames)


@cocotb.test()
async def swg_windows(dut):
    await run_case(dut)
