"""Brevitas MobileNet-v1 w4a4 (random weights) -> QONNX -> mbdsl import, checked against qonnx.

Needs brevitas and the CPU torch (``pip install torch==2.13.0 brevitas``) besides
``mbdsl[qonnx]``. Builds Brevitas' own ``MobileNet`` (brevitas_examples, the model FINN's
MobileNet-v1 w4a4 comes from: 8-bit first conv with padding 0, per-channel activation
scales, 4-bit weights and activations, TruncAvgPool2d, a QuantLinear with Int32Bias), wraps
it in the FINN preprocessing (``x / 255``, mean/std) and a top-k, calibrates the
BatchNorm statistics on random images, exports it with ``brevitas.export.export_qonnx``,
imports it and compares every layer with ``qonnx.core.onnx_exec`` on random images.

    python bench/qonnx_brevitas.py                       # width 0.25, 32x32, 10 classes
    python bench/qonnx_brevitas.py --full --images 2     # 1.0 / 224 / 1000 classes (slow in qonnx)
    python bench/qonnx_brevitas.py --sim                 # also simulate the written spec's RTL

The FC's Int32Bias makes the logits ``A * (acc + bias)``: the spec declares ``bias intN`` on
the fc and its ``.npz`` carries ``fc.bias``, which the RTL's accumulators start from.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEAN = (0.485, 0.456, 0.406)
STD = 0.226


def build(width: float, size: int, classes: int, k: int, seed: int):
    import torch
    from brevitas_examples.imagenet_classification.models.mobilenetv1 import MobileNet

    torch.manual_seed(seed)
    channels = [[32], [64], [128, 128], [256, 256], [512] * 6, [1024, 1024]]
    channels = [[max(1, int(c * width)) for c in stage] for stage in channels]
    final = (size - 3) // 2 + 1  # conv0: 3x3 stride 2 pad 0
    for _ in range(4):  # four stride-2 depthwise convs (padding 1)
        final = (final + 2 - 3) // 2 + 1
    net = MobileNet(channels=channels, first_stage_stride=False, act_bit_width=4, weight_bit_width=4,
                    round_average_pool=False, last_layer_bit_width=4, avg_pool_kernel_size=final,
                    num_classes=classes)

    class Finn(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net
            self.register_buffer("mean", torch.tensor(MEAN).reshape(1, 3, 1, 1))

        def forward(self, x):
            x = x / 255.0
            x = (x - self.mean) / STD
            return torch.topk(self.net(x), k)[1]

    model = Finn()
    # BatchNorm statistics of random images (cumulative average), so codes spread.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.weight.mul_(torch.where(torch.rand_like(m.weight) < 0.2, -1.0, 1.0))
                m.bias.uniform_(0.0, 1.0)
        if isinstance(m, torch.nn.Linear):
            with torch.no_grad():
                m.bias.uniform_(-0.5, 0.5)  # a bias that changes the ranking
    model.train()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(4):
            lo = torch.randint(0, 128, (16, 1, 1, 1), generator=gen).float()
            x = lo + torch.rand(16, 3, size, size, generator=gen) * (255 - lo)
            model(torch.floor(x))
    model.eval()
    return model


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--k", type=int, default=3)
    p.add_argument("--full", action="store_true", help="width 1.0, 224x224, 1000 classes, top-5")
    p.add_argument("--images", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sim", action="store_true", help="run mbdsl sim on the written spec")
    p.add_argument("--out", default=os.path.join(ROOT, "build", "qonnx_bench"))
    args = p.parse_args(argv)
    if args.full:
        args.width, args.size, args.classes, args.k = 1.0, 224, 1000, 5
    try:
        import torch  # noqa: F401
        from brevitas.export import export_qonnx
    except ImportError as e:
        print(f"skipped: needs brevitas and torch ({e})")
        return 0
    from mbdsl.qonnx_import import import_model, load_model, verify

    os.makedirs(args.out, exist_ok=True)
    tag = f"mnv1_w{args.width:g}_{args.size}_c{args.classes}"
    onnx_path = os.path.join(args.out, f"{tag}.onnx")
    t0 = time.perf_counter()
    model = build(args.width, args.size, args.classes, args.k, args.seed)
    import torch

    export_qonnx(model, torch.zeros(1, 3, args.size, args.size), export_path=onnx_path)
    print(f"exported {onnx_path} in {time.perf_counter() - t0:.1f} s")

    spec_path = os.path.join(args.out, f"{tag}.mbn")
    t0 = time.perf_counter()
    onnx_model = load_model(onnx_path)
    imp = import_model(onnx_model, spec_path, source=os.path.basename(onnx_path))
    print(f"imported in {time.perf_counter() - t0:.1f} s: {len(imp.net.layers)} layers, "
          f"{sum(site.negated for site in imp.sites)} channels negated")
    print(imp.spec)
    rng = np.random.default_rng(args.seed + 1)
    images = []
    for _ in range(args.images):
        lo = int(rng.integers(0, 128))
        images.append(rng.integers(lo, 256, size=(args.size, args.size, 3)))
    images = np.stack(images).astype(np.uint8)
    t0 = time.perf_counter()
    report = verify(onnx_model, imp, images)
    print(report.table())
    print(f"verified in {time.perf_counter() - t0:.1f} s: {'EXACT' if report.exact else 'NOT EXACT'} "
          f"(up to {report.ties} rounding ties)")
    imp.write(spec_path)
    print(f"wrote {spec_path}")
    if args.sim:
        cmd = [sys.executable, "-m", "mbdsl", "sim", spec_path, "--images", "3",
               "-o", os.path.join(args.out, "generated"), "--build-dir", os.path.join(args.out, "sim")]
        print("$ " + " ".join(cmd))
        rc = subprocess.call(cmd)
        if rc:
            return rc
    return 0 if report.exact else 1


if __name__ == "__main__":
    sys.exit(main())
