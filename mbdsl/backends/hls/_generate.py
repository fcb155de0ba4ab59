"""The HLS C++ backend: a FINN-style dataflow of one function per layer.

:func:`generate` turns a checked network and its parameters into C++ sources (relative
path -> text). The Python side only decides constants, types and array layouts; the code
itself is in the jinja2 templates next to this module and the two headers in
``include/``. Layout of the output:

``mbdsl_hls.h``     the vendor's ap_int/ap_uint/hls::stream, plus mbdsl::vec (beats) and mbdsl::rom
``mbdsl_units.h``   data-width converters and the NV12 front end
``<net>.h``         stream beat types, the top function and the layer functions
``<net>.cpp``       the top: ``#pragma HLS DATAFLOW``, AXI-Stream ports, FIFOs between layers
``layers/<l>.cpp``  one function per layer, its weights and thresholds as const arrays
``tb/tb.cpp``       the host testbench (images file in, outputs and per-layer traces out)
``vitis_hls.tcl``   a Vitis HLS project script (csynth of the top)
``mbdsl_hls.json``  what the testbench runner needs: files, sizes, per-layer cycles
"""

from __future__ import annotations

import json
import math
import re
from importlib import resources

import attrs
import jinja2
import numpy as np

from ... import ir
from ...dataflow import channel_lanes, fifo_depth, input_beat, layer_cycles, unit_cycles, weight_lanes, window
from ...dtypes import UINT8, IntType, bits_for_range
from ...errors import UnsupportedByBackend, WeightFileError
from ..names import identifier
from ...templating import environment

__all__ = ["generate", "MAX_BITS", "CXXFLAGS"]

MAX_BITS = 4096
"""Widest ap_int Vitis HLS accepts (its ``AP_INT_MAX_W`` may be raised up to this)."""

DEFAULT_MAX_BITS = 1024
"""``AP_INT_MAX_W`` of the vendor headers unless defined before them (done in ``<net>.h``
when a wider type is emitted)."""

CXXFLAGS = ("-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unknown-pragmas", "-Wno-uninitialized", "-Wno-maybe-uninitialized")
"""Host compile flags (the vendor headers' folder is added with ``-isystem``).
``-Wno-unknown-pragmas``: g++ does not know ``#pragma HLS``, and g++ 12 ignores ``#pragma
GCC diagnostic`` for that warning (GCC bug 53431). ``-Wno-(maybe-)uninitialized``: the
vendor's constructors read an ap_int's value before writing it (``ap_int(int)`` and the
default constructor run ``ap_private()``, whose ``clearUnusedBits()`` reads ``VAL``), and
g++ 12 reports that from ``ap_private.h`` wherever it is inlined, ``-isystem`` or not."""


# --------------------------------------------------------------------------------------
# Types


def ctype(t: IntType) -> str:
    return f"{'ap_int' if t.signed else 'ap_uint'}<{t.bits}>"


def _vec(t: IntType, n: int) -> str:
    return f"mbdsl::vec<{ctype(t)}, {n}>"


def _check_width(layer: ir.Layer, t: IntType, what: str) -> IntType:
    if t.bits > MAX_BITS:
        raise UnsupportedByBackend(
            f"the {what} of layer {layer.name} needs {t}, wider than the {MAX_BITS}-bit ap_int of Vitis HLS",
            span=layer.span,
            hint="narrow the weight or activation types (or the fan-in) of this layer",
        )
    return t


def _range_type(lo: int, hi: int) -> IntType:
    t = bits_for_range(int(lo), int(hi))
    # ap_int<1> holds -1..0; a 1-bit unsigned range is fine, a signed one needs 2 bits.
    return t if t.bits > 1 or not t.signed else IntType(2, True)


# --------------------------------------------------------------------------------------
# Arrays


