"""Seconds per probe/donor pair of DMAC (``predict_pair``), beside the paper's figure.

Liu et al. (IEEE TIFS 2019) report 0.0288 s per 256 x 256 pair on a TITAN X GPU. This script
times the whole pair inference (resize, forward, softmax, upsampling to the input sizes,
pair score) with an untrained network: weights do not change the arithmetic, so the timing
holds for trained weights too.

Cases: 256 x 256 pairs; 1024 x 768 pairs analysed whole at 256 x 256; 1024 x 768 pairs with
the sliding windows over the probe (15 windows plus the whole-image pass).

Usage::

    python benchmarks/pair_speed.py [--repeats 3] [--device cpu] [--threads N] [--no-sliding]
        [--models dmac-vgg16,dmac-effnet-lite0]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from tamperscope.api import load_model
from tamperscope.inference.pairs import predict_pair, probe_windows

PAPER_SECONDS = 0.0288  # per 256 x 256 pair, TITAN X GPU (Liu et al., TIFS 2019)


def _time_pair(model, probe, donor, device, repeats: int, **kwargs) -> float:
    predict_pair(model, probe, donor, device=device, **kwargs)  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        predict_pair(model, probe, donor, device=device, **kwargs)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-sliding", action="store_true", help="skip the sliding-window case")
    parser.add_argument(
        "--models",
        default="dmac-vgg16,dmac-effnet-lite0",
        help="comma-separated registered pair models",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    for name in args.models.split(","):
        _bench_model(name.strip(), device, args.repeats, sliding=not args.no_sliding)


def _bench_model(name: str, device: torch.device, repeats: int, sliding: bool) -> None:
    torch.manual_seed(0)
    model = load_model(name, weights=None, device=device).model
    rng = np.random.default_rng(0)
    small = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(2)]
    large = [rng.integers(0, 256, (768, 1024, 3), dtype=np.uint8) for _ in range(2)]
    windows = len(probe_windows(768, 1024, 256)[1])

    cases = [
        ("256x256 pair", small, {"sliding": False}),
        ("1024x768 pair, whole at 256", large, {"sliding": False}),
    ]
    if sliding:
        cases.append((f"1024x768 pair, {windows} windows + whole", large, {"sliding": True}))
    print(f"DMAC ({name}, untrained weights) on {device}, threads={torch.get_num_threads()}")
    print(f"median of {repeats} runs after one warm-up; paper: {PAPER_SECONDS} s/pair GPU")
    print(f"{'case':<40}{'s/pair':>10}{'x paper':>10}")
    for label, (probe, donor), kwargs in cases:
        seconds = _time_pair(model, probe, donor, device, repeats, size=256, **kwargs)
        print(f"{label:<40}{seconds:>10.4f}{seconds / PAPER_SECONDS:>10.1f}")


if __name__ == "__main__":
    main()
