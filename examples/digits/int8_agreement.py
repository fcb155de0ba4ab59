"""The imported int8 digits network (digits_int8.onnx, onnxruntime's static quantization)
against onnxruntime's execution, image by image on the held-out split: the accuracies of
onnxruntime (QDQ graph as written, and its default optimized session) and of mbdsl's
reference, every layer's differing codes classified (``mbdsl.qonnx_import.verify_qdq``:
ties, multiplier roundings, other), and one line per image whose top-1 class differs.

    python examples/digits/int8_agreement.py [--limit N] [--json OUT]

Needs ``mbdsl[qonnx]`` (onnx, onnxruntime; not torch).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=os.path.join(HERE, "digits_int8.onnx"))
    p.add_argument("--data", default=os.path.join(HERE, "heldout.npz"))
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", default=None, help="write the figures here")
    args = p.parse_args(argv)

    from mbdsl import evaluate as E
    from mbdsl import reference
    from mbdsl.qonnx_import import import_model, load_model, verify_qdq
    from mbdsl.qonnx_import._qdq_verify import ort_logits

    data = E.load_dataset(args.data).subset(args.limit)
    model = load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        imp = import_model(model, os.path.join(tmp, "digits_int8.mbn"), source=os.path.basename(args.model))
    net, params = imp.net, imp.params
    images = np.stack(E.decode(net, data.sources))
    t0 = time.perf_counter()
    report = verify_qdq(model, imp, images)
    seconds = time.perf_counter() - t0
    print(report.table())
    labels = data.labels
    ours = np.asarray(reference.run_batch(net, params, images)[-1]).reshape(len(images), -1)
    step = float(imp.sites[-1].out_scale)
    theirs = np.rint(ort_logits(model, images, imp.input_name, optimized=False) / step).astype(np.int64)
    differ = np.flatnonzero(report.mbdsl_top1 != report.ort_top1)
    for i in differ:
        o, t = ours[i], theirs[i]
        print(f"{data.names[i]}: label {labels[i]}; onnxruntime {report.ort_top1[i]} (logit codes "
              f"{t[report.ort_top1[i]]} vs {t[report.mbdsl_top1[i]]}), mbdsl {report.mbdsl_top1[i]} "
              f"({o[report.mbdsl_top1[i]]} vs {o[report.ort_top1[i]]})")
    figures = {
        "images": len(images),
        "onnxruntime_qdq_top1": float(np.mean(report.ort_top1 == labels)),
        "onnxruntime_optimized_top1": float(np.mean(report.ort_top1_optimized == labels)),
        "reference_top1": float(np.mean(report.mbdsl_top1 == labels)),
        "differing_top1": report.top1_differ,
        "differing_top1_optimized": report.top1_differ_optimized,
        "differing_names": [data.names[i] for i in differ],
        "codes": sum(l.compared for l in report.layers),
        "differing_codes": sum(l.mismatches for l in report.layers),
        "ties": sum(l.ties for l in report.layers),
        "multiplier_roundings": sum(l.multiplier for l in report.layers),
        "other_differences": report.failures,
        "seconds": round(seconds, 1),
    }
    print(f"top-1: onnxruntime QDQ {figures['onnxruntime_qdq_top1']:.2%}, onnxruntime optimized "
          f"{figures['onnxruntime_optimized_top1']:.2%}, mbdsl reference {figures['reference_top1']:.2%}; "
          f"{len(differ)} images differ in top-1 ({report.top1_differ_optimized} against the optimized session)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    return 0 if report.exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
