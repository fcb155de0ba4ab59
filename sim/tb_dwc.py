"""cocotb bench and case generator for mbdsl_dwc."""

import cocotb

from tbutil import run_case

TOP = "mbdsl_dwc"


def make_case(p, *, seed, frames, workdir):
    import numpy as np
    from mbdsl.backends.rtl import pack
    rng = np.random.default_rng(seed)
    npix = 8
    x = rng.integers(0, 1 << p["BITS"], size=(frames * npix, p["TOTAL"]))
    inp = pack.tensor_to_beats(x, p["IN_ELEMS"], p["BITS"])
    out = pack.tensor_to_beats(x, p["OUT_ELEMS"], p["BITS"])
    return dict(params=dict(p), inp=inp, out=out, bpf=len(out) // frames)


@cocotb.test()
async def dwc_stream(dut):
    await run_case(dut)
