"""Tiles of one layer: the output split in H, W and C, the input and weight loads each
tile needs, and the L1 bytes of double-buffered tiles.

A tiling is chosen at generation time (:mod:`._plan`); this module turns one tiling into
the explicit schedule the generated C executes (:mod:`._emit` writes it as const tables):
every tile's output box and input box with its halo, the sequence of distinct input and
weight loads (a load is fetched once and serves consecutive tiles), how many buffers each
operand has, and where each buffer lies in the L1 arena. Every box is one 1-D or 2-D DMA
transfer: tiles never cut both W and C of a tensor.
"""

from __future__ import annotations

import attrs

from ._geometry import Geom

__all__ = ["Tiling", "Box", "Transfer", "Schedule", "L1Arena", "axis_tiles", "schedule", "box_transfer", "align4", "buffers",
           "bias_offset", "weight_chunk_bytes", "blob_bytes", "mid_bytes"]


def align4(n: int) -> int:
    return (n + 3) & ~3


def buffers(loads: int) -> int:
    """Buffers of an operand moved in ``loads`` loads (L1 tiles, or L2 staging of an L3
    operand): two when there is a next load to prefetch, one for a single load, none for none."""
    return 0 if loads == 0 else 2 if loads > 1 else 1


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@attrs.frozen
class Tiling:
    """Output tile sizes (rows, columns, channels) and loop order.

    ``order`` "sc": spatial tiles outer, channel tiles inner (an input tile is fetched once
    and reused across output-channel tiles); "cs": channel tiles outer (a weight tile is
    fetched once and reused across spatial tiles).
    """

    th: int
    tw: int
    tc: int
    order: str = "sc"

    def __str__(self) -> str:
        return f"{self.th}x{self.tw}x{self.tc} {self.order}"


@attrs.frozen
class Box:
    """Rows [r0, r1), columns [q0, q1), channels [k0, k1) of an (H, W, C) tensor."""

    r0: int
    r1: int
    q0: int
    q1: int
    k0: int
    k1: int

    @property
    def elements(self) -> int:
        return (self.r1 - self.r0) * (self.q1 - self.q0) * (self.k1 - self.k0)


@attrs.frozen
class Transfer:
    """A 1-D (``length == size``) or 2-D DMA: ``size`` bytes in lines of ``length`` bytes,
    ``stride`` bytes apart, starting ``offset`` bytes into the external tensor."""

    offset: int
    size: int
    length: int
    stride: int

    @property
    def lines(self) -> int:
        return self.size // self.length


def box_transfer(box: Box, h: int, w: int, c: int, e: int) -> Transfer:
    """The single DMA that moves ``box`` of an (h, w, c) tensor of ``e``-byte elements to or
    from a contiguous buffer. Raises ValueError for a box that needs more than 2-D."""
    rows, cols, chans = box.r1 - box.r0, box.q1 - box.q0, box.k1 - box.k0
    if chans == c:
        line = cols * c * e
        off = (box.r0 * w + box.q0) * c * e
        if cols == w or rows == 1:
            return Transfer(off, rows * line, rows * line, rows * line)
        return Transfer(off, rows * line, line, w * c * e)
    if cols != w and rows != 1:
        raise ValueError(f"box {box} of a {h}x{w}x{c} tensor is not one 2-D transfer")
    off = ((box.r0 * w + box.q0) * c + box.k0) * e
    return Transfer(off, rows * cols * chans * e, chans * e, c * e)


def bias_offset(g: Geom, c0: int, c1: int) -> int:
    """Where the int32 bias starts in a weight load of channels [c0, c1): after their int8
    weights, padded to 4 bytes (the int32 multipliers follow the bias)."""
    return align4(g.weight_count(c0, c1))


def weight_chunk_bytes(g: Geom, c0: int, c1: int) -> int:
    """A weight load: int8 weights of channels [c0, c1) (padded to 4 bytes), then their
    int32 bias and int32 multiplier."""
    return bias_offset(g, c0, c1) + 8 * (c1 - c0)


