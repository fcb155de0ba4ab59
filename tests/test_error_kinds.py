"""An error class per kind of mistake: a backend that cannot implement a valid network
raises UnsupportedByBackend (whichever backend); spec values and structure have classes of
their own, apart from shapes."""

from __future__ import annotations

import attrs
import pytest

from mbdsl.backends import hls, rtl
from mbdsl.backends.gap8 import plan_network
from mbdsl.dtypes import IntType
from mbdsl.errors import MbdslError, QuantError, ShapeError, TargetError, UnsupportedByBackend
from mbdsl.params import make_params
from networks import tiny


def _refusals():
    thresholds, multiplier = tiny(), tiny(quant="multiplier")
    wide = thresholds.replace_layers(
        (attrs.evolve(thresholds.layers[0], acc_type=IntType(5000, True)),) + thresholds.layers[1:])
    return [
        ("rtl", lambda: rtl.generate(multiplier, make_params(multiplier)), "RTL backend implements threshold activations"),
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