def _c_init(a: np.ndarray, indent: str = "    ", per_line: int = 32) -> str:
    """A C brace initializer for an integer array: the values in row-major order, flat
    (brace elision), ``per_line`` to a line; flat is what keeps a 4-million-weight layer
    quick to write and to compile."""
    values = list(map(str, np.asarray(a, dtype=np.int64).reshape(-1).tolist()))
    if len(values) <= per_line:
        return "{" + ", ".join(values) + "}"
    lines = [indent + ", ".join(values[i : i + per_line]) for i in range(0, len(values), per_line)]
    return "{\n" + ",\n".join(lines) + "\n}"


def _lanes(values: np.ndarray, pe: int) -> np.ndarray:
    """Per-channel values (C, ...) -> (PE, C/PE, ...): channel nf*PE + p at [p, nf], one
    array per PE lane (:func:`mbdsl.dataflow.channel_lanes`)."""
    return channel_lanes(values, pe).swapaxes(0, 1)


def _weight_array(ident: str, layer: ir.MacLayer, weights: np.ndarray) -> Array:
    """A MAC unit's (MH, MW) or depthwise (C, K2) weights W as ``weights[p][nf*SF + sf][s]
    = W[nf*PE + p, sf*SIMD + s]`` (:func:`mbdsl.dataflow.weight_lanes`): one memory per PE
    lane, the SIMD lanes in one word."""
    pe, simd = layer.fold.pe, layer.fold.simd
    lanes = weight_lanes(np.asarray(weights, dtype=np.int64).reshape(layer.matrix), pe, simd)
    nf, sf = lanes.shape[:2]
    return _array(f"{ident}_weights", layer.weight_type, lanes.transpose(2, 0, 1, 3).reshape(pe, nf * sf, simd), (1,), (3,))


@attrs.frozen
class Array:
    """A constant array of a layer: C name, element type, dimensions, initializer."""

    name: str
    ctype: str
    dims: tuple[int, ...]
    init: str
    partition: tuple[int, ...]
    """Dimensions (1-based) partitioned completely: one memory per PE lane."""
    reshape: tuple[int, ...] = ()
    """Dimensions (1-based) reshaped completely: the SIMD lanes (or thresholds) of a PE
    packed into one wide word, as FINN stores weights, so one read serves them all."""

    @property
    def decl(self) -> str:
        return f"{self.name}{''.join(f'[{d}]' for d in self.dims)}"


def _array(name: str, t: IntType, values: np.ndarray, partition: tuple[int, ...], reshape: tuple[int, ...] = ()) -> Array:
    values = np.asarray(values, dtype=np.int64)
    return Array(name, ctype(t), tuple(values.shape), _c_init(values), partition, reshape)


# --------------------------------------------------------------------------------------
# Activations


@attrs.frozen
class Activation:
    """How a unit turns an accumulator into its output value.

    ``kind``: ``thresholds`` (count of thresholds reached, plus out.min), ``multiplier``
    (clip(round_shift((acc + bias) * m0, shift))), ``shift`` (the thresholds-style pool:
    clip(sum >> shift)), ``raw`` (the accumulator, plus the bias if any).
    """

    kind: str
    out: IntType
    arrays: tuple[Array, ...] = ()
    levels: int = 0
    bias: bool = False
    m0_array: bool = False
    m0: int = 0
    shift: int = 0
    sum_t: str = ""
    prod_t: str = ""

    def array(self, what: str) -> Array:
        """The constant array ``<prefix>_<what>`` (thresholds, bias, m0)."""
        return next(a for a in self.arrays if a.name.endswith("_" + what))


def _bias_range(bias) -> tuple[int, int]:
    if bias is None:
        return 0, 0
    b = np.asarray(bias, dtype=np.int64)
    return int(b.min()), int(b.max())


