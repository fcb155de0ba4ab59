"""mbdsl.frontend.parser: every construct of the grammar, the spans of the nodes, and the
syntax errors in the user's terms."""

from __future__ import annotations

import re

import pytest

from mbdsl.errors import SpecSyntaxError
from mbdsl.frontend import ast
from mbdsl.frontend.parser import parse

SPEC = """\
# a comment line
include "targets/fpga.mbn"   # a trailing comment

network demo {
  input 224x224x3 u8 { scale 1/255; mean 0.485 0.456 0.406; std 0.226 }
  defaults { weights int4 narrow; activations uint4; acc int24; quant thresholds; fold(pe = 2, simd = 3) }
  weights random(seed = 1234)
  conv    conv0 3x3 stride 2 pad 0 -> 32 weights int8 fold(pe = 32, simd = 3)
  dwsep   b1 stride 1 -> 64 fold(dw_pe = 32, pe = 16, simd = 16)
  repeat 5 { dwsep stride 1 -> 512; pwconv -> 512 }
  avgpool pool global shift 6 activations uint4 fold(auto)
  fc      fc -> 1000 acc int32
  topk    top5 5
}

target fpga { clock 206 MHz; part "xcu250-figd2104-2L-e" }
target gap8 { l1 50000; l3 8 MiB; cores 8 }
"""


@pytest.fixture(scope="module")
def spec():
    return parse(SPEC, "demo.mbn")


def items_of(spec, cls):
    return [i for i in spec.items if isinstance(i, cls)]


def network(spec) -> ast.NetworkDecl:
    (net,) = items_of(spec, ast.NetworkDecl)
    return net


def layers(net):
    return [s for s in net.body if isinstance(s, ast.Layer)]


def args(layer) -> dict:
    return {a.key: a.value for a in layer.args}


# --- constructs ----------------------------------------------------------------------------


def test_top_level_items_in_order(spec):
    assert [type(i).__name__ for i in spec.items] == ["Include", "NetworkDecl", "TargetDecl", "TargetDecl"]
    assert spec.items[0].path == "targets/fpga.mbn"
    assert spec.path == "demo.mbn"


def test_input_with_preprocessing(spec):
    (decl,) = [s for s in network(spec).body if isinstance(s, ast.InputDecl)]
    assert decl.size == (224, 224, 3) and decl.format == "u8"
    pre = {s.key: [v.value for v in s.values] for s in decl.preprocess}
    assert pre == {"scale": [pytest.approx(1 / 255)], "mean": [0.485, 0.456, 0.406], "std": [0.226]}


def test_nv12_input_without_channels():
    decl = parse("network n { input 32x48 nv12 }").items[0].body[0]
    assert (decl.size, decl.format, decl.preprocess) == ((32, 48), "nv12", ())


def test_defaults_items(spec):
    (d,) = [s for s in network(spec).body if isinstance(s, ast.Defaults)]
    got = {a.key: a.value for a in d.items}
    assert (got["weights"].name, got["weights"].narrow) == ("int4", True)
    assert (got["activations"].name, got["activations"].narrow) == ("uint4", False)
    assert got["acc"].name == "int24"
    assert got["quant"].value == "thresholds" and got["quant"].kind == "word"
    fold = got["fold"]
    assert not fold.auto and [(k, v.value) for k, v, _ in fold.kwargs] == [("pe", 2), ("simd", 3)]


def test_weights_random_and_npz(spec):
    (w,) = [s for s in network(spec).body if isinstance(s, ast.WeightsDecl)]
    assert w.path is None and w.call.name == "random"
    assert [(k, v.value) for k, v, _ in w.call.kwargs] == [("seed", 1234)]
    npz = parse('network n { weights "mnv1.npz" }').items[0].body[0]
    assert npz.path == "mnv1.npz" and npz.call is None


def test_layer_arguments(spec):
    conv, dwsep, avgpool, fc, topk = layers(network(spec))
    assert (conv.kind, conv.name) == ("conv", "conv0")
    a = args(conv)
    assert a["kernel"] == (3, 3) and a["stride"] == 2 and a["pad"] == 0 and a["outputs"] == 32
    assert a["weights"].name == "int8"
    assert [(k, v.value) for k, v, _ in a["fold"].kwargs] == [("pe", 32), ("simd", 3)]
    assert [k for k, _, _ in args(dwsep)["fold"].kwargs] == ["dw_pe", "pe", "simd"]
    p = args(avgpool)
    assert "global" in p and p["shift"] == 6 and p["activations"].name == "uint4" and p["fold"].auto
    assert args(fc)["outputs"] == 1000 and args(fc)["acc"].name == "int32"
    assert (topk.kind, topk.name, args(topk)) == ("topk", "top5", {"count": 5})


