"""cocotb bench and case generator for mbdsl_pool in the multiplier style (REQUANT = 1):
min(round_shift(sum * m0, SHIFT), 2**OUT_BITS - 1) against ``semantics.requantize``."""

import cocotb

from tbutil import run_case

TOP = "mbdsl_pool"


def make_case(p, *, seed, frames, workdir):
    """p: C, PE, H, W, IN_BITS, OUT_BITS; m0 and the shift as the calibration chooses them
    (m0 / 2**shift close to 1 / (H*W)), times SCALE to reach the clip."""
    import numpy as np
    import tb_pool
    from mbdsl import semantics
    from mbdsl.backends.rtl import pack
    from mbdsl.dtypes import IntType
    from mbdsl.params import choose_multiplier
    base = tb_pool.make_case(p | dict(SHIFT=0), seed=seed, frames=frames, workdir=workdir)  # its inputs
    h, w, c, b = p["H"], p["W"], p["C"], p["IN_BITS"]
    n_pix = h * w
    x = pack.beats_to_tensor(base["inp"], (frames, h, w, c), p["PE"], b, False)
    ot = IntType(p["OUT_BITS"], False)
    m0, shift = choose_multiplier(p.get("SCALE", 1.0) / n_pix, n_pix * ((1 << b) - 1))
    res = np.stack([semantics.requantize(semantics.global_sum(x[f]), 0, m0, shift, ot) for f in range(frames)])
    widths = pack.requant_widths(0, n_pix * ((1 << b) - 1), 0, m0, shift)
    rfile = workdir / "pool_rq.hex"
    rfile.write_text(pack.memh(pack.requant_words(0, m0, c, p["PE"], 1, widths.m0_bits), p["PE"] * (1 + widths.m0_bits)))
    params = base["params"] | dict(SHIFT=shift, REQUANT=1, M0_BITS=widths.m0_bits, PROD_BITS=widths.prod_bits,
                                   RQ_FILE=str(rfile))
    return dict(params=params, inp=base["inp"],
                out=pack.tensor_to_beats(res, p["PE"], ot.bits), bpf=c // p["PE"], codes=np.unique(res))


@cocotb.test()
async def pool_requant_stream(dut):
    await run_case(dut)
