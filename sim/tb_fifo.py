"""cocotb bench and case generator for mbdsl_fifo."""

import cocotb

from tbutil import run_case

TOP = "mbdsl_fifo"


def make_case(p, *, seed, frames, workdir):
    import numpy as np
    rng = np.random.default_rng(seed)
    n = 64 * frames
    data = rng.integers(0, 1 << p["WIDTH"], size=n, dtype=np.uint64)
    return dict(params=dict(WIDTH=p["WIDTH"], DEPTH=p["DEPTH"]), inp=data, out=data, bpf=64)


@cocotb.test()
async def fifo_stream(dut):
    await run_case(dut)