def blob_bytes(g: Geom, tc: int) -> int:
    """A layer's weight blob: its weight loads of ``tc`` output channels (the last one
    shorter), one after the other."""
    return sum(weight_chunk_bytes(g, a, b) for a, b in _ranges(g.cout, tc))


def mid_bytes(g: Geom, t: Tiling) -> int:
    """The L1 scratch of a fused depthwise + pointwise step: the depthwise output (all
    channels) of one spatial tile. 0 for any other step."""
    return align4(min(t.th, g.oh) * min(t.tw, g.ow) * g.cin) if g.kind == "dwpw" else 0


@attrs.frozen
class Tile:
    out: Box
    in_load: int
    w_load: int
    off_y: int
    """Input row of the tile's first output row, relative to the loaded rows (<= 0 at a pad)."""
    off_x: int


@attrs.frozen
class L1Arena:
    """Byte offsets of one step's L1 buffers in the L1 arena (one per buffer of an operand:
    two when double-buffered), and the bytes the step uses."""

    ins: tuple[int, ...]
    ws: tuple[int, ...]
    outs: tuple[int, ...]
    dw: int
    """The depthwise weights, bias and m0 of a fused step."""
    mid: int
    """The depthwise output of a fused step."""
    size: int


@attrs.frozen
class Schedule:
    """The explicit tile schedule of one layer."""

    geom: Geom
    tiling: Tiling
    tiles: tuple[Tile, ...]
    in_loads: tuple[Box, ...]
    w_loads: tuple[tuple[int, int], ...]
    """Output-channel ranges of the weight loads, in load order (a range may repeat)."""
    w_chunks: tuple[tuple[int, int], ...]
    """Distinct channel ranges: the layout of the layer's weight blob."""

    @property
    def in_buf(self) -> int:
        return align4(max(b.elements for b in self.in_loads) * self.geom.e_in)

    @property
    def w_buf(self) -> int:
        if not self.w_loads:
            return 0
        return max(weight_chunk_bytes(self.geom, a, b) for a, b in self.w_chunks)

    @property
    def out_buf(self) -> int:
        return align4(max(t.out.elements for t in self.tiles) * self.geom.e_out)

    @property
    def n_in_bufs(self) -> int:
        return buffers(len(self.in_loads))

    @property
    def n_w_bufs(self) -> int:
        return buffers(len(self.w_loads))

    @property
    def n_out_bufs(self) -> int:
        return buffers(len(self.tiles))

    def arena(self) -> L1Arena:
        """Where each L1 buffer of the step lies in the L1 arena."""
        pos = 0

        def take(n_bytes: int) -> int:
            nonlocal pos
            pos += n_bytes
            return pos - n_bytes

        ins = tuple(take(self.in_buf) for _ in range(self.n_in_bufs))
        ws = tuple(take(self.w_buf) for _ in range(self.n_w_bufs))
        outs = tuple(take(self.out_buf) for _ in range(self.n_out_bufs))
        dw = take(self.geom.dw_weight_bytes)
        mid = take(mid_bytes(self.geom, self.tiling))
        return L1Arena(ins, ws, outs, dw, mid, pos)

    @property
    def l1_bytes(self) -> int:
        """L1 bytes of the step: tile buffers (double-buffered where there is more than one
        load), and a fused step's depthwise weights and scratch."""
        return self.arena().size

    def chunk_offsets(self) -> dict[tuple[int, int], int]:
        """Byte offset of each distinct weight chunk in the layer's weight blob."""
        offs, pos = {}, 0
        for ch in self.w_chunks:
            offs[ch] = pos
            pos += weight_chunk_bytes(self.geom, *ch)
        return offs


def _ranges(n: int, t: int) -> list[tuple[int, int]]:
    return [(a, min(a + t, n)) for a in range(0, n, t)]


