"""Small networks shared by the tests: the tiny one that covers every layer kind, and the
example specs."""

from __future__ import annotations

import os

from mbdsl import frontend, ir, passes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY = """
network tiny {{
  input 12x12{ch} {fmt}
  defaults {{ weights int4 narrow; activations uint4; quant {quant} }}
  weights random(seed = 5)
  conv   c0 3x3 stride 2 pad 1 -> 8 weights int8 {c0act}
  dwconv d1 3x3 stride 1 pad 1
  pwconv p1 -> 16
  dwconv d2 3x3 stride 2 pad 1
  conv   c2 3x3 stride 1 pad 1 -> 8 {c2act}
  avgpool pool global
  fc     fc -> 10
  topk   top 3
}}
"""


def tiny(quant="thresholds", fmt="u8", signed=False) -> ir.Network:
    """12x12 -> conv s2 -> dwconv -> pwconv -> dwconv s2 -> conv k3 (3x3x8) -> avgpool -> fc -> topk."""
    c0act = "activations uint7" if quant == "multiplier" else ""
    c2act = "activations int4" if signed else ""
    text = TINY.format(ch="" if fmt == "nv12" else "x3", fmt=fmt, quant=quant, c0act=c0act, c2act=c2act)
    return passes.check(frontend.load_string(text, "tiny.mbn"))


def spec(name: str) -> ir.Network:
    return passes.check(frontend.load(os.path.join(ROOT, "specs", name)))
