"""cocotb bench and case generator for mbdsl_vvau (fed with DW=1 window streams)."""

import cocotb

from tbutil import draw, mult_params, raw_outputs, run_case


TOP = "mbdsl_vvau"


def expected_cycles(p, n_pixels):
    from mbdsl.dataflow import mac_cycles
    return mac_cycles((p["C"], p["K"] * p["K"]), p["PE"], p["SIMD"], n_pixels)


def make_case(p, *, seed, frames, workdir):
    """p: C, K, IMG, STRIDE, PAD, PE, SIMD, IN_BITS, IN_SIGNED, W_BITS, W_NARROW, MULT (lut,
    dsp, packed), EXTREME (operands only min and max), N_THRES (-1: all levels, 0: raw), BIAS (raw: bias bits), OUT_BITS, OUT_SIGNED."""
    import numpy as np
    from mbdsl import semantics
    from mbdsl.backends.rtl import pack
    from mbdsl.dtypes import IntType
    from tbutil import quantile_thresholds
    rng = np.random.default_rng(seed)
    c, k = p["C"], p["K"]
    xt = IntType(p["IN_BITS"], bool(p["IN_SIGNED"]))
    wt = IntType(p["W_BITS"], True, bool(p.get("W_NARROW", 0)))
    x = draw(rng, xt, (frames, p["IMG"], p["IMG"], c), p.get("EXTREME", False))
    w = draw(rng, wt, (c, k, k), p.get("EXTREME", False))
    acc = np.stack([semantics.dwconv2d(x[f], w, p["STRIDE"], p["PAD"]) for f in range(frames)])
    lo, hi = semantics.accumulator_range(k * k, wt, xt)
    acc_bits = semantics.acc_bits(lo, hi)
    wfile = workdir / "vvau_w.hex"
    pack.write_weights(wfile, w.reshape(c, k * k), p["PE"], p["SIMD"], wt.bits)
    params = dict(C=c, K2=k * k, PE=p["PE"], SIMD=p["SIMD"], IN_BITS=xt.bits,
                  IN_SIGNED=int(xt.signed), W_BITS=wt.bits, W_SIGNED=1, ACC_BITS=acc_bits,
                  WEIGHT_FILE=str(wfile), **mult_params(p, xt, wt, shared_x=False))
    n_thres = p.get("N_THRES", -1)
    if n_thres == 0:
        res, raw = raw_outputs(acc, lo, hi, p, rng, workdir / "vvau_b.hex")
        ob = raw["OUT_BITS"]
        params.update(raw)
        n = None
    else:
        ot = IntType(p["OUT_BITS"], bool(p.get("OUT_SIGNED", 0)))
        n = ot.levels - 1 if n_thres < 0 else n_thres
        t = pack.clip_thresholds(quantile_thresholds(acc, n, rng), lo, hi)
        res = semantics.multithreshold(acc, t, ot)
        tfile = workdir / "vvau_t.hex"
        pack.write_thresholds(tfile, t, p["PE"], acc_bits)
        ob = ot.bits
        params.update(N_THRES=n, OUT_BITS=ot.bits, OUT_MIN=ot.min, THRESH_FILE=str(tfile))
    win = np.concatenate([
        pack.window_beats(x[f], k, p["STRIDE"], p["PAD"], p["PE"], p["SIMD"], True)
        for f in range(frames)
    ])
    inp = pack.pack_words(win, xt.bits)
    out = pack.pack_words(res.reshape(-1, p["PE"]), ob)
    return dict(params=params, inp=inp, out=out, bpf=len(out) // frames,
                codes=(None if n is None else np.unique(res)),
                levels=(None if n is None else n + 1), n_pixels=res.size // c)


@cocotb.test()
async def vvau_stream(dut):
    await run_case(dut)
