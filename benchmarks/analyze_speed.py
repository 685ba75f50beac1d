"""Speed and memory of ``tamperscope.analyze`` on the CPU.

Prints, for each model, the median seconds per image over repeats and the peak resident memory
(RSS) of a fresh process that analyses a 512x512 image and a 12-megapixel (4000x3000) photo,
and the training throughput (images/s) of the trainable models. Each measurement runs in its
own process so that peak RSS belongs to it alone. ``default`` stands for what a plain
``tamperscope analyze`` runs: every detector of ``DEFAULT_DETECTORS`` on the same image.
Localization models (``mvss-*``, ``noise-residual``) run as ``analyze`` runs them: at native
resolution, in overlapping tiles of their ``analysis_tile`` (``--tile`` overrides; 0 resizes).

    python benchmarks/analyze_speed.py [--models default keypoint-doagan mvss-effnet-lite0
        keypoint-cmfd doagan-effnet-lite0 noise-residual]
        [--repeats 5] [--threads 2] [--tile N] [--no-train]

Models that ship no weights are timed with untrained weights (the cost does not depend on the
weight values). Targets on a 2-core CPU: under 1 s for a 512x512 image for each shipped model;
memory bounded on 12-megapixel photos (one tile at a time for the localizers).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

SIZES = {"512x512": (512, 512), "4000x3000": (3000, 4000)}


def _photo(height: int, width: int):
    """A real photo (scikit-image's astronaut) resized to the size, with a copied patch."""
    import cv2
    import skimage.data

    img = cv2.resize(skimage.data.astronaut(), (width, height), interpolation=cv2.INTER_CUBIC)
    h, w = height // 6, width // 6
    img[height // 2 : height // 2 + h, width // 2 : width // 2 + w] = img[h : 2 * h, w : 2 * w]
    return img


def _load(model: str, tile: int | None):
    import tamperscope
    from tamperscope.weights import default_weights

    weights = "default" if default_weights(model) or model == "keypoint-cmfd" else None
    detector = tamperscope.load_model(model, weights=weights, device="cpu")
    if tile is not None and detector.task.value == "localization":
        detector.tile = tile or None
    return detector, "shipped" if weights == "default" else "untrained"


def run_one(model: str, size: str, repeats: int, threads: int, tile: int | None = None) -> dict:
    import torch

    import tamperscope
    from tamperscope.api import DEFAULT_DETECTORS

    torch.set_num_threads(threads)
    names = DEFAULT_DETECTORS if model == "default" else (model,)
    loaded = [_load(name, tile) for name in names]
    detectors = [d for d, _ in loaded]
    image = _photo(*SIZES[size])
    tamperscope.analyze(image, detectors=detectors)  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        tamperscope.analyze(image, detectors=detectors)
        times.append(time.perf_counter() - t)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "model": model,
        "size": size,
        "weights": "+".join(sorted({w for _, w in loaded})),
        "median_s": statistics.median(times),
        "peak_rss_mb": rss_mb,
    }


def run_train(model: str, steps: int, threads: int, size: int = 256, batch: int = 8) -> dict:
    import torch

    from tamperscope.registry import create_model

    torch.set_num_threads(threads)
    net = create_model(model).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = torch.rand(batch, 3, size, size)
    classes = net.num_classes
    y = torch.randint(0, max(classes, 2), (batch, size, size))
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        out = net(x)
        if classes == 1:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                out.mask_logits[:, 0], y.float()
            )
        else:
            loss = torch.nn.functional.cross_entropy(out.mask_logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:  # the first step is warm-up
            times.append(time.perf_counter() - t)
    return {
        "model": model,
        "train_images_per_s": batch / statistics.median(times),
        "size": size,
        "batch": batch,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models",
        nargs="+",
        default=[
            "default",
            "keypoint-doagan",
            "mvss-effnet-lite0",
            "keypoint-cmfd",
            "doagan-effnet-lite0",
            "noise-residual",
        ],
    )
    parser.add_argument("--tile", type=int, default=None, help="localizers' tile side, 0: resize")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-train", action="store_true")
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--train-one", metavar="MODEL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args.repeats, args.threads, args.tile)))
        return
    if args.train_one:
        print(json.dumps(run_train(args.train_one, 3, args.threads)))
        return

    print(f"{'model':<22}{'image':<12}{'weights':<11}{'median s/img':>13}{'peak RSS MB':>13}")
    base = [
        sys.executable,
        __file__,
        "--repeats",
        str(args.repeats),
        "--threads",
        str(args.threads),
        *([] if args.tile is None else ["--tile", str(args.tile)]),
    ]
    for model in args.models:
        for size in SIZES:
            res = subprocess.run([*base, "--one", model, size], capture_output=True, text=True)
            if res.returncode:
                print(f"{model:<22}{size:<12}failed: {res.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            print(
                f"{model:<22}{size:<12}{r['weights']:<11}{r['median_s']:>13.3f}{r['peak_rss_mb']:>13.0f}"
            )
    if not args.no_train:
        print(f"\n{'model':<22}{'training images/s (batch 8, 256x256, CPU)':>44}")
        for model in args.models:
            if model.startswith("keypoint") or model in ("default", "noise-residual"):
                continue  # nothing to train, or only its DOA-GAN part (timed on its own)
            res = subprocess.run([*base, "--train-one", model], capture_output=True, text=True)
            if res.returncode:
                print(f"{model:<22}failed: {res.stderr.strip().splitlines()[-1]}")
                continue
            r = json.loads(res.stdout.strip().splitlines()[-1])
            print(f"{model:<22}{r['train_images_per_s']:>44.2f}")


if __name__ == "__main__":
    main()
