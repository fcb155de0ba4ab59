"""GAP8: the plan is the one source of the tiling. The explicit schedule of every step agrees
with the planner's closed-form figures, the L1 arena holds every buffer apart, the generated
C executes the emitted tables (change one and that step diverges), and the host shim checks
buffers that share a page of the arena."""

from __future__ import annotations

import os
import re
from collections import Counter

import attrs
import numpy as np
import pytest

from mbdsl import ir, reference
from mbdsl.backends import gap8
from mbdsl.backends.gap8 import host, plan_network
from mbdsl.backends.gap8._tiling import Transfer, blob_bytes, box_transfer, buffers, schedule, weight_chunk_bytes
from mbdsl.frontend import load
from mbdsl.images import random_images
from mbdsl.params import make_params
from mbdsl.passes import check

SPECS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "specs")


@pytest.fixture(scope="module")
def net():
    return check(load(os.path.join(SPECS, "mobilenet_v1_int8_w0.25_32.mbn")))


def _tight(net, fuse=False):
    """Budgets that force many tiles, both loop orders and operands in L3."""
    net = attrs.evolve(net, gap8=ir.Gap8Target(l1=6000, l2=30000, l1_reserve=0, l2_reserve=0))
    return plan_network(net, fuse=fuse)


def _plans(net):
    full = check(load(os.path.join(SPECS, "mobilenet_v1_int8_gap8.mbn")))
    return [plan_network(net), _tight(net), _tight(net, fuse=True), plan_network(full)]


@pytest.mark.slow
def test_schedule_agrees_with_the_planners_figures(net):
    """What the C executes (the explicit schedule) is what the planner costed and placed."""
    steps = 0
    for plan in _plans(net):
        for lp in plan.layers:
            g, st, s = lp.geom, lp.stats, schedule(lp.geom, lp.tiling)
            assert (len(s.tiles), len(s.in_loads), len(s.w_loads)) == (st.tiles, st.in_loads, st.w_loads), lp.name
            assert (s.in_buf, s.w_buf, s.out_buf) == (st.in_buf, st.w_buf, st.out_buf), lp.name
            assert s.l1_bytes == st.l1_bytes <= plan.l1_budget, lp.name
            assert sum(b.elements for b in s.in_loads) * g.e_in == st.in_bytes, lp.name
            assert sum(weight_chunk_bytes(g, *ch) for ch in s.w_loads) == st.w_bytes, lp.name
            if g.has_weights:
                assert plan.objects[f"w:{lp.index}"].size == blob_bytes(g, lp.tiling.tc), lp.name
            for op, n in (("in", st.in_loads), ("w", st.w_loads), ("out", st.tiles)):
                if op in lp.stages:
                    assert lp.stages[op] == buffers(n) * {"in": s.in_buf, "w": s.w_buf, "out": s.out_buf}[op]
            steps += 1
    assert steps > 80


@pytest.mark.slow
def test_l1_arena_keeps_every_buffer_apart(net):
    for plan in _plans(net):
        for lp in plan.layers:
            s = schedule(lp.geom, lp.tiling)
            a = s.arena()
            spans = [(o, s.in_buf) for o in a.ins] + [(o, s.w_buf) for o in a.ws] + [(o, s.out_buf) for o in a.outs]
            spans += [(a.dw, lp.geom.dw_weight_bytes), (a.mid, a.size - a.mid)]
            spans = sorted((o, o + n) for o, n in spans if n)
            assert spans[0][0] == 0 and spans[-1][1] == a.size == lp.stats.l1_bytes, lp.name
            assert all(e <= b for (_, e), (b, _) in zip(spans, spans[1:])), lp.name
            assert all(o % 4 == 0 for o, _ in spans), lp.name


