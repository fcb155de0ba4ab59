"""Weights and quantization parameters: determinism, ranges, spread, npz files and errors."""

from __future__ import annotations

import os
import re

import attrs
import numpy as np
import pytest

from mbdsl import frontend, ir, passes, reference
from mbdsl import params as P
from mbdsl.dtypes import bits_for_range
from mbdsl.errors import WeightFileError

from networks import TINY, spec, tiny


def tiny_npz(tmp_path, quant="thresholds", weights='"w.npz"'):
    """The tiny network read from a spec file in tmp_path whose weights come from an npz."""
    c0act = "activations uint7" if quant == "multiplier" else ""
    text = TINY.format(ch="x3", fmt="u8", quant=quant, c0act=c0act, c2act="")
    text = text.replace("weights random(seed = 5)", f"weights {weights}")
    path = tmp_path / "tiny.mbn"
    path.write_text(text)
    return passes.check(frontend.load(str(path)))


# ---------------------------------------------------------------------------------------
# random weights


@pytest.mark.parametrize("quant", ["thresholds", "multiplier"])
def test_random_params_are_deterministic(quant):
    net = tiny(quant)
    a, b = P.make_params(net), P.make_params(net)
    assert a.equals(b)
    other = P.make_params(_with_seed(net, 6))
    assert not np.array_equal(a["c0"].weights, other["c0"].weights)


def _with_seed(net, seed):
    return attrs.evolve(net, weights=ir.RandomWeights(seed))


def test_weights_of_a_layer_do_not_depend_on_other_layers():
    net = tiny()
    base = P.make_params(net)
    wider = net.replace_layers(l if l.name != "p1" else attrs.evolve(l, out_channels=24) for l in net.layers)
    wider = passes.check(wider)
    changed = P.make_params(wider)
    for name in ("c0", "d1", "d2", "fc"):
        if base[name].weights.shape == changed[name].weights.shape:
            assert np.array_equal(base[name].weights, changed[name].weights), name


@pytest.mark.parametrize("quant", ["thresholds", "multiplier"])
def test_weights_cover_their_type(quant):
    net = tiny(quant)
    prm = P.make_params(net)
    for layer in net.mac_layers():
        w = prm[layer.name].weights
        wt = layer.weight_type
        assert w.dtype == np.int64
        assert w.min() >= wt.min and w.max() <= wt.max, layer.name
        if w.size > 50 * wt.levels:  # every value appears: uniform over the type
            assert set(np.unique(w).tolist()) == set(range(wt.min, wt.max + 1)), layer.name
    assert prm["d1"].weights.min() == -7  # int4 narrow: -7..7, never -8
    assert prm["c0"].weights.min() >= -128 and prm["c0"].weights.max() <= 127  # full-range int8


def test_thresholds_sorted_in_range_and_spread():
    net = tiny()
    prm = P.make_params(net)
    for layer in net.mac_layers():
        t = prm[layer.name].thresholds
        if layer.act_type is None:
            assert t is None and prm[layer.name].bias is None
            continue
        assert t.shape == (layer.out_shape.c, layer.act_type.levels - 1)
        assert t.dtype == np.int64
        assert np.all(np.diff(t, axis=1) >= 0), layer.name
        assert layer.acc_type.allowed(t), layer.name
    assert prm["pool"].shift == 4 and prm["pool"].m0 is None  # ceil(log2(3*3)) = 4
    # on the calibration images the codes are spread evenly: about 1/16 each
    images = P.sample_images(net, P.calibration_count(net), net.weights.seed)
    hists = P.activation_histograms(net, prm, images)
    for name in ("c0", "d1", "p1", "d2", "c2"):
        frac = hists[name] / hists[name].sum()
        assert frac.max() < 0.15 and np.count_nonzero(frac) == 16, (name, frac)


def test_multiplier_params_fit_int32():
    net = tiny("multiplier")
    prm = P.make_params(net)
    for layer in net.mac_layers():
        lp = prm[layer.name]
        assert lp.bias.shape == (layer.out_shape.c,) and lp.bias.dtype == np.int64
        if layer.act_type is None:
            assert lp.m0 is None and lp.shift is None
            continue
        assert isinstance(lp.m0, int) and 1 <= lp.m0 and 0 <= lp.shift <= 31
        acc = layer.acc_type
        worst = max(max(abs(acc.min + int(b)), abs(acc.max + int(b))) for b in lp.bias)
        rnd = 1 << (lp.shift - 1) if lp.shift else 0
        assert worst * lp.m0 + rnd <= 2**31 - 1, layer.name
        # m0 as large as possible: doubling it (one more bit of shift) would overflow
        assert lp.shift == 31 or worst * (2 * lp.m0 - 1) + (1 << lp.shift) > 2**31 - 1, layer.name
    pool = prm["pool"]
    assert abs(pool.m0 / 2**pool.shift * 9 - 1) < 1e-6  # about 1/(3*3)
    assert 9 * 15 * pool.m0 + (1 << (pool.shift - 1)) <= 2**31 - 1  # uint4 inputs: sums up to 9*15


