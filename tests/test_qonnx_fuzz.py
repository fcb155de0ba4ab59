"""Fuzzing the QONNX importer: mutated models give an import or a QonnxImportError, never a
traceback. ``bench/fuzz_qonnx.py`` runs the same mutations for as many cases as asked.

Each case applies 1-3 mutations to the model of ``tests/qonnx_models/graphs.py`` (conv,
BatchNorm, ReLU-Quant, pool, Gemm, TopK): an attribute set to 0, -1, 2^31, ...; one
initializer value set to nan, inf, 1e300, ...; a node's op type changed; a node input
rewired to another tensor; an input dimension changed; an initializer shortened.
"""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the QONNX importer needs onnx (pip install 'mbdsl[qonnx]')")

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from qonnx_models.graphs import Builder  # noqa: E402

from mbdsl.errors import MbdslError  # noqa: E402
from mbdsl.qonnx_import import import_model  # noqa: E402

INTS = [0, -1, 1, 2, 3, 10**9, 2**31, -(2**31)]
FLOATS = [0.0, -1.0, np.nan, np.inf, -np.inf, 1e-300, 1e300, 64.0, 100.0, 0.5]
OPS = ["Relu", "Identity", "Conv", "Quant", "MatMul", "Gemm", "Flatten", "Foo", "Trunc", "GlobalAveragePool"]


def base_model() -> onnx.ModelProto:
    b = Builder(8, 8, 3, seed=1)
    b.conv(8, 3, 1, 0, wbits=8).bn().relu_quant(4)
    return b.pool().flatten().gemm(4, bias=False).topk(2).model()


def mutate(model: onnx.ModelProto, rng: random.Random) -> onnx.ModelProto:
    m = copy.deepcopy(model)
    g = m.graph
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(6)
        n = rng.choice(list(g.node))
        if op == 0 and n.attribute:
            a = rng.choice(list(n.attribute))
            if a.ints:
                a.ints[rng.randrange(len(a.ints))] = rng.choice(INTS)
            elif a.type == onnx.AttributeProto.INT:
                a.i = rng.choice(INTS)
            elif a.type == onnx.AttributeProto.FLOAT:
                a.f = rng.choice(FLOATS)
            elif a.type == onnx.AttributeProto.STRING:
                a.s = rng.choice([b"", b"ROUND", b"X" * 10])
        elif op == 1:
            t = rng.choice(list(g.initializer))
            arr = numpy_helper.to_array(t).copy()
            if arr.size:
                with np.errstate(all="ignore"):
                    arr.flat[rng.randrange(arr.size)] = rng.choice(FLOATS) if arr.dtype.kind == "f" else rng.choice(INTS[:3])
            t.CopyFrom(numpy_helper.from_array(arr, t.name))
        elif op == 2:
            n.op_type = rng.choice(OPS)
        elif op == 3 and n.input:
            n.input[rng.randrange(len(n.input))] = rng.choice([o for x in g.node for o in x.output] + [""])
        elif op == 4:
            d = g.input[0].type.tensor_type.shape.dim
            d[rng.randrange(len(d))].dim_value = rng.choice([0, 1, 2, 7, 100000])
        else:
            t = rng.choice(list(g.initializer))
            flat = numpy_helper.to_array(t).reshape(-1)
            t.CopyFrom(numpy_helper.from_array(flat[: max(0, flat.size - 1)] if rng.random() < 0.5 else flat, t.name))
    return m


def run_case(model: onnx.ModelProto) -> str:
    """'accepted' or 'rejected'; any other exception propagates (a bug)."""
    try:
        import_model(model, "/nonexistent/x.mbn")
    except MbdslError:
        return "rejected"
    return "accepted"



@pytest.mark.parametrize("seed", range(4))
def test_mutated_models_are_imported_or_refused(seed):
    rng = random.Random(seed)
    base = base_model()
    outcomes = set()
    with np.errstate(all="ignore"):
        for _ in range(250):
            outcomes.add(run_case(mutate(base, rng)))
    assert outcomes == {"accepted", "rejected"}  # both kinds occur: the mutations reach the importer
