"""Per-layer figures of a checked network: MACs, memory, analytic cycles, throughput."""

from __future__ import annotations

import attrs

from . import devices, ir
from .dataflow import input_cycles, offchip_bytes, offchip_ii, unit_cycles, window_cycles

__all__ = ["LayerFigures", "NetworkFigures", "estimate", "offchip_note"]

DEFAULT_CLOCK_HZ = 200e6


@attrs.frozen
class LayerFigures:
    layer: ir.Layer
    macs: int
    weight_bits: int
    threshold_bits: int
    unit_cycles: int
    window_cycles: int

    @property
    def cycles(self) -> int:
        return max(self.unit_cycles, self.window_cycles)


@attrs.frozen
class NetworkFigures:
    layers: tuple[LayerFigures, ...]
    clock_hz: float
    input_cycles: int
    """Cycles per frame of the input port (and the NV12 front end)."""

    @property
    def macs(self) -> int:
        return sum(f.macs for f in self.layers)

    @property
    def weight_bytes(self) -> int:
        return sum(f.weight_bits for f in self.layers) // 8

    @property
    def threshold_bytes(self) -> int:
        return sum(f.threshold_bits for f in self.layers) // 8

    @property
    def ii(self) -> int:
        """Initiation interval: cycles between frames, set by the slowest stage."""
        return max(self.input_cycles, max(f.cycles for f in self.layers))

    @property
    def bottleneck(self) -> LayerFigures | None:
        """The slowest layer, or None when the input port is slower than every layer."""
        slowest = max(self.layers, key=lambda f: f.cycles)
        return slowest if slowest.cycles >= self.input_cycles else None

    @property
    def bottleneck_name(self) -> str:
        return self.bottleneck.layer.name if self.bottleneck else "input port"

    @property
    def fps(self) -> float:
        return self.clock_hz / self.ii

    @property
    def mac_lanes(self) -> int:
        return sum(f.layer.fold.lanes() for f in self.layers if isinstance(f.layer, (ir.Conv, ir.DwConv, ir.FC)))


def _macs(layer: ir.Layer) -> int:
    if isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
        mh, mw = layer.matrix
        return mh * mw * layer.out_shape.h * layer.out_shape.w
    return 0


def _weight_bits(layer: ir.Layer) -> int:
    if isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
        mh, mw = layer.matrix
        return mh * mw * layer.weight_type.bits
    return 0


def _threshold_bits(net: ir.Network, layer: ir.Layer) -> int:
    """Per-channel parameter memory of the thresholds style: the thresholds, or the biases
    of a raw-output layer that declares them (both stored at ``layer.acc_bits``)."""
    if net.quant_style != ir.THRESHOLDS or not isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
        return 0
    if layer.act_type is None:
        return layer.out_shape.c * layer.acc_bits if layer.bias_type is not None else 0
    return layer.out_shape.c * (layer.act_type.levels - 1) * layer.acc_bits


def estimate(net: ir.Network) -> NetworkFigures:
    figures = tuple(
        LayerFigures(layer, _macs(layer), _weight_bits(layer), _threshold_bits(net, layer), unit_cycles(layer), window_cycles(layer))
        for layer in net.layers
    )
    return NetworkFigures(figures, net.fpga.clock_hz if net.fpga else DEFAULT_CLOCK_HZ, input_cycles(net.input))


def offchip_note(net: ir.Network, clock_hz: float, device: str | None = None) -> str | None:
    """The off-chip weight traffic of a network with streamed layers and the II it allows on
    ``device`` (default: the spec's) at ``clock_hz``, in words; None if nothing is streamed."""
    total = offchip_bytes(net)
    if not total:
        return None
    name = device or (net.fpga.device if net.fpga else None)
    mb = total / 1e6
    head = f"off-chip weights: {mb:,.1f} MB/frame" if mb >= 10 else f"off-chip weights: {mb:.3g} MB/frame"
    gbps = devices.device(name).offchip_gbps if name else 0.0
    if not gbps:
        return f"{head}; name a device with off-chip memory for the II it allows (estimate; no DRAM simulated)"
    ii = offchip_ii(net, gbps, clock_hz)
    return (f"{head}; at {gbps:g} GB/s peak the II is at least {ii:,.0f} cycles "
            f"({clock_hz / ii:,.1f} FPS at {clock_hz / 1e6:g} MHz; estimate; no DRAM simulated)")
