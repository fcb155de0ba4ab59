"""The network model (IR): frozen attrs classes, each keeping the span it came from.

Elaboration builds a :class:`Network` whose layers carry what the user wrote; the passes
in :mod:`mbdsl.passes` fill in derived fields (shapes, accumulator types) and return new
networks. Backends read only checked networks.
"""

from __future__ import annotations

from typing import Union

import attrs

from .dtypes import IntType, UINT8
from .errors import Span
from .semantics import acc_bits

__all__ = [
    "Shape",
    "Fold",
    "Preprocess",
    "Input",
    "PIXELS",
    "Conv",
    "DwConv",
    "AvgPool",
    "FC",
    "TopK",
    "Layer",
    "MacLayer",
    "RandomWeights",
    "NpzWeights",
    "FpgaTarget",
    "Gap8Target",
    "Network",
    "THRESHOLDS",
    "MULTIPLIER",
]

THRESHOLDS = "thresholds"
"""Quantization style: per-channel sorted thresholds (FPGA, FINN)."""
MULTIPLIER = "multiplier"
"""Quantization style: int32 accumulator, bias, multiplier and shift (GAP8)."""


@attrs.frozen
class Shape:
    """A feature map, channels last."""

    h: int
    w: int
    c: int

    @property
    def size(self) -> int:
        return self.h * self.w * self.c

    def __str__(self) -> str:
        return f"{self.h}x{self.w}x{self.c}"


MULTS = ("lut", "dsp", "packed")
"""How a compute unit's products may be built (``fold(mult = ...)``; ``backends.rtl.mult``)."""

WEIGHT_PLACES = ("rom", "uram", "stream")
"""Where a compute unit's weights live (``fold(weights = ...)``): "rom", a memory initialised
with them (LUTs or block RAM); "uram", UltraRAM written at run time before the first frame
(UltraScale+ UltraRAM cannot be initialised by the bitstream); "stream", off-chip memory,
streamed into the unit every frame."""


@attrs.frozen
class Fold:
    """Parallelism of one compute unit: PE output lanes, SIMD input lanes.

    For depthwise units PE runs over channels and SIMD over kernel positions. ``auto``
    means the folding pass chooses.
    """

    pe: int = 1
    simd: int = 1
    auto: bool = False
    span: Span | None = attrs.field(default=None, eq=False)
    pe_span: Span | None = attrs.field(default=None, eq=False)
    simd_span: Span | None = attrs.field(default=None, eq=False)
    mult: str | None = None
    """How the RTL builds the products: "lut", "dsp" or "packed" (``backends.rtl.mult``);
    None leaves it to synthesis."""
    mult_span: Span | None = attrs.field(default=None, eq=False)
    weights: str = "rom"
    """Where the unit's weights live (``WEIGHT_PLACES``)."""

    def lanes(self) -> int:
        return self.pe * self.simd


@attrs.frozen
class Preprocess:
    """``((pixel * scale) - mean[c]) / std[c]``: what the float model expects of a raw pixel.

    Folded into the first layer, so hardware takes raw pixels.
    """

    scale: float = 1.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)


PIXELS = (1, 2, 4)
"""The pixels per beat an input port may take (``input ... fold(pixels = P)``)."""


@attrs.frozen
class Input:
    """The image: raw ``u8`` pixels (H, W, C) or an ``nv12`` camera frame converted to RGB.

    ``resize``: a photo's shorter side is resized to this many pixels, then the center
    H x W is cropped (torchvision's ImageNet evaluation); None: a photo must be H x W.
    """

    shape: Shape
    format: str = "u8"
    preprocess: Preprocess = Preprocess()
    span: Span | None = attrs.field(default=None, eq=False)
    resize: int | None = attrs.field(default=None, kw_only=True)
    pixels: int | None = attrs.field(default=None, kw_only=True)
    """``fold(pixels = P)``: pixels per beat of the FPGA input port (one of :data:`PIXELS`);
    None when not written: one, or what a ``fold(auto)`` goal chooses."""
    pixels_span: Span | None = attrs.field(default=None, eq=False, kw_only=True)

    @property
    def act_type(self) -> IntType:
        return UINT8

    @property
    def pixels_per_beat(self) -> int:
        return self.pixels or 1