def test_unnamed_layer():
    layer = parse("network n { dwsep stride 2 -> 128 }").items[0].body[0]
    assert (layer.kind, layer.name, layer.name_span) == ("dwsep", None, None)


def test_repeat_body(spec):
    (rep,) = [s for s in network(spec).body if isinstance(s, ast.Repeat)]
    assert rep.count == 5
    assert [(l.kind, args(l)["outputs"]) for l in rep.body] == [("dwsep", 512), ("pwconv", 512)]


def test_nested_repeat():
    rep = parse("network n { repeat 2 { repeat 3 { conv 3x3 -> 8 } } }").items[0].body[0]
    assert rep.count == 2 and rep.body[0].count == 3 and rep.body[0].body[0].kind == "conv"


def test_macro_call():
    call = parse("network n { mobilenet_v1(alpha = 0.25, resolution = 32, fold = auto) }").items[0].body[0]
    assert isinstance(call, ast.MacroCall) and call.name == "mobilenet_v1"
    assert [(k, v.value, v.kind) for k, v, _ in call.kwargs] == [("alpha", 0.25, "number"), ("resolution", 32, "number"), ("fold", "auto", "word")]


def test_targets_with_units_and_strings(spec):
    fpga, gap8 = items_of(spec, ast.TargetDecl)
    assert fpga.kind == "fpga"
    assert [(s.key, [(v.value, v.kind) for v in s.values]) for s in fpga.settings] == [
        ("clock", [(206, "number"), ("MHz", "word")]),
        ("part", [("xcu250-figd2104-2L-e", "string")]),
    ]
    assert [(s.key, [v.value for v in s.values]) for s in gap8.settings] == [("l1", [50000]), ("l3", [8, "MiB"]), ("cores", [8])]


def test_separators_newlines_and_semicolons_are_interchangeable():
    one_line = parse("network n { input 8x8x3 u8; conv 3x3 -> 4; fc -> 2 }")
    many = parse("\n\nnetwork n {\n\n  input 8x8x3 u8\n  conv 3x3 -> 4 ;; \n fc -> 2\n}\n\n")
    crlf = parse("network n {\r\n  input 8x8x3 u8\r\n  conv 3x3 -> 4\r\n  fc -> 2\r\n}\r\n")
    assert one_line.items == many.items == crlf.items


def test_comments_are_ignored_everywhere():
    text = "# head\nnetwork n { # after brace\n  input 8x8x3 u8 # after input\n  # alone\n  fc -> 2 # end\n} # done\n"
    body = parse(text).items[0].body
    assert [type(s).__name__ for s in body] == ["InputDecl", "Layer"]


def test_numbers():
    (setting,) = parse("target fpga { clock 1/4 -2 0.5 1e3 7 }").items[0].settings
    values = [v.value for v in setting.values]
    assert values == [0.25, -2, 0.5, 1000.0, 7]
    assert isinstance(values[4], int) and isinstance(values[1], int)


def test_byte_order_mark_is_ignored():
    assert parse("\ufeffnetwork n { }").items == parse("network n { }").items


def test_empty_file_and_empty_blocks():
    assert parse("").items == ()
    assert parse("# only a comment\n").items == ()
    net = parse("network n { }").items[0]
    assert net.name == "n" and net.body == ()


# --- spans ------------------------------------------------------------------------------------


def test_layer_spans(spec):
    conv = layers(network(spec))[0]
    line = SPEC.split("\n")[7]
    assert (conv.span.file, conv.span.line, conv.span.column) == ("demo.mbn", 8, 3)
    assert conv.span.text == line
    assert conv.span.end_column == len(line) + 1
    assert (conv.kind_span.column, conv.kind_span.end_column) == (3, 7)
    assert line[conv.name_span.column - 1 : conv.name_span.end_column - 1] == "conv0"
    for arg in conv.args:
        piece = line[arg.span.column - 1 : arg.span.end_column - 1]
        expected = {"kernel": "3x3", "stride": "stride 2", "pad": "pad 0", "outputs": "-> 32", "weights": "weights int8",
                    "fold": "fold(pe = 32, simd = 3)"}[arg.key]  # fmt: skip
        assert piece == expected


def test_kwarg_and_value_spans(spec):
    conv = layers(network(spec))[0]
    line = SPEC.split("\n")[7]
    fold = args(conv)["fold"]
    for key, value, span in fold.kwargs:
        assert line[span.column - 1 : span.end_column - 1] == key
        assert line[value.span.column - 1 : value.span.end_column - 1] == str(value.value)


