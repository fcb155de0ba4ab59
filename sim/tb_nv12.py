"""cocotb bench and case generator for mbdsl_nv12."""

import cocotb

from tbutil import run_case

TOP = "mbdsl_nv12"


def make_case(p, *, seed, frames, workdir):
    import numpy as np
    from mbdsl import semantics
    rng = np.random.default_rng(seed)
    w, h = p["W"], p["H"]
    inp, out = [], []
    for _ in range(frames):
        y = rng.integers(0, 256, size=(h, w))
        uv = rng.integers(0, 256, size=(h // 2, w // 2, 2))
        for i in range(h // 2):
            inp += uv[i].reshape(-1).tolist() + y[2 * i].tolist() + y[2 * i + 1].tolist()
        rgb = semantics.nv12_to_rgb(y, uv).astype(np.int64).reshape(-1, 3)
        out += (rgb[:, 0] | (rgb[:, 1] << 8) | (rgb[:, 2] << 16)).tolist()
    return dict(params=dict(W=w, H=h), inp=inp, out=out, bpf=w * h)


@cocotb.test()
async def nv12_stream(dut):
    await run_case(dut)