@attrs.frozen(kw_only=True)
class _Layer:
    name: str
    span: Span | None = attrs.field(default=None, eq=False)
    in_shape: Shape | None = None
    out_shape: Shape | None = None
    in_pixels: int = 1
    """Pixels per beat of the stream the layer takes: the input port's for the first layer
    (``dataflow.with_pixels``), else one. Derived by the shape pass."""


@attrs.frozen(kw_only=True)
class _MacBase(_Layer):
    """Fields of the layers that multiply and accumulate."""

    weight_type: IntType
    act_type: IntType | None
    """Output activation type; None outputs the raw accumulator (the final classifier)."""
    fold: Fold = Fold()
    in_type: IntType | None = None
    acc_type: IntType | None = None
    """Derived by the quantization pass from bit widths and fan-in."""
    mults = MULTS
    """The multiplier mappings (``fold(mult = ...)``) the layer's compute unit can be built
    with."""
    weight_places = WEIGHT_PLACES
    """Where the layer's weights may live (``fold(weights = ...)``)."""
    acc_limit: IntType | None = None
    """A user-declared accumulator type that the derived one must fit."""
    bias_type: IntType | None = None
    """Thresholds style, raw outputs only: the type of an integer bias per output channel
    that the accumulator starts from (a classifier's logits ``acc + bias``). Activations
    fold any bias into their thresholds; the multiplier style always has an int32 bias."""

    @property
    def acc_bits(self) -> int:
        """Signed width at which hardware stores the accumulator and compares it with the
        thresholds: ``acc_type`` plus room for the threshold ``acc.max + 1`` that is never
        reached (:func:`mbdsl.semantics.acc_bits`). Stored thresholds and biases have it."""
        return acc_bits(self.acc_type.min, self.acc_type.max)


@attrs.frozen(kw_only=True)
class Conv(_MacBase):
    """Dense convolution on a matrix-vector unit; pointwise (:attr:`is_pointwise`) when
    every output pixel is a matrix product of the input pixel at the same position."""

    kernel: int
    stride: int = 1
    pad: int = 0
    out_channels: int

    @property
    def is_pointwise(self) -> bool:
        """1x1, stride 1, no padding: no window to gather, no pixel skipped. A 1x1 stride-2
        convolution is not pointwise: it drops every other row and column, which the
        backends do with a window generator (RTL, HLS) or a strided kernel (GAP8)."""
        return self.kernel == 1 and self.stride == 1 and self.pad == 0

    @property
    def kind(self) -> str:
        return "pwconv" if self.is_pointwise else "conv"

    @property
    def matrix(self) -> tuple[int, int]:
        """(MH, MW): output channels x kernel*kernel*input channels."""
        return self.out_channels, self.kernel * self.kernel * self.in_shape.c

    @property
    def fan_in(self) -> int:
        return self.matrix[1]


@attrs.frozen(kw_only=True)
class DwConv(_MacBase):
    """Depthwise convolution, on a vector unit (PE over channels, SIMD over kernel)."""

    kernel: int
    stride: int = 1
    pad: int = 1
    kind = "dwconv"
    weight_places = ("rom",)
    """A depthwise layer's weights (K*K per channel) are few: they stay in the unit's ROM."""

    @property
    def matrix(self) -> tuple[int, int]:
        """(C, K2): channels x kernel positions (kh*K + kw), one row per channel."""
        return self.in_shape.c, self.kernel * self.kernel

    @property
    def fan_in(self) -> int:
        return self.kernel * self.kernel


@attrs.frozen(kw_only=True)
class FC(_MacBase):
    """Fully connected layer on a matrix-vector unit."""

    out_channels: int
    kind = "fc"

    @property
    def matrix(self) -> tuple[int, int]:
        return self.out_channels, self.in_shape.size

    @property
    def fan_in(self) -> int:
        return self.in_shape.size


@attrs.frozen(kw_only=True)
class AvgPool(_Layer):
    """Global average pool: an integer sum, then a defined truncation (see semantics)."""

    act_type: IntType | None = None
    fold: Fold = Fold()
    shift: int | None = None
    """Threshold style: low bits dropped from the sum (default: ceil(log2(H*W))). The
    multiplier style rescales the sum by the layer's m0/2**shift parameters instead."""
    in_type: IntType | None = None
    acc_type: IntType | None = None
    kind = "avgpool"

    @property
    def default_shift(self) -> int:
        """The threshold style's shift when the spec gives none: ceil(log2(H*W)), the sum
        divided by the power of two at or above the pixel count."""
        return (self.in_shape.h * self.in_shape.w - 1).bit_length()


