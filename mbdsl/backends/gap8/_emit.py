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
from ._plan import NetworkPlan, plan_network
from ._tiling import align4, weight_chunk_bytes

__all__ = ["generate", "weight_blob", "c_name"]

_ENV = environment("mbdsl.backends.gap8")

_KIND = {"conv": "MBDSL_CONV", "dw": "MBDSL_DW", "pw": "MBDSL_PW", "fc": "MBDSL_FC", "pool": "MBDSL_POOL", "topk": "MBDSL_TOPK",
         "dwpw": "MBDSL_DWPW"}
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


def _layer_view(plan: NetworkPlan, lp_plan, params) -> dict:
    i, g, t, s = lp_plan.index, lp_plan.geom, lp_plan.tiling, lp_plan.stats
    obj = plan.objects
    net = plan.net
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
        return o.offset if o else 0

    return {
        "id": ident,
        "name": g.name,
        "kind": g.kind,
        "kind_enum": _KIND[g.kind],
        "g": g,
        "kernels": kernels,
        "tile": f"{min(t.th, g.oh)}x{min(t.tw, g.ow)}x{min(t.tc, g.cout)} {t.order}",
        "tiles": s.tiles,
        "l1": s.l1_bytes,
        "th": min(t.th, g.oh),
        "tw": min(t.tw, g.ow),
        "tc": min(t.tc, g.cout),
        "order_enum": "MBDSL_ORDER_SC" if t.order == "sc" else "MBDSL_ORDER_CS",
        "in_loc": lp_plan.locs["in"],
        "w_loc": lp_plan.locs["w"] if g.has_weights else "-",
        "out_loc": lp_plan.locs["out"],
        "in_loc_enum": _LOC[lp_plan.locs["in"]],
        "w_loc_enum": _LOC[wobj.loc] if wobj else "MBDSL_L2",
        "out_loc_enum": _LOC[lp_plan.locs["out"]],
        "in_off": obj[lp_plan.in_tensor].offset,
        "w_off": wobj.offset if wobj else 0,
        "out_off": obj[lp_plan.out_tensor].offset,
        "in_buf": s.in_buf,
        "w_buf": s.w_buf,
        "out_buf": s.out_buf,
        "in_nbuf": 2 if s.in_loads > 1 else 1,
        "w_nbuf": 0 if not s.w_loads else 2 if s.w_loads > 1 else 1,
        "out_nbuf": 2 if s.tiles > 1 else 1,
        "w_chunk": weight_chunk_bytes(g, 0, min(t.tc, g.cout)) if g.has_weights else 0,
        "in_stage": stage("in"),
        "w_stage": stage("w"),
        "out_stage": stage("out"),
        "dw_off": dwobj.offset if dwobj else 0,
        "dw_bytes": g.dw_weight_bytes,
        "mid_buf": align4(min(t.th, g.oh) * min(t.tw, g.ow) * g.cin) if g.kind == "dwpw" else 0,
        "dw_kernel": f"{ident}_dw_kernel" if g.kind == "dwpw" else "0",
    }


def _member_geoms(plan: NetworkPlan, lp_plan) -> list:
    """The geometry of each IR layer a step computes."""
    from ._plan import _geoms

    if len(lp_plan.members) == 1:
        return [lp_plan.geom]
    all_geoms = _geoms(plan.net)
    return [all_geoms[m] for m in lp_plan.members]


def generate(net: ir.Network, params, plan: NetworkPlan | None = None) -> dict[str, str | bytes]:
    """The GAP8 C tree of a checked network (relative path -> content)."""
    plan = plan or plan_network(net)
    p = c_name(net.name)
    views = [_layer_view(plan, lp, params) for lp in plan.layers]
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
