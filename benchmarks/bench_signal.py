"""convcore.signal against scipy.signal and OpenCV (when installed), each in its own process.

Main table: a 1024x1024 image convolved with a dense random kernel of size 3, 5, 11, 31 and 101,
float32 and float64, ``mode='same'``:

- ``convcore``  ``convcore.signal.convolve2d`` (direct, separable or FFT as its cost model picks)
- ``convolve2d`` ``scipy.signal.convolve2d`` (SciPy's direct method; the drop-in target)
- ``fftconvolve`` ``scipy.signal.fftconvolve``
- ``filter2D``  ``cv2.filter2D`` with a constant border, when ``opencv-python-headless`` is installed

Ratios are peer time / convcore time (above 1: convcore is faster), every time the median of 7
rounds of ``--calls`` calls (3 by default, all of a row's calls pooled) after 3 warm-up rounds, the
functions of one row taking turns within each round (SciPy's ``convolve2d`` one call of one round
for kernels above 31x31: it takes seconds), each turn after a pause of ``--settle`` seconds
(OpenCV's pthreads pool keeps a core busy for about 40 ms after each call). The first call after
that pause runs cold for every library alike (see ``_timing.add_calls_argument``). Then a
separable Gaussian, a 1-D and a 3-D case of ``convolve``, and a plot (``bench_signal.png``) when
matplotlib is installed.

    python benchmarks/bench_signal.py              # the full table (several minutes: SciPy's
                                                   # direct 101x101 takes long)
    python benchmarks/bench_signal.py --quick      # sizes 3, 5, 11 and the extra cases
    python benchmarks/bench_signal.py --calibrate  # constants of convcore/signal/_method.py
    python benchmarks/bench_signal.py --disable-cpu-features AVX512F   # convcore's AVX2 path
                                                   # (set in the convcore worker only)
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import scipy.signal as ss

from _timing import (Workers, add_calls_argument, add_disable_argument, add_settle_argument,
                     add_worker_arguments, header, serve)

SEED = 0
IMAGE = (1024, 1024)
KERNELS = (3, 5, 11, 31, 101)
DTYPES = (np.float32, np.float64)


def timeit(funcs, repeats=7, budget=2.0, warmup=3):
    """Median seconds of each function in `funcs` (a dict), measured interleaved: every round
    calls each function once, so a slow spell of the shared machine hits all of them alike.

    `warmup` rounds come first (the allocator and thread pools settle); a function whose first
    call takes more than `budget` seconds is timed by that single call.
    """
    times = {name: [] for name in funcs}
    slow = {}
    for name, func in funcs.items():
        start = time.perf_counter()
        func()
        first = time.perf_counter() - start
        if first > budget:
            slow[name] = first
    fast = {name: func for name, func in funcs.items() if name not in slow}
    for _ in range(warmup - 1):
        for func in fast.values():
            func()
    for _ in range(repeats):
        for name, func in fast.items():
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    result = {name: statistics.median(t) for name, t in times.items() if t}
    result.update(slow)
    return result


def peers():
    """name -> function(image, kernel) computing the same 'same'-mode convolution (SciPy's, and
    OpenCV's when installed; in the caller's process)."""
    funcs = {
        "convolve2d": lambda x, k: ss.convolve2d(x, k, mode="same"),
        "fftconvolve": lambda x, k: ss.fftconvolve(x, k, mode="same"),
    }
    try:
        import cv2
    except ImportError:
        return funcs

    def filter2d(x, k):
        # filter2D correlates: flip the kernel; SciPy's 'same' reads x[i - K//2 + k] for tap k of
        # the flipped kernel, which is filter2D's anchor K//2 (x, y order)
        flipped = np.ascontiguousarray(k[::-1, ::-1])
        anchor = (k.shape[1] // 2, k.shape[0] // 2)
        return cv2.filter2D(x, -1, flipped, anchor=anchor, borderType=cv2.BORDER_CONSTANT)

    funcs["filter2D"] = filter2d
    return funcs


LIBRARIES = ("convcore", "convolve2d", "fftconvolve", "filter2D")  # one worker process each


def build(library, threads, sizes, extra=False):
    """{"dtype|size": function} of one worker: convcore or a peer of peers() (imports only the
    library it needs)."""
    if library == "convcore":
        import convcore
        from convcore import signal as cs

        convcore.set_num_threads(threads)
        func = lambda x, k: cs.convolve2d(x, k, mode="same")  # noqa: E731
    else:
        if library == "filter2D":
            import cv2

            cv2.setNumThreads(threads)
        func = peers()[library]
    rng = np.random.default_rng(SEED)
    cases = {}
    if extra and library in ("convcore", "convolve2d"):  # SciPy's side runs in the second
        module, data = (cs if library == "convcore" else ss), extra_data()
        for name, ours, theirs, _ in EXTRA:
            call = ours if library == "convcore" else theirs
            cases[f"extra|{name}"] = lambda call=call: call(module, data)
    for dtype in DTYPES:
        image = rng.standard_normal(IMAGE).astype(dtype)
        for size in KERNELS:  # drawn for every size, so each size's kernel is the same in all
            kernel = rng.standard_normal((size, size)).astype(dtype)
            if size in sizes:
                cases[f"{np.dtype(dtype).name}|{size}"] = (
                    lambda image=image, kernel=kernel: func(image, kernel))
    return cases


def main_table(workers, sizes, rows, rounds, settle=0.0, calls=1):
    names = [n for n in LIBRARIES[1:] if n in workers.procs]
    head = f"{'dtype':8} {'kernel':>7} {'convcore ms':>12}" + "".join(
        f" {n + ' ms':>15} {'x':>7}" for n in names)
    print(head)
    print("-" * len(head))
    for dtype in DTYPES:
        for size in sizes:
            case = f"{np.dtype(dtype).name}|{size}"
            # SciPy's direct method on a large kernel takes seconds: one run of it, the others
            # timed as for the smaller kernels
            slow = ["convolve2d"] if size > 31 else []
            fast = [n for n in workers.procs if n not in slow]
            t = workers.time([case], calls, rounds, settle, fast)[case]
            if slow:
                t.update(workers.time([case], 1, 1, settle, slow)[case])
            ours = t["convcore"]
            line = f"{np.dtype(dtype).name:8} {size:>3}x{size:<3} {ours * 1e3:12.2f}"
            row = {"dtype": np.dtype(dtype).name, "size": size, "convcore": ours}
            for name in names:
                row[name] = t[name]
                line += f" {t[name] * 1e3:15.2f} {t[name] / ours:7.1f}"
            rows.append(row)
            print(line, flush=True)


EXTRA = [  # name, convcore's call, SciPy's call (a: the data of extra_data), SciPy's function
    ("2-D 1024^2 f32, Gaussian 31x31 (separable)", lambda m, a: m.convolve2d(a["img32"], a["g31"], "same"),
     lambda m, a: m.fftconvolve(a["img32"], a["g31"], "same"), "fftconvolve"),
    ("2-D 1024^2 f32, Gaussian 101x101 (separable)",
     lambda m, a: m.convolve2d(a["img32"], a["g101"], "same"),
     lambda m, a: m.fftconvolve(a["img32"], a["g101"], "same"), "fftconvolve"),
    ("1-D 1e6 f64 x 64 taps, convolve", lambda m, a: m.convolve(a["sig"], a["taps"], "same"),
     lambda m, a: m.convolve(a["sig"], a["taps"], "same"), "convolve"),
    ("1-D 1e6 int16 x 9 taps, convolve (exact)",
     lambda m, a: m.convolve(a["sig16"], a["taps16"], "same"),
     lambda m, a: m.convolve(a["sig16"], a["taps16"], "same"), "convolve"),
    ("3-D 128^3 f32 x 5^3, convolve", lambda m, a: m.convolve(a["vol"], a["k5x3"], "same"),
     lambda m, a: m.convolve(a["vol"], a["k5x3"], "same"), "convolve"),
    ("3-D 128^3 f32 x 3^3, convolve", lambda m, a: m.convolve(a["vol"], a["k3x3"], "same"),
     lambda m, a: m.convolve(a["vol"], a["k3x3"], "same"), "convolve"),
    ("2-D 1024^2 f64 5x5 stride 2, convolve2d",
     lambda m, a: m.convolve2d(a["img"], a["k5"], "same", stride=2),
     lambda m, a: m.convolve2d(a["img"], a["k5"], "same")[::2, ::2], "convolve2d[::2, ::2]"),
]


def extra_data():
    rng = np.random.default_rng(SEED + 1)
    g31 = np.exp(-0.5 * (np.arange(-15, 16) / 5.0) ** 2)
    g101 = np.exp(-0.5 * (np.arange(-50, 51) / 16.0) ** 2)
    a = {"g31": np.outer(g31, g31).astype(np.float32),
         "g101": np.outer(g101, g101).astype(np.float32),
         "img32": rng.standard_normal(IMAGE).astype(np.float32),
         "sig": rng.standard_normal(1_000_000), "taps": rng.standard_normal(64),
         "sig16": rng.integers(-100, 100, 1_000_000).astype(np.int16),
         "taps16": rng.integers(-5, 5, 9).astype(np.int16),
         "vol": rng.standard_normal((128, 128, 128)).astype(np.float32)}
    a["k5x3"] = rng.standard_normal((5, 5, 5)).astype(np.float32)
    a["k3x3"] = rng.standard_normal((3, 3, 3)).astype(np.float32)
    a["img"], a["k5"] = rng.standard_normal(IMAGE), rng.standard_normal((5, 5))
    return a


def extra_cases(workers, rounds, settle=0.0, calls=1):
    """SciPy's own functions on other shapes (the convcore and the convolve2d workers)."""
    print()
    print(f"{'case':44} {'convcore ms':>12} {'scipy ms':>10} {'x':>7}  scipy function")
    out = []
    for name, _, _, peer in EXTRA:
        t = workers.time([f"extra|{name}"], calls, rounds, settle)[f"extra|{name}"]
        a, b = t["convcore"], t["convolve2d"]
        out.append((name, a, b))
        print(f"{name:44} {a * 1e3:12.2f} {b * 1e3:10.2f} {b / a:7.1f}  {peer}", flush=True)
    return out


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, dtype in zip(axes, ("float32", "float64")):
        sel = [r for r in rows if r["dtype"] == dtype]
        sizes = [r["size"] for r in sel]
        for name in [k for k in sel[0] if k not in ("dtype", "size")]:
            ax.plot(sizes, [r[name] * 1e3 for r in sel], marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("kernel size (k x k), image 1024x1024, mode='same'")
        ax.set_title(dtype)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("milliseconds (median)")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot saved to {path}")


def calibrate():
    """Measure the cost-model constants of convcore/signal/_method.py on this machine."""
    import scipy.fft as sp_fft

    import convcore
    from convcore._cpu import load

    _direct = load("direct")  # the build the filters run

    convcore.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    print("direct kernel, seconds per multiply-add (1 thread):")
    for name, dtype in (("f4", np.float32), ("f8", np.float64), ("c8", np.complex64),
                        ("c16", np.complex128), ("int", np.int32)):
        x = (rng.standard_normal((512, 512)) * 10).astype(dtype)
        per = []
        for k in (5, 11):
            w = (rng.standard_normal((k, k)) * 10).astype(dtype)
            out = np.empty_like(x)
            t = timeit({"k": lambda: _direct.correlate(x, w, out, [-(k // 2)] * 2, [1, 1], 0, 0,
                                                        1)})["k"]
            per.append(t / (x.size * k * k))
        print(f"  {name:4} {statistics.mean(per):.3g}")
    print("real FFT, seconds per n log2 n of one transform (1 thread):")
    for name, dtype in (("f4", np.float32), ("f8", np.float64)):
        per = []
        for n in (512, 1125):
            x = rng.standard_normal((n, n)).astype(dtype)
            t = timeit({"f": lambda: sp_fft.irfftn(sp_fft.rfftn(x, workers=1), x.shape,
                                                   workers=1)})["f"]
            per.append(t / (2 * n * n * np.log2(n * n)))
        print(f"  {name:4} {statistics.mean(per):.3g}")
    print("tiled overlap-save FFT (_tiles.run_tiles), seconds per unit of _tiles.tile_shape's work "
          "(1 thread, 1024x1024 'same', 31x31 kernel: 180x180 tiles; compare with FFT above):")
    from convcore.signal import _tiles
    from convcore.signal._convolve import _conv_plan
    for name, dtype in (("f4", np.float32), ("f8", np.float64)):
        x = rng.standard_normal(IMAGE).astype(dtype)
        w = rng.standard_normal((31, 31)).astype(dtype)
        plan = _conv_plan(x, w, "same", (1, 1), np.dtype(dtype))
        tile, work = _tiles.tile_shape(plan.shape, plan.w.shape, np.dtype(dtype).itemsize)
        t = timeit({"t": lambda: _tiles.run_tiles(plan)})["t"]
        print(f"  {name:4} {t / work:.3g}  (tile {tile[0]}x{tile[1]})")
    convcore.set_num_threads(None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="kernels 3, 5, 11 only")
    parser.add_argument("--no-extra", action="store_true", help="the main table only")
    parser.add_argument("--extra", action="store_true", help=argparse.SUPPRESS)  # workers
    parser.add_argument("--calibrate", action="store_true", help="print cost-model constants")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per row")
    parser.add_argument("--sizes", default=None, help="kernel sizes, e.g. 3,5 (default: all)")
    parser.add_argument("--plot", default=str(Path(__file__).with_name("bench_signal.png")))
    add_calls_argument(parser)
    add_disable_argument(parser)
    add_settle_argument(parser)
    add_worker_arguments(parser)
    args = parser.parse_args(argv)
    sizes = (KERNELS[:3] if args.quick else KERNELS) if args.sizes is None else tuple(
        int(k) for k in args.sizes.split(","))
    if args.worker:
        return serve(lambda lib, t: build(lib, t, sizes, args.extra), args.worker, args.threads)
    if args.calibrate:
        calibrate()
        return 0
    print(f"image {IMAGE[0]}x{IMAGE[1]}, mode='same', seed {SEED}; ratios = peer ms / convcore ms "
          f"(median of {args.rounds} rounds x {args.calls} calls)")
    print(header(args.threads, args.disable_cpu_features))
    rows = []
    forwarded = ["--threads", str(args.threads), "--sizes", ",".join(map(str, sizes))]
    env = ({"convcore": {"CONVCORE_DISABLE_CPU_FEATURES": args.disable_cpu_features}}
           if args.disable_cpu_features else None)
    with Workers(__file__, LIBRARIES, forwarded + ([] if args.no_extra else ["--extra"]),
                 env) as w:
        main_table(w, sizes, rows, args.rounds, args.settle, args.calls)
        if not args.no_extra:
            extra_cases(w, args.rounds, args.settle, args.calls)
    plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
