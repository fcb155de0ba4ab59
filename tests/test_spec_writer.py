"""The one spec writer (``mbdsl fold -o`` and ``mbdsl import``): what it writes reads back
as the same network, in either layout."""

from __future__ import annotations

import re

import attrs
import pytest

from mbdsl import frontend, ir, passes
from mbdsl.spec_writer import dwsep_pair, write_spec
from networks import spec, tiny

SPECS = ["mobilenet_v1_w0.25_32.mbn", "mobilenet_v1_w4a4_u250.mbn", "mobilenet_v1_int8_gap8.mbn",
         "mobilenet_v1_nv12_w0.25_32.mbn"]


def _layers(net: ir.Network):
    return [attrs.evolve(l, span=None) for l in net.layers]


def _reread(text: str) -> ir.Network:
    return passes.check(frontend.load_string(text, "written.mbn"))


@pytest.mark.parametrize("name", SPECS)
def test_written_spec_reads_back_as_the_same_network(name):
    net = spec(name)
    again = _reread(write_spec(net))
    assert _layers(again) == _layers(net)
    assert again.input == net.input and again.quant_style == net.quant_style
    assert again.fpga == net.fpga and again.gap8 == net.gap8


def test_pixel_scale_is_written_as_a_fraction():
    net = spec("mobilenet_v1_w0.25_32.mbn")
    text = write_spec(net)
    assert "scale 1/255;" in text
    assert _reread(text).input.preprocess.scale == net.input.preprocess.scale == 1 / 255


def test_a_classifier_states_its_activations_only_where_the_default_would_differ():
    """The final fc outputs raw logits unless its activations are stated: an fc before it
    with the default activations need not state them."""
    text = """network two_fc {
  input 4x4x3 u8
  defaults { weights int4; activations uint4 }
  conv c0 3x3 stride 1 pad 1 -> 8
  avgpool pool global
  fc f1 -> 16
  fc f2 -> 10 activations uint4
}
"""
    net = _reread(text)
    written = write_spec(net)
    assert re.search(r"fc f1 -> 16 fold", written) and re.search(r"fc f2 -> 10 activations uint4 fold", written)
    assert _layers(_reread(written)) == _layers(net)
    raw = _reread(text.replace(" activations uint4\n}", "\n}"))
    assert raw.layers[-1].act_type is None
    assert _layers(_reread(write_spec(raw))) == _layers(raw)


def test_dwsep_pairs_are_what_a_dwsep_statement_builds():
    net = tiny()
    d1, p1 = net.layers[1], net.layers[2]
    assert dwsep_pair(d1, p1)
    assert not dwsep_pair(d1, attrs.evolve(p1, stride=2))
    assert not dwsep_pair(d1, attrs.evolve(p1, weight_type=d1.act_type))
    assert not dwsep_pair(attrs.evolve(d1, pad=0), p1)
    # Named as a dwsep statement names its halves, the pair is written as one.
    named = attrs.evolve(net, layers=(net.layers[0], attrs.evolve(d1, name="b1.dw"), attrs.evolve(p1, name="b1.pw"),
                                      *net.layers[3:]))
    text = write_spec(named)
    assert "dwsep b1 stride 1 -> 16" in text and "b1.dw" not in text
    assert _layers(_reread(text)) == _layers(passes.check(attrs.evolve(named, layers=tuple(
        attrs.evolve(l, in_shape=None, out_shape=None) for l in named.layers))))


def test_annotated_layout_aligns_comments_and_leaves_folding_to_the_defaults():
    net = tiny()
    auto = attrs.evolve(net, layers=tuple(
        l if isinstance(l, ir.TopK) else attrs.evolve(l, fold=ir.Fold(auto=True)) for l in net.layers))
    comments = {l.name: f"node_{i}" for i, l in enumerate(net.layers)}
    text = write_spec(auto, header="one\ntwo", folds=False, comments=comments)
    lines = text.splitlines()
    assert lines[:2] == ["# one", "# two"]
    assert "  defaults { weights int4 narrow; activations uint4; quant thresholds; fold(auto) }" in lines
    body = [l for l in lines if "# node_" in l]
    assert len(body) == len(net.layers)
    assert len({l.index("#") for l in body}) == 1  # one column
    assert all(re.match(r"  (conv|dwconv|pwconv|fc|avgpool|topk) +\S", l) for l in body)
    assert "fold(pe" not in text
    again = frontend.load_string(text, "written.mbn")  # as elaborated: the folding pass has not chosen yet
    assert all(l.fold.auto for l in again.layers if not isinstance(l, ir.TopK))
    # With one layer's folding fixed, the defaults cannot say fold(auto).
    fixed = attrs.evolve(auto, layers=(attrs.evolve(auto.layers[0], fold=ir.Fold()), *auto.layers[1:]))
    assert "fold(auto)" not in write_spec(fixed, folds=False, comments=comments)