@pytest.mark.parametrize("scale,worst", [(0.01, 1 << 20), (3.7e-4, 5_000_000), (1.0, 127), (2.5, 1000),
                                         (1 / 49, 49 * 127), (0.3, 1)])
def test_choose_multiplier(scale, worst):
    m0, shift = P.choose_multiplier(scale, worst)
    assert worst * m0 + ((1 << (shift - 1)) if shift else 0) <= 2**31 - 1
    assert m0 == round(scale * 2**shift)
    if shift < 31:
        m1 = round(scale * 2 ** (shift + 1))
        assert worst * m1 + (1 << shift) > 2**31 - 1
    if m0 >= 1000:
        assert abs(m0 / 2**shift - scale) / scale < 1e-3


def test_choose_multiplier_refuses_overflow():
    with pytest.raises(ValueError, match=r"no multiplier m0 >= 1 keeps 4294967296 \* m0 inside 32 bits"):
        P.choose_multiplier(0.5, 1 << 32)


# ---------------------------------------------------------------------------------------
# spread


@pytest.mark.parametrize("name", ["mobilenet_v1_w0.25_32.mbn", "mobilenet_v1_int8_w0.25_32.mbn",
                                  "mobilenet_v1_nv12_w0.25_32.mbn"])
def test_no_layer_puts_90_percent_on_one_code(name):
    net = spec(name)
    prm = P.make_params(net)
    hists = P.activation_histograms(net, prm, P.sample_images(net, 6, seed=2024))  # unseen images
    assert set(hists) == {l.name for l in net.layers if getattr(l, "act_type", None) is not None}
    assert P.concentrated_layers(hists, 0.9) == []


@pytest.mark.parametrize("quant", ["thresholds", "multiplier"])
def test_tiny_spread(quant):
    net = tiny(quant, signed=True)
    prm = P.make_params(net)
    hists = P.activation_histograms(net, prm, P.sample_images(net, 6, seed=77))
    assert P.concentrated_layers(hists, 0.9) == []


def test_calibration_count():
    assert P.calibration_count(spec("mobilenet_v1_w4a4_u250.mbn")) == 4
    assert P.calibration_count(spec("mobilenet_v1_w0.25_64.mbn")) == 49
    assert P.calibration_count(spec("mobilenet_v1_w0.25_32.mbn")) == 64


def test_concentrated_layers_names_the_culprit():
    hists = {"a": np.array([5, 5, 0]), "b": np.array([1, 95, 4])}
    assert P.concentrated_layers(hists, 0.9) == [("b", 1, 0.95)]


def test_summary_lists_every_layer():
    net = tiny()
    text = P.summary(net, P.make_params(net))
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["layer", "kind", "out"]
    assert [ln.split()[0] for ln in lines[1:]] == [l.name for l in net.layers]
    assert re.search(r"^c0\s+conv\s+6x6x8\s+\(8, 3, 3, 3\) -12\d\.\.12\d\s+thr -?\d+\.\.-?\d+\s+16/16", lines[1])
    assert re.search(r"^pool\s+avgpool\s+1x1x8\s+>>4", lines[6])


# ---------------------------------------------------------------------------------------
# npz files


@pytest.mark.parametrize("quant", ["thresholds", "multiplier"])
def test_npz_round_trip(tmp_path, quant):
    net = tiny_npz(tmp_path, quant)
    assert isinstance(net.weights, ir.NpzWeights)
    prm = P.random_params(_with_seed(net, 11))
    P.save_npz(str(tmp_path / "w.npz"), net, prm)
    with np.load(tmp_path / "w.npz") as z:
        keys = set(z.files)
        assert z["c0.weights"].dtype == np.int8 and z["d1.weights"].dtype == np.int8
    want = {f"{n}.{k}" for n, lp in prm.items() for k in lp.arrays()}
    assert keys == want
    assert "c0.weights" in keys and ("c0.thresholds" in keys) == (quant == "thresholds")
    loaded = P.make_params(net)  # relative to the spec file's folder
    assert loaded.equals(prm)
    ims = P.sample_images(net, 2, seed=1)
    assert np.array_equal(reference.classify_batch(net, loaded, ims), reference.classify_batch(net, prm, ims))


