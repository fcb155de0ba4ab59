"""The importer's error: an ONNX node has no span, so the message names the node."""

from __future__ import annotations

from ..errors import MbdslError

__all__ = ["QonnxImportError", "node_error"]


class QonnxImportError(MbdslError):
    """A QONNX graph that cannot be turned into an exact spec: an unsupported op, layout,
    bit width, or a scale that cannot be made integer. The message names the ONNX node
    (name and op type) and the reason."""


def node_error(node, reason: str, hint: str | None = None) -> QonnxImportError:
    """``node '<name>' (<OpType>): <reason>`` for an ONNX node (or a plain string)."""
    if node is None:
        return QonnxImportError(reason, hint=hint)
    if isinstance(node, str):
        return QonnxImportError(f"{node}: {reason}", hint=hint)
    name = node.name or (node.output[0] if node.output else "?")
    return QonnxImportError(f"node '{name}' ({node.op_type}): {reason}", hint=hint)
