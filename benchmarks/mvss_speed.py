"""Speed of the MVSS models on the CPU: forward and forward + backward.

Prints the median seconds over repeats of a forward pass (eval mode, no gradient) and of a
training forward + backward (train mode, the recipe's loss terms stood in for by the sum of
the logits' squares) for batches of random images.

    python benchmarks/mvss_speed.py [--model mvss-effnet-lite0] [--threads 2] [--repeats 3]
        [--set edge_branch=true]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import yaml

from tamperscope.registry import create_model

CASES = (("forward", 8, 256), ("forward+backward", 8, 256), ("forward", 1, 512))


def _time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="mvss-effnet-lite0")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], help="constructor kwarg=value")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kwargs = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    model = create_model(args.model, **kwargs)
    print(f"{args.model} {kwargs or ''}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M")
    for kind, batch, side in CASES:
        image = torch.rand(batch, 3, side, side)
        if kind == "forward":
            model.eval()

            def run(image: torch.Tensor = image) -> None:
                with torch.no_grad():
                    model(image)

        else:
            model.train()

            def run(image: torch.Tensor = image) -> None:
                out = model(image)
                loss = out.mask_logits.square().mean() + out.score_logit.square().mean()
                if out.edge_logits is not None:
                    loss = loss + out.edge_logits.square().mean()
                model.zero_grad(set_to_none=True)
                loss.backward()

        seconds = _time(run, args.repeats)
        print(f"  {kind:17s} batch {batch} {side}x{side}: {seconds:.2f} s (median)")


if __name__ == "__main__":
    main()