def legal(g: Geom, t: Tiling) -> bool:
    """Whether every box of the tiling is one 2-D transfer.

    A box cut in both W and C is 2-D only if it is one row high: output tiles of one row
    may cut both; a depthwise input box (k rows, cut in C) may not be cut in W."""
    if g.kind in ("fc", "pool", "topk"):
        return t.th == g.oh and t.tw == g.ow
    cut_w = t.tw < g.ow
    cut_c = t.tc < g.cout
    if cut_w and cut_c:
        return t.th == 1 and g.kind in ("conv", "pw", "dwpw")
    return True


def axis_tiles(n_out: int, t: int, s: int, pad: int, k: int, n_in: int) -> list[tuple[int, int, int, int, int]]:
    """The tiles of ``t`` outputs along one axis of a window of ``k`` taps, stride ``s`` and
    padding ``pad``: (output start, end, input start, end, offset) with the windows' input
    range (the halo) clipped to the ``n_in`` inputs, and the first window's start relative
    to the clipped start (< 0 at padding)."""
    out = []
    for o0, o1 in _ranges(n_out, t):
        lo, hi = o0 * s - pad, (o1 - 1) * s - pad + k
        i0 = max(lo, 0)
        out.append((o0, o1, i0, min(hi, n_in), lo - i0))
    return out


def schedule(g: Geom, t: Tiling) -> Schedule:
    """The explicit schedule of tiling ``t`` of layer ``g``."""
    hr = axis_tiles(g.oh, t.th, g.s, g.pad, g.k, g.h)
    wr = axis_tiles(g.ow, t.tw, g.s, g.pad, g.k, g.w)
    cr = _ranges(g.cout, t.tc)
    if t.order == "sc":
        grid = [(y, x, c) for y in hr for x in wr for c in cr]
    else:
        grid = [(y, x, c) for c in cr for y in hr for x in wr]
    tiles, in_loads, w_loads = [], [], []
    last_in = last_w = None
    for (y0, y1, r0, r1, oy), (x0, x1, q0, q1, ox), (c0, c1) in grid:
        if g.kind in ("topk", "fc", "pool"):  # the whole input (of the tile's channels, for a pool)
            ib = Box(0, g.h, 0, g.w, *((c0, c1) if g.kind == "pool" else (0, g.cin)))
            oy = ox = 0
        else:
            ib = Box(r0, r1, q0, q1, *((c0, c1) if g.kind == "dw" else (0, g.cin)))
        if ib != last_in:
            in_loads.append(ib)
            last_in = ib
        if g.has_weights and (c0, c1) != last_w:
            w_loads.append((c0, c1))
            last_w = (c0, c1)
        tiles.append(Tile(Box(y0, y1, x0, x1, c0, c1), len(in_loads) - 1, len(w_loads) - 1, oy, ox))
    chunks = tuple(cr) if g.has_weights else ()
    return Schedule(g, t, tuple(tiles), tuple(in_loads), tuple(w_loads), chunks)


def candidates(g: Geom) -> list[Tiling]:
    """Every tiling worth costing for layer ``g``."""
    if g.kind == "topk":
        return [Tiling(1, 1, g.cout)]
    if g.kind in ("fc", "pool"):
        cs = sorted({c for c in range(1, g.cout + 1) if c % 4 == 0 or c == g.cout or c < 4})
        return [Tiling(1, 1, c, "sc") for c in cs]
    cs = sorted({g.cout} | {c for c in range(4, g.cout, 4) if _cdiv(g.cout, c) != _cdiv(g.cout, c + 4)} | {1, 2})
    cs = [c for c in cs if c <= g.cout]
    ths = sorted({_cdiv(g.oh, n) for n in range(1, g.oh + 1)})
    tws = sorted({_cdiv(g.ow, n) for n in range(1, g.ow + 1)})
    out = []
    for c in cs:
        for th in ths:
            for tw in tws if (c == g.cout or th == 1) else [g.ow]:
                for order in ("sc",) if g.kind == "dwpw" else ("sc", "cs"):
                    t = Tiling(th, tw, c, order)
                    if legal(g, t):
                        out.append(t)
    return out
