"""Runs the compiled kernels for the public filters: 1-D line passes and N-D direct correlation.

Results follow scipy.ndimage: stored in the output's dtype by C's conversion (integers truncated
toward zero, then wrapped to their width), computed in double precision, or in float32 where that
gives SciPy's result (see ``_single``, ``_checks``). Complex data are filtered as real and
imaginary parts, like SciPy does.
"""
import functools

import numpy as np

from .._cpu import load
from .._modes import MODE_CONSTANT
from .._threads import direct_threads, team_threads
from ._support import KERNEL_DTYPES, check_supported

# the builds convcore._cpu picks
_direct, _lines, _recheck = load("direct"), load("lines"), load("recheck")
_ordered = load("ordered")
_sep2d, _uni2d, _box8k, _corr2d = (load("separable2d"), load("uniform2d"), load("box8"),
                                   load("correlate2d"))


def _readable(x):
    """`x` as a C-contiguous array of a dtype the line kernel reads."""
    if x.dtype == np.bool_:
        return np.ascontiguousarray(x).view(np.uint8)
    if x.dtype not in KERNEL_DTYPES:
        return np.ascontiguousarray(x, dtype=np.float64)
    return np.ascontiguousarray(x)


def _target(x, output):
    """(array the kernel writes, whether it must be copied into `output` afterwards)."""
    direct = (output.dtype in KERNEL_DTYPES and output.flags.c_contiguous
              and (output is x or not np.may_share_memory(output, x)))
    if direct:
        return output, False
    dtype = output.dtype if output.dtype in KERNEL_DTYPES else np.float64
    if output.dtype.kind in "biu" and dtype == np.float64:
        dtype = np.int64
    return np.empty(output.shape, dtype=dtype), True


def _as3d(a, axis):
    shape = a.shape
    outer = int(np.prod(shape[:axis], dtype=np.int64))
    inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
    return a.reshape(outer, shape[axis], inner)


def _finish(result, output):
    with np.errstate(invalid="ignore", over="ignore"):
        np.copyto(output, result, casting="unsafe")


def _symmetry(w):
    """1 / -1 / 0 for a symmetric / antisymmetric / other odd kernel, SciPy's tolerance."""
    return _symmetry_of(np.ascontiguousarray(w, dtype=np.float64).tobytes())


@functools.lru_cache(maxsize=256)
def _symmetry_of(raw):
    """_symmetry of the float64 kernel with these bytes (kept: filters reuse a few kernels)."""
    w = np.frombuffer(raw, dtype=np.float64)
    k = w.size
    if k % 2 == 0 or k == 1:
        return 1 if k == 1 else 0
    c = k // 2
    left, right = w[:c], w[c + 1:][::-1]
    eps = np.finfo(np.float64).eps
    # SciPy's test is "no pair differs by more than eps", so a NaN pair counts as equal (and the
    # pairs then use the left half's weights, as SciPy's do)
    if not np.any(np.abs(left - right) > eps):
        return 1
    if not np.any(np.abs(left + right) > eps):
        return -1
    return 0


def _complex_parts(run, x, output, cval, **kw):
    """Filter real and imaginary parts of complex `x` with the real routine `run` (and of the
    pieces `lo` / `hi` in `kw`, when given)."""
    for part in (np.real, np.imag):
        pieces = {k: None if kw[k] is None else part(kw[k]) for k in ("lo", "hi") if k in kw}
        run(x=part(x), output=part(output), cval=part(cval), **{**kw, **pieces})
    return output


#: float32 data to a float32 result are filtered in float32 (8 lanes of AVX2 instead of 4) when the
#: kernel has at most this many taps (a Gaussian of sigma 4, truncate 4): the rounding error of such
#: sums stays within (K + 1) * 2**-24 (2e-6) of the result's scale, inside float32's 1e-5 contract;
#: longer kernels and every float64 pass are computed in double, as SciPy does.
SINGLE_MAX_TAPS = 33
#: the same for the running sums of a uniform filter (this window size)
SINGLE_MAX_WINDOW = 17
#: float32 holds every integer below this exactly
_EXACT_FLOAT32 = 2.0 ** 24