def _mac_activation(net: ir.Network, layer: ir.MacLayer, lp, pe: int, prefix: str) -> Activation:
    acc = layer.acc_type
    if layer.act_type is None:
        lo, hi = _bias_range(lp.bias)
        if layer.bias_type is None:
            acc = _range_type(acc.min + lo, acc.max + hi)  # a declared bias is in the accumulator type already
        out = _check_width(layer, acc, "output (accumulator plus bias)")
        arrays = ()
        if lp.bias is not None:
            bias_t = _range_type(lo, hi)
            arrays = (_array(f"{prefix}_bias", bias_t, _lanes(np.asarray(lp.bias), pe), (1,)),)
        return Activation("raw", out, arrays, bias=lp.bias is not None)
    if net.quant_style == ir.MULTIPLIER:
        return _multiplier(layer, acc, lp.bias, lp.m0, lp.shift, layer.act_type, pe, prefix)
    t = np.asarray(lp.thresholds, dtype=np.int64)
    th_t = _check_width(layer, _range_type(min(int(t.min(initial=0)), acc.min), max(int(t.max(initial=0)), acc.max)), "thresholds")
    arr = _array(f"{prefix}_thresholds", th_t, _lanes(t, pe), (1,), (3,))
    return Activation("thresholds", layer.act_type, (arr,), levels=t.shape[1])


def _multiplier(layer, acc: IntType, bias, m0, shift: int, out: IntType, pe: int, prefix: str) -> Activation:
    blo, bhi = _bias_range(bias)
    sum_t = _check_width(layer, _range_type(acc.min + blo, acc.max + bhi), "accumulator plus bias")
    m = np.atleast_1d(np.asarray(m0, dtype=np.int64))
    rnd = (1 << (shift - 1)) if shift > 0 else 0
    worst = max(abs(sum_t.min), abs(sum_t.max)) if bias is not None else max(abs(acc.min), abs(acc.max))
    bound = worst * int(np.abs(m).max()) + rnd
    prod_t = _check_width(layer, _range_type(-bound, bound), "requantization product")
    arrays = []
    if bias is not None:
        arrays.append(_array(f"{prefix}_bias", _range_type(blo, bhi), _lanes(np.asarray(bias), pe), (1,)))
    per_channel = np.ndim(m0) > 0
    if per_channel:
        arrays.append(_array(f"{prefix}_m0", _range_type(int(m.min()), int(m.max())), _lanes(m, pe), (1,)))
    return Activation(
        "multiplier",
        out,
        tuple(arrays),
        bias=bias is not None,
        m0_array=per_channel,
        m0=int(m[0]),
        shift=int(shift),
        sum_t=ctype(sum_t if bias is not None else acc),
        prod_t=ctype(prod_t),
    )


# --------------------------------------------------------------------------------------
# Layers


def _ident(name: str, taken: set[str]) -> str:
    """A C++ identifier for a layer or the network: keywords get a prefix
    (:func:`mbdsl.backends.names.identifier`); one already taken, or one whose derived
    names (``x_weights``, ``x_in``, ...) meet another's, gets a number."""
    base = identifier(name)
    ident, n = base, 1
    while ident in _RESERVED or any(_meets(ident, t) for t in taken):
        n += 1
        ident = f"{base}_{n}"
    taken.add(ident)
    return ident


_RESERVED = {"in", "out", "vec", "mbdsl", "top"}
_DERIVED = re.compile(r"_(swg|weights|mvau|vvau|in|out|dwc\d+|thresholds|bias|m0|windows|in_t|out_t|prj)")
"""Suffixes of the names the templates derive from an identifier."""


def _meets(a: str, b: str) -> bool:
    """Whether identifiers ``a`` and ``b``, or the names derived from them, coincide."""
    return a == b or (a.startswith(b) and _DERIVED.fullmatch(a[len(b):])) or (b.startswith(a) and _DERIVED.fullmatch(b[len(a):]))


@attrs.frozen
class Unit:
    """One layer's function: its ports, constants and arrays, for its template."""

    template: str
    layer: ir.Layer
    ident: str
    in_t: IntType
    in_beat: int
    out_t: IntType
    out_beat: int
    consts: dict
    arrays: tuple[Array, ...] = ()
    act: Activation | None = None
    swg: dict | None = None

    @property
    def in_vec(self) -> str:
        return _vec(self.in_t, self.in_beat)

    @property
    def out_vec(self) -> str:
        return _vec(self.out_t, self.out_beat)

    @property
    def cycles(self) -> int:
        return layer_cycles(self.layer) if not isinstance(self.layer, ir.TopK) else self.layer.in_shape.size

    @property
    def hls_cycles(self) -> int:
        """Cycles per frame of the generated function: the unit's, or its window generator's
        (see :func:`swg_cycles`) if that is slower."""
        return max(self.cycles if self.swg is None else unit_cycles(self.layer), self.swg["hls_cycles"] if self.swg else 0)

    @property
    def where(self) -> str:
        s = self.layer.span
        return f"{s.file}:{s.line}" if s else "generated"


