"""Time convcore's max and average pooling against PyTorch (when installed) in the same run.

Usage: python benchmarks/bench_pool.py [--threads N] [--repeat R]

Cases are float32, NCHW. The figure of merit is convcore's median time over PyTorch's median time
(lower is better; the compiled-core issue asks for at most 0.5 on the 2x2/stride-2 max pool).
"""
import argparse

import numpy as np

import convcore
from _timing import median_times
from convcore.functional import avg_pool2d, max_pool2d, max_pool2d_backward

CASES = [  # name, input shape, kernel, stride, padding
    ("max 2x2/2", (32, 64, 56, 56), 2, 2, 0),
    ("max 3x3/2 pad 1", (32, 64, 56, 56), 3, 2, 1),
    ("avg 2x2/2", (32, 64, 56, 56), 2, 2, 0),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=convcore.get_num_threads())
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    convcore.set_num_threads(args.threads)
    try:
        import torch
        import torch.nn.functional as F
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    print(f"threads={args.threads}  repeat={args.repeat}  (median ms; ratio = convcore / torch)")
    print(f"{'case':<18}{'pass':<10}{'convcore':>10}{'torch':>10}{'ratio':>8}")
    for name, shape, k, s, p in CASES:
        x = rng.standard_normal(shape, dtype=np.float32)
        kind = name.split()[0]
        if kind == "max":
            y, idx = max_pool2d(x, k, s, p, return_indices=True)
            ours = {"forward": lambda: max_pool2d(x, k, s, p),
                    "fwd+bwd": lambda: max_pool2d_backward(
                        y, max_pool2d(x, k, s, p, return_indices=True)[1], x.shape)}
        else:
            ours = {"forward": lambda: avg_pool2d(x, k, s, p)}
        theirs = {}
        if torch is not None:
            tx = torch.from_numpy(x)
            tf = getattr(F, f"{kind}_pool2d")
            theirs["forward"] = lambda: tf(tx, k, s, p)

            tg = torch.from_numpy(x).requires_grad_(True)

            def torch_fwd_bwd():
                tg.grad = None
                out = tf(tg, k, s, p)
                out.backward(out.detach())
            theirs["fwd+bwd"] = torch_fwd_bwd
        for pass_, fn in ours.items():
            if pass_ in theirs:
                t_ours, t_theirs = (t * 1e3 for t in median_times([fn, theirs[pass_]], args.repeat))
                print(f"{name:<18}{pass_:<10}{t_ours:>10.2f}{t_theirs:>10.2f}{t_ours / t_theirs:>8.2f}")
            else:
                t_ours = median_times([fn], args.repeat)[0] * 1e3
                print(f"{name:<18}{pass_:<10}{t_ours:>10.2f}{'-':>10}{'-':>8}")


if __name__ == "__main__":
    main()