@attrs.frozen(kw_only=True)
class TopK(_Layer):
    """Indices of the k largest values, largest first, ties to the lower index."""

    k: int
    in_type: IntType | None = None
    kind = "topk"

    @property
    def index_bits(self) -> int:
        """Unsigned width of an output: the index 0..C-1 of a class (at least one bit)."""
        return max(1, (self.in_shape.c - 1).bit_length())


MacLayer = Union[Conv, DwConv, FC]
Layer = Union[Conv, DwConv, FC, AvgPool, TopK]


@attrs.frozen
class RandomWeights:
    """Seeded random weights, with thresholds/scales calibrated on sample inputs."""

    seed: int = 0
    span: Span | None = attrs.field(default=None, eq=False)


@attrs.frozen
class NpzWeights:
    """Weights and quantization parameters from an ``.npz`` file (layout in docs/weights.md)."""

    path: str
    span: Span | None = attrs.field(default=None, eq=False)


FPS_RANGE = (1e-3, 1e9)
"""Frame rates a goal may ask for (spec ``target fpga { fps }`` and ``mbdsl fold --fps``)."""
CLOCK_RANGE = (1e3, 1e10)
"""Clocks in Hz a target or ``--clock`` may give: 1 kHz to 10 GHz."""
MAX_BUDGET = 10**9
"""Largest MAC-lane, LUT or BRAM18 budget."""


@attrs.frozen
class FoldGoal:
    """What ``fold(auto)`` optimizes (``mbdsl.autofold``): the fewest MAC lanes for a frame
    rate (``fps``), the fastest II within ``mac_lanes``, or the fastest II whose estimated
    ``lut``/``bram`` (BRAM18)/``ff``/``dsp`` fit; ``device`` says whose budgets these are
    (e.g. "80% of xcu250-figd2104-2L-e"), None for budgets given as numbers; ``mults``, the
    multiplier mappings (``MULTS``) the budget search may choose per layer with its folding
    (a device's family's; empty: each layer keeps its own); ``uram``, the URAM288s the search
    may fill with weights (``fold(weights = uram)``, a device's; None: none are moved there);
    ``offchip_gbps``, the device's off-chip memory bandwidth (0: none), from which the search
    may stream weights (``fold(weights = stream)``) that on-chip memory cannot hold; ``span``
    is the setting that asked for it."""

    fps: float | None = None
    mac_lanes: int | None = None
    lut: int | None = None
    bram: int | None = None
    ff: int | None = None
    dsp: int | None = None
    device: str | None = None
    mults: tuple[str, ...] = ()
    uram: int | None = None
    offchip_gbps: float = 0.0
    span: Span | None = attrs.field(default=None, eq=False)


@attrs.frozen
class FpgaTarget:
    clock_hz: float = 200e6
    part: str | None = None
    device: str | None = None
    """A device of ``mbdsl.devices``; without a goal it gives fold(auto) its budgets."""
    utilisation: float | None = None
    """The share of the device's resources fold(auto) may use (0.01..1; None: the default)."""
    goal: FoldGoal | None = None
    span: Span | None = attrs.field(default=None, eq=False)


@attrs.frozen
class Gap8Target:
    """GAP8 memory budgets in bytes and cluster size."""

    l1: int = 64_000
    l2: int = 512_000
    l3: int = 8 << 20
    cores: int = 8
    l1_reserve: int = 4_000
    """Bytes of L1 kept for the cores' stacks."""
    l2_reserve: int = 120_000
    """Bytes of L2 kept for code and the runtime."""
    clock_hz: float = 175e6
    span: Span | None = attrs.field(default=None, eq=False)


@attrs.frozen
class Network:
    """A whole network: input, layers in stream order, quantization style, targets."""

    name: str
    input: Input
    layers: tuple[Layer, ...]
    quant_style: str = THRESHOLDS
    weights: RandomWeights | NpzWeights = RandomWeights()
    fpga: FpgaTarget | None = None
    gap8: Gap8Target | None = None
    span: Span | None = attrs.field(default=None, eq=False)
    source: str = attrs.field(default="", eq=False)
    """Path of the spec file it was read from (for resolving relative paths)."""

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def mac_layers(self) -> list[MacLayer]:
        return [l for l in self.layers if isinstance(l, (Conv, DwConv, FC))]

    def replace_layers(self, layers) -> Network:
        return attrs.evolve(self, layers=tuple(layers))
