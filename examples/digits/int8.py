"""Quantize the float digits network to a standard int8 QDQ ONNX with onnxruntime's static
quantization: the kind of model GAP8 users bring (NNTool takes int8 TFLite/ONNX).

    python examples/digits/train.py --float --float-onnx build/float.onnx   # 25 s, needs torch
    python examples/digits/int8.py build/float.onnx                         # writes digits_int8.onnx

``onnxruntime.quantization.quantize_static`` in QDQ format: int8 weights, symmetric and per
output channel; int8 activations, symmetric (zero point 0: a ReLU's codes are 0..127, GAP8's
convention), ranges from min/max calibration on the first 256 images of the training split;
int32 biases at scale ``s_in * s_w``. Two tensors are set by hand (``TensorQuantOverrides``):
the input is uint8 at scale 1, zero point 0 (the pixels themselves), and the logits are
int8 symmetric. Needs onnxruntime and scikit-learn (no torch).
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CALIBRATION = 256


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("float_onnx", help="the float model of train.py --float --float-onnx")
    p.add_argument("-o", "--output", default=os.path.join(HERE, "digits_int8.onnx"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from sklearn.model_selection import train_test_split

    from train import HELDOUT, dataset

    images, labels = dataset()
    idx = np.arange(len(labels))
    train_idx, test_idx = train_test_split(idx, test_size=HELDOUT, random_state=args.seed, stratify=labels)
    calib = _inputs(images[train_idx[:CALIBRATION]])

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calib[i : i + 1] for i in range(len(calib)))

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {"input": x}

    model = onnx.load(args.float_onnx)
    output = model.graph.output[0].name
    quantize_static(
        args.float_onnx, args.output, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
        extra_options={
            "ActivationSymmetric": True, "WeightSymmetric": True,
            "TensorQuantOverrides": {
                "input": [{"quant_type": QuantType.QUInt8, "scale": np.array(1.0, np.float32), "zero_point": np.array(0, np.uint8)}],
                output: [{"quant_type": QuantType.QInt8, "symmetric": True}],
            },
        },
    )
    test = _inputs(images[np.sort(test_idx)])
    y = labels[np.sort(test_idx)]
    figures = {"calibration_images": CALIBRATION, "onnxruntime": ort.__version__}
    for key, path in (("float_top1", args.float_onnx), ("int8_top1", args.output)):
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        logits = np.concatenate([sess.run(None, {"input": test[i : i + 1]})[0] for i in range(len(test))])
        figures[key] = float((logits.argmax(1) == y).mean())
    with open(os.path.join(os.path.dirname(os.path.abspath(args.output)), "int8.json"), "w") as f:
        json.dump(figures, f, indent=2)
    print(f"onnxruntime held-out top-1: float {figures['float_top1']:.2%}, int8 QDQ {figures['int8_top1']:.2%}; "
          f"wrote {args.output}")
    return 0


def _inputs(images: np.ndarray) -> np.ndarray:
    """(N, 32, 32) gray uint8 -> (N, 3, 32, 32) float32 pixels 0..255, as train.py feeds them."""
    return np.repeat(images[:, None].astype(np.float32), 3, axis=1)


if __name__ == "__main__":
    raise SystemExit(main())
