"""GAP8: the plan is the one source of the tiling. The explicit schedule of every step agrees
with the planner's closed-form figures, the L1 arena holds every buffer apart, the generated
C executes the emitted tables (change one and that step diverges), and the host shim checks
buffers that share a page of the arena."""

from __future__ import annotations

import os
import re
import subprocess

import attrs
import numpy as np
import pytest

from mbdsl import ir, reference
from mbdsl.backends import gap8
from mbdsl.backends.gap8 import host, plan_network
from mbdsl.backends.gap8._tiling import blob_bytes, buffers, schedule, weight_chunk_bytes
from mbdsl.frontend import load
from mbdsl.images import random_images
from mbdsl.params import make_params
from mbdsl.passes import check

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = os.path.join(ROOT, "specs", "mobilenet_v1_int8_w0.25_32.mbn")
FULL = os.path.join(ROOT, "specs", "mobilenet_v1_int8_gap8.mbn")


@pytest.fixture(scope="module")
def small():
    net = check(load(SMALL))
    return net, make_params(net)


def _tight(net, fuse=False):
    """Budgets that force many tiles, both loop orders and operands in L3."""
    net = attrs.evolve(net, gap8=ir.Gap8Target(l1=6000, l2=30000, l1_reserve=0, l2_reserve=0))
    return plan_network(net, fuse=fuse)


def _plans(small):
    net, _ = small
    return [plan_network(net), _tight(net), _tight(net, fuse=True), plan_network(check(load(FULL)))]


def test_schedule_agrees_with_the_planners_figures(small):
    """What the C executes (the explicit schedule) is what the planner costed and placed."""
    steps = 0
    for plan in _plans(small):
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


def test_l1_arena_keeps_every_buffer_apart(small):
    for plan in _plans(small):
        for lp in plan.layers:
            s = schedule(lp.geom, lp.tiling)
            a = s.arena()
            spans = [(o, s.in_buf) for o in a.ins] + [(o, s.w_buf) for o in a.ws] + [(o, s.out_buf) for o in a.outs]
            spans += [(a.dw, lp.geom.dw_weight_bytes), (a.mid, a.size - a.mid)]
            spans = sorted((o, o + n) for o, n in spans if n)
            assert spans[0][0] == 0 and spans[-1][1] == a.size == lp.stats.l1_bytes, lp.name
            assert all(e <= b for (_, e), (b, _) in zip(spans, spans[1:])), lp.name
            assert all(o % 4 == 0 for o, _ in spans), lp.name


def test_generated_c_executes_the_tables(small, tmp_path):
    """Swap the weight-load offsets of two channel tiles in one step's table: that step is the
    first to diverge from the reference (the engine took its loads from the table)."""
    net, params = small
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


ARENA_TEST = r"""
#include "mbdsl_sdk.h"
#include <stdio.h>
static struct pi_device cl;
static unsigned char *arena;
static void kernel(void *arg) { volatile unsigned char *b = arg; if (pi_core_id() == 0) printf("%d\n", b[3]); }
static void task(void *arg) {
    (void)arg;
    unsigned char *l2 = pi_l2_malloc(256);
    pi_cl_dma_cmd_t cmd;
    for (int i = 0; i < 256; i++) l2[i] = (unsigned char)i;
    arena[3] = 7;
    /* Two buffers of one arena on one page: a DMA into the second one is pending. */
    pi_cl_dma_cmd((uintptr_t)l2, (uintptr_t)(arena + 64), 64, PI_CL_DMA_DIR_EXT2LOC, &cmd);
#ifdef KERNEL_ON_PENDING
    mbdsl_trace_kernel(arena + 64, 64, 0, 0, arena + 128, 16);
    pi_cl_team_fork(8, kernel, arena + 64);
#else
    mbdsl_trace_kernel(arena, 64, 0, 0, arena + 128, 16);
    pi_cl_team_fork(8, kernel, arena);
#endif
    pi_cl_dma_cmd_wait(&cmd);
}
int main(void) {
    struct pi_cluster_task t;
    arena = pi_cl_l1_malloc(&cl, 512);
    pi_cluster_send_task_to_cl(&cl, pi_cluster_task(&t, task, 0));
    pi_cl_l1_free(&cl, arena, 512);
    return 0;
}
"""


def _arena_program(tmp_path, small, *defines):
    files = gap8.generate(*small)
    (tmp_path / "mbdsl_sdk.h").write_text(files["mbdsl_sdk.h"])
    (tmp_path / "t.c").write_text(ARENA_TEST)
    (tmp_path / "gap8_host.c").write_text(host._shim("gap8_host.c"))
    exe = tmp_path / "t"
    subprocess.run(
        ["gcc", "-std=gnu99", "-O1", "-DMBDSL_TRACE", *[f"-D{d}" for d in defines], "-I", str(tmp_path),
         str(tmp_path / "t.c"), str(tmp_path / "gap8_host.c"), "-o", str(exe)],
        check=True,
    )  # fmt: skip
    return subprocess.run([str(exe)], capture_output=True, text=True)


def test_shim_arena_neighbour_of_a_pending_dma_is_usable(tmp_path, small):
    r = _arena_program(tmp_path, small)
    assert r.returncode == 0 and r.stdout.strip() == "7", r.stderr


def test_shim_arena_kernel_on_a_pending_buffer_fails(tmp_path, small):
    r = _arena_program(tmp_path, small, "KERNEL_ON_PENDING")
    assert r.returncode == 86
    assert re.search(r"the kernel's input, L1 buffer #\d+ byte \+64, is written by DMA #\d+ that was not waited for",
                     r.stderr), r.stderr
