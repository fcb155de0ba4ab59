"""``mbdsl import``: a QONNX model (Brevitas export) or an int8 QDQ ONNX -> a spec and its weight file.

The spec and the ``.npz`` are written only after the import has been checked: read back
through the frontend and the weight loader, and (unless ``--verify 0``) compared layer by
layer with QONNX's own execution of the graph on random images.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from .. import ir
from ..files import check_utf8_path
from ..output import check_writable
from .common import console, count, seed

MAX_VERIFY = 1000
"""Most images --verify runs through QONNX's execution (about a second each for MobileNet)."""
MAX_VERIFY_BYTES = 256 << 20
"""Most bytes the --verify images may hold together."""


def register(sub) -> None:
    p = sub.add_parser("import", help="import a QONNX model (Brevitas export) or an int8 QDQ ONNX as a spec + .npz")
    p.add_argument("model", help="a QONNX .onnx file, or an int8 QDQ one (QuantizeLinear/DequantizeLinear)")
    p.add_argument("-o", "--output", required=True, metavar="SPEC", help="the spec to write (its .npz goes beside it)")
    p.add_argument("--name", help="network name (default: the spec's file name)")
    p.add_argument("--fold", choices=("auto", "none"), default="auto",
                   help="'auto': fold(auto) in the defaults (default); 'none': no fold, to edit by hand")
    p.add_argument("--verify", type=count(0, MAX_VERIFY), default=2, metavar="N",
                   help="random images to compare with QONNX's (onnxruntime's for QDQ) execution, layer by layer (default 2; 0 skips)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the verification images")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..qonnx_import import QonnxImportError, import_model, load_model, verify

    check_utf8_path(args.output, "spec", "choose a UTF-8 name: the spec names its weight file")
    check_writable([args.output])  # before the import's work, not after it
    model = load_model(args.model)
    imp = import_model(model, args.output, name=args.name, fold=args.fold, source=os.path.basename(args.model))
    net = imp.net
    layers = ", ".join(layer.name for layer in imp.net.layers)
    console.print(f"imported {net.name}: {len(net.layers)} layers ({layers})")
    negated = sum(site.negated for site in imp.sites)
    if negated:
        console.print(f"{negated} output channels of negative slope: their weights are negated, thresholds count up")
    from ..qonnx_import import verify_qdq

    if imp.net.quant_style == ir.MULTIPLIER:  # an int8 QDQ graph: ties and short-m0 roundings are expected (docs/eval.md)
        runtime, available, check = "onnxruntime", importlib.util.find_spec("onnxruntime") is not None, verify_qdq
        expected, outputs = "rounding ties and multiplier roundings", lambda r: ""
    else:
        runtime, available, check, expected = "QONNX", _has_qonnx(), verify, "rounding ties"
        outputs = lambda r: f"; final output equal on {r.outputs_agree}/{r.images} images"  # noqa: E731
    if args.verify > 0 and not available:
        console.print(f"{runtime} is not installed: the import is not compared with {runtime}'s execution "
                      "(pip install 'mbdsl[qonnx]')")
    elif args.verify > 0:
        _check_verifiable(net, args.verify)
        s = net.input.shape
        images = np.random.default_rng(args.seed).integers(0, 256, size=(args.verify, s.h, s.w, s.c), dtype=np.uint8)
        report = check(model, imp, images)
        console.print(report.table())
        if not report.exact:
            raise QonnxImportError(
                f"the import differs from {runtime}'s execution beyond {expected} ({report.failures} codes"
                f"{outputs(report)}); nothing was written",
                hint="please report this model: the importer should have refused it",
            )
    imp.write(args.output)
    console.print(f"wrote {args.output} and {os.path.join(os.path.dirname(args.output), imp.weights_file)}")
    return 0


def _check_verifiable(net, count: int) -> None:
    """The reference must be able to run the network, and the images fit in memory."""
    from ..errors import MbdslError
    from ..params import check_size

    try:
        check_size(net)
    except MbdslError as e:  # located in the spec that is not written: say it without the place
        raise MbdslError(f"cannot verify the import: {e.message}", hint="import with --verify 0") from None
    need = count * net.input.shape.size
    if need > MAX_VERIFY_BYTES:
        raise MbdslError(f"--verify {count} needs {need:,} bytes of images, more than {MAX_VERIFY_BYTES:,}",
                         hint=f"verify at most {MAX_VERIFY_BYTES // net.input.shape.size:,} images")


def _has_qonnx() -> bool:
    try:
        import qonnx.core.onnx_exec  # noqa: F401
    except ImportError:
        return False
    return True
