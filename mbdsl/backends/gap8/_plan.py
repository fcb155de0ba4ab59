"""The GAP8 plan of a network: a tiling per layer and a memory map of L2 and L3.

1. Every layer gets the tiling (tile sizes in H, W and C and a loop order) with the fewest
   modeled cycles among those whose double-buffered tiles fit the L1 budget.
2. The memory planner places each activation tensor and each layer's weights in L2 or L3.
   It starts with everything in L3 and moves objects to L2 in the order of cycles saved per
   byte, keeping a move only if the L2 map still fits. Objects in L2 share space by
   liveness: an activation lives while it is produced and consumed, the micro-DMA staging
   buffers of a layer's L3 operands only while that layer runs, L2 weights always.
3. Anything that cannot fit is a :class:`~mbdsl.errors.MemoryBudgetError` at the layer's
   spec line, naming the bytes needed and the bytes available.
"""

from __future__ import annotations

import attrs

from ... import ir
from ...errors import MemoryBudgetError, UnsupportedByBackend
from ...params import check_size
from ._geometry import Geom, fused, geometry
from ._model import MBDSL_COSTS, Costs, LayerCycles, TileStats, layer_cycles, tile_stats
from ._tiling import Tiling, align4, blob_bytes, buffers, candidates

__all__ = ["layer_geometries", "LayerPlan", "NetworkPlan", "Placed", "plan_network", "plan_table", "DEFAULT_TARGET", "budgets"]

DEFAULT_TARGET = ir.Gap8Target()


def budgets(net: ir.Network) -> ir.Gap8Target:
    return net.gap8 if net.gap8 is not None else DEFAULT_TARGET


@attrs.frozen
class Placed:
    """An object of the memory map: where it lives and at which byte offset."""

    name: str
    loc: str  # "L2" | "L3"
    offset: int
    size: int
    first: int
    last: int
    """Layers (indices) during which it is live."""


@attrs.frozen
class LayerPlan:
    """One step of the plan: a layer, or a depthwise layer fused with the pointwise one after it."""

    index: int
    layer: ir.Layer
    """The step's last IR layer (its spec line locates the step's errors)."""
    geom: Geom
    tiling: Tiling
    stats: TileStats
    locs: dict
    """Where the step's input, weights and output live: {"in", "w", "out"} -> "L2"/"L3"."""
    cycles: LayerCycles
    stages: dict
    """L3 operand -> bytes of its L2 staging buffers."""
    members: tuple = ()
    """Indices of the IR layers this step computes."""

    @property
    def name(self) -> str:
        return self.geom.name

    @property
    def in_tensor(self) -> str:
        return f"act:{self.members[0] - 1}"

    @property
    def out_tensor(self) -> str:
        return f"act:{self.members[-1]}"


@attrs.frozen
class NetworkPlan:
    net: ir.Network
    target: ir.Gap8Target
    costs: Costs
    layers: tuple[LayerPlan, ...]
    """The steps, in order."""
    objects: dict
    """Object name -> :class:`Placed`: activations "act:<ir index>" (-1: the input), weights
    "w:<step>", depthwise weights of fused steps "wdw:<step>", staging "stage:<step>:<op>"."""
    l2_bytes: int
    l3_bytes: int

    @property
    def l1_budget(self) -> int:
        return self.target.l1 - self.target.l1_reserve

    @property
    def l2_budget(self) -> int:
        return self.target.l2 - self.target.l2_reserve

    @property
    def total_cycles(self) -> float:
        return sum(lp.cycles.total for lp in self.layers)

    def tensor(self, i: int) -> Placed:
        """Activation tensor ``i`` (-1: the network input; i: output of IR layer i)."""
        return self.objects[f"act:{i}"]