def test_npz_pool_params_are_optional(tmp_path):
    net = tiny_npz(tmp_path, "multiplier")
    prm = P.random_params(_with_seed(net, 11))
    arrays = _arrays(net, prm)
    del arrays["pool.m0"], arrays["pool.shift"]
    np.savez(tmp_path / "w.npz", **arrays)
    assert P.load_npz(net).equals(prm)  # the default 1/(H*W) multiplier again


def _arrays(net, prm):
    return {f"{n}.{k}": v for n, lp in prm.items() for k, v in lp.arrays().items()}


def _expect(net, match, hint=None):
    with pytest.raises(WeightFileError) as info:
        P.load_npz(net)
    err = info.value
    assert re.search(match, err.message), err.message
    assert err.span == net.weights.span and err.span.line == 5  # the spec's weights line
    if hint:
        assert re.search(hint, err.hint)
    return err


@pytest.fixture
def npz_case(tmp_path):
    """(network, valid arrays, writer): write a modified copy and expect an error."""
    net = tiny_npz(tmp_path, "multiplier")
    prm = P.random_params(_with_seed(net, 11))
    arrays = _arrays(net, prm)

    def write(**changes):
        a = dict(arrays)
        for k, v in changes.items():
            if v is None:
                del a[k.replace("__", ".")]
            else:
                a[k.replace("__", ".")] = v
        np.savez(tmp_path / "w.npz", **a)

    return net, arrays, write


def test_npz_missing_file(tmp_path):
    net = tiny_npz(tmp_path)
    err = _expect(net, r"^weight file 'w\.npz' not found \(looked for ", r"relative to the spec file's folder")
    assert str(tmp_path / "w.npz") in err.message
    assert "tiny.mbn:5:3: error: weight file" in err.render() and "hint:" in err.render()


def test_npz_not_an_archive(tmp_path):
    net = tiny_npz(tmp_path)
    (tmp_path / "w.npz").write_text("not numpy")
    _expect(net, r"^weight file 'w\.npz' is not an \.npz archive", r"numpy\.savez")
    np.save(tmp_path / "w.npy", np.zeros(3))
    os.replace(tmp_path / "w.npy", tmp_path / "w.npz")
    _expect(net, r"^weight file 'w\.npz' is not an \.npz archive \(a single \.npy array")


def test_npz_missing_key(npz_case):
    net, _, write = npz_case
    write(d1__bias=None)
    _expect(net, r"^weight file 'w\.npz' has no array 'd1\.bias' \(the bias of layer 'd1'\)",
            r"the file holds \d+ arrays \('c0\.bias', .*docs/weights\.md")


def test_npz_float_array(npz_case):
    net, arrays, write = npz_case
    write(p1__weights=arrays["p1.weights"].astype(np.float32))
    _expect(net, r"^array 'p1\.weights' in 'w\.npz' has dtype float32; layer 'p1' needs integers", r"rint")


def test_npz_wrong_shape(npz_case):
    net, arrays, write = npz_case
    write(c0__weights=arrays["c0.weights"][:, :, :, :2])
    _expect(net, r"^array 'c0\.weights' in 'w\.npz' has shape \(8, 3, 3, 2\); layer 'c0' needs "
                 r"\(8, 3, 3, 3\) \(out, kernel, kernel, in\)$")
    write(fc__bias=np.zeros(9, np.int32))
    _expect(net, r"^array 'fc\.bias' in 'w\.npz' has shape \(9,\); layer 'fc' needs \(10,\)")
    write(p1__shift=np.array([5, 5]))
    _expect(net, r"^array 'p1\.shift' in 'w\.npz' has shape \(2,\); layer 'p1' needs \(\) \(one integer\)")


def test_npz_weights_out_of_range(npz_case):
    net, arrays, write = npz_case
    w = arrays["d1.weights"].copy()
    w[3, 1, 1] = -8
    write(d1__weights=w)
    _expect(net, r"^array 'd1\.weights' in 'w\.npz' has values -8\.\.7 outside weight type int4 narrow "
                 r"\(-7\.\.7\) of layer 'd1' \(e\.g\. -8\)", r"re-quantize")


def test_npz_m0_overflow(npz_case):
    net, arrays, write = npz_case
    write(p1__m0=np.array(int(arrays["p1.m0"]) * 4))
    _expect(net, r"^arrays 'p1\.m0' and 'p1\.bias' in 'w\.npz' can overflow 32 bits: \|acc \+ bias\| \* m0 "
                 r"reaches \d+ for accumulators of type int11", r"choose_multiplier")
    write(p1__m0=np.array(0))
    _expect(net, r"^array 'p1\.m0' in 'w\.npz' has values 0\.\.0 outside the multiplier range \(1\.\.2147483647\)")


