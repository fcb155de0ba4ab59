"""cocotb bench and case generator for mbdsl_mvau_stream with WMEM = 2: the MVAU cases of
tb_mvau, the weight words streamed in on s_w (the ROM file's words, in address order, again
for every input vector) instead of read from the ROM."""

import cocotb

import tb_mvau
from tbutil import run_case


TOP = "mbdsl_mvau_stream"


def make_case(p, *, seed, frames, workdir):
    """tb_mvau's case ``p`` with its weights on the stream: the words the unit reads, one a
    beat, NF*SF a vector."""
    case = tb_mvau.make_case(p, seed=seed, frames=frames, workdir=workdir)
    params = dict(case["params"], WMEM=2)
    wfile = params.pop("WEIGHT_FILE")
    with open(wfile) as f:
        words = [int(line, 16) for line in f if line.strip()]
    return case | dict(params=params, side={"s_w": words * case["n_vectors"]})


@cocotb.test()
async def mvau_weight_stream(dut):
    await run_case(dut)