def layer_geometries(net: ir.Network) -> list[Geom]:
    """The :class:`Geom` of every IR layer, in order (refusing what GAP8 cannot run)."""
    if net.quant_style != ir.MULTIPLIER:
        raise UnsupportedByBackend(
            f"network {net.name!r} uses {net.quant_style} quantization; the GAP8 backend implements the multiplier style "
            "(int32 accumulator, bias, M0 and shift per layer or channel)",
            span=net.layers[0].span if net.layers else net.span,
            hint="write 'quant multiplier' in the spec's defaults, as GAP8 deployments are quantized",
        )
    out, t = [], net.input.act_type
    for layer in net.layers:
        out.append(geometry(net, layer, t))
        t = getattr(layer, "act_type", None) if not isinstance(layer, ir.TopK) else None
    return out


class _Layer:
    """Per step: every legal tiling's stats, and the best one per operand placement."""

    def __init__(self, index: int, layer: ir.Layer, g: Geom, target: ir.Gap8Target, costs: Costs):
        self.index, self.layer, self.g, self.costs, self.cores = index, layer, g, costs, target.cores
        budget = target.l1 - target.l1_reserve
        stats = [(t, tile_stats(g, t, target.cores)) for t in candidates(g)]
        self.fits = [(t, s) for t, s in stats if s.l1_bytes <= budget]
        if not self.fits:
            t, s = min(stats, key=lambda ts: ts[1].l1_bytes)
            raise MemoryBudgetError(
                f"layer {layer.name!r} ({g.kind}, {g.h}x{g.w}x{g.cin} -> {g.oh}x{g.ow}x{g.cout}) cannot be tiled for L1: "
                f"its smallest tiling ({t}) needs {s.l1_bytes:,} B of L1 (input {s.in_buf:,}, weights {s.w_buf:,}, "
                f"output {s.out_buf:,}, double-buffered), {budget:,} B are available "
                f"(l1 {target.l1:,} - reserve {target.l1_reserve:,})",
                span=layer.span,
                hint="raise 'l1' in the spec's 'target gap8' block, or make the layer narrower",
            )
        self._best: dict = {}

    def best(self, locs: tuple[str, str, str]):
        if locs not in self._best:
            d = dict(zip(("in", "w", "out"), locs))
            self._best[locs] = min(
                ((t, s, layer_cycles(self.g, s, d, self.costs, self.cores)) for t, s in self.fits),
                key=lambda tsc: (tsc[2].total, tsc[1].l1_bytes),
            )
        return self._best[locs]


def _stages(st: TileStats, locs: dict) -> dict:
    """Bytes of L2 staging for each L3 operand (double-buffered if it has several loads)."""
    out = {}
    for op, buf, n in (("in", st.in_buf, st.in_loads), ("w", st.w_buf, st.w_loads), ("out", st.out_buf, st.tiles)):
        if locs[op] == "L3" and buf and n:
            out[op] = buf * buffers(n)
    return out


def _allocate(objs: list[tuple[str, int, int, int]]) -> tuple[dict, int]:
    """Greedy first fit by decreasing size: objects (name, size, first, last) that are live
    at the same step never overlap. Returns name -> offset, and the peak size."""
    placed: list[tuple[int, int, int, int]] = []
    offs = {}
    for name, size, first, last in sorted(objs, key=lambda o: (-o[1], o[2], o[0])):
        size = align4(size)
        busy = sorted((o, o + s) for o, s, f, l in placed if f <= last and first <= l)
        off = 0
        for a, b in busy:
            if off + size <= a:
                break
            off = max(off, b)
        placed.append((off, size, first, last))
        offs[name] = off
    return offs, max((o + s for o, s, _, _ in placed), default=0)


def _pairs(geoms: list[Geom]) -> list[int]:
    """Indices of the depthwise layers followed by a pointwise layer."""
    return [i for i in range(len(geoms) - 1) if geoms[i].kind == "dw" and geoms[i + 1].kind == "pw"]


def _steps(geoms: list[Geom], target: ir.Gap8Target, fuse) -> list[tuple[tuple, Geom]]:
    """Group the layers into steps: each depthwise layer in ``fuse`` (a set of indices)
    and the pointwise one after it become one step, when some tiling of the pair fits L1."""
    steps, i = [], 0
    budget = target.l1 - target.l1_reserve
    while i < len(geoms):
        g = geoms[i]
        if i in fuse and i in _pairs(geoms):
            f = fused(g, geoms[i + 1])
            if any(tile_stats(f, t, target.cores).l1_bytes <= budget for t in candidates(f)):
                steps.append(((i, i + 1), f))
                i += 2
                continue
        steps.append(((i,), g))
        i += 1
    return steps


