"""Syntax tree -> network model: includes, defaults, repeat, dwsep pairs, macros, targets.

Elaboration checks what a layer statement may say (which arguments, which fold keys,
which types); shapes, accumulator widths and folding legality are the passes' job.
"""

from __future__ import annotations

import os

import attrs

from . import ast, macros
from .names import did_you_mean
from .parser import parse
from .. import devices, ir
from ..dtypes import IntType
from ..errors import (IncludeError, MbdslError, QuantError, ShapeError, Span, SpecNameError, SpecStructureError, SpecSyntaxError,
                      SpecValueError, TargetError)
from ..files import MAX_SPEC_BYTES, check_utf8_path, read_text

__all__ = ["load", "load_string", "elaborate"]

MAX_BITS = 8
"""Widest weight or activation type the backends implement."""

# Limits that keep every later computation (divisors, estimates, the reference) quick; a
# spec beyond them is refused at the number that exceeds them.
MAX_SIZE = 16384
"""Largest image height/width, stride and padding."""
MAX_CHANNELS = 65536
"""Largest channel or class count."""
MAX_KERNEL = 64
"""Largest kernel size."""
MAX_REPEAT = 1024
"""Largest repeat count."""
MAX_LAYERS = 4096
"""Most layers a network may elaborate to."""
MAX_INCLUDE_DEPTH = 16
"""Deepest chain of includes (a spec including a file that includes another is depth 2)."""
MAX_INCLUDES = 256
"""Most files one spec may include, directly or not."""

# Arguments each layer kind accepts, and the fold keys it takes.
_LAYER_ARGS = {
    "conv": {"kernel", "stride", "pad", "outputs", "weights", "activations", "acc", "bias", "fold"},
    "pwconv": {"outputs", "stride", "weights", "activations", "acc", "bias", "fold"},
    "dwconv": {"kernel", "stride", "pad", "weights", "activations", "acc", "bias", "fold"},
    "dwsep": {"kernel", "stride", "outputs", "weights", "activations", "fold"},
    "avgpool": {"global", "activations", "shift", "fold"},
    "fc": {"outputs", "weights", "activations", "acc", "bias", "fold"},
    "topk": {"count"},
}
_FOLD_KEYS = {
    "conv": {"pe", "simd"},
    "pwconv": {"pe", "simd"},
    "dwconv": {"pe", "simd"},
    "dwsep": {"dw_pe", "dw_simd", "pe", "simd"},
    "avgpool": {"pe"},
    "fc": {"pe", "simd"},
    "topk": set(),
}
_ARG_WORDS = {
    "kernel": "a kernel size",
    "stride": "'stride'",
    "pad": "'pad'",
    "outputs": "'->' (output channels)",
    "global": "'global'",
    "weights": "'weights'",
    "activations": "'activations'",
    "acc": "'acc'",
    "bias": "'bias'",
    "fold": "'fold'",
    "shift": "'shift'",
    "count": "a count",
}
_LIMITS = {"stride": MAX_SIZE, "pad": MAX_SIZE, "outputs": MAX_CHANNELS, "count": MAX_CHANNELS, "shift": 64}
_WHY_NOT = {
    ("dwconv", "outputs"): "a depthwise convolution keeps its channel count: drop '-> N' or use dwsep",
    ("pwconv", "kernel"): "a pointwise convolution is 1x1: use 'conv KxK' for other kernels",
    ("dwsep", "pad"): "dwsep pads its depthwise half by kernel/2; write dwconv + pwconv to choose",
    ("topk", "outputs"): "topk keeps the classes: write 'topk K'",
}
_REQUIRED = {"conv": ("kernel", "outputs"), "pwconv": ("outputs",), "dwsep": ("outputs",), "fc": ("outputs",), "topk": ("count",), "avgpool": ("global",)}

# Units as the docs spell them; matched without regard to case.
_SIZE_UNITS = {"B": 1, "kB": 1000, "KiB": 1024, "MB": 1000**2, "MiB": 1024**2}
_CLOCK_UNITS = {"Hz": 1, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9}


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
    items = _collect(parse(text, path), [os.path.abspath(path)], path, _Included({}, size))
    return elaborate(items, path, Span(path, 1, 1, None, text.split("\n", 1)[0].rstrip("\r")))