@functools.lru_cache(maxsize=None)
def _int_bound(*dtypes):
    """Largest magnitude any of these integer dtypes holds (None when one is not an integer)."""
    bound = 0
    for dt in dtypes:
        if dt.kind not in "iu":
            return None
        info = np.iinfo(dt)
        bound = max(bound, -int(info.min), int(info.max))
    return bound


def _single(src, dst, kernels, cval, limit=_EXACT_FLOAT32, max_taps=SINGLE_MAX_TAPS):
    """Whether passes from `src`'s dtype into `dst`'s may run with float32 buffers, exactly or to
    float32 precision (no re-check).

    `kernels` are the float64 weight vectors of the passes (a uniform window of ``size`` counts as
    ``np.ones(size)``). Either float32 data to float32 with short kernels (float32 precision), or
    integer data, integer weights and cval: every product, pair and partial sum is then an integer
    of magnitude at most ``sum|w| * bound`` (`bound`: the largest value the dtypes and cval hold);
    below 2**24 float32 holds it exactly, so the result (and where a uniform pass divides by its
    size, the quotient truncated: see ``line_uniform``) is SciPy's double result, bit for bit.
    `limit` lowers 2**24 (uniform2d multiplies by a reciprocal: exact below 2**20); `max_taps`:
    the longest float32 kernel (SINGLE_MAX_WINDOW for running sums).
    """
    if src.dtype == np.float32 and dst.dtype == np.float32:
        return all(k.size <= max_taps for k in kernels)
    bound = _int_bound(src.dtype, dst.dtype)
    if bound is None or not float(cval).is_integer():
        return False
    bound = max(bound, abs(float(cval)))
    return all(np.all(k == np.round(k)) and float(np.abs(k).sum()) * bound < limit
               for k in kernels)


#: integer passes re-check the outputs near a truncation boundary (see ``_checks``) when the
#: margin stays below this (so that at most a few percent of the outputs are computed again)
MAX_CHECK = 0.01
#: the same for 2-D integer images on correlate2d's multiply-add taps (c/taps2d.h), whose
#: re-checks cost less: up to this margin (4% of outputs re-checked) they beat double buffers
#: (2048x2048 uint8, 5x5 random weights, AMD EPYC, AVX2 path)
MAX_CHECK_TAPS2D = 0.02


def _checks(src, dst, kernels, cval, eps=2.0 ** -24, limit=MAX_CHECK):
    """The float32 margins of integer passes with any weights, or None (compute in double).

    A float32 pass of `K` taps ``w`` over integers of magnitude at most `bound` (the dtypes and
    cval) lies within ``(K + 1) * u * S`` of the exact sum (``u = 2**-24``, ``S = sum|w| *
    bound``), the weights' rounding to float32 adds ``u * S``, SciPy's double pass is within
    ``(K + 1) * 2**-53 * S`` of it, and forming ``y -/+ e`` rounds by at most ``u * S`` more: the
    margin ``e = (K + 4) * u * S`` covers them all. Outputs with an integer
    boundary within that margin are computed again in double by the kernel (``check``), the others
    truncate as SciPy's do: the result is SciPy's bit for bit. ``eps=2**-53``: the same for a
    double result summed in another order than SciPy's.
    """
    bound = _int_bound(src.dtype, dst.dtype)
    if bound is None or float(np.float32(cval)) != float(cval):
        return None
    bound = max(bound, abs(float(cval)))
    checks = [(k.size + 4) * eps * float(np.abs(k).sum()) * bound for k in kernels]
    return checks if all(e < limit for e in checks) else None


def _plan(src, dst, kernels, cval):
    """(single, checks): float buffers or not, and each pass's ``check`` margin (0: none)."""
    if _single(src, dst, kernels, cval):
        return True, [0.0] * len(kernels)
    checks = _checks(src, dst, kernels, cval)
    if checks is None:
        return False, [0.0] * len(kernels)
    return True, checks


