"""cocotb bench and case generator for mbdsl_mvau (convolutions fed as window streams)."""

import cocotb

from tbutil import draw, mult_params, raw_outputs, run_case


TOP = "mbdsl_mvau"


def expected_cycles(p, n_vectors):
    from mbdsl.dataflow import mac_cycles
    return mac_cycles((p["MH"], p["MW"]), p["PE"], p["SIMD"], n_vectors)


def make_case(p, *, seed, frames, workdir):
    """p: MH (out ch), I (in ch), K, IMG (square), STRIDE, PAD, PE, SIMD, IN_BITS,
    IN_SIGNED, W_BITS, W_NARROW, MULT (lut, dsp, packed), EXTREME (operands only min and
    max), N_THRES (-1: all levels, 0: raw), BIAS (raw: bias bits),
    OUT_BITS, OUT_SIGNED."""
    import numpy as np
    from mbdsl import semantics
    from mbdsl.backends.rtl import pack
    from mbdsl.dtypes import IntType
    from tbutil import quantile_thresholds
    rng = np.random.default_rng(seed)
    k, i, mh = p["K"], p["I"], p["MH"]
    mw = k * k * i
    xt = IntType(p["IN_BITS"], bool(p["IN_SIGNED"]))
    wt = IntType(p["W_BITS"], True, bool(p.get("W_NARROW", 0)))
    x = draw(rng, xt, (frames, p["IMG"], p["IMG"], i), p.get("EXTREME", False))
    w = draw(rng, wt, (mh, k, k, i), p.get("EXTREME", False))
    acc = np.stack([semantics.conv2d(x[f], w, p["STRIDE"], p["PAD"]) for f in range(frames)])
    lo, hi = semantics.accumulator_range(mw, wt, xt)
    acc_bits = semantics.acc_bits(lo, hi)
    wfile = workdir / "mvau_w.hex"
    pack.write_weights(wfile, w.reshape(mh, mw), p["PE"], p["SIMD"], wt.bits)
    params = dict(MH=mh, MW=mw, PE=p["PE"], SIMD=p["SIMD"], IN_BITS=xt.bits,
                  IN_SIGNED=int(xt.signed), W_BITS=wt.bits, W_SIGNED=1, ACC_BITS=acc_bits,
                  WEIGHT_FILE=str(wfile), **mult_params(p, xt, wt))
    n_thres = p.get("N_THRES", -1)
    if n_thres == 0:
        res, raw = raw_outputs(acc, lo, hi, p, rng, workdir / "mvau_b.hex")
        ob, sig = raw["OUT_BITS"], True
        params.update(raw)
    else:
        ot = IntType(p["OUT_BITS"], bool(p.get("OUT_SIGNED", 0)))
        n = ot.levels - 1 if n_thres < 0 else n_thres
        t = pack.clip_thresholds(quantile_thresholds(acc, n, rng), lo, hi)
        res = semantics.multithreshold(acc, t, ot)
        tfile = workdir / "mvau_t.hex"
        pack.write_thresholds(tfile, t, p["PE"], acc_bits)
        ob, sig = ot.bits, ot.signed
        params.update(N_THRES=n, OUT_BITS=ot.bits, OUT_MIN=ot.min, THRESH_FILE=str(tfile))
    win = np.concatenate([
        pack.window_beats(x[f], k, p["STRIDE"], p["PAD"], i, 1, False) for f in range(frames)
    ])
    inp = pack.pack_words(win.reshape(-1, p["SIMD"]), xt.bits)
    out = pack.pack_words(res.reshape(-1, p["PE"]), ob)
    codes = np.unique(res) if n_thres != 0 else None
    n_vec = res.size // mh
    return dict(params=params, inp=inp, out=out, bpf=len(out) // frames, codes=codes,
                levels=(None if n_thres == 0 else n + 1), n_vectors=n_vec, signed=sig)


@cocotb.test()
async def mvau_stream(dut):
    await run_case(dut)