@attrs.define
class _Included:
    seen: dict[str, ast.Include]
    """Every file included so far, and the include statement that included it."""
    size: int
    """Bytes of text read so far, the spec's included."""


def _collect(spec: ast.SpecFile, stack: list[str], shown: str, state: _Included) -> list:
    """Items of a file with its includes spliced in, depth first.

    ``shown`` is how the file is named in messages: the path the user gave, and for an
    included file that path's folder joined with the include's path (not a path relative
    to the working directory, which changes with where the command runs). A file is
    included once (twice would declare everything in it twice), at most
    ``MAX_INCLUDE_DEPTH`` deep and ``MAX_INCLUDES`` in all, and the spec with its includes
    holds at most ``MAX_SPEC_BYTES``.
    """
    seen = state.seen
    out = []
    for item in spec.items:
        if not isinstance(item, ast.Include):
            out.append(item)
            continue
        target = os.path.abspath(os.path.join(os.path.dirname(stack[-1]), item.path))
        if target in stack:
            chain = " -> ".join(os.path.basename(p) for p in stack[stack.index(target) :] + [target])
            raise IncludeError(f"include cycle: {chain}", item.span, "remove one of the includes")
        if target in seen:
            raise IncludeError(
                f"'{item.path}' is already included at {seen[target].span}",
                item.span,
                "include a file once: everything it declares would be declared twice",
            )
        if len(stack) > MAX_INCLUDE_DEPTH:
            raise IncludeError(f"includes nested more than {MAX_INCLUDE_DEPTH} deep", item.span, "include the files from one place")
        if len(seen) >= MAX_INCLUDES:
            raise IncludeError(f"more than {MAX_INCLUDES} included files", item.span, "merge some of the included files")
        seen[target] = item
        text = read_text(
            target,
            "included file",
            MAX_SPEC_BYTES,
            error=IncludeError,
            span=item.span,
            shown=f"'{item.path}'",
            hint=f"looked for {target}; include paths are relative to the including file's folder",
        )
        state.size += len(text.encode())
        if state.size > MAX_SPEC_BYTES:
            raise IncludeError(f"with '{item.path}' the spec and its included files hold {state.size:,} bytes, "
                               f"more than the limit of {MAX_SPEC_BYTES:,}", item.span, "the limits are listed in docs/dsl.md, 'Limits'")
        display = item.path if os.path.isabs(item.path) else os.path.normpath(os.path.join(os.path.dirname(shown), item.path))
        out.extend(_collect(parse(text, display), stack + [target], display, state))
    return out


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
    fpga, gap8 = _targets([i for i in items if isinstance(i, ast.TargetDecl)])
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
        layers = []
        for stmt in statements:
            layers.extend(self._statement(stmt, 0))
        if not layers:
            raise SpecStructureError(f"network '{self.decl.name}' has no layers", self.decl.span, "add layers such as 'conv 3x3 -> 32'")
        layers = self._classifier_outputs(layers)
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
        known = set().union(*_FOLD_KEYS.values())
        seen = set()
        for key, value, span in fold.kwargs:
            if key not in known:
                raise SpecNameError(f"no layer kind has a fold parameter '{key}'", span, did_you_mean(key, known))
            if key in seen:
                raise SpecNameError(f"fold parameter '{key}' is given twice", span, "keep one")
            seen.add(key)
            if value.kind != "number" or not isinstance(value.value, int) or value.value < 1:
                raise SpecValueError(f"{key} must be a whole number >= 1, not {_show(value)}", value.span, f"e.g. {key} = 4")

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
        return ir.Input(shape, decl.format, pre, decl.span, resize=resize)

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
        if kind not in _LAYER_ARGS:
            raise SpecNameError(f"unknown layer kind '{kind}'", stmt.kind_span, did_you_mean(kind, _LAYER_ARGS))
        args: dict[str, ast.Arg] = {}
        for arg in stmt.args:
            if arg.key == "count" and "kernel" in _LAYER_ARGS[kind]:
                raise SpecValueError(f"a kernel size is written KxK, not {arg.value}", arg.span, f"write '{arg.value}x{arg.value}'")
            if arg.key not in _LAYER_ARGS[kind]:
                why = _WHY_NOT.get((kind, arg.key), f"{kind} takes: " + ", ".join(_ARG_WORDS[k] for k in sorted(_LAYER_ARGS[kind])))
                raise SpecNameError(f"{kind} does not take {_ARG_WORDS[arg.key]}", arg.span, why)
            if arg.key in args:
                raise SpecNameError(f"{_ARG_WORDS[arg.key]} is given twice", arg.span, "keep one")
            args[arg.key] = arg
        for key in _REQUIRED.get(kind, ()):
            if key not in args:
                raise SpecNameError(f"{kind} needs {_ARG_WORDS[key]}", stmt.span, _example(kind))
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
            raise SpecValueError(f"{_ARG_WORDS[key]} must be at least {minimum}, not {arg.value}", arg.span)
        if key in _LIMITS and arg.value > _LIMITS[key]:
            raise SpecValueError(f"{_ARG_WORDS[key]} {arg.value} is larger than the limit {_LIMITS[key]}", arg.span, f"use at most {_LIMITS[key]}")
        return arg.value

    def _fold_values(self, kind: str, fold: ast.FoldArgs) -> dict[str, tuple[int, Span]]:
        values = {}
        for key, value, span in fold.kwargs:
            if key not in _FOLD_KEYS[kind]:
                raise SpecNameError(f"{kind} has no fold parameter '{key}'", span, did_you_mean(key, _FOLD_KEYS[kind]) if _FOLD_KEYS[kind] else f"{kind} has no parallelism to fold")
            if key in values:
                raise SpecNameError(f"fold parameter '{key}' is given twice", span)
            if value.kind != "number" or not isinstance(value.value, int) or value.value < 1:
                raise SpecValueError(f"{key} must be a whole number >= 1, not {_show(value)}", value.span, f"e.g. {key} = 4")
            values[key] = (value.value, span)
        return values

    def _fold(self, kind: str, arg: ast.Arg | None, span: Span) -> ir.Fold:
        fold = arg.value if arg is not None else self.defaults.fold
        if fold is None:
            return ir.Fold(span=span)
        if fold.auto:
            return ir.Fold(auto=True, span=fold.span)
        if arg is None:  # defaults give a folding for every layer kind: keep the keys it takes
            fold = ast.FoldArgs(False, tuple(kw for kw in fold.kwargs if kw[0] in _FOLD_KEYS[kind]), fold.span)
        values = self._fold_values(kind, fold)
        pe, pe_span = values.get("pe", (1, fold.span))
        simd, simd_span = values.get("simd", (1, fold.span))
        return ir.Fold(pe, simd, span=fold.span, pe_span=pe_span, simd_span=simd_span)

    def _dwsep_folds(self, arg: ast.Arg | None, span: Span) -> tuple[ir.Fold, ir.Fold]:
        fold = arg.value if arg is not None else self.defaults.fold
        if fold is None:
            return ir.Fold(span=span), ir.Fold(span=span)
        if fold.auto:
            return ir.Fold(auto=True, span=fold.span), ir.Fold(auto=True, span=fold.span)
        if arg is None:  # defaults: dw_pe/dw_simd for the depthwise half, pe/simd for the pointwise one
            fold = ast.FoldArgs(False, tuple(kw for kw in fold.kwargs if kw[0] in _FOLD_KEYS["dwsep"]), fold.span)
        values = self._fold_values("dwsep", fold)

        def pick(pe_key, simd_key):
            pe, pe_span = values.get(pe_key, (1, fold.span))
            simd, simd_span = values.get(simd_key, (1, fold.span))
            return ir.Fold(pe, simd, span=fold.span, pe_span=pe_span, simd_span=simd_span)

        return pick("dw_pe", "dw_simd"), pick("pe", "simd")

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


