"""What each layer kind accepts, as tables the elaborator checks statements against: its
arguments, its fold keys, how an argument is named in messages, the largest values, why a
kind refuses an argument, and what it requires."""

from __future__ import annotations

from .limits import MAX_CHANNELS, MAX_SIZE

__all__ = ["LAYER_ARGS", "FOLD_KEYS", "ARG_WORDS", "ARG_LIMITS", "WHY_NOT", "REQUIRED"]

LAYER_ARGS = {
    "conv": {"kernel", "stride", "pad", "outputs", "weights", "activations", "acc", "bias", "fold"},
    "pwconv": {"outputs", "stride", "weights", "activations", "acc", "bias", "fold"},
    "dwconv": {"kernel", "stride", "pad", "weights", "activations", "acc", "bias", "fold"},
    "dwsep": {"kernel", "stride", "outputs", "weights", "activations", "fold"},
    "avgpool": {"global", "activations", "shift", "fold"},
    "fc": {"outputs", "weights", "activations", "acc", "bias", "fold"},
    "topk": {"count"},
}
"""The arguments each layer kind accepts."""
FOLD_KEYS = {
    "conv": {"pe", "simd", "mult", "weights"},
    "pwconv": {"pe", "simd", "mult", "weights"},
    "dwconv": {"pe", "simd", "mult"},
    "dwsep": {"dw_pe", "dw_simd", "dw_mult", "pe", "simd", "mult", "weights"},
    "avgpool": {"pe"},
    "fc": {"pe", "simd", "mult", "weights"},
    "topk": set(),
}
"""The fold keys each layer kind takes."""
ARG_WORDS = {
    "kernel": "a kernel size",
    "stride": "'stride'",
    "pad": "'pad'",
    "outputs": "'->' (output channels)",
    "global": "'global'",
    "weights": "'weights'",
    "activations": "'activations'",
    "acc": "'acc'",
    "bias": "'bias'",
    "fold": "'fold'",
    "shift": "'shift'",
    "count": "a count",
}
"""How messages name each argument."""
ARG_LIMITS = {"stride": MAX_SIZE, "pad": MAX_SIZE, "outputs": MAX_CHANNELS, "count": MAX_CHANNELS, "shift": 64}
"""The largest value of a numeric argument."""
WHY_NOT = {
    ("dwconv", "outputs"): "a depthwise convolution keeps its channel count: drop '-> N' or use dwsep",
    ("pwconv", "kernel"): "a pointwise convolution is 1x1: use 'conv KxK' for other kernels",
    ("dwsep", "pad"): "dwsep pads its depthwise half by kernel/2; write dwconv + pwconv to choose",
    ("topk", "outputs"): "topk keeps the classes: write 'topk K'",
}
"""Why a kind refuses an argument, where a reason helps more than the list of what it takes."""
REQUIRED = {"conv": ("kernel", "outputs"), "pwconv": ("outputs",), "dwsep": ("outputs",), "fc": ("outputs",), "topk": ("count",), "avgpool": ("global",)}
"""The arguments a kind cannot do without."""
