"""Syntax tree -> network model: includes, defaults, repeat, dwsep pairs, macros, targets.

Elaboration checks what a layer statement may say (which arguments, which fold keys,
which types); shapes, accumulator widths and folding legality are the passes' job.
"""

from __future__ import annotations

import os

import attrs

from . import ast, macros
from .includes import Included, collect
from .limits import MAX_BITS, MAX_CHANNELS, MAX_KERNEL, MAX_LAYERS, MAX_REPEAT, MAX_SIZE
from .parser import parse
from .rules import ARG_LIMITS, ARG_WORDS, FOLD_KEYS, LAYER_ARGS, REQUIRED, WHY_NOT
from .targets import targets
from .. import devices, ir
from ..dtypes import IntType
from ..errors import (QuantError, ShapeError, Span, SpecNameError, SpecStructureError, SpecSyntaxError,
                      SpecValueError, TargetError)
from ..files import MAX_SPEC_BYTES, check_utf8_path, read_text
from ..hints import did_you_mean

__all__ = ["load", "load_string", "elaborate"]


def load(path: str) -> ir.Network:
    """Read, parse and elaborate a spec file (with its includes)."""
    check_utf8_path(path, "spec", "rename the file: its path is written into generated files, which are UTF-8")
    return load_string(read_text(path, "spec", hint="check the path of the spec"), path)


def load_string(text: str, path: str = "<string>") -> ir.Network:
    """Parse and elaborate spec text; includes resolve relative to ``path``."""
    size = len(text.encode("utf-8", "surrogateescape"))
    if size > MAX_SPEC_BYTES:
        raise SpecSyntaxError(f"the spec holds {size:,} bytes, more than the limit of {MAX_SPEC_BYTES:,}", None,
                              "the limits are listed in docs/dsl.md, 'Limits'")
    items = collect(parse(text, path), [os.path.abspath(path)], path, Included({}, size))
    return elaborate(items, path, Span(path, 1, 1, None, text.split("\n", 1)[0].rstrip("\r")))


def elaborate(items: list, source: str, where: Span | None = None) -> ir.Network:
    """Items of a spec (includes spliced in) -> Network; ``where`` locates file-level errors."""
    networks = [i for i in items if isinstance(i, ast.NetworkDecl)]
    if not networks:
        raise SpecNameError(f"no network in {source}", where, "add 'network NAME { input ...; layers... }'")
    if len(networks) > 1:
        first = networks[0]
        raise SpecNameError(
            f"a spec describes one network; '{first.name}' is already declared at {first.span}",
            networks[1].span,
            "move the second network to its own file",
        )
    fpga, gap8 = targets([i for i in items if isinstance(i, ast.TargetDecl)])
    return _NetworkBuilder(networks[0], source).build(fpga, gap8)


@attrs.define
class _Defaults:
    weights: IntType = IntType(8, True)
    activations: IntType = IntType(8, False)
    acc: IntType | None = None
    quant: str = ir.THRESHOLDS
    fold: ast.FoldArgs | None = None