@pytest.mark.gcc
def test_generated_c_executes_the_tables(net, tmp_path):
    """Swap the weight-load offsets of two channel tiles in one step's table: that step is the
    first to diverge from the reference (the engine took its loads from the table)."""
    params = make_params(net)
    plan = _tight(net)
    files = gap8.generate(net, params, plan)
    name = next(k for k in files if k.endswith(".c") and k != "mbdsl_tiler.c")
    src = files[name]
    for m in re.finditer(r"static const mbdsl_chans_t (\w+)_chans\[\d+\] = \{\n((?:    \{[^\n]*\},\n)+)\};", src):
        entries = [[int(v) for v in re.findall(r"-?\d+", line)] for line in m.group(2).splitlines()]
        if len(entries) >= 2 and entries[0][3:] == entries[1][3:] and entries[0][1] == entries[1][1]:
            break
    else:
        pytest.fail("no step with two equal weight loads")
    ident = m.group(1)
    step = int(ident.rsplit("_", 1)[1])
    lines = m.group(2).splitlines()
    e0, e1 = entries[0], entries[1]
    lines[0] = "    { " + ", ".join(f"{v}u" for v in [e0[0], e0[1], e1[2], *e0[3:]]) + " },"
    lines[1] = "    { " + ", ".join(f"{v}u" for v in [e1[0], e1[1], e0[2], *e1[3:]]) + " },"
    files[name] = src.replace(m.group(2), "\n".join(lines) + "\n")

    images = random_images(net.input, 1, seed=3)
    orig = host.generate
    host.generate = lambda *a, **k: files
    try:
        hr = host.run(net, params, images, workdir=str(tmp_path), plan=plan)
    finally:
        host.generate = orig
    ref = reference.run(net, params, images[0])
    diverged = [i for i, got in sorted(hr.layers[0].items()) if not np.array_equal(np.asarray(ref[i]).reshape(-1), got)]
    assert diverged and diverged[0] == plan.layers[step].members[-1]


def _planned_dmas(plan) -> dict[int, Counter]:
    """Every transfer the plan implies, per step, as the shim logs them: (c: cluster DMA or
    u: micro-DMA, towards L1, external offset, local offset, size, line length, stride)."""
    out = {}
    for lp in plan.layers:
        g, s, ev = lp.geom, schedule(lp.geom, lp.tiling), Counter()
        arena = s.arena()

        def stage(op, slot, buf):
            return plan.objects[f"stage:{lp.index}:{op}"].offset + slot * buf

        def move(op, loc, base, x, l1, slot, buf, inward):
            if x.lines == 1:  # one line: a 1-D transfer, whatever its stride
                x = Transfer(x.offset, x.size, x.size, x.size)
            if loc == "L2":
                ev["c", inward, base + x.offset, l1, x.size, x.length, x.stride] += 1
            else:  # staged in L2: L3 <-> staging by micro-DMA, staging <-> L1 in one piece
                st = stage(op, slot, buf)
                ev["u", inward, base + x.offset, st, x.size, x.length, x.stride] += 1
                ev["c", inward, st, l1, x.size, x.size, x.size] += 1

        if g.kind == "dwpw":
            n = g.dw_weight_bytes
            ev["c", 1, plan.objects[f"wdw:{lp.index}"].offset, arena.dw, n, n, n] += 1
        for j, box in enumerate(s.in_loads):
            slot = j % s.n_in_bufs
            move("in", lp.locs["in"], plan.objects[lp.in_tensor].offset, box_transfer(box, g.h, g.w, g.cin, g.e_in),
                 arena.ins[slot], slot, s.in_buf, 1)
        offs = s.chunk_offsets()
        for j, ch in enumerate(s.w_loads):
            slot, n, blob = j % s.n_w_bufs, weight_chunk_bytes(g, *ch), plan.objects[f"w:{lp.index}"]
            move("w", blob.loc, blob.offset, Transfer(offs[ch], n, n, n), arena.ws[slot], slot, s.w_buf, 1)
        for t, tile in enumerate(s.tiles):
            slot = t % s.n_out_bufs
            move("out", lp.locs["out"], plan.objects[lp.out_tensor].offset,
                 box_transfer(tile.out, g.oh, g.ow, g.cout, g.e_out), arena.outs[slot], slot, s.out_buf, 0)
        out[lp.index] = ev
    return out


@pytest.mark.gcc
@pytest.mark.parametrize("fuse", [False, True], ids=["unfused", "fused"])
def test_the_c_issues_exactly_the_planned_dmas(net, tmp_path, monkeypatch, fuse):
    """Under tight budgets (hundreds of tiles, both loop orders, operands in L3): the host
    shim's log of every transfer the generated C issued, per step, is the plan's: each load
    and store of the schedule, from and to its buffer in the L1 arena or its L2 staging."""
    plan = _tight(net, fuse)
    log = tmp_path / "dma.log"
    monkeypatch.setenv("MBDSL_DMA_LOG", str(log))
    host.run(plan.net, make_params(net), random_images(net.input, 1, seed=2), workdir=str(tmp_path), plan=plan)
    got: dict[int, Counter] = {}
    for line in log.read_text().splitlines():
        layer, kind, *nums = line.split()
        got.setdefault(int(layer), Counter())[(kind, *map(int, nums))] += 1
    want = _planned_dmas(plan)
    assert sum(map(len, want.values())) > 300
    assert got == want
