"""Train the digits example: a quantized MobileNet-v1 (alpha 0.25, 32x32, FINN's w4a4 recipe)
on scikit-learn's bundled handwritten digits, with Brevitas quantization-aware training.

Needs torch (CPU build), brevitas and scikit-learn: ``pip install torch==2.13.0`` first (so
that pip never pulls a CUDA build), then ``pip install brevitas==0.13.4 scikit-learn``, or
``pip install 'mbdsl[train]'``. Nothing is downloaded: ``load_digits`` ships with
scikit-learn (1,797 8x8 images, values 0..16).

    python examples/digits/train.py            # writes digits.onnx, heldout.npz, train.json
    python examples/digits/train.py --float    # the float32 baseline: writes float.json
    python examples/digits/train.py --float --float-onnx F.onnx   # + its plain float ONNX (for int8.py)

Every image becomes a network input the way ``mbdsl eval`` makes one: values scaled to
0..255 (``round(v * 255 / 16)``), upscaled to 32x32 by ``mbdsl.images.from_array`` (Pillow
bilinear, ``resize 32``), gray replicated into R, G and B. The held-out split (450 images,
stratified, seed 0) is saved as ``heldout.npz`` (``images`` (450, 32, 32) uint8, ``labels``)
and is never trained on.

The network is Brevitas' own MobileNet (``brevitas_examples``, where FINN's MobileNet-v1
w4a4 comes from): 8-bit first conv without padding, 4-bit weights and activations
elsewhere, a 4-bit last layer with an Int32Bias, wrapped in the FINN preprocessing
(``x / 255``, mean, std) and a top-5. It is exported with ``brevitas.export.export_qonnx``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN = (0.485, 0.456, 0.406)
STD = 0.226
SIZE = 32
HELDOUT = 450


def dataset():
    """(images (N, 32, 32) uint8, labels (N,)) of all 1,797 digits, as the network sees them."""
    from sklearn.datasets import load_digits

    from mbdsl import ir
    from mbdsl.images import from_array

    digits = load_digits()
    inp = ir.Input(ir.Shape(SIZE, SIZE, 1), "u8", resize=SIZE)
    small = np.rint(digits.images * 255 / 16).astype(np.uint8)
    images = np.stack([from_array(im, inp)[:, :, 0] for im in small])
    return images, digits.target.astype(np.int64)


def build(seed: int):
    import torch
    from brevitas_examples.imagenet_classification.models.mobilenetv1 import MobileNet

    torch.manual_seed(seed)
    channels = [[max(1, int(c * 0.25)) for c in stage] for stage in [[32], [64], [128, 128], [256, 256], [512] * 6, [1024, 1024]]]
    net = MobileNet(channels=channels, first_stage_stride=False, act_bit_width=4, weight_bit_width=4,
                    round_average_pool=False, last_layer_bit_width=4, avg_pool_kernel_size=1, num_classes=10)

    class Finn(torch.nn.Module):
        """Pixels 0..255 in, FINN's normalization, the MobileNet's logits or top-5 out."""

        def __init__(self):
            super().__init__()
            self.net = net
            self.register_buffer("mean", torch.tensor(MEAN).reshape(1, 3, 1, 1))
            self.topk = False

        def forward(self, x):
            logits = self.net((x / 255.0 - self.mean) / STD)
            return torch.topk(logits, 5)[1] if self.topk else logits

    return Finn()


def build_float(seed: int):
    """The same MobileNet in plain float32 PyTorch (no quantizers): the float baseline."""
    import torch
    from torch import nn

    torch.manual_seed(seed)

    def block(cin, cout, k, stride, groups=1):
        return [nn.Conv2d(cin, cout, k, stride, k // 2 if groups > 1 or k == 1 else 0, groups=groups, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU()]

    layers = block(3, 8, 3, 2)
    cin = 8
    for s, stage in enumerate([[16], [32, 32], [64, 64], [128] * 6, [256, 256]]):
        for u, cout in enumerate(stage):
            stride = 2 if u == 0 and s > 0 else 1
            layers += [nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin), nn.ReLU()]
            layers += block(cin, cout, 1, 1)
            cin = cout
    net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10))

    class Float(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net
            self.register_buffer("mean", torch.tensor(MEAN).reshape(1, 3, 1, 1))

        def forward(self, x):
            return self.net((x / 255.0 - self.mean) / STD)

    return Float()


def export_float_onnx(model, path: str) -> None:
    """The float model as a plain ONNX graph on pixels 0..255: every BatchNorm folded into its
    conv, the normalization ``(x / 255 - mean) / STD`` folded into the first conv (exact: it
    has no padding), so the graph is Conv/Relu/GlobalAveragePool/Flatten/Gemm only."""
    import torch
    from torch import nn
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model.eval()
    mods = list(model.net)
    fused = []
    i = 0
    while i < len(mods):
        if isinstance(mods[i], nn.Conv2d) and isinstance(mods[i + 1], nn.BatchNorm2d):
            fused.append(fuse_conv_bn_eval(mods[i], mods[i + 1]))
            i += 2
        else:
            fused.append(mods[i])
            i += 1
    first = fused[0]
    assert first.padding == (0, 0), "the normalization folds exactly only into an unpadded conv"
    with torch.no_grad():
        w = first.weight.clone()
        first.weight.copy_(w / (255.0 * STD))
        first.bias.sub_((w * model.mean.reshape(1, 3, 1, 1) / STD).sum(dim=(1, 2, 3)))
    net = nn.Sequential(*fused).eval()
    torch.onnx.export(net, torch.zeros(1, 3, SIZE, SIZE), path, input_names=["input"], output_names=["logits"],
                      dynamo=False, opset_version=17)
    _one_small_file(path)


def to_tensor(images):
    import torch

    x = torch.from_numpy(images.astype(np.float32))[:, None]
    return x.expand(-1, 3, -1, -1).contiguous()


def _one_small_file(path: str) -> None:
    """Rewrite the export as one file (torch's exporter puts the weights beside it) without
    its doc strings and metadata (source lines of the exporter: most of its size)."""
    import onnx

    model = onnx.load(path)
    for node in model.graph.node:
        node.doc_string = ""
        del node.metadata_props[:]
    del model.metadata_props[:]
    model.graph.doc_string = ""
    if os.path.exists(path + ".data"):
        os.remove(path + ".data")
    onnx.save(model, path, save_as_external_data=False)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared machine)")
    p.add_argument("--out", default=HERE)
    p.add_argument("--float", action="store_true", help="train the unquantized float32 baseline instead (writes float.json only)")
    p.add_argument("--float-onnx", metavar="PATH", help="with --float: also export it as a plain float32 ONNX (for int8.py)")
    args = p.parse_args(argv)

    import torch
    from brevitas.export import export_qonnx
    from sklearn.model_selection import train_test_split

    torch.set_num_threads(args.threads)
    images, labels = dataset()
    idx = np.arange(len(labels))
    train_idx, test_idx = train_test_split(idx, test_size=HELDOUT, random_state=args.seed, stratify=labels)
    test_idx = np.sort(test_idx)
    xtr, ytr = to_tensor(images[train_idx]), torch.from_numpy(labels[train_idx])
    xte, yte = to_tensor(images[test_idx]), torch.from_numpy(labels[test_idx])

    model = build_float(args.seed) if args.float else build(args.seed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * ((len(xtr) + args.batch - 1) // args.batch)
    # No warm-up: the activation quantizers set their scales from the first batches' statistics.
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(args.seed)
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for i in range(0, len(xtr), args.batch):
            b = order[i : i + args.batch]
            x = xtr[b]
            # Shifts of up to 1 pixel: the digits are centered, the held-out ones too, but
            # shifts keep the small network from memorizing pixel positions.
            dx, dy = torch.randint(-1, 2, (2,), generator=gen).tolist()
            x = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            loss = torch.nn.functional.cross_entropy(model(x), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(b)
        model.eval()
        with torch.no_grad():
            acc = float((model(xte).argmax(1) == yte).float().mean())
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total / len(xtr):.3f}, held-out top-1 {acc:.1%} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)

    model.eval()
    with torch.no_grad():
        logits = model(xte)
    top1 = float((logits.argmax(1) == yte).float().mean())
    top5 = float((torch.topk(logits, 5)[1] == yte[:, None]).any(1).float().mean())
    if args.float:
        figures = {"epochs": args.epochs, "seed": args.seed, "float_top1": top1, "float_top5": top5,
                   "seconds": round(time.perf_counter() - t0, 1), "torch": torch.__version__}
        with open(os.path.join(args.out, "float.json"), "w") as f:
            json.dump(figures, f, indent=2)
        print(f"float32 baseline: held-out top-1 {top1:.2%}, top-5 {top5:.2%}")
        if args.float_onnx:
            export_float_onnx(model, args.float_onnx)
            print(f"wrote {args.float_onnx}")
        return 0
    model.topk = True
    onnx_path = os.path.join(args.out, "digits.onnx")
    export_qonnx(model, torch.zeros(1, 3, SIZE, SIZE), export_path=onnx_path)
    _one_small_file(onnx_path)
    np.savez_compressed(os.path.join(args.out, "heldout.npz"), images=images[test_idx], labels=labels[test_idx],
                        classes=np.array([str(c) for c in range(10)]))
    summary = {"epochs": args.epochs, "batch": args.batch, "lr": args.lr, "seed": args.seed,
               "train_images": int(len(train_idx)), "heldout_images": int(len(test_idx)),
               "torch_top1": top1, "torch_top5": top5, "seconds": round(time.perf_counter() - t0, 1),
               "torch": torch.__version__}
    with open(os.path.join(args.out, "train.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"PyTorch (Brevitas fake-quant, float32) held-out top-1 {top1:.2%}, top-5 {top5:.2%}; wrote {onnx_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
