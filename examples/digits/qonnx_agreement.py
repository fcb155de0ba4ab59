"""The imported digits network against QONNX's float32 execution of digits.onnx, image by
image on the held-out split: both accuracies, the images whose predictions differ, and
the proof that each difference is a tie (``mbdsl.qonnx_import.verify``): either classes of
equal integer score that QONNX's float32 logits order by their rounding noise (mbdsl,
like ONNX's TopK on equal values, takes the lower index first), or a quantizer input
within float32 noise of a rounding boundary whose code then cascades.

    python examples/digits/qonnx_agreement.py [--limit N] [--json OUT]

Needs ``mbdsl[qonnx]`` (not torch). Prints one line per differing image and a summary.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _qonnx_outputs(model_path: str, input_name: str, images: np.ndarray) -> np.ndarray:
    """QONNX's final output (flat) of every image (runs in a worker process)."""
    from mbdsl.qonnx_import import load_model
    from mbdsl.qonnx_import._verify import _prepared, run_qonnx

    mw = _prepared(load_model(model_path))
    out_name = mw.graph.output[0].name
    return np.stack([np.asarray(run_qonnx(mw, im, input_name)[out_name]).reshape(-1) for im in images]).astype(np.int64)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=os.path.join(HERE, "digits.onnx"))
    p.add_argument("--data", default=os.path.join(HERE, "heldout.npz"))
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", default=None, help="write the figures here")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="processes QONNX runs in (default: one per core)")
    args = p.parse_args(argv)

    from mbdsl import evaluate as E
    from mbdsl import reference
    from mbdsl.qonnx_import import import_model, load_model, verify

    data = E.load_dataset(args.data).subset(args.limit)
    model = load_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        imp = import_model(model, os.path.join(tmp, "digits.mbn"), source=os.path.basename(args.model))
    net, params = imp.net, imp.params
    images = np.stack(E.decode(net, data.sources))
    t0 = time.perf_counter()
    ours = reference.classify_batch(net, params, images)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    parts = np.array_split(images, max(1, min(args.jobs, len(images))))
    with ProcessPoolExecutor(len(parts), mp_context=multiprocessing.get_context("spawn")) as pool:
        theirs = np.concatenate(list(pool.map(_qonnx_outputs, [args.model] * len(parts), [imp.input_name] * len(parts), parts)))
    t_qonnx = time.perf_counter() - t0
    labels = data.labels
    differ = [i for i in range(len(images)) if not np.array_equal(ours[i], theirs[i])]
    top1_differ = [i for i in differ if ours[i][0] != theirs[i][0]]
    report = verify(model, imp, images[differ]) if differ else None
    explained = 0 if report is None else report.outputs_tied + report.outputs_after_ties
    figures = {
        "images": len(images),
        "reference_top1": float(np.mean(ours[:, 0] == labels)),
        "qonnx_top1": float(np.mean(theirs[:, 0] == labels)),
        "reference_top5": float(np.mean((ours == labels[:, None]).any(1))),
        "qonnx_top5": float(np.mean((theirs == labels[:, None]).any(1))),
        "differing_images": len(differ),
        "differing_top1": len(top1_differ),
        "differing_names": [data.names[i] for i in differ],
        "ties_in_differing": 0 if report is None else report.ties,
        "other_differences": 0 if report is None else report.failures,
        "explained_by_ties": explained,
        "equal_score_orderings": 0 if report is None else report.outputs_tied,
        "after_rounding_ties": 0 if report is None else report.outputs_after_ties,
        "seconds_reference": round(t_ref, 2),
        "seconds_qonnx": round(t_qonnx, 2),
    }
    for i in differ:
        print(f"{data.names[i]} (label {labels[i]}): mbdsl {ours[i].tolist()}  QONNX {theirs[i].tolist()}")
    if report is not None:
        print(report.table())
    print(f"{len(images)} images: top-1 mbdsl {figures['reference_top1']:.2%}, QONNX {figures['qonnx_top1']:.2%}; "
          f"{len(differ)} differ in their top-5 list ({len(top1_differ)} in top-1): {figures['equal_score_orderings']} only in the order "
          f"of classes of equal integer score, {figures['after_rounding_ties']} after a rounding tie; "
          f"{figures['other_differences']} other code differences (reference {t_ref:.1f} s, QONNX {t_qonnx:.1f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    return 0 if figures["other_differences"] == 0 and explained == len(differ) else 1


if __name__ == "__main__":
    raise SystemExit(main())
