"""Time convcore's conv2d forward and forward+backward against PyTorch, each in its own process.

Usage: python benchmarks/bench_conv.py [--threads N] [--repeat R] [--rounds K]
                                       [--dtype float32|float64] [--shapes 0,4] [--settle S]

Shapes (N, C_in, H=W, k, C_out[, stride]) are those of the compiled-core issue, padding k // 2,
stride 1, and the first layers of issue 16 (one channel 5x5; ResNet's stem, 3 channels 7x7
stride 2 on 224x224). Prints GFLOP/s (2 * N * C_out * H_out * W_out * C_in * k * k per forward,
three times that for
forward + backward) and convcore's throughput over PyTorch's (higher is better; the target is at
least 1.0 forward). Both libraries run on the same number of threads, each in a worker process
of its own, taking turns (see _timing.py), each turn after a pause of --settle seconds.
"""
import argparse

import numpy as np

from _timing import Workers, add_settle_argument, add_worker_arguments, header, serve

SHAPES = [(32, 3, 32, 5, 32), (16, 64, 32, 3, 64), (8, 64, 56, 3, 64), (8, 128, 28, 3, 128),
          (64, 1, 28, 5, 32), (8, 3, 224, 7, 64, 2)]
PASSES = ("forward", "fwd+bwd")


def out_size(shape):
    """H_out = W_out of a shape (padding k // 2)."""
    n, c_in, h, k, c_out, stride = shape + (1,) * (6 - len(shape))
    return (h + 2 * (k // 2) - k) // stride + 1


def data(shape, dtype):
    n, c_in, h, k, c_out, stride = shape + (1,) * (6 - len(shape))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c_in, h, h)).astype(dtype)
    w = rng.standard_normal((c_out, c_in, k, k)).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype)
    gy = np.ones((n, c_out, out_size(shape), out_size(shape)), dtype)
    return x, w, b, gy, k // 2, stride


def build(library, threads, shapes, dtype):
    """{case: function} for one library (imports only that library)."""
    cases = {}
    if library == "convcore":
        import convcore
        from convcore.functional import conv2d, conv2d_backward

        convcore.set_num_threads(threads)
        for i, shape in enumerate(shapes):
            x, w, b, gy, pad, s = data(shape, dtype)
            cases[f"{i} forward"] = lambda x=x, w=w, b=b, pad=pad, s=s: conv2d(
                x, w, b, stride=s, padding=pad)
            cases[f"{i} fwd+bwd"] = lambda x=x, w=w, b=b, gy=gy, pad=pad, s=s: (
                conv2d(x, w, b, stride=s, padding=pad),
                conv2d_backward(gy, x, w, stride=s, padding=pad))
    elif library == "torch":
        import torch

        torch.set_num_threads(threads)
        F = torch.nn.functional
        for i, shape in enumerate(shapes):
            x, w, b, gy, pad, s = (torch.from_numpy(a) if isinstance(a, np.ndarray) else a
                                   for a in data(shape, dtype))
            cases[f"{i} forward"] = lambda x=x, w=w, b=b, pad=pad, s=s: F.conv2d(
                x, w, b, stride=s, padding=pad)
            gx, gw, gb = (t.clone().requires_grad_(True) for t in (x, w, b))

            def fwd_bwd(gx=gx, gw=gw, gb=gb, gy=gy, pad=pad, s=s):
                for t in (gx, gw, gb):
                    t.grad = None
                F.conv2d(gx, gw, gb, stride=s, padding=pad).backward(gy)
            cases[f"{i} fwd+bwd"] = fwd_bwd
    return cases


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per turn")
    parser.add_argument("--rounds", type=int, default=5, help="turns per library")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--shapes", default=None,
                        help="comma-separated indices into SHAPES (default: all)")
    add_settle_argument(parser)
    add_worker_arguments(parser)
    args = parser.parse_args(argv)
    shapes = SHAPES if args.shapes is None else [SHAPES[int(i)] for i in args.shapes.split(",")]
    if args.worker:
        return serve(lambda lib, t: build(lib, t, shapes, args.dtype), args.worker, args.threads)
    forwarded = ["--threads", str(args.threads), "--dtype", args.dtype]
    if args.shapes is not None:
        forwarded += ["--shapes", args.shapes]
    print(f"conv2d, {args.dtype}, median of {args.rounds} rounds x {args.repeat} runs "
          f"(ratio = convcore GFLOP/s / torch GFLOP/s, higher is better)")
    print(header(args.threads))
    print(f"{'N, C_in, H, k, C_out, s':<26}{'pass':<9}{'convcore':>10}{'torch':>10}{'ratio':>8}")
    with Workers(__file__, ["convcore", "torch"], forwarded) as workers:
        cases = [f"{i} {p}" for i in range(len(shapes)) for p in PASSES]
        medians = workers.time(cases, args.repeat, args.rounds, args.settle)
    for i, shape in enumerate(shapes):
        n, c_in, h, k, c_out = shape[:5]
        flops = 2.0 * n * c_out * out_size(shape) ** 2 * c_in * k * k
        for p, work in zip(PASSES, (flops, 3 * flops)):
            rate = {lib: work / t / 1e9 for lib, t in medians[f"{i} {p}"].items()}
            mine, peer = rate.get("convcore"), rate.get("torch")
            ratio = f"{mine / peer:>8.2f}" if mine and peer else f"{'-':>8}"
            name = ", ".join(map(str, shape))
            print(f"{name:<26}{p:<9}"
                  + "".join(f"{v:>10.1f}" if v else f"{'-':>10}" for v in (mine, peer)) + ratio)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