class _NetworkBuilder:
    def __init__(self, decl: ast.NetworkDecl, source: str):
        self.decl = decl
        self.source = source
        self.defaults = _Defaults()
        self.names: dict[str, Span] = {}
        self.counters: dict[str, int] = {}
        self.n_layers = 0
        self.auto_names: set[str] = set()
        self.classifier_candidates: set[Span] = set()
        """Spans of fc statements without explicit activations."""

    def build(self, fpga, gap8) -> ir.Network:
        input_decl = None
        weights = ir.RandomWeights()
        statements = []
        macro_resolution = None
        seen: dict[type, Span] = {}
        for stmt in self.decl.body:
            if isinstance(stmt, (ast.InputDecl, ast.Defaults, ast.WeightsDecl)):
                if type(stmt) in seen:
                    what = {ast.InputDecl: "input", ast.Defaults: "defaults", ast.WeightsDecl: "weights"}[type(stmt)]
                    hint = "merge them into one defaults block" if what == "defaults" else "keep one"
                    raise SpecNameError(f"'{what}' is already given at {seen[type(stmt)]}", stmt.span, hint)
                seen[type(stmt)] = stmt.span
            if isinstance(stmt, ast.InputDecl):
                input_decl = stmt
            elif isinstance(stmt, ast.Defaults):
                self._defaults(stmt)
            elif isinstance(stmt, ast.WeightsDecl):
                weights = self._weights(stmt)
            elif isinstance(stmt, ast.MacroCall):
                layers, resolution = macros.expand(stmt)
                if macro_resolution is not None:
                    raise SpecNameError(
                        f"a network holds one macro call, and one is already at {macro_resolution[1]}",
                        stmt.span,
                        "remove one call; write any further layers as layer statements",
                    )
                macro_resolution = (resolution, stmt.span)
                statements.extend(layers)
            else:
                statements.append(stmt)
        net_input = self._input(input_decl, macro_resolution)
        if net_input.pixels_per_beat > 1 and fpga is None and gap8 is not None:
            raise TargetError(f"pixels = {net_input.pixels} sets the pixels per beat of the FPGA input port, and the spec targets only gap8, "
                              "which reads its input from memory", net_input.pixels_span, "remove fold(pixels = ...) or add a target fpga block")
        layers = []
        for stmt in statements:
            layers.extend(self._statement(stmt, 0))
        if not layers:
            raise SpecStructureError(f"network '{self.decl.name}' has no layers", self.decl.span, "add layers such as 'conv 3x3 -> 32'")
        layers = self._classifier_outputs(layers)
        if fpga is not None and fpga.device is not None:
            devices.check_weight_places(layers, devices.device(fpga.device))
        return ir.Network(
            name=self.decl.name,
            input=net_input,
            layers=tuple(layers),
            quant_style=self.defaults.quant,
            weights=weights,
            fpga=fpga,
            gap8=gap8,
            span=self.decl.span,
            source=self.source,
        )

    # --- statements -------------------------------------------------------------------

    def _defaults(self, stmt: ast.Defaults) -> None:
        for item in stmt.items:
            if item.key == "weights":
                self.defaults.weights = _weight_type(item.value)
            elif item.key == "activations":
                self.defaults.activations = _act_type(item.value)
            elif item.key == "acc":
                self.defaults.acc = _acc_type(item.value)
            elif item.key == "quant":
                word = item.value
                if word.value not in (ir.THRESHOLDS, ir.MULTIPLIER):
                    raise SpecNameError(f"unknown quantization style '{word.value}'", word.span, did_you_mean(word.value, (ir.THRESHOLDS, ir.MULTIPLIER)))
                self.defaults.quant = word.value
            elif item.key == "fold":
                self._check_default_fold(item.value)
                self.defaults.fold = item.value

    def _check_default_fold(self, fold: ast.FoldArgs) -> None:
        """Default fold keys apply to the kinds that take them; a key no kind takes is a
        mistake (it used to be dropped silently)."""
        known = set().union(*FOLD_KEYS.values())
        seen = set()
        for key, value, span in fold.kwargs:
            if key not in known:
                raise SpecNameError(f"no layer kind has a fold parameter '{key}'", span, did_you_mean(key, known))
            if key in seen:
                raise SpecNameError(f"fold parameter '{key}' is given twice", span, "keep one")
            seen.add(key)
            self._fold_value("defaults", key, value)

    def _weights(self, stmt: ast.WeightsDecl):
        if stmt.path is not None:
            return ir.NpzWeights(stmt.path, stmt.span)
        call = stmt.call
        if call.name != "random":
            raise SpecNameError(f"unknown weight source '{call.name}'", call.name_span or call.span, "use random(seed = N) or a quoted .npz path")
        seed = None
        for key, value, span in call.kwargs:
            if key != "seed":
                raise SpecNameError(f"random() has no argument '{key}'", span, did_you_mean(key, ("seed",)))
            if seed is not None:
                raise SpecNameError("'seed' is given twice", span, "keep one")
            if value.kind != "number" or not isinstance(value.value, int) or value.value < 0:
                raise SpecValueError(f"the seed must be a whole number >= 0, not {_show(value)}", value.span, "e.g. random(seed = 1)")
            seed = value.value
        return ir.RandomWeights(seed or 0, stmt.span)

    def _input(self, decl: ast.InputDecl | None, macro_resolution) -> ir.Input:
        if decl is None:
            if macro_resolution is None:
                raise SpecStructureError(f"network '{self.decl.name}' has no input", self.decl.span, "add e.g. 'input 224x224x3 u8'")
            r, span = macro_resolution
            return ir.Input(ir.Shape(r, r, 3), "u8", ir.Preprocess(), span)
        if decl.format not in ("u8", "nv12"):
            raise SpecNameError(f"unknown pixel format '{decl.format}'", decl.format_span, did_you_mean(decl.format, ("u8", "nv12")))
        size = decl.size
        if decl.format == "nv12":
            if len(size) != 2:
                raise SpecValueError("an nv12 input is written HxW (it carries 3 channels)", decl.span, "e.g. 'input 224x224 nv12'")
            if size[0] % 2 or size[1] % 2:
                h, w = size
                raise SpecValueError(
                    f"nv12 needs an even height and width (its chroma is subsampled 2x2), not {h}x{w}",
                    decl.span,
                    f"use e.g. 'input {h + h % 2}x{w + w % 2} nv12'",
                )
            size = size + (3,)
        elif len(size) != 3:
            shown = "x".join(map(str, size))
            example = f"{size[0]}x{size[1]}x3" if len(size) == 2 else "224x224x3"
            raise SpecValueError(f"a u8 input is written HxWxC, not {shown}", decl.span, f"e.g. 'input {example} u8'")
        if min(size) < 1:
            raise SpecValueError(f"input sizes must be at least 1, not {'x'.join(map(str, decl.size))}", decl.span)
        if max(size[:2]) > MAX_SIZE or size[2] > MAX_CHANNELS:
            raise SpecValueError(
                f"the input {'x'.join(map(str, decl.size))} is too large",
                decl.span,
                f"images are at most {MAX_SIZE}x{MAX_SIZE} with at most {MAX_CHANNELS} channels",
            )
        shape = ir.Shape(*size)
        if macro_resolution is not None and (shape.h, shape.w, shape.c) != (macro_resolution[0], macro_resolution[0], 3):
            r = macro_resolution[0]
            raise ShapeError(
                f"the macro builds a network for {r}x{r}x3 images but the input is {shape}",
                macro_resolution[1],
                f"set resolution = {shape.h} or change the input",
            )
        pre, resize = _preprocess(decl.preprocess, shape)
        pixels, pixels_span = _input_pixels(decl.fold, decl.format, shape) if decl.fold is not None else (None, None)
        return ir.Input(shape, decl.format, pre, decl.span, resize=resize, pixels=pixels, pixels_span=pixels_span)

    def _statement(self, stmt, depth: int, suffix: str = "") -> list:
        """Layers of a statement; inside ``repeat N`` (N > 1) explicit names get ``_i``,
        one suffix per nesting level (``blk_2_1``: second outer, first inner pass)."""
        if isinstance(stmt, ast.Repeat):
            if stmt.count < 1:
                raise SpecValueError(f"repeat needs a count of at least 1, not {stmt.count}", stmt.span, "remove the repeat block, or write 'repeat 1 { ... }'")
            if stmt.count > MAX_REPEAT:
                raise SpecValueError(f"repeat count {stmt.count} is larger than {MAX_REPEAT}", stmt.span, f"repeat at most {MAX_REPEAT} times")
            out = []
            for i in range(stmt.count):
                for inner in stmt.body:
                    out.extend(self._statement(inner, depth + 1, suffix + (f"_{i + 1}" if stmt.count > 1 else "")))
            return out
        if isinstance(stmt, ast.Layer):
            layers = self._layer(stmt, suffix)
            self.n_layers += len(layers)
            if self.n_layers > MAX_LAYERS:  # checked per layer: nested repeats multiply
                raise SpecValueError(f"network '{self.decl.name}' has more than {MAX_LAYERS} layers", stmt.span, "use fewer or smaller repeat blocks")
            return layers
        if isinstance(stmt, ast.MacroCall):
            raise SpecNameError("a network macro cannot stand inside repeat", stmt.span)
        raise SpecNameError("only layers may stand inside repeat", stmt.span, "move input, defaults and weights out of the repeat block")

    def _name(self, stmt: ast.Layer, prefix: str, suffix: str) -> str:
        if stmt.name is not None:
            name = stmt.name + suffix
        else:
            n = self.counters.get(prefix, 0)
            self.counters[prefix] = n + 1
            name = f"{prefix}{n}"
        while stmt.name is None and name in self.names:  # an explicit name took it
            n = self.counters[prefix]
            self.counters[prefix] = n + 1
            name = f"{prefix}{n}"
        span = stmt.name_span or stmt.span
        if name in self.auto_names:
            raise SpecNameError(
                f"layer name '{name}' is already the automatic name of the unnamed layer at {self.names[name]}",
                span,
                "choose another name, or name that layer explicitly",
            )
        if name in self.names:
            raise SpecNameError(f"layer name '{name}' is already used at {self.names[name]}", span, "choose another name")
        self.names[name] = span
        if stmt.name is None:
            self.auto_names.add(name)
        return name

    def _layer(self, stmt: ast.Layer, suffix: str = "") -> list:
        kind = stmt.kind
        if kind not in LAYER_ARGS:
            raise SpecNameError(f"unknown layer kind '{kind}'", stmt.kind_span, did_you_mean(kind, LAYER_ARGS))
        args: dict[str, ast.Arg] = {}
        for arg in stmt.args:
            if arg.key == "count" and "kernel" in LAYER_ARGS[kind]:
                raise SpecValueError(f"a kernel size is written KxK, not {arg.value}", arg.span, f"write '{arg.value}x{arg.value}'")
            if arg.key not in LAYER_ARGS[kind]:
                why = WHY_NOT.get((kind, arg.key), f"{kind} takes: " + ", ".join(ARG_WORDS[k] for k in sorted(LAYER_ARGS[kind])))
                raise SpecNameError(f"{kind} does not take {ARG_WORDS[arg.key]}", arg.span, why)
            if arg.key in args:
                raise SpecNameError(f"{ARG_WORDS[arg.key]} is given twice", arg.span, "keep one")
            args[arg.key] = arg
        for key in REQUIRED.get(kind, ()):
            if key not in args:
                raise SpecNameError(f"{kind} needs {ARG_WORDS[key]}", stmt.span, _example(kind))
        common = self._common(kind, args)
        if kind == "dwsep":
            name = self._name(stmt, "b", suffix) if stmt.name is not None else self._block_name(stmt.span)
            self.names.setdefault(f"{name}.dw", stmt.span)
            fold_dw, fold_pw = self._dwsep_folds(args.get("fold"), stmt.span)
            k = self._kernel(args)
            dw = ir.DwConv(name=f"{name}.dw", span=stmt.span, kernel=k, stride=self._int(args, "stride", 1, 1),
                           pad=k // 2, weight_type=common["weight_type"], act_type=common["act_type"], fold=fold_dw)
            pw = ir.Conv(name=f"{name}.pw", span=stmt.span, kernel=1, stride=1, pad=0,
                         out_channels=self._int(args, "outputs", None, 1), weight_type=common["weight_type"],
                         act_type=common["act_type"], fold=fold_pw)
            return [dw, pw]
        fold = self._fold(kind, args.get("fold"), stmt.span)
        if kind in ("conv", "pwconv"):
            k = 1 if kind == "pwconv" else self._kernel(args)
            return [ir.Conv(name=self._name(stmt, "conv" if k > 1 else "pw", suffix), span=stmt.span, kernel=k,
                            stride=self._int(args, "stride", 1, 1), pad=self._int(args, "pad", (k - 1) // 2, 0),
                            out_channels=self._int(args, "outputs", None, 1), fold=fold, **common)]
        if kind == "dwconv":
            k = self._kernel(args, default=3)
            return [ir.DwConv(name=self._name(stmt, "dw", suffix), span=stmt.span, kernel=k,
                              stride=self._int(args, "stride", 1, 1), pad=self._int(args, "pad", (k - 1) // 2, 0),
                              fold=fold, **common)]
        if kind == "fc":
            if "activations" not in args:
                self.classifier_candidates.add(stmt.span)
            return [ir.FC(name=self._name(stmt, "fc", suffix), span=stmt.span,
                          out_channels=self._int(args, "outputs", None, 1), fold=fold, **common)]
        if kind == "avgpool":
            act = _act_type(args["activations"].value) if "activations" in args else None
            shift = self._int(args, "shift", None, 0)
            return [ir.AvgPool(name=self._name(stmt, "pool", suffix), span=stmt.span, act_type=act, shift=shift, fold=fold)]
        return [ir.TopK(name=self._name(stmt, "topk", suffix), span=stmt.span, k=self._int(args, "count", None, 1))]

    def _block_name(self, span: Span) -> str:
        n = self.counters.get("b", 1)
        while f"b{n}" in self.names:
            n += 1
        self.counters["b"] = n + 1
        self.names[f"b{n}"] = span
        self.auto_names.add(f"b{n}")
        return f"b{n}"

    def _common(self, kind: str, args: dict) -> dict:
        """Types of a MAC layer: given on the statement, else the network defaults."""
        if kind in ("avgpool", "topk"):
            return {}
        out = {
            "weight_type": _weight_type(args["weights"].value) if "weights" in args else self.defaults.weights,
            "act_type": _act_type(args["activations"].value) if "activations" in args else self.defaults.activations,
        }
        if kind != "dwsep":
            out["acc_limit"] = _acc_type(args["acc"].value) if "acc" in args else self.defaults.acc
            if "bias" in args:
                out["bias_type"] = _bias_type(args["bias"].value)
        return out

    def _kernel(self, args: dict, default: int = 3) -> int:
        if "kernel" not in args:
            return default
        arg = args["kernel"]
        size = arg.value
        if len(size) != 2 or size[0] != size[1]:
            raise SpecValueError(f"kernels are square (KxK), not {'x'.join(map(str, size))}", arg.span)
        if size[0] < 1:
            raise SpecValueError("the kernel size must be at least 1", arg.span)
        if size[0] > MAX_KERNEL:
            raise SpecValueError(f"the kernel {size[0]}x{size[0]} is larger than the largest supported, {MAX_KERNEL}x{MAX_KERNEL}", arg.span)
        return size[0]

    def _int(self, args: dict, key: str, default, minimum: int) -> int:
        if key not in args:
            return default
        arg = args[key]
        if arg.value < minimum:
            raise SpecValueError(f"{ARG_WORDS[key]} must be at least {minimum}, not {arg.value}", arg.span)
        if key in ARG_LIMITS and arg.value > ARG_LIMITS[key]:
            raise SpecValueError(f"{ARG_WORDS[key]} {arg.value} is larger than the limit {ARG_LIMITS[key]}", arg.span, f"use at most {ARG_LIMITS[key]}")
        return arg.value

    def _fold_values(self, kind: str, fold: ast.FoldArgs) -> dict[str, tuple[int | str, Span]]:
        values = {}
        for key, value, span in fold.kwargs:
            if key not in FOLD_KEYS[kind]:
                raise SpecNameError(f"{kind} has no fold parameter '{key}'", span, did_you_mean(key, FOLD_KEYS[kind]) if FOLD_KEYS[kind] else f"{kind} has no parallelism to fold")
            if key in values:
                raise SpecNameError(f"fold parameter '{key}' is given twice", span)
            values[key] = (self._fold_value(kind, key, value), span)
        return values

    @staticmethod
    def _fold_value(kind: str, key: str, value: ast.Value) -> int | str:
        """A fold key's value: a lane count, (mult, dw_mult) a multiplier mapping, or (weights)
        where the weights live."""
        if key == "weights":
            if value.kind != "word" or value.value not in ir.WEIGHT_PLACES:
                raise SpecValueError(f"weights must be rom (a memory initialised with them), uram (UltraRAM written at run time) or "
                                     f"stream (off-chip memory, streamed every frame), not {_show(value)}",
                                     value.span, did_you_mean(str(value.value), ir.WEIGHT_PLACES))
            return value.value
        if key not in _MULT_KEYS:
            if value.kind != "number" or not isinstance(value.value, int) or value.value < 1:
                raise SpecValueError(f"{key} must be a whole number >= 1, not {_show(value)}", value.span, f"e.g. {key} = 4")
            return value.value
        if value.kind != "word" or value.value not in ir.MULTS:
            raise SpecValueError(f"{key} must be lut (LUT multipliers), dsp (one product per DSP slice) or packed (several per DSP slice), "
                                 f"not {_show(value)}", value.span, did_you_mean(str(value.value), ir.MULTS))
        return value.value

    def _fold(self, kind: str, arg: ast.Arg | None, span: Span) -> ir.Fold:
        fold = arg.value if arg is not None else self.defaults.fold
        if fold is None:
            return ir.Fold(span=span)
        if fold.auto:
            return ir.Fold(auto=True, span=fold.span)
        if arg is None:  # defaults give a folding for every layer kind: keep the keys it takes
            fold = ast.FoldArgs(False, _default_keys(kind, fold), fold.span)
        values = self._fold_values(kind, fold)
        pe, pe_span = values.get("pe", (1, fold.span))
        simd, simd_span = values.get("simd", (1, fold.span))
        mult, mult_span = values.get("mult", (None, None))
        return ir.Fold(pe, simd, span=fold.span, pe_span=pe_span, simd_span=simd_span, mult=mult, mult_span=mult_span,
                       weights=values.get("weights", ("rom",))[0])

    def _dwsep_folds(self, arg: ast.Arg | None, span: Span) -> tuple[ir.Fold, ir.Fold]:
        fold = arg.value if arg is not None else self.defaults.fold
        if fold is None:
            return ir.Fold(span=span), ir.Fold(span=span)
        if fold.auto:
            return ir.Fold(auto=True, span=fold.span), ir.Fold(auto=True, span=fold.span)
        if arg is None:  # defaults: dw_pe/dw_simd/dw_mult for the depthwise half, pe/simd/mult for the pointwise one
            fold = ast.FoldArgs(False, _default_keys("dwsep", fold), fold.span)
        values = self._fold_values("dwsep", fold)

        def pick(prefix):
            pe, pe_span = values.get(f"{prefix}pe", (1, fold.span))
            simd, simd_span = values.get(f"{prefix}simd", (1, fold.span))
            mult, mult_span = values.get(f"{prefix}mult", (None, None))
            weights = values.get("weights", ("rom",))[0] if prefix == "" else "rom"  # a depthwise unit's weights stay in its ROM
            return ir.Fold(pe, simd, span=fold.span, pe_span=pe_span, simd_span=simd_span, mult=mult, mult_span=mult_span,
                           weights=weights)

        return pick("dw_"), pick("")

    def _classifier_outputs(self, layers: list) -> list:
        """The final fc outputs raw accumulators (logits) unless its activations are given."""
        macs = [i for i, layer in enumerate(layers) if isinstance(layer, (ir.Conv, ir.DwConv, ir.FC))]
        if macs:
            last = layers[macs[-1]]
            if isinstance(last, ir.FC) and last.span in self.classifier_candidates:
                layers[macs[-1]] = attrs.evolve(last, act_type=None)
        return layers


def _show(value: ast.Value) -> str:
    return repr(value.value) if value.kind == "string" else str(value.value)


def _example(kind: str) -> str:
    return {
        "conv": "e.g. 'conv 3x3 stride 2 -> 32'",
        "pwconv": "e.g. 'pwconv -> 64'",
        "dwsep": "e.g. 'dwsep stride 2 -> 128'",
        "fc": "e.g. 'fc -> 1000'",
        "topk": "e.g. 'topk 5'",
        "avgpool": "write 'avgpool global' (only global average pooling is supported)",
    }[kind]


def _check_bits(t: ast.DType, what: str, lo: int, hi: int) -> IntType:
    it = IntType.parse(t.name, t.narrow)
    if not lo <= it.bits <= hi:
        raise QuantError(f"{what} of {it.bits} bits are not supported", t.span, f"use {lo} to {hi} bits")
    if t.narrow and not it.signed:
        raise QuantError(f"'narrow' applies to signed types, not {t.name}", t.span, f"drop 'narrow' or use int{it.bits}")
    return it


def _weight_type(t: ast.DType) -> IntType:
    it = _check_bits(t, "weights", 2, MAX_BITS)
    if not it.signed:
        raise QuantError(f"weights are signed: {t.name} is not supported", t.span, f"use int{it.bits}")
    return it


def _act_type(t: ast.DType) -> IntType:
    return _check_bits(t, "activations", 1, MAX_BITS)


def _acc_type(t: ast.DType) -> IntType:
    it = _check_bits(t, "accumulators", 2, 64)
    if not it.signed:
        raise QuantError(f"accumulators are signed: {t.name} is not supported", t.span, f"use int{it.bits}")
    return it


def _bias_type(t: ast.DType) -> IntType:
    it = _check_bits(t, "biases", 2, 32)
    if not it.signed:
        raise QuantError(f"biases are signed: {t.name} is not supported", t.span, f"use int{it.bits}")
    return it


def _input_pixels(fold: ast.FoldArgs, fmt: str, shape: ir.Shape) -> tuple[int, Span]:
    """The input's ``fold(pixels = P)``: P and where it is written."""
    if fold.auto:
        raise SpecValueError("the input takes no fold(auto): fold(auto) goals choose its pixels per beat when it has no fold",
                             fold.span, "remove the input's fold, or write fold(pixels = 1), 2 or 4")
    pixels = None
    for key, value, span in fold.kwargs:
        if key != "pixels":
            raise SpecNameError(f"input has no fold parameter '{key}'", span, did_you_mean(key, ("pixels",)))
        if pixels is not None:
            raise SpecNameError("fold parameter 'pixels' is given twice", span, "keep one")
        if value.kind != "number" or not isinstance(value.value, int) or value.value not in ir.PIXELS:
            raise SpecValueError(f"pixels must be {', '.join(map(str, ir.PIXELS[:-1]))} or {ir.PIXELS[-1]}, not {_show(value)}",
                                 value.span, "the input port takes 1, 2 or 4 pixels per beat")
        pixels = (value.value, value.span)
    p, span = pixels  # the grammar gives a fold at least one key
    if p > 1 and fmt == "nv12":
        raise SpecValueError(f"an nv12 input streams one byte per beat; pixels = {p} needs u8 pixels", span,
                             "use pixels = 1, or a u8 input")
    if shape.w % p:
        legal = [q for q in ir.PIXELS if shape.w % q == 0]
        raise ShapeError(f"pixels = {p} does not divide the input's width {shape.w}: a beat holds whole pixels of one row", span,
                         f"use pixels = {' or '.join(map(str, legal))}")
    return p, span


def _preprocess(settings: tuple[ast.Setting, ...], shape: ir.Shape) -> tuple[ir.Preprocess, int | None]:
    """The float preprocessing and the photo's resize (shorter side), if any."""
    keys = ("scale", "mean", "std", "resize")
    values: dict[str, tuple[float, ...]] = {}
    for s in settings:
        if s.key not in keys:
            raise SpecNameError(f"unknown preprocessing setting '{s.key}'", s.span, did_you_mean(s.key, keys))
        if s.key in values:
            raise SpecNameError(f"'{s.key}' is given twice", s.span)
        nums = []
        for v in s.values:
            if v.kind != "number":
                raise SpecValueError(f"'{s.key}' takes numbers, not {v.value!r}", v.span)
            nums.append(float(v.value))
        allowed = (1,) if s.key in ("scale", "resize") else (1, shape.c)
        if len(nums) not in allowed:
            raise SpecValueError(f"'{s.key}' takes {' or '.join(map(str, sorted(set(allowed))))} value(s), not {len(nums)}", s.span)
        if s.key in ("scale", "std") and any(n <= 0 for n in nums):
            raise SpecValueError(f"'{s.key}' must be positive", s.span)
        if s.key == "resize":
            side = s.values[0].value
            if not isinstance(side, int) or not max(shape.h, shape.w) <= side <= MAX_SIZE:
                raise SpecValueError(
                    f"'resize' takes the shorter side of the resized photo, a whole number from "
                    f"{max(shape.h, shape.w)} (the input's larger side, so that the center crop fits) "
                    f"to {MAX_SIZE}, not {_show(s.values[0])}",
                    s.span,
                    f"e.g. 'resize {max(shape.h, shape.w) * 8 // 7}' (torchvision's ImageNet ratio 256/224)",
                )
        values[s.key] = tuple(nums)
    pre = ir.Preprocess(values.get("scale", (1.0,))[0], values.get("mean", (0.0,)), values.get("std", (1.0,)))
    return pre, int(values["resize"][0]) if "resize" in values else None


_MULT_KEYS = ("mult", "dw_mult")


def _default_keys(kind: str, fold: ast.FoldArgs) -> tuple:
    """The defaults' fold keys a layer kind takes."""
    return tuple(kw for kw in fold.kwargs if kw[0] in FOLD_KEYS[kind])
