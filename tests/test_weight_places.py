"""Where a MAC layer's weights live: ``fold(weights = rom | uram | stream)`` in the spec, the IR
and the spec writer; the backends that do not build a place refuse it."""
import pytest

from mbdsl import ir
from mbdsl.errors import MbdslError
from mbdsl.frontend import load_string
from mbdsl.passes import check
from mbdsl.spec_writer import write_spec

SPEC = """network tiny {
  input 16x16x3 u8
  conv  c0 3x3 stride 2 -> 8 weights int5 fold(pe = 2, simd = 3, weights = %s)
  dwsep b1 stride 1 -> 16 fold(dw_pe = 8, pe = 4, simd = 8, weights = %s)
  avgpool pool global
  fc    fc -> 10 fold(pe = 2, simd = 4)
}
"""


def _net(c0="uram", b1="stream"):
    return check(load_string(SPEC % (c0, b1), "tiny.mbn"))


def _layer(net, name):
    return next(layer for layer in net.layers if layer.name == name)


def test_places_reach_the_ir_and_default_to_rom():
    net = _net()
    assert _layer(net, "c0").fold.weights == "uram"
    assert _layer(net, "b1.pw").fold.weights == "stream"
    assert _layer(net, "b1.dw").fold.weights == "rom"  # the key sets the pointwise half only
    assert _layer(net, "fc").fold.weights == "rom"


def test_spec_writer_round_trips_the_places():
    net = _net()
    text = write_spec(net)
    assert "weights = uram" in text and "weights = stream" in text
    again = check(load_string(text, "again.mbn"))
    assert [layer.fold.weights for layer in again.layers if hasattr(layer, "fold")] == \
           [layer.fold.weights for layer in net.layers if hasattr(layer, "fold")]


def test_rom_is_not_written():
    assert "weights =" not in write_spec(_net("rom", "rom"))


def test_depthwise_units_keep_their_weights_in_rom():
    assert ir.DwConv.weight_places == ("rom",)
    assert ir.Conv.weight_places == ir.FC.weight_places == ir.WEIGHT_PLACES


def test_hls_refuses_weights_outside_a_rom():
    from mbdsl.backends.hls._generate import generate
    from mbdsl.params import make_params
    net = _net("rom", "uram")
    with pytest.raises(MbdslError, match="b1.pw: the HLS top keeps every layer's weights in an initialised array, not weights = uram"):
        generate(net, make_params(net))


def test_a_streamed_unit_reads_one_weight_word_a_beat():
    from mbdsl.dataflow import stream_bytes, unit_cycles, weight_word_bytes
    net = _net("stream", "stream")
    c0, pw = _layer(net, "c0"), _layer(net, "b1.pw")
    assert weight_word_bytes(c0) == 4  # 2 x 3 lanes of 5 bits: 30 bits, whole bytes on a stream
    assert weight_word_bytes(pw) == 4 * 8 * pw.weight_type.bits // 8
    # every output pixel reads the whole matrix again: MH*MW weights per pixel
    assert stream_bytes(pw) == unit_cycles(pw) * weight_word_bytes(pw)
    mh, mw = pw.matrix
    pixels = pw.out_shape.h * pw.out_shape.w
    assert stream_bytes(pw) * 8 == mh * mw * pw.weight_type.bits * pixels
