"""convcore.ndimage against scipy.ndimage and OpenCV (when installed), each in its own process.

On a 2048x2048 image (fixed seed), uint8, float32 and float64, each filter with scipy.ndimage's
default edge rule ('reflect', OpenCV's BORDER_REFLECT):

- ``gaussian s=1/4/16``  ``gaussian_filter(x, sigma)``  vs ``cv2.GaussianBlur`` (same radius)
- ``sobel``              ``sobel(x)`` (axis -1)          vs ``cv2.Sobel(x, -1, 1, 0, ksize=3)``
- ``uniform 5``          ``uniform_filter(x, 5)``        vs ``cv2.blur(x, (5, 5))``
- ``correlate 5x5``      ``correlate(x, w)``, w random   vs ``cv2.filter2D(x, -1, w)``

Every result keeps the input's dtype (SciPy's rule), so OpenCV is called with the same depth.
Not every row compares the same computation: OpenCV's uint8 ``GaussianBlur`` works in 16-bit
fixed point (weights with 8 fraction bits) and rounds once, at the end; SciPy (and convcore)
sum each pass in double and truncate the intermediate into uint8; OpenCV's uint8 ``filter2D``
rounds to nearest where SciPy truncates. Column ``cv=sp`` says how many
of OpenCV's outputs equal SciPy's (integers exactly, floats to the tolerance below).
Each library runs in a worker process of its own (neither loads the other, see _timing.py).
Before timing, convcore's result is checked against SciPy's (float64 to 1e-12, float32 to 1e-5
relative, integers exactly) and the row is marked ``MISMATCH`` otherwise. Times are medians of
``--repeats`` rounds of ``--calls`` calls each after warm-up (all the calls of a row pooled), the
three workers taking turns on each row, so a slow spell of the shared machine hits all of them
alike, each turn after a pause of ``--settle`` seconds: OpenCV's pthreads pool keeps a core busy
for about 40 ms after each call (measured: 10 ms of CPU in each 10 ms window, four windows), and
the next library's turn would otherwise start on one core. The first call after that pause runs
cold for every library (its data out of the caches, its threads asleep; 2048x2048 uint8
Gaussian of sigma 1, medians: convcore on one thread 3.5 ms back to back, 4.9 ms after a 50 ms
pause; OpenCV on two 2.3 and 5.9 ms), and with one call per turn a row's median rested on five
such calls, which swung by 1.5-2x from run to run on the shared machine; three calls a turn (the
default) make two of every three timed calls warm ones, for every library alike. ``--calls 1``
times cold calls only.
Ratios are peer time / convcore time (above 1: convcore is faster). Threads: convcore and OpenCV use ``--threads`` (default 2); scipy.ndimage
runs on one thread (it has no threading). ``--disable-cpu-features AVX512F`` times convcore's
AVX2 path (CONVCORE_DISABLE_CPU_FEATURES set in the convcore worker only).

    python benchmarks/bench_ndimage.py              # the table of the issue
    python benchmarks/bench_ndimage.py --size 512   # a quicker, smaller image
    python benchmarks/bench_ndimage.py --threads 1  # one thread each
    python benchmarks/bench_ndimage.py --disable-cpu-features AVX512F   # the AVX2 path
"""
import argparse
import os

import numpy as np

from _timing import (Workers, add_calls_argument, add_disable_argument, add_settle_argument,
                     add_worker_arguments, header, serve)

SEED = 0
SIZE = 2048
DTYPES = (np.uint8, np.float32, np.float64)
SIGMAS = (1, 4, 16)
NAMES = [f"gaussian s={s}" for s in SIGMAS] + ["sobel", "uniform 5", "correlate 5x5"]


def make_image(size, dtype, seed=SEED):
    """A smooth-plus-noise test image of the given dtype (uint8 spans 0..255, floats 0..1)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = 0.5 + 0.25 * np.sin(12 * xx) * np.cos(9 * yy) + 0.2 * rng.random((size, size))
    if np.dtype(dtype).kind == "u":
        return np.clip(base * 255, 0, 255).astype(dtype)
    return base.astype(dtype)


def filters(library, seed=SEED):
    """{case name: function(image)} of one library: "convcore", "scipy" or "opencv" (imports only
    that one; ImportError when it is missing)."""
    w = np.random.default_rng(seed + 1).standard_normal((5, 5))
    if library in ("convcore", "scipy"):
        if library == "convcore":
            from convcore import ndimage as nd
        else:
            import scipy.ndimage as nd
        out = {f"gaussian s={s}": (lambda x, s=s: nd.gaussian_filter(x, s)) for s in SIGMAS}
        out["sobel"] = nd.sobel
        out["uniform 5"] = lambda x: nd.uniform_filter(x, 5)
        out["correlate 5x5"] = lambda x: nd.correlate(x, w)
        return out
    import cv2  # OpenCV's BORDER_REFLECT is scipy.ndimage's 'reflect'

    border = cv2.BORDER_REFLECT
    out = {}
    for s in SIGMAS:
        k = 2 * int(4.0 * s + 0.5) + 1  # scipy's radius with truncate=4
        out[f"gaussian s={s}"] = lambda x, k=k, s=s: cv2.GaussianBlur(
            x, (k, k), s, sigmaY=s, borderType=border)
    out["sobel"] = lambda x: cv2.Sobel(x, -1, 1, 0, ksize=3, borderType=border)
    out["uniform 5"] = lambda x: cv2.blur(x, (5, 5), borderType=border)
    out["correlate 5x5"] = lambda x: cv2.filter2D(
        x, -1, w.astype(np.float32 if x.dtype == np.float32 else np.float64), borderType=border)
    return out


def build(library, threads, size, dtypes, only):
    """{"case|dtype": function} for one library's worker, its threads set."""
    if library == "convcore":
        import convcore
        convcore.set_num_threads(threads)
    elif library == "opencv":
        import cv2
        cv2.setNumThreads(threads)
    funcs = filters(library)
    cases = {}
    for dtype in dtypes:
        x = make_image(size, dtype)
        for name, fn in funcs.items():
            if not only or any(o in name for o in only):
                cases[f"{name}|{np.dtype(dtype).name}"] = lambda fn=fn, x=x: fn(x)
    return cases