# --- targets --------------------------------------------------------------------------


def _targets(decls: list[ast.TargetDecl]):
    fpga = gap8 = None
    for decl in decls:
        if decl.kind == "fpga":
            if fpga is not None:
                raise TargetError(f"target fpga is already given at {fpga.span}", decl.span, "merge the settings into one target fpga block")
            fpga = _fpga(decl)
        elif decl.kind == "gap8":
            if gap8 is not None:
                raise TargetError(f"target gap8 is already given at {gap8.span}", decl.span, "merge the settings into one target gap8 block")
            gap8 = _gap8(decl)
        else:
            raise TargetError(f"unknown target '{decl.kind}'", decl.kind_span or decl.span, did_you_mean(decl.kind, ("fpga", "gap8")))
    return fpga, gap8


def _quantity(s: ast.Setting, units: dict[str, float], default_unit: str, bounds: tuple[float, float, str] | None = None) -> float:
    """A number with an optional unit; ``bounds`` = (low, high, how the range is said)."""
    if not s.values or s.values[0].kind != "number":
        raise TargetError(f"'{s.key}' takes a number", s.span)
    if len(s.values) > 2:
        raise TargetError(f"'{s.key}' takes a number and an optional unit", s.values[2].span)
    factor = units.get(default_unit, 1)
    if len(s.values) == 2:
        u = s.values[1]
        by_case = {k.lower(): v for k, v in units.items()}
        if u.kind != "word" or u.value.lower() not in by_case:
            raise TargetError(f"unknown unit {u.value!r} for '{s.key}'", u.span, did_you_mean(str(u.value), units))
        factor = by_case[u.value.lower()]
    value = s.values[0].value * factor
    if value <= 0:
        raise TargetError(f"'{s.key}' must be positive", s.values[0].span)
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        raise TargetError(f"'{s.key}' must lie between {bounds[2]}", s.values[0].span)
    return value