def test_npz_unknown_layer(npz_case):
    net, arrays, write = npz_case
    write(b7__weights=arrays["p1.weights"])
    _expect(net, r"^weight file 'w\.npz' has array 'b7\.weights', but the network has no layer 'b7'", r"renamed")


def test_npz_pool_m0_without_shift(npz_case):
    net, _, write = npz_case
    write(pool__shift=None)
    _expect(net, r"^weight file 'w\.npz' has no array 'pool\.shift' \(the shift of layer 'pool'\)")


def test_npz_thresholds(tmp_path):
    net = tiny_npz(tmp_path, "thresholds")
    prm = P.random_params(_with_seed(net, 11))
    arrays = _arrays(net, prm)
    t = arrays["d2.thresholds"].copy()
    t[2, 5] = t[2, 4] - 1  # strictly out of order
    np.savez(tmp_path / "w.npz", **{**arrays, "d2.thresholds": t})
    _expect(net, rf"^array 'd2\.thresholds' in 'w\.npz': the thresholds of channel 2 are not sorted "
                 rf"\(threshold 4 is {t[2, 4]}, threshold 5 is {t[2, 4] - 1}\)$", r"numpy\.sort")
    t = arrays["d2.thresholds"].copy()
    t[0, -1] = 1024  # acc of d2 is int11: -1024..1023
    np.savez(tmp_path / "w.npz", **{**arrays, "d2.thresholds": t})
    _expect(net, r"^array 'd2\.thresholds' in 'w\.npz' has values -?\d+\.\.1024 outside accumulator type int11 "
                 r"\(-1024\.\.1023\) of layer 'd2'")
    np.savez(tmp_path / "w.npz", **{**arrays, "c2.thresholds": arrays["c2.thresholds"][:, :14]})
    _expect(net, r"^array 'c2\.thresholds' in 'w\.npz' has shape \(8, 14\); layer 'c2' needs \(8, 15\) "
                 r"\(channels, uint4 levels - 1\)")


def test_expected_keys():
    assert P.expected_keys(tiny())["c0"] == ("weights", "thresholds")
    assert P.expected_keys(tiny())["fc"] == ("weights",)
    assert P.expected_keys(tiny("multiplier"))["d1"] == ("weights", "bias", "m0", "shift")
    assert P.expected_keys(tiny("multiplier"))["fc"] == ("weights", "bias")
    assert P.expected_keys(tiny())["pool"] == ()


def test_declared_fc_bias_in_the_thresholds_style(tmp_path):
    """'fc ... bias int10': random biases inside the type that change the ranking, the
    accumulator type widened by them, an npz round trip, and range checks on load."""
    net = tiny_npz(tmp_path)
    net = passes.check(frontend.load_string(
        (tmp_path / "tiny.mbn").read_text().replace("fc     fc -> 10", "fc     fc -> 10 bias int10"), str(tmp_path / "tiny.mbn")))
    fc = next(l for l in net.layers if l.name == "fc")
    lo, hi = reference.semantics.accumulator_range(fc.fan_in, fc.weight_type, fc.in_type)
    assert (lo, hi) == (-840, 840) and bits_for_range(lo, hi).bits == 11
    assert fc.acc_type == bits_for_range(lo - 512, hi + 511) and fc.acc_type.bits == 12  # widened by the bias
    prm = P.random_params(_with_seed(net, 11))
    b = prm["fc"].bias
    assert b.shape == (10,) and b.min() >= -512 and b.max() <= 511 and np.any(b != 0)
    images = np.random.default_rng(3).integers(0, 256, size=(16, 12, 12, 3))
    logits = reference.run_batch(net, prm, images)[-2]
    acc = logits - b
    assert not np.array_equal(np.argsort(-logits, axis=1, kind="stable")[:, :3],
                              np.argsort(-acc, axis=1, kind="stable")[:, :3])  # the bias matters
    P.save_npz(tmp_path / "w.npz", net, prm)
    assert P.load_npz(net).equals(prm)
    arrays = dict(np.load(tmp_path / "w.npz"))
    arrays["fc.bias"] = np.full(10, 512)
    np.savez(tmp_path / "w.npz", **arrays)
    _expect(net, r"^array 'fc\.bias' in 'w\.npz' has values 512\.\.512 outside bias type int10 \(-512\.\.511\) of layer 'fc'")
    del arrays["fc.bias"]
    np.savez(tmp_path / "w.npz", **arrays)
    _expect(net, r"^weight file 'w\.npz' has no array 'fc\.bias' \(the bias of layer 'fc'\)")
