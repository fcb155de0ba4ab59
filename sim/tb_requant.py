"""cocotb bench and case generator for the multiplier-style activation (mbdsl_requant in
mbdsl_mvau's core, REQUANT = 1): clip(round_shift((acc + bias) * m0, shift)) against
``semantics.requantize``."""

import cocotb

from tbutil import run_case


TOP = "mbdsl_mvau"


def make_case(p, *, seed, frames, workdir):
    """p: the keys of ``tb_mvau.make_case`` for its raw outputs (N_THRES is set to 0 here),
    plus OUT_BITS, OUT_SIGNED, PER_CHANNEL (one m0 per channel, else one per layer)."""
    import numpy as np
    import tb_mvau
    from mbdsl import semantics
    from mbdsl.backends.rtl import pack
    from mbdsl.dtypes import IntType
    from mbdsl.params import choose_multiplier

    raw = tb_mvau.make_case(p | dict(N_THRES=0), seed=seed, frames=frames, workdir=workdir)
    params = dict(raw["params"])
    acc_bits, pe = params["ACC_BITS"], params["PE"]
    acc = pack.unpack_words(raw["out"], pe, acc_bits, True).reshape(-1, params["MH"])
    xt, wt = IntType(p["IN_BITS"], bool(p["IN_SIGNED"])), IntType(p["W_BITS"], True)
    lo, hi = semantics.accumulator_range(params["MW"], wt, xt)
    ot = IntType(p["OUT_BITS"], bool(p.get("OUT_SIGNED", 0)))
    # bias and m0/shift as the calibration chooses them: codes spread over the whole type
    rng = np.random.default_rng(seed)
    bias = -np.round(np.quantile(acc, 0.3, axis=0)).astype(np.int64) + rng.integers(-3, 4, acc.shape[1])
    top = np.quantile(acc + bias, 0.9, axis=0)
    worst = int(max(np.abs(lo + bias).max(), np.abs(hi + bias).max()))
    if p.get("PER_CHANNEL"):
        pairs = [choose_multiplier(ot.max / max(float(t), 1.0), worst, max_shift=16) for t in top]
        shift = min(s for _, s in pairs)
        m0 = np.array([round(m / (1 << (s - shift))) or 1 for m, s in pairs], dtype=np.int64)
    else:
        m0, shift = choose_multiplier(ot.max / max(float(top.max()), 1.0), worst, max_shift=16)
    res = semantics.requantize(acc, bias, m0, shift, ot)
    w = pack.requant_widths(lo, hi, bias, m0, shift)
    rfile = workdir / "requant.hex"
    rfile.write_text(pack.memh(pack.requant_words(bias, m0, acc.shape[1], pe, w.bias_bits, w.m0_bits),
                    pe * (w.bias_bits + w.m0_bits)))
    params.update(OUT_BITS=ot.bits, OUT_MIN=ot.min, REQUANT=1, RQ_BIAS_BITS=w.bias_bits,
                  RQ_M0_BITS=w.m0_bits, RQ_PROD_BITS=w.prod_bits, RQ_SHIFT=shift, RQ_FILE=str(rfile))
    out = pack.pack_words(res.reshape(-1, pe), ot.bits)
    return dict(params=params, inp=raw["inp"], out=out, bpf=len(out) // frames,
                codes=np.unique(res), levels=ot.levels)


@cocotb.test()
async def requant_stream(dut):
    await run_case(dut)