def _raw_bool(output):
    """The bytes of a bool `output` as uint8: SciPy's C stores ``(npy_bool)value``, the value
    truncated and wrapped to 8 bits (-1 is stored as 255), and a later pass reads those bytes."""
    return output.view(np.uint8) if output.dtype == np.bool_ else output


def line_correlate(x, weights, axis, output, mode, cval, origin, lo=None, hi=None):
    """out[..., i, ...] = sum_j w[j] x[..., i + j - len(w)//2 - origin, ...] along `axis`.

    `lo` / `hi`: arrays of x's dtype and shape but along `axis`, read before /
    after x's lines as if joined to x there (its neighbours' edges; the mode applies past them).
    """
    check_supported(x, output)
    if output.dtype == np.bool_:
        line_correlate(x, weights, axis, _raw_bool(output), mode, cval, origin, lo, hi)
        return output
    if x.dtype.kind == "c":
        return _complex_parts(line_correlate, x, output, cval, weights=weights, axis=axis,
                              mode=mode, origin=origin, lo=lo, hi=hi)
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if x.size == 0:
        return output
    src = _readable(x)
    dst, copy = _target(src, output)
    start = -(w.size // 2) - origin
    single, (check,) = _plan(src, dst, [w], cval)
    lo, hi = (None if p is None else _as3d(_readable(p), axis) for p in (lo, hi))
    _lines.correlate(_as3d(src, axis), w, _as3d(dst, axis), start, 1, mode, float(cval),
                     _symmetry(w), team_threads(dst.size * w.size), single, check, lo, hi)
    if copy:
        _finish(dst, output)
    return output


def line_uniform(x, size, axis, output, mode, cval, origin):
    """Running mean of `size` samples along `axis` (SciPy's running-sum order).

    Integer data run in float32 when ``size * bound < 2**24`` (see ``_single``): the running sum
    ``S`` is then exact, and float32's correctly rounded ``S / size`` truncates to the same integer
    as SciPy's double one (both are the exact quotient truncated: a quotient that is not an
    integer lies at least ``1 / size`` from one, more than either rounding error).
    """
    check_supported(x, output)
    if output.dtype == np.bool_:
        line_uniform(x, size, axis, _raw_bool(output), mode, cval, origin)
        return output
    if x.dtype.kind == "c":
        return _complex_parts(line_uniform, x, output, cval, size=size, axis=axis, mode=mode,
                              origin=origin)
    if x.size == 0:
        return output
    src = _readable(x)
    dst, copy = _target(src, output)
    start = -(size // 2) - origin
    _lines.uniform(_as3d(src, axis), size, _as3d(dst, axis), start, mode, float(cval),
                   team_threads(dst.size * 4),
                   _single(src, dst, [np.ones(size)], cval, max_taps=SINGLE_MAX_WINDOW))
    if copy:
        _finish(dst, output)
    return output


#: float32 data with at most this many taps are correlated in float32 (the error of a float32 sum
#: of a few dozen products stays far below the 1e-5 of a float32 result); larger kernels in double.
FLOAT32_MAX_TAPS = 49


def _convert(res, output):
    """Copy float64 `res` into `output` with C's conversion (SciPy's), through the line kernel."""
    if output.dtype not in KERNEL_DTYPES or res.ndim == 0:
        if output.dtype.kind in "iu":
            with np.errstate(invalid="ignore", over="ignore"):
                res = res.astype(np.int64)
        _finish(res, output)
        return
    dst, copy = _target(res, output)
    lines = res.reshape(-1, res.shape[-1], 1)
    _lines.correlate(lines, np.ones(1), dst.reshape(lines.shape), 0, 1, 0, 0.0, 1,
                     team_threads(dst.size))
    if copy:
        _finish(dst, output)


def _nan_watch(x, weights, mode, cval):
    """What the float32 direct kernel needs to meet SciPy's sums, which leave out the zero taps
    (the caller zeroed those SciPy leaves out: ``_linear._correlate_nd``): None (no zero tap, or
    no float data), "exact" (a NaN or an infinity in the constant meets the zero taps), or a
    one-byte flag for the kernel to set when an output is NaN. A NaN or an infinity under a
    zero tap makes the kernel's sum NaN (0 * inf is NaN), so an all-finite result is SciPy's to
    rounding, and a NaN sends the call to SciPy's order in double (``_ordered_nd``; at no cost
    when there is none)."""
    if np.all(weights):
        return None
    if mode == MODE_CONSTANT and not np.isfinite(cval):
        return "exact"
    return np.zeros(1, np.uint8) if x.dtype.kind == "f" else None


def _sums_into(output, x, dtype):
    """The array an N-D kernel sums into: `output` itself when it is C-contiguous of `dtype` and
    does not overlap `x`, else a new one (converted into `output` afterwards)."""
    if output.dtype == dtype and output.flags.c_contiguous and not np.may_share_memory(output, x):
        return output
    return np.empty(x.shape, dtype)


def _start(kshape, origins):
    """The input position that a kernel's first tap meets for the first output, per axis."""
    return [-(k // 2) - o for k, o in zip(kshape, origins)]


def nd_correlate(x, weights, output, mode, cval, origins):
    """N-D correlation with real float64 weights, result cast into `output` as SciPy does.

    In double precision by src/ordered.pyx, in SciPy's order (its bits), or in float32 by the
    direct kernel of src/direct.pyx for float32 data with small kernels (see FLOAT32_MAX_TAPS)
    and for small integers whose float32 sums stay within a narrow margin of SciPy's (see
    ``_checks``). That kernel adds the taps in its own order, so an integer output is settled by
    ``_recheck.recheck``: the outputs within the margin of a truncation boundary are computed
    again in SciPy's order, and truncate as SciPy's.
    """
    if x.dtype.kind == "c":
        return _complex_parts(nd_correlate, x, output, cval, weights=weights, mode=mode,
                              origins=origins)
    if x.size == 0:     # SciPy returns before it checks the dtypes
        return output
    check_supported(x, output)
    if output.dtype == np.bool_:
        nd_correlate(x, weights, _raw_bool(output), mode, cval, origins)
        return output
    if x.ndim == 0:     # one sample: a 1-D line of one
        nd_correlate(x.reshape(1), weights.reshape(1), output.reshape(1), mode, cval, [0])
        return output
    work, check = np.float64, None
    if x.dtype == np.float32 and output.dtype == np.float32 and weights.size <= FLOAT32_MAX_TAPS:
        work = np.float32
    elif output.dtype.kind in "iu" and x.dtype.kind in "biu":
        xr = _readable(x)
        flat = [np.ravel(weights)]
        taps2d = x.ndim == 2 and _corr2d.taps2d_available()
        check = _checks(xr, output, flat, cval, limit=MAX_CHECK_TAPS2D if taps2d else MAX_CHECK)
        double = check is None or weights.size > FLOAT32_MAX_TAPS
        if double:
            check = _checks(xr, output, flat, cval, eps=2.0 ** -53)
        if check is not None and x.ndim == 2 and weights.size <= FLOAT32_MAX_TAPS:
            # integer images: float32 (or double) taps over rows read once, re-checked
            return _integer_image(xr, weights, output, mode, cval, origins, check[0], double)
        if not double:
            work = np.float32
    if work == np.float64:
        return _ordered_nd(x, weights, output, mode, cval, origins)
    watch = _nan_watch(x, weights, mode, cval)
    if isinstance(watch, str):
        return _ordered_nd(x, weights, output, mode, cval, origins)
    src = np.ascontiguousarray(x, dtype=work)
    w = np.ascontiguousarray(weights, dtype=work)
    res, start = _sums_into(output, x, work), _start(w.shape, origins)
    _direct.correlate(src, w, res, start, [1] * x.ndim, mode, np.asarray(cval, dtype=work),
                      direct_threads(res.size, w.size), nan_flag=watch)
    if watch is not None and watch[0]:
        return _ordered_nd(x, weights, output, mode, cval, origins)
    if check is not None:
        _recheck.recheck(res, xr, np.ascontiguousarray(weights, dtype=np.float64), start, mode,
                         float(cval), check[0], team_threads(xr.size))
    if res is not output:
        if work == np.float32 and output.dtype.kind == "f":
            _finish(res, output)
        else:
            _convert(res, output)
    return output


def _ordered_nd(x, weights, output, mode, cval, origins):
    """nd_correlate in double precision in SciPy's order (src/ordered.pyx): its float64 sums bit
    for bit, NaN and infinities included, then its conversion into `output`."""
    w = np.ascontiguousarray(weights, dtype=np.float64)
    res, start = _sums_into(output, x, np.float64), _start(w.shape, origins)
    _ordered.correlate(np.ascontiguousarray(x, dtype=np.float64), w, res, start, mode,
                       float(cval), direct_threads(res.size, w.size))
    if res is not output:
        _convert(res, output)
    return output


def _taps2d_margins(x, output, weights, cval):
    """(e, e2): the margins of correlate2d's multiply-add taps (c/taps2d.h) over integers.

    Each output there is one chain of fused multiply-adds over the float32 weights ``v_k`` in C
    order, ``s_k = fl(s_(k-1) + v_k x_k)``: its error is at most ``u sum_k |s_k|`` (``u =
    2**-24``), and ``|s_k| <= B P_k`` with ``P_k = |v_0| + ... + |v_k|`` (``B``: the largest
    magnitude of the dtypes and cval). The weights' rounding adds ``u S`` (``S = B sum|w|``),
    SciPy's double sum is within far less than ``u S`` of the exact one, and forming ``a -/+ e``
    rounds by ``u S`` more: ``e = u (B sum_k P_k + 3 S)``, with a factor ``1 + 2**-10`` for
    the roundings of these bounds. ``_checks``'s ``(K + 4) u S`` takes ``P_k = P_(K-1)`` for
    every k; the chain's partial sums are smaller, so about half as many outputs are re-checked
    (5x5 random weights). ``e2``: a double sum of the taps in any order and SciPy's lie within
    ``(2 K + 3) 2**-53 S`` of each other, ``+ 2**-53 S`` for forming ``y -/+ e2``.
    """
    bound = max(_int_bound(x.dtype, output.dtype), abs(float(cval)))
    v = np.abs(np.ravel(weights).astype(np.float32).astype(np.float64))
    big_s = float(np.abs(weights).sum()) * bound
    e = 2.0 ** -24 * (bound * float(np.cumsum(v).sum()) + 3 * big_s) * (1 + 2.0 ** -10)
    e2 = (2 * weights.size + 8) * 2.0 ** -53 * big_s
    return e, e2


def _integer_image(x, weights, output, mode, cval, origins, check, double):
    """scipy.ndimage.correlate of a 2-D integer image into an integer `output` by
    src/correlate2d.pyx: `x`'s rows read once into float (or, ``double``, double) buffers, outputs
    within `check` of a truncation boundary computed again in SciPy's order (on the multiply-add
    taps, within their own margins: ``_taps2d_margins``)."""
    dst, copy = _target(x, output)
    fma = None if double else _taps2d_margins(x, output, weights, cval)
    if fma is not None and not fma[0] <= check:
        fma = None
    _corr2d.correlate2d(x, np.ascontiguousarray(weights, dtype=np.float64), dst,
                        -(weights.shape[0] // 2) - origins[0],
                        -(weights.shape[1] // 2) - origins[1], mode, float(cval), check,
                        team_threads(x.size * weights.size), double=double, fma_checks=fma)
    if copy:
        _finish(dst, output)
    return output


#: the one-sweep 2-D path is used when the kernel along axis 0 has at most this many taps (axis 0
#: filtered first) or at most FUSE_MAX_TAPS_ROWS_FIRST (axis 1 first: its pass is recomputed on
#: the rows that neighbouring strips share). 33 taps (a Gaussian of sigma 4): the strip's rows
#: copied at a padded stride, float buffers by multiply-adds (see separable2d), measured faster
#: than two line passes on 2048x2048 uint8, float32 and float64 (AMD EPYC, AVX2 path).
FUSE_MAX_TAPS = 33
FUSE_MAX_TAPS_ROWS_FIRST = 9


def two_pass_2d(x, w_rows, mode_rows, w_cols, mode_cols, output, cval, rows_first):
    """Both passes of a separable filter of a 2-D image in one sweep; False when it doesn't apply.

    Same result as ``line_correlate`` along the first axis into `output`, then along the other
    axis in place (SciPy's two calls), origins 0.
    """
    check_supported(x, output)
    k = len(w_rows)
    # a kernel of one tap (a Gaussian of radius 0) goes to the line passes: the fused sweep's
    # float32 and integer plans read past it (garbage out, found by a fuzz against SciPy)
    if (x.ndim != 2 or x.dtype.kind == "c" or x.size == 0 or output.dtype not in KERNEL_DTYPES
            or not output.flags.c_contiguous or np.may_share_memory(output, x)
            or k > (FUSE_MAX_TAPS_ROWS_FIRST if rows_first else FUSE_MAX_TAPS)
            or min(k, len(w_cols)) < 2):
        return False
    cval = float(cval)
    if x.dtype == np.uint8 and output.dtype == np.uint8 and k == 3 and len(w_cols) == 3:
        wrap = _wrap_weights(_raw(w_rows), _raw(w_cols), bool(rows_first),
                             MODE_CONSTANT in (mode_rows, mode_cols), cval)
        if wrap is not None:
            _sep2d.wrap3_u8(np.ascontiguousarray(x), wrap[0], wrap[1], bool(rows_first),
                            mode_rows, mode_cols, wrap[2], output, team_threads(x.size * 6))
            return True
    src = _readable(x)
    (wr, sym_r, wc, sym_c, single, check_rows, check_cols, w_single,
     sep8) = _two_pass_setup(src.dtype, output.dtype, _raw(w_rows), _raw(w_cols), mode_rows,
                             mode_cols, cval, bool(rows_first))
    _sep2d.separable2d(src, wr, sym_r, mode_rows, wc, sym_c, mode_cols, output, cval, rows_first,
                       team_threads(src.size * (wr.size + wc.size)), single, check_rows,
                       check_cols, w_single=w_single, sep8=sep8)
    return True


@functools.lru_cache(maxsize=64)
def _wrap_weights(raw_rows, raw_cols, rows_first, constant, cval):
    """(first pass' weights, second pass' weights, cval) as ints for ``wrap3_u8`` when both 3-tap
    kernels have small integer weights (|w| <= 256) and the constant, where read, is a small
    integer (|cval| <= 2**16): every sum of SciPy's double passes is then an integer well inside
    C's int, and its conversion into uint8 (truncation toward zero, then the low byte) is the sum
    modulo 256, which byte arithmetic gives exactly. None otherwise."""
    w_rows, w_cols = np.frombuffer(raw_rows), np.frombuffer(raw_cols)
    for w in (w_rows, w_cols):
        if not (np.all(np.isfinite(w)) and np.all(w == np.round(w)) and np.all(np.abs(w) <= 256)):
            return None
    if constant and not (cval == round(cval) and abs(cval) <= 2.0 ** 16):
        return None
    first, second = (w_cols, w_rows) if rows_first else (w_rows, w_cols)
    return ([int(v) for v in first], [int(v) for v in second], int(cval) if constant else 0)


def _raw(w):
    """The bytes of weights `w` as float64 (a key of _two_pass_setup)."""
    return np.ascontiguousarray(w, dtype=np.float64).tobytes()


@functools.lru_cache(maxsize=256)
def _two_pass_setup(src_dtype, out_dtype, raw_rows, raw_cols, mode_rows, mode_cols, cval,
                    rows_first):
    """What separable2d needs besides the data, kept for each dtype pair, kernel pair, edge rules
    and cval: the float64 weights (read-only), their symmetries, the plan (_plan), the float32
    weights and whether the uint8 kernels of c/sep8.h apply.

    A 2-D Gaussian of sigma 1 on 2048x2048 takes 2-4 ms, and its arguments' checks (a dozen
    NumPy calls) ran ~0.25 ms on every call once the caches had gone cold between calls (a
    benchmark's turns, an application's frames): kept, they are one lookup.
    """
    wr, wc = np.frombuffer(raw_rows, dtype=np.float64), np.frombuffer(raw_cols, dtype=np.float64)
    sym_r, sym_c = _symmetry_of(raw_rows), _symmetry_of(raw_cols)
    # _plan reads only the dtypes of the data
    single, (check_rows, check_cols) = _plan(np.empty(0, src_dtype), np.empty(0, out_dtype),
                                             [wr, wc], cval)
    w_single, sep8 = None, False
    if single:
        w_single = tuple(np.asarray(w, dtype=np.float32) for w in (wr, wc))
        for w in w_single:
            w.flags.writeable = False
        sep8 = not rows_first and _sep2d.sep8_fits(src_dtype, out_dtype, wr, sym_r, wc, sym_c,
                                                    mode_rows, mode_cols, cval, check_rows,
                                                    check_cols)
    return wr, sym_r, wc, sym_c, single, check_rows, check_cols, w_single, sep8


def uniform_2d(x, sizes, origins, modes, output, cval):
    """Both running means of uniform_filter on a 2-D image in one sweep; False when not applicable.

    Used when the result is SciPy's exactly (integer images: the running sums are exact) or to
    rounding (float outputs); the strips restart the running sums, so a float image with an
    integer output keeps the two-pass path. 8-bit images into their own dtype run on 16-bit
    integer lanes (``_box8``).
    """
    check_supported(x, output)
    if (x.ndim != 2 or x.dtype.kind == "c" or x.size == 0 or output.dtype not in KERNEL_DTYPES
            or not output.flags.c_contiguous or np.may_share_memory(output, x)
            or (x.dtype.kind == "f" and output.dtype.kind != "f")):
        return False
    src = _readable(x)
    (s0, s1), (o0, o1), (m0, m1) = sizes, origins, modes
    if _box8(src, (s0, s1), (-(s0 // 2) - o0, -(s1 // 2) - o1), (m0, m1), output, cval):
        return True
    _uni2d.uniform2d(src, s0, -(s0 // 2) - o0, m0, s1, -(s1 // 2) - o1, m1, output, float(cval),
                     team_threads(src.size * 8),
                     _single(src, output, [np.ones(s0), np.ones(s1)], cval, limit=2.0 ** 20,
                             max_taps=SINGLE_MAX_WINDOW))
    return True


@functools.lru_cache(maxsize=None)
def box8_magic(size, dtype):
    """The 16-bit magic of ``_box8k.box8`` for a window of `size` samples of 8-bit `dtype` (every
    window sum of the dtype's values checked), or None when that path does not apply."""
    if not 1 < size <= _box8k.BOX8_SIZE_MAX:
        return None
    return _box8k.magic16(size, (255 if np.dtype(dtype) == np.uint8 else 128) * size)


def _box8(src, sizes, starts, modes, output, cval):
    """uniform_2d of a uint8 / int8 image into the same dtype on 16-bit integer lanes (exact)."""
    if src.dtype != output.dtype or src.dtype not in (np.uint8, np.int8):
        return False
    info = np.iinfo(src.dtype)
    cval = float(cval)
    if not (cval.is_integer() and info.min <= cval <= info.max):
        return False
    magic = [box8_magic(int(k), src.dtype) for k in sizes]
    if None in magic or not -sizes[1] < starts[1] <= 0:
        return False
    _box8k.box8(src, sizes[0], starts[0], modes[0], sizes[1], starts[1], modes[1], output,
                int(cval), team_threads(src.size * 8), magic[0], magic[1])
    return True
