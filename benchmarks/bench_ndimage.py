"""convcore.ndimage against scipy.ndimage (and OpenCV when installed), timed in the same run.

On a 2048x2048 image (fixed seed), uint8, float32 and float64, each filter with scipy.ndimage's
default edge rule ('reflect', OpenCV's BORDER_REFLECT):

- ``gaussian s=1/4/16``  ``gaussian_filter(x, sigma)``  vs ``cv2.GaussianBlur`` (same radius)
- ``sobel``              ``sobel(x)`` (axis -1)          vs ``cv2.Sobel(x, -1, 1, 0, ksize=3)``
- ``uniform 5``          ``uniform_filter(x, 5)``        vs ``cv2.blur(x, (5, 5))``
- ``correlate 5x5``      ``correlate(x, w)``, w random   vs ``cv2.filter2D(x, -1, w)``

Every result keeps the input's dtype (SciPy's rule), so OpenCV is called with the same depth.
Before timing, convcore's result is checked against SciPy's (float64 to 1e-12, float32 to 1e-5
relative, integers exactly) and the row is marked ``MISMATCH`` otherwise. Times are medians of
``--repeats`` rounds after warm-up, the three libraries of one row called in turn within each round,
so a slow spell of the shared machine hits all of them alike. Ratios are peer time / convcore time
(above 1: convcore is faster). Threads: convcore and OpenCV use ``convcore.get_num_threads()``
(``--threads`` sets it); scipy.ndimage runs on one thread (it has no threading). On a machine
whose cores are busy with other work, a parallel region waits at its end for a thread the
scheduler has not run yet (a few milliseconds): ``--threads 1`` then compares the kernels alone.

    python benchmarks/bench_ndimage.py              # the table of the issue
    python benchmarks/bench_ndimage.py --size 512   # a quicker, smaller image
    python benchmarks/bench_ndimage.py --threads 1  # one thread each
"""
import argparse
import statistics
import time

import numpy as np
import scipy.ndimage as sn

import convcore
from convcore import ndimage as cn

SEED = 0
SIZE = 2048
DTYPES = (np.uint8, np.float32, np.float64)
SIGMAS = (1, 4, 16)