def test_dtype_span_covers_narrow(spec):
    (d,) = [s for s in network(spec).body if isinstance(s, ast.Defaults)]
    w = d.items[0].value
    assert w.span.text[w.span.column - 1 : w.span.end_column - 1] == "int4 narrow"


def test_target_and_macro_name_spans(spec):
    fpga = items_of(spec, ast.TargetDecl)[0]
    assert (fpga.kind_span.line, fpga.kind_span.column, fpga.kind_span.end_column) == (16, 8, 12)
    call = parse("network n {\n  mobilenet_v1(alpha = 1)\n}").items[0].body[0]
    assert (call.name_span.line, call.name_span.column, call.name_span.end_column) == (2, 3, 15)
    assert (call.span.column, call.span.end_column) == (3, 26)


def test_multi_line_block_span_ends_at_its_first_line():
    net = parse("network n {\n  input 8x8x3 u8\n}", "x.mbn").items[0]
    assert (net.span.line, net.span.column) == (1, 1)
    assert net.span.end_column == len("network n {") + 1  # the caret underlines the first line only


def test_spans_after_form_feed_and_tabs():
    """Lark counts lines at '\\n' only; the spans must use the same lines."""
    text = "network n {\f\n\tinput 8x8x3 u8\n\tconv c 3x3 -> 4\n}"
    layer = parse(text).items[0].body[1]
    assert (layer.span.line, layer.span.column, layer.span.text) == (3, 2, "\tconv c 3x3 -> 4")


# --- syntax errors -----------------------------------------------------------------------------


def syntax_error(text: str) -> SpecSyntaxError:
    with pytest.raises(SpecSyntaxError) as info:
        parse(text, "bad.mbn")
    err = info.value
    err.render()  # renders without failing
    return err


@pytest.mark.parametrize(
    "text, where, message, hint",
    [
        ("network n {\n  conv c 3x3 ->\n}", (2, 16), r"'->' needs the number of output channels, not the end of the line", r"e\.g\. '-> 64'"),
        ("network n { conv c 3x3 -> x }", (1, 27), r"'->' needs the number of output channels, not 'x'", r"e\.g\. '-> 64'"),
        ("network n { conv c 3x3 stride -> 8 }", (1, 31), r"'stride' needs a whole number, not '->'", r"e\.g\. 'stride 2'"),
        ("network n { repeat { conv 3x3 -> 8 } }", (1, 20), r"'repeat' needs a count, not '\{'", r"e\.g\. 'repeat 2'"),
        ("network n {\n  input 8x8x3 u8\n", (2, 17), r"unexpected end of file: the '\{' at line 1, column 11 is never closed", r"add the missing '\}'"),
        ("network n { conv c 3x3 -> 8 @ }", (1, 29), r"unexpected character '@'", r"expected one of: '->', ';', .*"),
        ('include "abc', (1, 9), r"unterminated string", r"close the string with '\"' on the same line \(strings cannot span lines\)"),
        ("network n { input 8x8x3 u8 { scale 1/0 } }", (1, 36), r"division by zero in 1/0", r"write a non-zero denominator"),
        ("target fpga { clock 1e999 }", (1, 21), r"the number 1e999 is out of range", r"write a number between .*"),
        ("network n { conv 3x3 -> " + "9" * 40 + " }", (1, 25), r"number too large: 999999999999\.\.\. has more than 30 digits", r"write a smaller number"),
        ("network n { conv c 3x3 -> 8 weights int 4 }", (1, 37), r"unexpected name 'int'", r".*types are written as one word: int4, uint8, int8 narrow"),
        ("network { }", (1, 9), r"unexpected '\{'", r"expected a name"),
        ("netwrk n { }", (1, 1), r"unexpected name 'netwrk'", r"expected one of: .*'network'.*"),
    ],
)
def test_syntax_errors(text, where, message, hint):
    err = syntax_error(text)
    assert (err.span.file, err.span.line, err.span.column) == ("bad.mbn",) + where
    assert re.fullmatch(message, err.message), err.message
    assert re.fullmatch(hint, err.hint), err.hint


def test_syntax_error_render_has_caret_under_the_token():
    err = syntax_error("network n {\n  conv c 3x3 -> 8 @\n}")
    assert err.render().split("\n") == [
        "bad.mbn:2:19: error: unexpected character '@'",
        "    2 |   conv c 3x3 -> 8 @",
        "      |                   ^",
        "hint: " + err.hint,
    ]


def test_hints_never_show_lark_internal_names():
    for text in ("network n { conv c 3x3 -> 8 $ }", "network n { conv c 3x3 -> }", "network n { input }", "target fpga { clock }"):
        hint = syntax_error(text).hint or ""
        assert not re.search(r"__|ANON|IGNORE|\$END|_NL\b", hint), hint
