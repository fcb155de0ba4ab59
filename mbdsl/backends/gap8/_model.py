"""The GAP8 cycle model: compute, DMA and their overlap, per layer.

A layer runs as a sequence of tiles. Each tile's compute is forked over the cluster cores;
the cluster DMA (L2 <-> L1) and the micro-DMA (L3 <-> L2) move the next tile's operands
while the current one computes (double buffering). The model of one layer is

    cycles = first load + overlap(sum compute, sum cluster DMA, sum L3 transfers) + last store

where ``overlap`` is ``max`` for a fully double-buffered pipeline, and between ``max`` and
the plain sum for a pipeline that overlaps only part of its transfers (``Costs.overlap``).

Two sets of constants are kept: :data:`SEED_COSTS`, calibrated against the per-layer cycle
table of GreenWaves' AutoTiler MobileNet-v1 (``docs/gap8.md`` gives the fit), and
:data:`MBDSL_COSTS`, the kernels mbdsl's plan assumes (4-way int8 SIMD dot products in the
pointwise/linear inner loops, register blocking, transfers fully overlapped).
"""

from __future__ import annotations

import attrs

from ._geometry import Geom
from ._tiling import Tiling, align4, axis_tiles, blob_bytes, buffers, mid_bytes, weight_chunk_bytes

__all__ = ["Costs", "SEED_COSTS", "MBDSL_COSTS", "TileStats", "tile_stats", "LayerCycles", "layer_cycles"]


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@attrs.frozen
class Costs:
    """Constants of the cycle model (per core rates; cycles; bytes per cycle)."""

    rates: dict
    """MAC/cycle of one core, by kernel kind (conv, dw, dw2 for stride 2, pw, fc, pool)."""
    requant: float = 6.0
    """Cycles per output element on one core (bias, multiply, round shift, clip, store)."""
    fork: float = 250.0
    """Cycles to fork a tile's kernel on the cores and join them."""
    tile_overhead: float = 150.0
    """Cycles of tile-loop bookkeeping on the master core (DMA programming, waits)."""
    dma_bpc: float = 8.0
    """Cluster DMA L2 <-> L1 bytes per cycle."""
    dma_setup: float = 30.0
    l3_bpc: float = 0.22
    """HyperRAM bytes per cluster cycle (0.22 B/cycle at 175 MHz = 38.5 MB/s)."""
    l3_setup: float = 300.0
    overlap: float = 1.0
    """1: transfers fully hidden behind compute (max); 0: serialised (sum)."""


SEED_COSTS = Costs(
    rates={"conv": 0.307, "dw": 0.727, "dw2": 0.559, "pw": 0.70, "fc": 0.70, "pool": 0.112},
    requant=6.0,
    fork=250.0,
    l3_bpc=0.1861,
    overlap=0.423,
)
"""Fitted to the AutoTiler's per-layer table (:func:`mbdsl.backends.gap8.calibrate.fit`)."""

MBDSL_COSTS = attrs.evolve(
    SEED_COSTS,
    rates=dict(SEED_COSTS.rates, conv=0.44, pw=1.60, fc=1.60),
    overlap=1.0,
)
"""mbdsl's kernels: SIMD dot products in conv/pw/fc, the seed's depthwise rate, full overlap."""


@attrs.frozen
class TileStats:
    """What a tiling of one layer moves and computes, in total and per tile."""

    tiles: int
    in_loads: int
    w_loads: int
    in_bytes: int
    w_bytes: int
    out_bytes: int
    l1_bytes: int
    in_buf: int
    w_buf: int
    out_buf: int
    first_in: int
    first_w: int
    last_out: int
    imbalance: float