_GOALS = ("fps", "mac_lanes", "lut", "bram")
_FPGA_SETTINGS = ("clock", "part", "device") + _GOALS


def _given_once(decl: ast.TargetDecl) -> None:
    """A setting written twice would silently override the first: refuse the second."""
    seen: dict[str, ast.Setting] = {}
    for s in decl.settings:
        if s.key in seen:
            raise TargetError(f"'{s.key}' is given twice (first at {seen[s.key].span})", s.span, "keep one")
        seen[s.key] = s


def _fpga(decl: ast.TargetDecl) -> ir.FpgaTarget:
    _given_once(decl)
    fields: dict = {"span": decl.span}
    goal: dict = {}
    for s in decl.settings:
        if s.key == "clock":
            fields["clock_hz"] = _quantity(s, _CLOCK_UNITS, "MHz", (*ir.CLOCK_RANGE, "1 kHz and 10 GHz"))
        elif s.key == "part":
            if len(s.values) != 1 or s.values[0].kind != "string":
                raise TargetError("'part' takes a quoted part name", s.span, 'e.g. part "xcu250-figd2104-2L-e"')
            fields["part"] = s.values[0].value
        elif s.key == "device":
            fields["device"], goal_of_device = _device(s)
        elif s.key in _GOALS:
            value = _quantity(s, {"": 1}, "", (*ir.FPS_RANGE, "0.001 and 1e9 FPS")) if s.key == "fps" else _count(s)
            goal[s.key] = (value, s.span)
        else:
            raise TargetError(f"target fpga has no setting '{s.key}'", s.span, did_you_mean(s.key, _FPGA_SETTINGS))
    if goal:
        fields["goal"] = _fold_goal(goal)
    elif "device" in fields:
        fields["goal"] = goal_of_device
    if "device" in fields and "clock_hz" in fields:
        _check_clock(decl, fields["device"], fields["clock_hz"])
    return ir.FpgaTarget(**fields)


