"""The direct engines: one pass of the compiled kernel (src/direct.pyx), or one pass per axis for a
separable float filter (src/lines.pyx for real data).

Both read the input through the edge rule inside the kernel (no padded copy) and compute only the
strided outputs. Integers and bools run in exact integer arithmetic (see ``_dtypes.work_dtype``).
"""
import dataclasses
import math

import numpy as np

from .._cpu import load
from .._modes import MODE_CONSTANT
from .._threads import direct_threads, team_threads
from ._dtypes import finish, work_dtype

_kernel, _lines = load("direct"), load("lines")  # builds picked by convcore._cpu


def _contiguous(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


def run_direct(plan, leave_out=False):
    """Evaluate `plan` with the N-D direct kernel.

    `leave_out`: products with the zero padding are not formed (NumPy's 1-D convolution, which
    SciPy uses): only a NaN or infinite tap makes that differ, and only then the slower
    :func:`_leave_out` runs.
    """
    if (leave_out and plan.w.dtype.kind in "fc" and plan.boundary == MODE_CONSTANT
            and not np.isfinite(plan.w).all()):
        return _leave_out(plan)
    work = work_dtype(plan.result)
    x = _contiguous(plan.x, work)
    w = _contiguous(plan.w, work)
    out = np.empty(plan.out_shape, dtype=work)
    cval = plan.cval
    if getattr(cval, "dtype", None) != work:   # (convolve2d's is already of the work dtype)
        cval = np.asarray(cval).astype(work)
    _kernel.correlate(x, w, out, plan.start, plan.stride, plan.boundary, cval,
                      direct_threads(out.size, w.size))
    return finish(out, plan.result)


def pass_order(plan):
    """Axes in the order that shrinks the data fastest (cheapest sequence of 1-D passes)."""
    ratio = [o / max(n, 1) for o, n in zip(plan.out_shape, plan.x.shape)]
    return sorted(range(plan.x.ndim), key=lambda a: ratio[a])


def _symmetry(vec):
    """1 for a symmetric odd-length vector, -1 for an antisymmetric one, else 0 (the symmetry flag of lines.correlate)."""
    if vec.size % 2 == 0:
        return 0
    if np.array_equal(vec, vec[::-1]):
        return 1
    if np.array_equal(vec, -vec[::-1]):
        return -1
    return 0


def _one_pass(cur, vec, axis, start, step, out_len, boundary, cval, dtype):
    """Filter every line of `cur` along `axis` with `vec`: the ndimage room's line kernel
    (src/lines.pyx, double accumulation) for real data, the direct kernel for complex data."""
    out_shape = cur.shape[:axis] + (out_len,) + cur.shape[axis + 1:]
    out = np.empty(out_shape, dtype=dtype)
    if dtype.kind == "f":
        outer = math.prod(cur.shape[:axis])
        inner = math.prod(cur.shape[axis + 1:])
        w = np.ascontiguousarray(vec, dtype=np.float64)
        _lines.correlate(cur.reshape(outer, cur.shape[axis], inner), w,
                         out.reshape(outer, out_len, inner), start, step, boundary,
                         float(np.real(cval)), _symmetry(w), team_threads(out.size * w.size))
        return out
    shape = [1] * cur.ndim
    shape[axis] = vec.size
    starts = [0] * cur.ndim
    starts[axis] = start
    steps = [1] * cur.ndim
    steps[axis] = step
    _kernel.correlate(cur, _contiguous(np.reshape(vec, shape), dtype), out, starts, steps,
                      boundary, np.asarray(cval).astype(dtype), direct_threads(out.size, vec.size))
    return out


def run_separable(plan, factors, order=None):
    """Evaluate `plan` whose weights are ``outer(*factors)`` as one 1-D pass per axis.

    Each pass filters along one axis with the edge rule and that axis' stride, leaving the other
    axes as they are. Under the constant rule the samples outside are constant along every other
    axis too, so after a pass they equal ``cval * sum(factor)``: that becomes the next pass'
    constant. Real data go through the line kernel of ``src/lines.pyx`` (shared with
    convcore.ndimage), complex data through the direct kernel with a one-axis kernel. `order`
    (default :func:`pass_order`) fixes the axes' order, e.g. a whole array's for its chunks.
    """
    work = work_dtype(plan.result)
    cur = _contiguous(plan.x, work)
    cval = plan.cval
    for axis in order or pass_order(plan):
        vec = np.asarray(factors[axis], dtype=np.float64)
        cur = _one_pass(cur, vec, axis, plan.start[axis], plan.stride[axis],
                        plan.out_shape[axis], plan.boundary, cval, work)
        if plan.boundary == MODE_CONSTANT:
            cval = cval * vec.sum()
    return finish(cur, plan.result)


def _leave_out(plan):
    """A 1-D plan with non-finite taps, without the products of those taps with the padding.

    The finite terms run on the kernel as usual (non-finite taps and samples as 0); each tap then
    adds its non-finite products with the samples it meets inside the input (NaN or infinities)
    to the outputs they reach.
    """
    x, w = plan.x, plan.w
    finite_x = np.isfinite(x) if x.dtype.kind in "fc" else np.ones(x.shape, dtype=bool)
    out = run_direct(dataclasses.replace(plan, x=np.where(finite_x, x, 0),
                                         w=np.where(np.isfinite(w), w, 0)))
    where = plan.start[0] + np.arange(out.shape[0]) * plan.stride[0]
    extra = np.zeros(out.shape, dtype=out.dtype)
    touched = np.zeros(out.shape, dtype=bool)
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(w.shape[0]):
            i = where + k
            inside = (i >= 0) & (i < x.shape[0])
            term = w[k] * x[i[inside]]
            wild = ~np.isfinite(term)
            if wild.any():
                reached = np.flatnonzero(inside)[wild]
                extra[reached] += term[wild]
                touched[reached] = True
        out[touched] += extra[touched]
    return out
