"""Names the user chooses as identifiers of generated code (mbdsl/backends/names.py): a layer
named after a keyword of Verilog, SystemVerilog, C or C++ gets generated code that
compiles, and two names that meet after mangling are refused (RTL) or numbered (HLS)."""

from __future__ import annotations

import re

import pytest

from mbdsl import backends
from mbdsl.backends.hls import csim
from mbdsl.backends.names import KEYWORDS, identifier
from mbdsl.backends.rtl.verilator import lint
from mbdsl.errors import MbdslError
from mbdsl.frontend import load_string
from mbdsl.params import make_params
from mbdsl.passes import check

KEYWORD_SPEC = """\
network module {
  input 8x8x3 u8
  defaults { weights int4 narrow; activations uint4 }
  conv    always 3x3 pad 1 -> 8 fold(pe = 8, simd = 3)
  dwconv  int 3x3 pad 1 fold(pe = 8)
  pwconv  return -> 8 fold(pe = 8, simd = 8)
  pwconv  s1_tdata -> 8 fold(pe = 8, simd = 8)
  pwconv  clk -> 8 fold(pe = 8, simd = 8)
  pwconv  trace_on -> 8 fold(pe = 8, simd = 8)
  pwconv  _Bool -> 8 fold(pe = 8, simd = 8)
  avgpool class global
  fc      wire -> 4
  topk    void 2
}
"""


def _net(text: str):
    return check(load_string(text, "kw.mbn"))


def test_identifier_keeps_ordinary_names_and_prefixes_keywords():
    assert identifier("b3.dw") == "b3_dw"
    assert identifier("conv0") == "conv0"
    for word in ("always", "module", "int", "return", "class", "logic", "void", "_Bool", "__x"):
        assert identifier(word) == "l_" + word
    assert identifier("x", reserved=lambda i: i == "x") == "l_x"
    assert {"always", "module", "int", "return", "endmodule", "template", "static_assert"} <= KEYWORDS


@pytest.mark.verilator
def test_keyword_names_give_verilog_that_lints(tmp_path):
    net = _net(KEYWORD_SPEC)
    files = backends.generate("rtl", net, make_params(net))
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(content)
    top = next(p for p in files if p.endswith("_top.sv"))
    text = files[top]
    for word in ("always", "int", "return", "s1_tdata", "clk", "trace_on", "class", "wire"):
        assert re.search(rf"\) l_{word} \(", text) or re.search(rf"\) l_{word}_\w+ \(", text), word
    sources = sorted((tmp_path / "hdl").glob("*.sv")) + [tmp_path / top]
    clean, messages = lint(sources, top.removesuffix(".sv"))
    assert clean, messages


@pytest.mark.gcc
def test_keyword_names_give_cpp_that_compiles(tmp_path):
    net = _net(KEYWORD_SPEC)
    params = make_params(net)
    files = backends.generate("hls", net, params)
    assert any(re.search(r"void l_always\(", c) for c in files.values() if isinstance(c, str))
    b = csim.build(files, str(tmp_path), jobs=2)
    assert b.compiled > 0


def test_rtl_refuses_names_that_meet_after_mangling():
    text = KEYWORD_SPEC.replace("pwconv  s1_tdata -> 8", "pwconv  l_always -> 8")
    net = _net(text)
    with pytest.raises(MbdslError) as info:
        backends.generate("rtl", net, make_params(net))
    assert re.fullmatch(r"layer 'always' and layer 'l_always' both give the Verilog instance name 'l_always\w*'", info.value.message)
    assert info.value.span.line == 7


def test_rtl_refuses_a_dwsep_half_and_a_layer_of_the_same_identifier():
    text = """\
network n {
  input 8x8x3 u8
  defaults { weights int4 narrow; activations uint4 }
  dwsep   b3 stride 1 -> 8
  pwconv  b3_dw -> 8
  fc      fc -> 4
  topk    top 2
}
"""
    net = _net(text)
    with pytest.raises(MbdslError, match=r"layer 'b3\.dw' and layer 'b3_dw' both give the Verilog instance name 'b3_dw\w*'"):
        backends.generate("rtl", net, make_params(net))


def test_hls_numbers_names_whose_derived_names_meet():
    text = KEYWORD_SPEC.replace("pwconv  s1_tdata -> 8", "pwconv  l_always_weights -> 8")
    net = _net(text)
    files = backends.generate("hls", net, make_params(net))
    functions = set(re.findall(r"^void (\w+)\(hls::stream", files["top.h"] if "top.h" in files else "\n".join(
        c for p, c in files.items() if p.endswith(".h") and isinstance(c, str)), re.M))
    assert "l_always" in functions and "l_always_weights_2" in functions