def plan_network(
    net: ir.Network, costs: Costs = MBDSL_COSTS, target: ir.Gap8Target | None = None, fuse=None
) -> NetworkPlan:
    """Tile every layer and place every tensor; raise MemoryBudgetError if it cannot fit.

    ``fuse``: the indices of the depthwise layers to fuse with the pointwise layer after
    them (True: all, False: none). None (default): plan without fusion, then fuse each pair
    whose fused step is modeled faster than its two layers with the same placement, and
    keep whichever whole plan is faster. A network beyond the sizes mbdsl computes is refused
    first (:func:`mbdsl.params.check_size`): the tiling search grows with the image."""
    target = target or budgets(net)
    if fuse is None:
        check_size(net)
        plain = plan_network(net, costs, target, fuse=False)
        geoms = layer_geometries(net)
        chosen = set()
        by_member = {lp.members[0]: lp for lp in plain.layers}
        for i in _pairs(geoms):
            dw, pw = by_member[i], by_member[i + 1]
            f = fused(geoms[i], geoms[i + 1])
            try:
                L = _Layer(0, net.layers[i + 1], f, target, costs)
            except MemoryBudgetError:
                continue
            _, _, c = L.best((dw.locs["in"], pw.locs["w"], pw.locs["out"]))
            if c.total < dw.cycles.total + pw.cycles.total:
                chosen.add(i)
        if not chosen:
            return plain
        merged = plan_network(net, costs, target, fuse=frozenset(chosen))
        return merged if merged.total_cycles < plain.total_cycles else plain
    geoms = layer_geometries(net)
    if fuse is True:
        fuse = set(_pairs(geoms))
    elif fuse is False:
        fuse = set()
    steps = _steps(geoms, target, fuse)
    n = len(steps)
    layers = [_Layer(si, net.layers[m[-1]], g, target, costs) for si, (m, g) in enumerate(steps)]
    act_size = {-1: net.input.shape.size * geoms[0].e_in}
    act_life = {-1: (0, 0)}
    for si, (m, g) in enumerate(steps):
        act_size[m[-1]] = g.out_bytes
        act_life[m[-1]] = (si, min(si + 1, n - 1))
    tin = [f"act:{m[0] - 1}" for m, _ in steps]
    tout = [f"act:{m[-1]}" for m, _ in steps]
    wsteps = [si for si, (_, g) in enumerate(steps) if g.has_weights]
    where = {f"act:{j}": "L3" for j in act_size}
    where.update({f"w:{si}": "L3" for si in wsteps})

    def locs_of(si: int, where_now) -> tuple[str, str, str]:
        return (where_now[tin[si]], where_now.get(f"w:{si}", "L2"), where_now[tout[si]])

    def layout(where_now):
        chosen, l2 = [], []
        for si, L in enumerate(layers):
            t, s, c = L.best(locs_of(si, where_now))
            d = dict(zip(("in", "w", "out"), locs_of(si, where_now)))
            chosen.append((t, s, c, d))
            for op, b in _stages(s, d).items():
                l2.append((f"stage:{si}:{op}", b, si, si))
            if L.g.kind == "dwpw":
                l2.append((f"wdw:{si}", L.g.dw_weight_bytes, 0, n - 1))
        l3 = []
        for j, size in act_size.items():
            (l2 if where_now[f"act:{j}"] == "L2" else l3).append((f"act:{j}", size, *act_life[j]))
        for si in wsteps:
            size = blob_bytes(layers[si].g, chosen[si][0].tc)
            (l2 if where_now[f"w:{si}"] == "L2" else l3).append((f"w:{si}", size, 0, n - 1))
        return chosen, l2, l3

    def l2_peak(where_now) -> tuple[int, list]:
        chosen, l2, _ = layout(where_now)
        return _allocate(l2)[1], chosen

    def total(where_now) -> float:
        return sum(L.best(locs_of(si, where_now))[2].total for si, L in enumerate(layers))

    budget2 = target.l2 - target.l2_reserve
    peak, chosen = l2_peak(where)
    if peak > budget2:
        worst = max(range(n), key=lambda si: sum(_stages(chosen[si][1], chosen[si][3]).values()))
        need = sum(_stages(chosen[worst][1], chosen[worst][3]).values())
        raise MemoryBudgetError(
            f"layer {layers[worst].layer.name!r}: with every tensor in L3 the L2 staging buffers need {peak:,} B of L2 "
            f"({need:,} B for this layer), {budget2:,} B are available (l2 {target.l2:,} - reserve {target.l2_reserve:,})",
            span=layers[worst].layer.span,
            hint="raise 'l2' in the spec's 'target gap8' block, or lower 'l1' so that tiles (and their staging) are smaller",
        )

    def size_of(name: str) -> int:
        if name.startswith("act:"):
            return act_size[int(name[4:])]
        si = int(name[2:])
        return blob_bytes(layers[si].g, chosen[si][0].tc)

    # Greedy: move to L2 the object that saves the most cycles per byte (re-evaluated after
    # every move, since saving one layer's traffic changes what bounds it) while L2 fits.
    while True:
        base = total(where)
        gains = []
        for name, loc in where.items():
            if loc == "L3":
                trial = dict(where)
                trial[name] = "L2"
                gain = base - total(trial)
                if gain > 0:
                    gains.append((gain / max(size_of(name), 1), name))
        for _, name in sorted(gains, key=lambda g: (-g[0], g[1])):
            trial = dict(where)
            trial[name] = "L2"
            if l2_peak(trial)[0] <= budget2:
                where = trial
                break
        else:
            break

    chosen, l2, l3 = layout(where)
    off2, peak2 = _allocate(l2)
    off3, peak3 = _allocate(l3)
    if peak3 > target.l3:
        big = max(l3, key=lambda o: o[1])
        raise MemoryBudgetError(
            f"the network needs {peak3:,} B of L3 (largest object {big[0]}: {big[1]:,} B), {target.l3:,} B are available",
            span=target.span or net.span,
            hint="raise 'l3' in the spec's 'target gap8' block",
        )
    objects = {}
    for objs, offs, loc in ((l2, off2, "L2"), (l3, off3, "L3")):
        for name, size, first, last in objs:
            objects[name] = Placed(name, loc, offs[name], size, first, last)
    plans = []
    for si, L in enumerate(layers):
        t, s, c, d = chosen[si]
        plans.append(LayerPlan(si, L.layer, L.g, t, s, d, c, _stages(s, d), steps[si][0]))
    return NetworkPlan(net, target, costs, tuple(plans), objects, peak2, peak3)


def plan_table(plan: NetworkPlan) -> list[dict]:
    """One row per layer: tile shape, tiles, L1 bytes, placements, DMA bytes, cycles."""
    rows = []
    for lp in plan.layers:
        g, s, t = lp.geom, lp.stats, lp.tiling
        l3 = sum(b for op, b in (("in", s.in_bytes), ("w", s.w_bytes), ("out", s.out_bytes)) if lp.locs[op] == "L3")
        rows.append(
            {
                "layer": lp.name,
                "kind": g.kind,
                "tile": f"{min(t.th, g.oh)}x{min(t.tw, g.ow)}x{min(t.tc, g.cout)}",
                "order": t.order,
                "tiles": s.tiles,
                "l1_bytes": s.l1_bytes,
                "in": lp.locs["in"],
                "weights": lp.locs["w"] if g.has_weights else "-",
                "out": lp.locs["out"],
                "dma_bytes": s.in_bytes + s.w_bytes + s.out_bytes,
                "l3_bytes": l3,
                "stage_bytes": sum(lp.stages.values()),
                "cycles": round(lp.cycles.total),
                "compute": round(lp.cycles.compute),
                "bound": lp.cycles.bound,
            }
        )
    return rows
