"""Network macros: a call such as ``mobilenet_v1(alpha = 0.25, resolution = 32)`` becomes
the layer statements of the standard network, located at the call."""

from __future__ import annotations

from . import ast
from .limits import MAX_CHANNELS, MAX_SIZE
from ..hints import did_you_mean
from ..errors import SpecNameError, SpecValueError

__all__ = ["expand", "MACROS"]

# MobileNet-v1: (depthwise stride, output channels) of the 13 separable blocks at alpha 1.
MOBILENET_V1_BLOCKS = (
    (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512),
    (1, 512), (1, 512), (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024),
)  # fmt: skip

_MOBILENET_V1_ARGS = {
    "alpha": 1.0,
    "resolution": 224,
    "classes": 1000,
    "pad0": 1,
    "topk": 5,
    "fold": "none",
    "fc_bias": 0,
}
"""``fc_bias``: bits of the classifier's signed integer bias (``fc ... bias intN``), 0 for none."""


def _mobilenet_v1(call: ast.MacroCall) -> tuple[tuple, int]:
    """Expand to layers; also returns the input resolution the network expects."""
    args = dict(_MOBILENET_V1_ARGS)
    for key, value, span in call.kwargs:
        if key not in args:
            raise SpecNameError(f"mobilenet_v1 has no argument '{key}'", span, did_you_mean(key, args))
        expected = str if key == "fold" else (float if key == "alpha" else int)
        got = value.value
        if expected is str:
            if got not in ("auto", "none"):
                raise SpecNameError(f"fold must be 'auto' or 'none', not {got!r}", value.span)
        elif value.kind != "number" or (expected is int and not isinstance(got, int)):
            raise SpecValueError(f"mobilenet_v1 argument '{key}' must be a {'number' if expected is float else 'whole number'}", value.span)
        args[key] = got
    alpha = float(args["alpha"])
    if not 0 < alpha <= 4:
        raise SpecValueError(f"alpha must lie in (0, 4], not {alpha}", _arg_span(call, "alpha"))
    for key, limit in (("resolution", MAX_SIZE), ("classes", MAX_CHANNELS)):
        if args[key] < 1:
            raise SpecValueError(f"{key} must be at least 1, not {args[key]}", _arg_span(call, key))
        if args[key] > limit:
            raise SpecValueError(f"{key} {args[key]} is larger than the limit {limit}", _arg_span(call, key), f"use at most {limit}")
    if args["pad0"] not in (0, 1):
        raise SpecValueError("pad0 (padding of the first convolution) must be 0 or 1", _arg_span(call, "pad0"))
    if args["fc_bias"] != 0 and not 2 <= args["fc_bias"] <= 32:
        raise SpecValueError("fc_bias (bits of the classifier's bias) must be 0 (none) or 2..32", _arg_span(call, "fc_bias"))
    if args["topk"] < 0 or args["topk"] > args["classes"]:
        raise SpecValueError(f"topk must lie in 0..classes ({args['classes']}), not {args['topk']}", _arg_span(call, "topk"))

    span = call.span
    auto = args["fold"] == "auto"

    def arg(key, value=None):
        return ast.Arg(key, value, span)

    def fold():
        return (arg("fold", ast.FoldArgs(True, (), span)),) if auto else ()

    def channels(c: int) -> int:
        return max(1, int(c * alpha))

    layers = [
        ast.Layer("conv", span, "conv0", span,
                  (arg("kernel", (3, 3)), arg("stride", 2), arg("pad", args["pad0"]), arg("outputs", channels(32))) + fold(),
                  span),
    ]  # fmt: skip
    for i, (stride, out) in enumerate(MOBILENET_V1_BLOCKS, start=1):
        layers.append(ast.Layer("dwsep", span, f"b{i}", span, (arg("stride", stride), arg("outputs", channels(out))) + fold(), span))
    layers.append(ast.Layer("avgpool", span, "pool", span, (arg("global"),) + fold(), span))
    bias = (arg("bias", ast.DType(f"int{args['fc_bias']}", False, span)),) if args["fc_bias"] else ()
    layers.append(ast.Layer("fc", span, "fc", span, (arg("outputs", args["classes"]),) + bias + fold(), span))
    if args["topk"]:
        layers.append(ast.Layer("topk", span, "topk", span, (arg("count", args["topk"]),), span))
    return tuple(layers), args["resolution"]


def _arg_span(call: ast.MacroCall, key: str):
    for k, _, span in call.kwargs:
        if k == key:
            return span
    return call.span


MACROS = {"mobilenet_v1": _mobilenet_v1}


def expand(call: ast.MacroCall) -> tuple[tuple, int]:
    """Layers of a macro call and the input resolution it implies."""
    if call.name not in MACROS:
        raise SpecNameError(f"unknown macro '{call.name}'", call.name_span or call.span, did_you_mean(call.name, MACROS))
    return MACROS[call.name](call)
