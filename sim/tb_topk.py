"""cocotb bench and case generator for mbdsl_topk (ties to the lower index)."""

import cocotb

from tbutil import run_case

TOP = "mbdsl_topk"


def make_case(p, *, seed, frames, workdir):
    """p: N, IN_BITS, K, SPREAD (value range; small -> many ties)."""
    import numpy as np
    from mbdsl import semantics
    from mbdsl.backends.rtl import pack
    rng = np.random.default_rng(seed)
    n, b, k = p["N"], p["IN_BITS"], p["K"]
    spread = min(p.get("SPREAD", 1 << b), 1 << b)
    lo = -(1 << (b - 1))
    base = rng.integers(lo, lo + (1 << b) - spread + 1, size=(frames, 1))
    v = base + rng.integers(0, spread, size=(frames, n))
    res = np.stack([semantics.topk(v[f], k) for f in range(frames)])
    return dict(params=dict(N=n, IN_BITS=b, K=k),
                inp=pack.tensor_to_beats(v, 1, b), out=[int(r) for r in res.reshape(-1)], bpf=k)


@cocotb.test()
async def topk_stream(dut):
    await run_case(dut)
