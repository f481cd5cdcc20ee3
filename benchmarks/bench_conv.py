"""Time convcore's conv2d forward and forward+backward against PyTorch in the same run.

Usage: python benchmarks/bench_conv.py [--threads N] [--repeat R] [--dtype float32|float64]
                                       [--shapes 0,4]

Shapes (N, C_in, H=W, k, C_out) are those of the compiled-core issue, padding k // 2, stride 1.
Prints GFLOP/s (2 * N * C_out * H_out * W_out * C_in * k * k per forward, three times that for
forward + backward) and convcore's throughput over PyTorch's (higher is better; the issue asks for
at least 0.8 forward and 0.7 forward + backward). Both libraries run on the same number of threads.
"""
import argparse
import os

import numpy as np

import convcore
from _timing import median_times
from convcore.functional import conv2d, conv2d_backward

SHAPES = [(32, 3, 32, 5, 32), (16, 64, 32, 3, 64), (8, 64, 56, 3, 64), (8, 128, 28, 3, 128),
          (64, 1, 28, 5, 32)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=convcore.get_num_threads())
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--shapes", default=None,
                        help="comma-separated indices into SHAPES (default: all)")
    args = parser.parse_args(argv)
    shapes = SHAPES if args.shapes is None else [SHAPES[int(i)] for i in args.shapes.split(",")]
    convcore.set_num_threads(args.threads)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    print(f"conv2d, {args.dtype}, threads={args.threads}, median of {args.repeat} interleaved runs "
          f"(ratio = convcore GFLOP/s / torch GFLOP/s)")
    if hasattr(os, "getloadavg"):  # the machine may be shared: say how busy it was
        print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'N, C_in, H, k, C_out':<24}{'pass':<9}{'convcore':>10}{'torch':>10}{'ratio':>8}")
    for n, c_in, h, k, c_out in shapes:
        x = rng.standard_normal((n, c_in, h, h)).astype(args.dtype)
        w = rng.standard_normal((c_out, c_in, k, k)).astype(args.dtype)
        b = rng.standard_normal(c_out).astype(args.dtype)
        pad = k // 2
        gy = np.ones(conv2d(x, w, b, padding=pad).shape, dtype=args.dtype)
        flops = 2.0 * gy.size * c_in * k * k
        ours = {"forward": (lambda: conv2d(x, w, b, padding=pad), flops),
                "fwd+bwd": (lambda: (conv2d(x, w, b, padding=pad),
                                     conv2d_backward(gy, x, w, padding=pad)), 3 * flops)}
        theirs = {}
        if torch is not None:
            tx = torch.from_numpy(x)
            tw, tb = torch.from_numpy(w), torch.from_numpy(b)
            theirs["forward"] = lambda: torch.nn.functional.conv2d(tx, tw, tb, padding=pad)
            gx, gw, gb = (t.clone().requires_grad_(True) for t in (tx, tw, tb))
            tgy = torch.from_numpy(gy)

            def torch_fwd_bwd():
                for t in (gx, gw, gb):
                    t.grad = None
                torch.nn.functional.conv2d(gx, gw, gb, padding=pad).backward(tgy)
            theirs["fwd+bwd"] = torch_fwd_bwd
        label = f"{n}, {c_in}, {h}, {k}, {c_out}"
        for name, (fn, work) in ours.items():
            if name in theirs:
                mine, peer = (work / t / 1e9 for t in median_times([fn, theirs[name]], args.repeat))
                print(f"{label:<24}{name:<9}{mine:>10.1f}{peer:>10.1f}{mine / peer:>8.2f}")
            else:
                mine = work / median_times([fn], args.repeat)[0] / 1e9
                print(f"{label:<24}{name:<9}{mine:>10.1f}{'-':>10}{'-':>8}")


if __name__ == "__main__":
    main()