def tile_stats(g: Geom, t: Tiling, cores: int) -> TileStats:
    """Closed-form totals of tiling ``t`` (without enumerating tiles)."""
    if g.kind == "topk":
        ib, ob = align4(g.cin * g.e_in), align4(g.cout * 4)
        return TileStats(1, 1, 0, g.cin * g.e_in, 0, g.cout * 4, ib + ob, ib, 0, ob, ib, 0, ob, float(cores))
    nh, nw, nc = _cdiv(g.oh, t.th), _cdiv(g.ow, t.tw), _cdiv(g.cout, t.tc)
    tiles = nh * nw * nc
    if g.kind in ("fc", "pool"):
        rows, cols = [g.h], [g.w]
    else:
        rows = [i1 - i0 for _, _, i0, i1, _ in axis_tiles(g.oh, t.th, g.s, g.pad, g.k, g.h)]
        cols = [i1 - i0 for _, _, i0, i1, _ in axis_tiles(g.ow, t.tw, g.s, g.pad, g.k, g.w)]
    R, Q = sum(rows), sum(cols)
    per_channel = g.kind in ("dw", "pool")
    cin_tile = t.tc if per_channel else g.cin
    if per_channel:
        in_loads = tiles
        in_bytes = R * Q * g.cin * g.e_in
    else:
        passes = nc if (t.order == "cs" and nh * nw > 1) else 1
        in_loads = nh * nw * passes
        in_bytes = R * Q * g.cin * g.e_in * passes
    if g.has_weights:
        blob = blob_bytes(g, t.tc)
        if nc > 1 and nh * nw > 1 and t.order == "sc":
            w_loads, w_bytes = tiles, blob * nh * nw
        else:
            w_loads, w_bytes = nc, blob
        w_buf = weight_chunk_bytes(g, 0, min(t.tc, g.cout))
    else:
        w_loads = w_bytes = w_buf = 0
    in_buf = align4(max(rows) * max(cols) * cin_tile * g.e_in)
    out_buf = align4(min(t.th, g.oh) * min(t.tw, g.ow) * min(t.tc, g.cout) * g.e_out)
    l1 = buffers(in_loads) * in_buf + buffers(w_loads) * w_buf + buffers(tiles) * out_buf
    l1 += g.dw_weight_bytes + mid_bytes(g, t)  # a fused step's depthwise weights and scratch
    # Work units split over the cores: (pixel, channel) pairs; (pixel, group of 4 channels)
    # for the register-blocked pointwise and linear kernels.
    tcn = min(t.tc, g.cout)
    if g.kind in ("pw", "fc", "dwpw"):
        units = min(t.th, g.oh) * min(t.tw, g.ow) * _cdiv(tcn, 4)
    elif g.kind == "conv" and g.k * g.k * g.cin <= 128:  # im2col kernel: split over pixels
        units = min(t.th, g.oh) * min(t.tw, g.ow)
    else:
        units = min(t.th, g.oh) * min(t.tw, g.ow) * tcn
    imb = _cdiv(units, cores) * cores / units
    return TileStats(tiles, in_loads, w_loads, in_bytes, w_bytes, g.out_bytes, l1, in_buf, w_buf, out_buf,
                     rows[0] * cols[0] * cin_tile * g.e_in, w_buf if w_loads else 0, out_buf, imb)


@attrs.frozen
class LayerCycles:
    """Modeled cycles of one layer, with the parts they come from."""

    compute: float
    dma: float
    l3: float
    prologue: float
    total: float

    @property
    def bound(self) -> str:
        parts = {"compute": self.compute, "dma": self.dma, "L3": self.l3}
        return max(parts, key=parts.get)


def layer_cycles(g: Geom, st: TileStats, locs: dict, costs: Costs, cores: int) -> LayerCycles:
    """Cycles of a layer with tiling stats ``st`` and operand placement ``locs``
    (``{"in": "L2"|"L3", "w": ..., "out": ...}``)."""
    kind = "dw2" if (g.kind == "dw" and g.s > 1) else g.kind
    if g.kind == "topk":
        compute = g.cin * g.topk * 3.0 + costs.fork
    elif g.kind == "dwpw":
        dw_rate = costs.rates["dw2" if g.s > 1 else "dw"] * cores
        pw_rate = costs.rates["pw"] * cores
        mid = g.oh * g.ow * g.cin
        compute = (g.dw_macs / dw_rate + mid * costs.requant / cores)
        compute += (g.macs - g.dw_macs) / pw_rate * st.imbalance + g.oh * g.ow * g.cout * costs.requant / cores
        compute += st.tiles * (costs.fork + costs.tile_overhead) + st.in_loads * costs.fork
    else:
        rate = costs.rates[kind] * cores
        compute = (g.macs / rate + g.oh * g.ow * g.cout * costs.requant / cores) * st.imbalance
        compute += st.tiles * (costs.fork + costs.tile_overhead)
    n_cmd = st.in_loads + st.w_loads + st.tiles
    dma = (st.in_bytes + st.w_bytes + st.out_bytes + g.dw_weight_bytes) / costs.dma_bpc + n_cmd * costs.dma_setup
    l3 = 0.0
    first = (st.first_in + st.first_w + g.dw_weight_bytes) / costs.dma_bpc
    last = st.last_out / costs.dma_bpc
    for op, total, n, one in (("in", st.in_bytes, st.in_loads, st.first_in), ("w", st.w_bytes, st.w_loads, st.first_w),
                              ("out", st.out_bytes, st.tiles, st.last_out)):
        if locs.get(op) == "L3" and total:
            l3 += total / costs.l3_bpc + n * costs.l3_setup
            if op == "out":
                last += one / costs.l3_bpc + costs.l3_setup
            else:
                first += one / costs.l3_bpc + costs.l3_setup
    peak = max(compute, dma, l3)
    body = costs.overlap * peak + (1 - costs.overlap) * (compute + dma + l3)
    return LayerCycles(compute, dma, l3, first + last, first + body + last)
