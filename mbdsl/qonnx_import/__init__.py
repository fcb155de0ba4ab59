"""QONNX import: a Brevitas-exported QONNX graph -> an mbdsl spec and its weight file.

::

    from mbdsl.qonnx_import import import_model, verify
    imp = import_model("mnv1_w4a4.onnx", "mnv1.mbn")   # QonnxImportError if not exact
    imp.write("mnv1.mbn")                               # + mnv1.npz beside it
    report = verify("mnv1_w4a4.onnx", imp, images)      # layer by layer against qonnx

The conversion is mbdsl's own (``onnx`` reads the file); ``qonnx`` is used only to execute
the graph for :func:`verify`. Both come with ``pip install 'mbdsl[qonnx]'``. See
``docs/qonnx.md`` for the supported patterns. A standard int8 QDQ graph (QuantizeLinear /
DequantizeLinear, onnxruntime's static quantization) imports in the multiplier style
(``_qdq.py``) and is checked against onnxruntime with :func:`verify_qdq`.
"""

from ._errors import QonnxImportError
from ._import import Imported, import_model, load_model
from ._qdq_verify import QdqReport, verify_qdq
from ._verify import LayerCheck, VerifyReport, verify

__all__ = [
    "QonnxImportError",
    "Imported",
    "import_model",
    "load_model",
    "verify",
    "VerifyReport",
    "LayerCheck",
    "verify_qdq",
    "QdqReport",
]