def make_image(size, dtype, seed=SEED):
    """A smooth-plus-noise test image of the given dtype (uint8 spans 0..255, floats 0..1)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = 0.5 + 0.25 * np.sin(12 * xx) * np.cos(9 * yy) + 0.2 * rng.random((size, size))
    if np.dtype(dtype).kind == "u":
        return np.clip(base * 255, 0, 255).astype(dtype)
    return base.astype(dtype)


def cases(seed=SEED):
    """(name, convcore fn, scipy fn, opencv fn or None) for the six filters."""
    w = np.random.default_rng(seed + 1).standard_normal((5, 5))
    rows = []
    for s in SIGMAS:
        rows.append((f"gaussian s={s}",
                     lambda x, s=s: cn.gaussian_filter(x, s),
                     lambda x, s=s: sn.gaussian_filter(x, s),
                     _cv_gaussian(s)))
    rows.append(("sobel", lambda x: cn.sobel(x), lambda x: sn.sobel(x), _cv("sobel")))
    rows.append(("uniform 5", lambda x: cn.uniform_filter(x, 5), lambda x: sn.uniform_filter(x, 5),
                 _cv("blur")))
    rows.append(("correlate 5x5", lambda x: cn.correlate(x, w), lambda x: sn.correlate(x, w),
                 _cv("filter2d", w)))
    return rows


def _opencv():
    try:
        import cv2
    except ImportError:
        return None
    cv2.setNumThreads(convcore.get_num_threads())
    return cv2


def _cv_gaussian(sigma):
    cv2 = _opencv()
    if cv2 is None:
        return None
    k = 2 * int(4.0 * sigma + 0.5) + 1          # scipy's radius with truncate=4
    return lambda x: cv2.GaussianBlur(x, (k, k), sigma, sigmaY=sigma,
                                      borderType=cv2.BORDER_REFLECT)


def _cv(kind, w=None):
    cv2 = _opencv()
    if cv2 is None:
        return None
    border = cv2.BORDER_REFLECT
    if kind == "sobel":
        return lambda x: cv2.Sobel(x, -1, 1, 0, ksize=3, borderType=border)
    if kind == "blur":
        return lambda x: cv2.blur(x, (5, 5), borderType=border)
    kernel = np.asarray(w, dtype=np.float64)
    return lambda x: cv2.filter2D(x, -1, kernel.astype(np.float32 if x.dtype == np.float32
                                                       else np.float64), borderType=border)


def same_result(ours, ref):
    """convcore's result equals SciPy's: dtype, and values (integers exactly)."""
    if ours.dtype != ref.dtype or ours.shape != ref.shape:
        return False
    if ours.dtype.kind in "iu":
        return bool(np.array_equal(ours, ref))
    rtol = 1e-5 if ours.dtype == np.float32 else 1e-12
    scale = float(np.max(np.abs(ref))) or 1.0
    return bool(np.allclose(ours, ref, rtol=rtol, atol=rtol * scale))


def timeit(funcs, repeats=5, warmup=1):
    """Median seconds of each function (a dict name -> fn), the functions called in turn."""
    for _ in range(warmup):
        for fn in funcs.values():
            fn()
    times = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, fn in funcs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def run(size=SIZE, dtypes=DTYPES, repeats=5, only=None):
    """Rows of (case, dtype, ms convcore, ms scipy, ms opencv or None, ok)."""
    rows = []
    for dtype in dtypes:
        x = make_image(size, dtype)
        for name, ours, scipy_fn, cv_fn in cases():
            if only and not any(o in name for o in only):
                continue
            ok = same_result(ours(x), scipy_fn(x))
            funcs = {"convcore": lambda: ours(x), "scipy": lambda: scipy_fn(x)}
            if cv_fn is not None:
                funcs["opencv"] = lambda: cv_fn(x)
            t = timeit(funcs, repeats=repeats)
            rows.append((name, np.dtype(dtype).name, 1e3 * t["convcore"], 1e3 * t["scipy"],
                         1e3 * t["opencv"] if "opencv" in t else None, ok))
    return rows


def table(rows):
    """The rows as a fixed-width text table."""
    head = (f"{'case':<15}{'dtype':<9}{'convcore ms':>12}{'scipy ms':>10}{'opencv ms':>11}"
            f"{'scipy/cc':>10}{'opencv/cc':>11}")
    lines = [head, "-" * len(head)]
    for name, dt, ours, sp, cv, ok in rows:
        cv_ms = f"{cv:11.1f}" if cv is not None else f"{'-':>11}"
        cv_ratio = f"{cv / ours:10.2f}x" if cv is not None else f"{'-':>11}"
        flag = "" if ok else "  MISMATCH"
        lines.append(f"{name:<15}{dt:<9}{ours:12.1f}{sp:10.1f}{cv_ms}{sp / ours:9.1f}x{cv_ratio}"
                     f"{flag}")
    fast = sum(sp / ours >= 3 for _, _, ours, sp, _, _ in rows)
    lines.append(f"targets: >= 3x scipy.ndimage in {fast}/{len(rows)} cases")
    with_cv = [(ours, cv) for _, _, ours, _, cv, _ in rows if cv is not None]
    if with_cv:
        near = sum(ours <= 2 * cv for ours, cv in with_cv)
        lines[-1] += f"; within 2x of OpenCV in {near}/{len(with_cv)}"
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=SIZE, help="image side (default 2048)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per row")
    parser.add_argument("--only", nargs="*", help="run the cases whose name contains one of these")
    parser.add_argument("--threads", type=int, help="threads of convcore and OpenCV (default: all)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        convcore.set_num_threads(args.threads)
    cv2 = _opencv()
    print(f"{args.size}x{args.size} image, {convcore.get_num_threads()} threads, numpy "
          f"{np.__version__}, scipy {sn.__name__ and __import__('scipy').__version__}, opencv "
          f"{cv2.__version__ if cv2 is not None else 'not installed'}; ratios = peer ms / "
          f"convcore ms (median of {args.repeats})")
    print(table(run(args.size, repeats=args.repeats, only=args.only)))


if __name__ == "__main__":
    main()
