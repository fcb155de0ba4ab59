"""GAP8 C from a plan: per-layer kernels and tiling descriptors, the tile engine, the
network's construct/run functions and the flash image of the weights.

Generated files (under ``generated/<network>/gap8/``):

- ``mbdsl_sdk.h``: the GAP8 SDK (PMSIS) calls used, declared; pmsis.h on the chip.
- ``mbdsl_tiler.[ch]``: the double-buffered L3 -> L2 -> L1 tile engine.
- ``<net>.[ch]``: one kernel per layer (conv/depthwise/pointwise/pool/linear/top-k with
  bias, requantization and ReLU fused), its tiling constants, and the network entry points.
- ``<net>_weights.bin``: the flash image, per layer the weights of each output-channel tile
  followed by their int32 bias and multiplier, in the order the tiles load them.
- ``Makefile``: a GAP8 SDK build of the above.
"""

from __future__ import annotations

import re

import numpy as np

from ... import ir
from ...templating import environment
from ._plan import NetworkPlan, layer_geometries, plan_network
from ._tiling import align4, bias_offset, schedule, weight_chunk_bytes

__all__ = ["generate", "weight_blob", "c_name"]

_ENV = environment("mbdsl.backends.gap8")

_LOC = {"L2": "MBDSL_L2", "L3": "MBDSL_L3"}


def c_name(name: str) -> str:
    """A C identifier from a layer or network name."""
    s = re.sub(r"[^0-9A-Za-z_]", "_", name)
    return s if not s[:1].isdigit() else "_" + s


def weight_blob(lp, g, tc: int) -> bytes:
    """A layer's weights as the tiles load them: per chunk of ``tc`` output channels, the
    int8 weights (padded to 4 bytes), then int32 bias, then int32 m0 (little endian)."""
    w = np.asarray(lp.weights, dtype=np.int64)
    bias = np.zeros(g.cout, np.int64) if lp.bias is None else np.asarray(lp.bias, np.int64)
    m0 = np.broadcast_to(np.asarray(1 if lp.m0 is None else lp.m0, np.int64), (g.cout,))
    parts = []
    for c0 in range(0, g.cout, tc):
        c1 = min(c0 + tc, g.cout)
        wb = w[c0:c1].astype(np.int8).tobytes()
        parts.append(wb + bytes(align4(len(wb)) - len(wb)))
        parts.append(bias[c0:c1].astype("<i4").tobytes())
        parts.append(m0[c0:c1].astype("<i4").tobytes())
        assert sum(map(len, parts[-3:])) == weight_chunk_bytes(g, c0, c1)
    return b"".join(parts)


def _finish(net: ir.Network, layer, g, lp) -> str:
    act = getattr(layer, "act_type", None)
    if g.kind == "topk":
        return ""
    if act is None:
        return "acc + a->bias[c]"
    if g.kind == "pool":
        return f"({g.out_ctype})requant(acc, 0, {int(lp.m0)}, {int(lp.shift)}, {act.min}, {act.max})"
    return f"({g.out_ctype})requant(acc, a->bias[c], a->m0[c], {int(lp.shift)}, {act.min}, {act.max})"


def _buffer_places(offsets: tuple, stage_off: int | None, buf: int) -> tuple[list[int], list[int]]:
    """L1 arena offsets of an operand's buffers and L2 offsets of their staging (each a pair;
    0 where unused)."""
    l1 = list(offsets) + [0] * (2 - len(offsets))
    stage = [stage_off + i * buf if stage_off is not None and i < len(offsets) else 0 for i in range(2)]
    return l1, stage