def agreement(ours, ref):
    """The share of `ours` equal to `ref` (integers exactly; float32 to 1e-5 relative, float64
    to 1e-12, atol the same times the largest magnitude), 0 when dtype or shape differ."""
    if ours.dtype != ref.dtype or ours.shape != ref.shape:
        return 0.0
    if ours.dtype.kind in "iu":
        return float(np.mean(ours == ref))
    rtol = 1e-5 if ours.dtype == np.float32 else 1e-12
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.mean(np.isclose(ours, ref, rtol=rtol, atol=rtol * scale)))


def same_result(ours, ref):
    """convcore's result equals SciPy's: dtype, and values (integers exactly)."""
    return agreement(ours, ref) == 1.0


def run(size=SIZE, dtypes=DTYPES, repeats=5, only=None, threads=None, rounds=None,
        disable=None, settle=0.0, calls=1):
    """Rows of (case, dtype, ms convcore, ms scipy, ms opencv or None, ok), each library timed in
    its own worker process (rounds alternating, `calls` calls a turn); ok: convcore's result
    equals SciPy's.
    `disable`: CONVCORE_DISABLE_CPU_FEATURES of the convcore worker; `settle`: seconds of pause
    before each turn (see _timing.Workers.time)."""
    threads = threads or min(2, os.cpu_count() or 1)
    args = ["--size", str(size), "--threads", str(threads), "--dtypes",
            ",".join(np.dtype(d).name for d in dtypes)] + (["--only", *only] if only else [])
    env = {"convcore": {"CONVCORE_DISABLE_CPU_FEATURES": disable}} if disable else None
    with Workers(__file__, ["convcore", "scipy", "opencv"], args, env) as workers:
        names = [f"{name}|{np.dtype(d).name}" for d in dtypes for name in NAMES
                 if f"{name}|{np.dtype(d).name}" in workers.cases["convcore"]]
        ok, cv_same = {}, {}
        for c in names:
            ref = workers.result("scipy", c)
            ok[c] = same_result(workers.result("convcore", c), ref)
            if "opencv" in workers.procs:
                cv_same[c] = agreement(workers.result("opencv", c), ref)
        medians = workers.time(names, calls, rounds or repeats, settle)
    rows = []
    for case in names:
        t = medians[case]
        name, dtype = case.split("|")
        rows.append((name, dtype, 1e3 * t["convcore"], 1e3 * t["scipy"],
                     1e3 * t["opencv"] if "opencv" in t else None, ok[case], cv_same.get(case)))
    return rows


def table(rows):
    """The rows as a fixed-width text table."""
    head = (f"{'case':<15}{'dtype':<9}{'convcore ms':>12}{'scipy ms':>10}{'opencv ms':>11}"
            f"{'scipy/cc':>10}{'opencv/cc':>11}{'cv=sp':>8}")
    lines = [head, "-" * len(head)]
    for name, dt, ours, sp, cv, ok, cv_same in rows:
        cv_ms = f"{cv:11.1f}" if cv is not None else f"{'-':>11}"
        cv_ratio = f"{cv / ours:10.2f}x" if cv is not None else f"{'-':>11}"
        same = f"{100 * cv_same:7.1f}%" if cv_same is not None else f"{'-':>8}"
        flag = "" if ok else "  MISMATCH"
        lines.append(f"{name:<15}{dt:<9}{ours:12.1f}{sp:10.1f}{cv_ms}{sp / ours:9.1f}x{cv_ratio}"
                     f"{same}{flag}")
    fast = sum(r[3] / r[2] >= 3 for r in rows)
    lines.append(f"targets: >= 3x scipy.ndimage in {fast}/{len(rows)} cases")
    with_cv = [(r[2], r[4]) for r in rows if r[4] is not None]
    if with_cv:
        near = sum(ours <= 2 * cv for ours, cv in with_cv)
        lines[-1] += f"; within 2x of OpenCV in {near}/{len(with_cv)}"
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=SIZE, help="image side (default 2048)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per row")
    parser.add_argument("--only", nargs="*", help="run the cases whose name contains one of these")
    parser.add_argument("--dtypes", default=",".join(np.dtype(d).name for d in DTYPES))
    add_calls_argument(parser)
    add_disable_argument(parser)
    add_settle_argument(parser)
    add_worker_arguments(parser)
    args = parser.parse_args(argv)
    dtypes = [np.dtype(d).type for d in args.dtypes.split(",")]
    if args.worker:
        return serve(lambda lib, t: build(lib, t, args.size, dtypes, args.only), args.worker,
                     args.threads)
    print(f"{args.size}x{args.size} image; ratios = peer ms / convcore ms (median of "
          f"{args.repeats} rounds x {args.calls} calls)")
    print(header(args.threads, args.disable_cpu_features))
    print(table(run(args.size, dtypes, repeats=args.repeats, only=args.only,
                    threads=args.threads, disable=args.disable_cpu_features,
                    settle=args.settle, calls=args.calls)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
