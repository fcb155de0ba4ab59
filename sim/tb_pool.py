"""cocotb bench and case generator for mbdsl_pool (global sum, truncating shift)."""

import cocotb

from tbutil import run_case

TOP = "mbdsl_pool"


def make_case(p, *, seed, frames, workdir):
    """p: C, PE, H, W, IN_BITS, SHIFT, OUT_BITS."""
    import numpy as np
    from mbdsl import semantics
    from mbdsl.backends.rtl import pack
    from mbdsl.dtypes import IntType
    rng = np.random.default_rng(seed)
    h, w, c, b = p["H"], p["W"], p["C"], p["IN_BITS"]
    n_pix = h * w
    sum_bits = b + max(1, int(np.ceil(np.log2(n_pix))))
    x = rng.integers(0, 1 << b, size=(frames, h, w, c))
    ot = IntType(p["OUT_BITS"], False)
    res = np.stack([semantics.truncate_shift(semantics.global_sum(x[f]), p["SHIFT"], ot)
                    for f in range(frames)])
    params = dict(C=c, PE=p["PE"], N_PIX=n_pix, IN_BITS=b, SUM_BITS=sum_bits,
                  SHIFT=p["SHIFT"], OUT_BITS=ot.bits)
    return dict(params=params, inp=pack.tensor_to_beats(x, p["PE"], b),
                out=pack.tensor_to_beats(res, p["PE"], ot.bits), bpf=c // p["PE"])


@cocotb.test()
async def pool_stream(dut):
    await run_case(dut)