def swg_cycles(w) -> int:
    """Cycles per frame of the generated window generator (its loop trip counts at II=1).

    Like :attr:`mbdsl.dataflow.Window.cycles` (``OH * max(emit, load)`` plus a fill), but
    the HLS function restarts every frame, so its fill of ``K - P`` rows is not overlapped
    with the previous frame's last row as in the RTL.
    """
    cb = w.channel_beats
    emits = w.ofm_w * w.kernel_groups * cb
    rows = w.fill_rows
    total = rows * w.ifm_w * cb
    for oy in range(w.ofm_h):
        end = w.ifm_h if oy == w.ofm_h - 1 else min((oy + 1) * w.stride + w.kernel - w.pad, w.ifm_h)
        loads = max(0, end - rows) * w.ifm_w * cb
        rows = max(rows, end)
        total += max(loads, emits)
    return total


def _swg(layer, in_t: IntType, ident: str) -> dict | None:
    w = window(layer)
    if w is None:
        return None
    return dict(
        ident=f"{ident}_swg",
        H=w.ifm_h, W=w.ifm_w, C=w.channels, K=w.kernel, S=w.stride, P=w.pad,
        CPAR=w.cpar, KPAR=w.kpar, CB=w.channel_beats, KG=w.kernel_groups,
        OH=w.ofm_h, OW=w.ofm_w, R=w.ring_rows, FILL=w.fill_rows,
        depthwise=w.depthwise, in_vec=_vec(in_t, w.cpar), out_vec=_vec(in_t, w.cpar * w.kpar), elem=ctype(in_t),
        cycles=w.cycles, hls_cycles=swg_cycles(w),
    )


