"""An error class per kind of mistake: a backend that cannot implement a valid network
raises UnsupportedByBackend (whichever backend); spec values and structure have classes of
their own, apart from shapes."""

from __future__ import annotations

import re

import attrs
import pytest

from mbdsl import frontend, passes
from mbdsl.backends import hls, rtl
from mbdsl.backends.gap8 import plan_network
from mbdsl.dtypes import IntType
from mbdsl.cli import main
from mbdsl.errors import (MbdslError, QuantError, ShapeError, SpecStructureError, SpecValueError, TargetError,
                          UnsupportedByBackend)
from mbdsl.params import make_params
from networks import tiny


def _refusals():
    thresholds, signed_pool = tiny(), tiny(signed=True)
    wide = thresholds.replace_layers(
        (attrs.evolve(thresholds.layers[0], acc_type=IntType(5000, True)),) + thresholds.layers[1:])
    return [
        ("rtl", lambda: rtl.generate(signed_pool, make_params(signed_pool)), "the RTL pool sums unsigned activations"),
        ("hls", lambda: hls.generate(wide, make_params(thresholds)), "wider than the 4096-bit ap_int of Vitis HLS"),
        ("gap8", lambda: plan_network(thresholds), "GAP8 backend implements the multiplier style"),
    ]


@pytest.mark.parametrize("backend", ["rtl", "hls", "gap8"])
def test_every_backend_refuses_with_one_error_class(backend):
    _, make, message = next(r for r in _refusals() if r[0] == backend)
    with pytest.raises(UnsupportedByBackend, match=message) as info:
        make()
    err = info.value
    assert not isinstance(err, (QuantError, TargetError, ShapeError))
    assert err.span is not None and err.hint
    assert err.render().startswith(f"{err.span.file}:{err.span.line}:{err.span.column}: error: ")
    assert isinstance(err, MbdslError)


def _elaborate(body: str):
    return passes.check(frontend.load_string(body, "t.mbn"))


@pytest.mark.parametrize(
    "cls, spec, message",
    [
        (SpecStructureError, "network t { input 8x8x3 u8; fc f -> 4; topk 2; topk 1 }",
         r"layer topk1 follows topk topk0, which must be the last layer"),
        (SpecStructureError, "network t { input 8x8x3 u8 }", r"network 't' has no layers"),
        (SpecStructureError, "network t { fc -> 2 }", r"network 't' has no input"),
        (SpecValueError, "network t { input 0x8x3 u8; fc -> 2 }", r"input sizes must be at least 1, not 0x8x3"),
        (SpecValueError, "network t { input 8x8x3 u8; conv 3x5 -> 8 }", r"kernels are square \(KxK\), not 3x5"),
        (SpecValueError, "network t { input 8x8x3 u8; mobilenet_v1(alpha = 5) }", r"alpha must lie in \(0, 4\], not 5\.0"),
        (ShapeError, "network t { input 8x8x3 u8; conv c 3x3 pad 3 -> 8 }", r"padding 3 is not smaller than the 3x3 kernel of layer c"),
        (ShapeError, "network t { input 64x64x3 u8; mobilenet_v1(resolution = 32) }",
         r"the macro builds a network for 32x32x3 images but the input is 64x64x3"),
    ],
)
def test_spec_mistakes_have_a_class_per_kind(cls, spec, message):
    with pytest.raises(MbdslError) as info:
        _elaborate(spec)
    err = info.value
    assert type(err) is cls, type(err)
    assert re.fullmatch(message, err.message), err.message
    assert err.span is not None and err.render().startswith(f"t.mbn:{err.span.line}:{err.span.column}: error: ")


def test_a_structure_error_exits_with_status_2_and_a_located_message(tmp_path, capsys):
    spec = tmp_path / "t.mbn"
    spec.write_text("network t { input 8x8x3 u8; fc f -> 4; topk 2; topk 1 }\n")
    assert main(["check", str(spec)]) == 2
    err = capsys.readouterr().err
    assert re.match(rf"{re.escape(str(spec))}:1:\d+: error: layer topk1 follows topk topk0", err), err
    assert "Traceback" not in err
