"""The direct engines: one pass of the compiled kernel (src/_direct.pyx), or one pass per axis for a
separable float filter.

Both read the input through the edge rule inside the kernel (no padded copy) and compute only the
strided outputs. Integers and bools run in exact integer arithmetic (see ``_dtypes.work_dtype``).
"""
import numpy as np

from .. import _direct as _kernel
from .._modes import MODE_CONSTANT
from .._threads import get_num_threads
from ._dtypes import finish, work_dtype


def _contiguous(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


def run_direct(plan):
    """Evaluate `plan` with the N-D direct kernel."""
    work = work_dtype(plan.result)
    x = _contiguous(plan.x, work)
    w = _contiguous(plan.w, work)
    out = np.empty(plan.out_shape, dtype=work)
    cval = np.asarray(plan.cval).astype(work)
    _kernel.correlate(x, w, out, plan.start, plan.stride, plan.boundary, cval,
                      get_num_threads())
    return finish(out, plan.result)


def pass_order(plan):
    """Axes in the order that shrinks the data fastest (cheapest sequence of 1-D passes)."""
    ratio = [o / max(n, 1) for o, n in zip(plan.out_shape, plan.x.shape)]
    return sorted(range(plan.x.ndim), key=lambda a: ratio[a])


def run_separable(plan, factors):
    """Evaluate `plan` whose weights are ``outer(*factors)`` as one 1-D pass per axis.

    Each pass filters along one axis with the edge rule and that axis' stride, leaving the other
    axes as they are. Under the constant rule the samples outside are constant along every other
    axis too, so after a pass they equal ``cval * sum(factor)``: that becomes the next pass'
    constant.
    """
    work = work_dtype(plan.result)
    cur = _contiguous(plan.x, work)
    cval = np.asarray(plan.cval).astype(work)
    nd = cur.ndim
    for axis in pass_order(plan):
        vec = np.asarray(factors[axis])
        shape = [1] * nd
        shape[axis] = vec.size
        weights = _contiguous(vec.reshape(shape), work)
        start = [0] * nd
        start[axis] = plan.start[axis]
        step = [1] * nd
        step[axis] = plan.stride[axis]
        out_shape = list(cur.shape)
        out_shape[axis] = plan.out_shape[axis]
        out = np.empty(out_shape, dtype=work)
        _kernel.correlate(cur, weights, out, start, step, plan.boundary, cval, get_num_threads())
        if plan.boundary == MODE_CONSTANT:
            cval = (cval * weights.sum(dtype=work)).astype(work)
        cur = out
    return finish(cur, plan.result)
