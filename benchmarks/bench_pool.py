"""Time convcore's max and average pooling against PyTorch, each in its own process.

Usage: python benchmarks/bench_pool.py [--threads N] [--repeat R] [--rounds K]

Cases are float32, NCHW. The figure of merit is convcore's median time over PyTorch's median time
(lower is better; the compiled-core issue asks for at most 0.5 on the 2x2/stride-2 max pool).
Each library runs in a worker process of its own, the two taking turns (see _timing.py).
"""
import argparse

import numpy as np

from _timing import Workers, add_worker_arguments, header, serve

CASES = [  # name, input shape, kernel, stride, padding
    ("max 2x2/2", (32, 64, 56, 56), 2, 2, 0),
    ("max 3x3/2 pad 1", (32, 64, 56, 56), 3, 2, 1),
    ("avg 2x2/2", (32, 64, 56, 56), 2, 2, 0),
]


def build(library, threads):
    """{case: function} for one library (imports only that library)."""
    cases = {}
    if library == "convcore":
        import convcore
        from convcore.functional import avg_pool2d, max_pool2d, max_pool2d_backward

        convcore.set_num_threads(threads)
        for name, shape, k, s, p in CASES:
            x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
            if name.startswith("max"):
                cases[f"{name}|forward"] = lambda x=x, k=k, s=s, p=p: max_pool2d(x, k, s, p)

                def fwd_bwd(x=x, k=k, s=s, p=p):
                    y, idx = max_pool2d(x, k, s, p, return_indices=True)
                    return max_pool2d_backward(y, idx, x.shape)
                cases[f"{name}|fwd+bwd"] = fwd_bwd
            else:
                cases[f"{name}|forward"] = lambda x=x, k=k, s=s, p=p: avg_pool2d(x, k, s, p)
    elif library == "torch":
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(threads)
        for name, shape, k, s, p in CASES:
            x = torch.from_numpy(np.random.default_rng(0).standard_normal(shape, dtype=np.float32))
            pool = getattr(F, f"{name.split()[0]}_pool2d")
            cases[f"{name}|forward"] = lambda x=x, k=k, s=s, p=p, pool=pool: pool(x, k, s, p)
            g = x.clone().requires_grad_(True)

            def fwd_bwd(g=g, k=k, s=s, p=p, pool=pool):
                g.grad = None
                out = pool(g, k, s, p)
                out.backward(out.detach())
            cases[f"{name}|fwd+bwd"] = fwd_bwd
    return cases


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per turn")
    parser.add_argument("--rounds", type=int, default=5, help="turns per library")
    add_worker_arguments(parser)
    args = parser.parse_args(argv)
    if args.worker:
        return serve(build, args.worker, args.threads)
    print(f"pooling, float32, median of {args.rounds} rounds x {args.repeat} runs "
          f"(ms; ratio = convcore / torch, lower is better)")
    print(header(args.threads))
    print(f"{'case':<18}{'pass':<10}{'convcore':>10}{'torch':>10}{'ratio':>8}")
    with Workers(__file__, ["convcore", "torch"], ["--threads", str(args.threads)]) as workers:
        names = [f"{c[0]}|{p}" for c in CASES for p in ("forward", "fwd+bwd")]
        medians = workers.time(names, args.repeat, args.rounds)
    for case, times in medians.items():
        mine, peer = times.get("convcore"), times.get("torch")
        if mine is None:  # convcore has no such pass (average pooling's backward is not timed)
            continue
        name, pass_ = case.split("|")
        cells = "".join(f"{v * 1e3:>10.2f}" if v else f"{'-':>10}" for v in (mine, peer))
        print(f"{name:<18}{pass_:<10}{cells}" + (f"{mine / peer:>8.2f}" if peer else f"{'-':>8}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