def _period(n_tiles: int, load_of: list[int], name: str) -> int:
    """Tiles per load of an operand whose load j serves tiles [j * period, (j + 1) * period)."""
    if not load_of:
        return 0
    period = n_tiles // (max(load_of) + 1)
    if any(j != t // period for t, j in enumerate(load_of)):
        raise AssertionError(f"{name}: the loads of the schedule are not runs of {period} tiles")
    return period


def _axes(sched) -> tuple[list, list, list, bool]:
    """The schedule of a step as the C walks it: its tile rows, columns and channel ranges
    (each with what it reads) in loop order, checked tile by tile against ``sched``."""
    g, order = sched.geom, sched.tiling.order
    rows, cols, chans, in_chans = {}, {}, {}, False
    offs = sched.chunk_offsets()
    for tile in sched.tiles:
        ib, ob = sched.in_loads[tile.in_load], tile.out
        rows.setdefault((ob.r0, ob.r1), (ob.r0, ob.r1 - ob.r0, ib.r0, ib.r1 - ib.r0, tile.off_y))
        cols.setdefault((ob.q0, ob.q1), (ob.q0, ob.q1 - ob.q0, ib.q0, ib.q1 - ib.q0, tile.off_x))
        ch = (ob.k0, ob.k1)
        w = (offs[ch], weight_chunk_bytes(g, *ch), bias_offset(g, *ch)) if g.has_weights else (0, 0, 0)
        chans.setdefault(ch, (ob.k0, ob.k1 - ob.k0, *w))
        in_chans |= (ib.k0, ib.k1) != (0, g.cin)
    rows, cols, chans = [list(d.values()) for d in (rows, cols, chans)]
    nh, nw, nc = len(rows), len(cols), len(chans)
    for t, tile in enumerate(sched.tiles):  # the C's tile_at and its boxes
        if order == "sc":
            iy, ix, ic = t // (nw * nc), t // nc % nw, t % nc
        else:
            iy, ix, ic = t // nw % nh, t % nw, t // (nh * nw)
        r, q, c = rows[iy], cols[ix], chans[ic]
        ib, ob = sched.in_loads[tile.in_load], tile.out
        k0, kn = (c[0], c[1]) if in_chans else (0, g.cin)
        if ((ob.r0, ob.r1 - ob.r0, ob.q0, ob.q1 - ob.q0, ob.k0, ob.k1 - ob.k0) != (r[0], r[1], q[0], q[1], c[0], c[1])
                or (ib.r0, ib.r1 - ib.r0, ib.q0, ib.q1 - ib.q0, ib.k0, ib.k1 - ib.k0) != (r[2], r[3], q[2], q[3], k0, kn)
                or (tile.off_y, tile.off_x) != (r[4], q[4])):
            raise AssertionError(f"{g.name}: tile {t} of the schedule is not rows x cols x chans in {order} order")
    return rows, cols, chans, in_chans


def _layer_view(plan: NetworkPlan, lp_plan, params) -> dict:
    """A step as the C sees it: its kernels and its plan as data (tile ranges and what they
    read, loads, the L1 arena and L2 offsets of every buffer)."""
    i, g, t, s = lp_plan.index, lp_plan.geom, lp_plan.tiling, lp_plan.stats
    obj = plan.objects
    net = plan.net
    sched = schedule(g, t)
    arena = sched.arena()
    if arena.size != s.l1_bytes:
        raise AssertionError(f"{g.name}: the schedule's L1 arena is {arena.size} B, the plan's {s.l1_bytes} B")
    rows, cols, chans, in_chans = _axes(sched)
    n_tiles = len(sched.tiles)
    wobj = obj.get(f"w:{i}")
    dwobj = obj.get(f"wdw:{i}")
    ident = c_name(lp_plan.layer.name) + f"_{i}"
    members = [net.layers[m] for m in lp_plan.members]
    geoms = _member_geoms(plan, lp_plan)
    kernels = []
    if g.kind == "dwpw":
        kernels.append({"fn": f"{ident}_dw_kernel", "kind": "dw", "g": geoms[0],
                        "finish": _finish(net, members[0], geoms[0], params[members[0].name])})
    last = members[-1]
    kernels.append({"fn": f"{ident}_kernel", "kind": geoms[-1].kind, "g": geoms[-1],
                    "finish": _finish(net, last, geoms[-1], params[last.name])})

    def stage(op):
        o = obj.get(f"stage:{i}:{op}")
        return o.offset if o else None

    in_l1, in_stage = _buffer_places(arena.ins, stage("in"), sched.in_buf)
    w_l1, w_stage = _buffer_places(arena.ws, stage("w"), sched.w_buf)
    out_l1, out_stage = _buffer_places(arena.outs, stage("out"), sched.out_buf)
    w_of = [tile.w_load for tile in sched.tiles] if sched.w_loads else []
    ops = [
        {"n": len(sched.in_loads), "period": _period(n_tiles, [tile.in_load for tile in sched.tiles], g.name),
         "loc": _LOC[lp_plan.locs["in"]], "nbuf": sched.n_in_bufs, "base": obj[lp_plan.in_tensor].offset,
         "l1": in_l1, "stage": in_stage},
        {"n": len(sched.w_loads), "period": _period(n_tiles, w_of, g.name), "loc": _LOC[wobj.loc] if wobj else "MBDSL_L2",
         "nbuf": sched.n_w_bufs, "base": wobj.offset if wobj else 0, "l1": w_l1, "stage": w_stage},
    ]
    return {
        "id": ident,
        "name": g.name,
        "kind": g.kind,
        "g": g,
        "kernels": kernels,
        "tile": f"{min(t.th, g.oh)}x{min(t.tw, g.ow)}x{min(t.tc, g.cout)} {t.order}",
        "tiles": n_tiles,
        "l1": arena.size,
        "in_loc": lp_plan.locs["in"],
        "w_loc": lp_plan.locs["w"] if g.has_weights else "-",
        "out_loc": lp_plan.locs["out"],
        "rows": rows,
        "cols": cols,
        "chans": chans,
        "order": t.order,
        "order_enum": "MBDSL_ORDER_SC" if t.order == "sc" else "MBDSL_ORDER_CS",
        "in_chans": int(in_chans),
        "ops": ops,
        "out": {"loc": _LOC[lp_plan.locs["out"]], "nbuf": sched.n_out_bufs, "base": obj[lp_plan.out_tensor].offset,
                "l1": out_l1, "stage": out_stage},
        "out_bytes": g.out_bytes,
        "dw_off": dwobj.offset if dwobj else 0,
        "dw_bytes": g.dw_weight_bytes,
        "dw_bias": bias_offset(geoms[0], 0, geoms[0].cout) if g.kind == "dwpw" else 0,
        "dw_l1": arena.dw,
        "mid_l1": arena.mid,
        "dw_kernel": f"{ident}_dw_kernel" if g.kind == "dwpw" else "0",
    }


def _member_geoms(plan: NetworkPlan, lp_plan) -> list:
    """The geometry of each IR layer a step computes."""
    if len(lp_plan.members) == 1:
        return [lp_plan.geom]
    all_geoms = layer_geometries(plan.net)
    return [all_geoms[m] for m in lp_plan.members]


def generate(net: ir.Network, params, plan: NetworkPlan | None = None) -> dict[str, str | bytes]:
    """The GAP8 C tree of a checked network (relative path -> content)."""
    plan = plan or plan_network(net)
    p = c_name(net.name)
    views = [_layer_view(plan, lp, params) for lp in plan.layers]
    l1_bytes = max(v["l1"] for v in views)
    flash, blobs, pos = [], [], 0
    for lp in plan.layers:
        if not lp.geom.has_weights:
            continue
        members = [plan.net.layers[m] for m in lp.members]
        parts = [(f"w:{lp.index}", params[members[-1].name], lp.geom, min(lp.tiling.tc, lp.geom.cout))]
        if lp.geom.kind == "dwpw":
            dwg = _member_geoms(plan, lp)[0]
            parts.append((f"wdw:{lp.index}", params[members[0].name], dwg, dwg.cout))
        for name, lparams, g, tc in parts:
            data = weight_blob(lparams, g, tc)
            o = plan.objects[name]
            if len(data) != o.size:
                raise AssertionError(f"weight blob {name} of {lp.name}: {len(data)} B, planned {o.size} B")
            blobs.append({"flash": pos, "bytes": len(data), "dest": o.offset, "loc": _LOC[o.loc], "name": f"{lp.name} ({name})"})
            flash.append(data)
            pos += len(data)
    last = plan.layers[-1].geom
    inp = plan.tensor(-1)
    out = plan.objects[plan.layers[-1].out_tensor]
    ctx = {
        "net": net,
        "source": net.source or net.name,
        "plan": plan,
        "p": p,
        "P": p.upper(),
        "layers": views,
        "l1_bytes": l1_bytes,
        "blobs": blobs,
        "flash_bytes": pos,
        "in_ct": plan.layers[0].geom.in_ctype,
        "out_ct": last.out_ctype,
        "in_bytes": inp.size,
        "out_bytes": out.size,
        "out_count": last.oh * last.ow * last.cout,
        "input": inp,
        "output": out,
        "in_desc": f"{net.input.shape} {plan.layers[0].geom.in_ctype} channels last",
        "out_desc": f"{last.oh * last.ow * last.cout} x {last.out_ctype}",
    }
    files = {
        "mbdsl_sdk.h": _ENV.get_template("mbdsl_sdk.h.j2").render(ctx),
        "mbdsl_tiler.h": _ENV.get_template("mbdsl_tiler.h.j2").render(ctx),
        "mbdsl_tiler.c": _ENV.get_template("mbdsl_tiler.c.j2").render(ctx),
        f"{p}.h": _ENV.get_template("network.h.j2").render(ctx),
        f"{p}.c": _ENV.get_template("network.c.j2").render(ctx),
        "Makefile": _ENV.get_template("Makefile.j2").render(ctx),
        f"{p}_weights.bin": b"".join(flash),
    }
    return files