def _check_clock(decl: ast.TargetDecl, name: str, clock_hz: float) -> None:
    """No folding closes timing above the clock the slowest unit kind reaches on the device."""
    dev = devices.device(name)
    limit = devices.max_clock_mhz(dev)
    if limit is not None and clock_hz > limit * 1e6:
        span = next(s.span for s in decl.settings if s.key == "clock")
        raise TargetError(
            f"no folding closes timing at {clock_hz / 1e6:g} MHz on {dev.name}: its slowest unit kind routes at "
            f"{limit:g} MHz (measured alone, bench/impl.py), and a unit's logic depth does not depend on its folding",
            span, f"use a clock of at most {limit:g} MHz; mbdsl impl measures what a whole network reaches",
        )


def _device(s: ast.Setting) -> tuple[str, ir.FoldGoal]:
    """A device setting: its name, and the budgets it gives fold(auto) without another goal."""
    if len(s.values) != 1 or s.values[0].kind != "string":
        raise TargetError("'device' takes a quoted device name", s.span, 'e.g. device "LFE5U-85F"')
    try:
        dev = devices.device(s.values[0].value)
    except MbdslError as exc:
        raise TargetError(exc.message, s.values[0].span, exc.hint) from None
    lut, bram = devices.budget(dev)
    return dev.name, ir.FoldGoal(lut=lut, bram=bram, span=s.span)


def _count(s: ast.Setting) -> int:
    if len(s.values) != 1 or s.values[0].kind != "number" or not isinstance(s.values[0].value, int) or not 1 <= s.values[0].value <= ir.MAX_BUDGET:
        raise TargetError(f"'{s.key}' takes one whole number from 1 to {ir.MAX_BUDGET:,}", s.span, f"e.g. {s.key} 5764" if s.key == "mac_lanes" else f"e.g. {s.key} 400000")
    return s.values[0].value


def _fold_goal(goal: dict) -> ir.FoldGoal:
    """One goal for fold(auto): fps, or mac_lanes, or the budgets lut and/or bram."""
    kinds = [k for k in ("fps", "mac_lanes") if k in goal] + (["lut/bram"] if "lut" in goal or "bram" in goal else [])
    if len(kinds) > 1:
        second = max((goal[k][1] for k in goal), key=lambda span: (span.line, span.column))
        raise TargetError(
            f"target fpga asks for {' and '.join(kinds)}: fold(auto) meets one goal",
            second,
            "give fps (fewest MAC lanes for a frame rate), mac_lanes (fastest II within N lanes), or lut and/or bram budgets",
        )
    first = min((span for _, span in goal.values()), key=lambda span: (span.line, span.column))
    return ir.FoldGoal(span=first, **{k: v for k, (v, _) in goal.items()})


def _gap8(decl: ast.TargetDecl) -> ir.Gap8Target:
    _given_once(decl)
    fields: dict = {"span": decl.span}
    sizes = ("l1", "l2", "l3", "l1_reserve", "l2_reserve")
    for s in decl.settings:
        if s.key in sizes:
            fields[s.key] = int(_quantity(s, _SIZE_UNITS, "B", (1, 2**40, "1 B and 1 TiB")))
        elif s.key == "cores":
            if len(s.values) > 1:
                raise TargetError("'cores' takes one whole number, without a unit", s.values[1].span, "e.g. cores 8")
            n = _quantity(s, {"": 1}, "")
            if n != int(n) or not 1 <= n <= 8:
                raise TargetError("the GAP8 cluster has 1 to 8 cores", s.values[0].span)
            fields["cores"] = int(n)
        elif s.key == "clock":
            fields["clock_hz"] = _quantity(s, _CLOCK_UNITS, "MHz", (*ir.CLOCK_RANGE, "1 kHz and 10 GHz"))
        else:
            raise TargetError(f"target gap8 has no setting '{s.key}'", s.span, did_you_mean(s.key, sizes + ("cores", "clock")))
    target = ir.Gap8Target(**fields)
    if target.l1_reserve >= target.l1 or target.l2_reserve >= target.l2:
        raise TargetError("the reserves leave no L1/L2 for data", decl.span, f"l1 {target.l1} (reserve {target.l1_reserve}), l2 {target.l2} (reserve {target.l2_reserve})")
    return target