def _unit(net: ir.Network, layer: ir.Layer, lp, in_t: IntType, ident: str) -> Unit:
    beat = input_beat(layer)
    if isinstance(layer, (ir.Conv, ir.FC)):
        mh, mw = layer.matrix
        pe, simd = layer.fold.pe, layer.fold.simd
        acc = _check_width(layer, layer.acc_type, "accumulator")
        act = _mac_activation(net, layer, lp, pe, ident)
        pixels = layer.out_shape.h * layer.out_shape.w if isinstance(layer, ir.Conv) else 1
        consts = dict(MH=mh, MW=mw, PE=pe, SIMD=simd, NF=mh // pe, SF=mw // simd, PIXELS=pixels, acc_t=ctype(acc))
        arrays = (_weight_array(ident, layer, lp.weights),)
        swg = _swg(layer, in_t, ident) if isinstance(layer, ir.Conv) else None
        return Unit("mvau.cpp.j2", layer, ident, in_t, beat, act.out, pe, consts, arrays, act, swg)
    if isinstance(layer, ir.DwConv):
        c, k2 = layer.matrix
        pe, simd = layer.fold.pe, layer.fold.simd
        acc = _check_width(layer, layer.acc_type, "accumulator")
        act = _mac_activation(net, layer, lp, pe, ident)
        o = layer.out_shape
        consts = dict(C=c, K2=k2, PE=pe, SIMD=simd, CB=c // pe, KG=k2 // simd, PIXELS=o.h * o.w, acc_t=ctype(acc))
        arrays = (_weight_array(ident, layer, lp.weights),)
        return Unit("vvau.cpp.j2", layer, ident, in_t, beat, act.out, pe, consts, arrays, act, _swg(layer, in_t, ident))
    if isinstance(layer, ir.AvgPool):
        s = layer.in_shape
        pe = layer.fold.pe
        acc = _check_width(layer, layer.acc_type, "sum")
        if net.quant_style == ir.MULTIPLIER:
            act = _multiplier(layer, acc, None, lp.m0, lp.shift, layer.act_type, pe, ident)
        else:
            act = Activation("shift", layer.act_type, shift=int(lp.shift))
        consts = dict(C=s.c, PE=pe, CB=s.c // pe, PIXELS=s.h * s.w, acc_t=ctype(acc))
        return Unit("pool.cpp.j2", layer, ident, in_t, beat, act.out, pe, consts, (), act)
    if isinstance(layer, ir.TopK):
        consts = dict(N=layer.in_shape.size, K=layer.k)
        return Unit("topk.cpp.j2", layer, ident, in_t, beat, IntType(layer.index_bits, False), 1, consts)
    raise UnsupportedByBackend(f"layer {layer.name} ({type(layer).__name__}) has no HLS implementation", span=layer.span)


# --------------------------------------------------------------------------------------
# The top: streams and converters between the units


@attrs.frozen
class Stream:
    name: str
    vec: str
    depth: int
    comment: str


@attrs.frozen
class Call:
    code: str
    trace: str | None = None
    """The stream holding a layer's output, traced after the call in host builds."""


def _top(net: ir.Network, units: list[Unit], top: str):
    """The streams and calls of the top function, in dataflow order."""
    streams: list[Stream] = []
    calls: list[Call] = []
    inp = net.input
    if inp.format == "nv12":
        port_t, port_beat = UINT8, 1
        streams.append(Stream("rgb", _vec(UINT8, 3), 2, "RGB pixels from the NV12 front end"))
        calls.append(Call(f"mbdsl::nv12_to_rgb<{inp.shape.w}, {inp.shape.h}>(in, rgb);"))
        cur, cur_beat = "rgb", 3
    else:
        port_t, port_beat = UINT8, units[0].in_beat
        cur, cur_beat = "in", port_beat
    in_vec = _vec(port_t, port_beat)
    sizes = [inp.shape.size] + [u.layer.out_shape.size for u in units]
    for i, u in enumerate(units):
        total = sizes[i]
        t = u.in_t
        hops = _dwc_hops(cur_beat, u.in_beat)
        for j, beat in enumerate(hops):
            last = j == len(hops) - 1
            name = f"{u.ident}_in" if last else f"{u.ident}_dwc{j}"
            depth = fifo_depth(u.layer) if last else 2
            fn = "dwc_split" if cur_beat % beat == 0 else "dwc_gather"
            streams.append(Stream(name, _vec(t, beat), depth, f"{beat} elements per beat"))
            calls.append(Call(f"mbdsl::{fn}<{cur_beat}, {beat}, {total}, {ctype(t)}>({cur}, {name});"))
            cur, cur_beat = name, beat
        if not hops and cur != "in":
            # the producer's stream feeds this layer directly: it is this layer's FIFO
            streams[-1] = attrs.evolve(streams[-1], depth=fifo_depth(u.layer))
        if i == len(units) - 1:
            out = "out"
        else:
            out = f"{u.ident}_out"
            streams.append(Stream(out, u.out_vec, 2, f"output of {u.layer.name}"))
        calls.append(Call(f"{u.ident}({cur}, {out});", trace=out))
        cur, cur_beat = out, u.out_beat
    return in_vec, streams, calls


def _dwc_hops(a: int, b: int) -> list[int]:
    """Beat widths of the converters from a to b: none, one, or two through gcd(a, b)."""
    if a == b:
        return []
    if a % b == 0 or b % a == 0:
        return [b]
    return [math.gcd(a, b), b]


# --------------------------------------------------------------------------------------


def _env() -> jinja2.Environment:
    env = environment("mbdsl.backends.hls")
    env.globals["ctype"] = ctype
    return env


def _include(name: str) -> str:
    return resources.files("mbdsl.backends.hls").joinpath("include", name).read_text()


def plan(net: ir.Network, params, taken: set[str] | None = None) -> list[Unit]:
    """Every layer's unit (raises a located error for anything the backend cannot express).

    ``taken``: C identifiers already in use (the top function's), extended in place.
    """
    taken = set() if taken is None else taken
    units = []
    t = UINT8
    for layer in net.layers:
        if layer.name not in params and not isinstance(layer, ir.TopK):
            raise WeightFileError(f"no parameters for layer {layer.name}", span=layer.span, hint="regenerate the parameters (make_params)")
        lp = params[layer.name] if layer.name in params else None
        u = _unit(net, layer, lp, t, _ident(layer.name, taken))
        units.append(u)
        t = u.out_t
    return units


def generate(net: ir.Network, params) -> dict[str, str | bytes]:
    """The HLS C++ sources of a checked network (relative path -> text)."""
    if net.input.pixels_per_beat > 1:
        raise UnsupportedByBackend(f"the HLS top takes one pixel per beat, and the input asks for {net.input.pixels} (fold(pixels = {net.input.pixels}))",
                                   net.input.pixels_span or net.input.span, "remove the input's fold for the hls target; the rtl target takes several pixels per beat")
    for layer in net.layers:
        if isinstance(layer, (ir.Conv, ir.FC)) and layer.fold.weights != "rom":
            raise UnsupportedByBackend(f"layer {layer.name}: the HLS top keeps every layer's weights in an initialised array, "
                                       f"not weights = {layer.fold.weights}", layer.fold.span or layer.span,
                                       "remove 'weights = ...' for the hls target; the rtl target places weights in UltraRAM or streams them")
    taken: set[str] = set()
    top = _ident(net.name, taken)
    units = plan(net, params, taken)
    in_vec, streams, calls = _top(net, units, top)
    last = units[-1]
    env = _env()
    ctx = dict(
        net=net,
        top=top,
        units=units,
        streams=streams,
        calls=calls,
        in_vec=in_vec,
        out_vec=last.out_vec,
        in_beat=1 if net.input.format == "nv12" else units[0].in_beat,
        out_beat=last.out_beat,
        out_count=last.layer.out_shape.size,
        ii=max(u.cycles for u in units),
        cxxflags=" ".join(CXXFLAGS),
    )
    layers = {f"layers/{u.ident}.cpp": env.get_template(u.template).render(ctx, u=u, a=u.act, c=u.consts, swg=u.swg) for u in units}
    top_cpp = env.get_template("top.cpp.j2").render(ctx)
    widest = max(int(w) for text in (*layers.values(), top_cpp) for w in re.findall(r"\bap_u?int<(\d+)>", text))
    ctx["ap_int_max_w"] = widest if widest > DEFAULT_MAX_BITS else None
    files: dict[str, str | bytes] = {
        "mbdsl_hls.h": _include("mbdsl_hls.h"),
        "mbdsl_units.h": _include("mbdsl_units.h"),
        f"{top}.h": env.get_template("top.h.j2").render(ctx),
        f"{top}.cpp": top_cpp,
        "tb/tb.cpp": env.get_template("tb.cpp.j2").render(ctx),
        "vitis_hls.tcl": env.get_template("vitis_hls.tcl.j2").render(ctx),
        **layers,
    }
    manifest = dict(
        network=net.name,
        top=top,
        sources=[f"{top}.cpp"] + [f"layers/{u.ident}.cpp" for u in units],
        testbench="tb/tb.cpp",
        cxxflags=list(CXXFLAGS),
        input=dict(format=net.input.format, shape=[net.input.shape.h, net.input.shape.w, net.input.shape.c]),
        layers=[
            dict(name=u.layer.name, function=u.ident, outputs=u.layer.out_shape.size, cycles=u.cycles, hls_cycles=u.hls_cycles, pe=_fold(u, "pe"), simd=_fold(u, "simd"))
            for u in units
        ],
    )
    files["mbdsl_hls.json"] = json.dumps(manifest, indent=1) + "\n"
    return files


def _fold(u: Unit, field: str) -> int:
    fold = getattr(u.layer, "fold", None)
    return getattr(fold, field) if fold is not None else 1
