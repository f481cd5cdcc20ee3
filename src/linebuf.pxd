# What the filtering kernels that work on double or float line buffers share (lines, separable2d,
# uniform2d, correlate2d, recheck): the C of src/c/ declared once, the bridge from the fused
# `floating` buffers of the Cython code to the C functions of each buffer type, and the small
# helpers every one of those modules needs. Header-only (inline): each module has its own copy.
#
# Buffers are double (SciPy's arithmetic: results bit for bit SciPy's) or float where the caller
# proves that gives SciPy's result (``single``: float32 data to float32 results, or integer sums
# exact in float; see convcore/ndimage/_engine.py). Arrays are read into buffers and results stored
# from them through the conversions of c/line_convert.h, the array dtype given by its code
# (convcore._kernels.linework.CODES).
from libc.math cimport nextafterf

from fused cimport floating
from modes cimport map_index


cdef extern from "c/line_convert.h":
    enum:
        CL_INT32
        CL_FLOAT32
        CL_FLOAT64
    const char* CL_DTYPE_NAMES
    void cl_load_d(double* d, Py_ssize_t ds, const char* s, Py_ssize_t ss, Py_ssize_t m,
                   int t) noexcept nogil
    void cl_load_f(float* d, Py_ssize_t ds, const char* s, Py_ssize_t ss, Py_ssize_t m,
                   int t) noexcept nogil
    void cl_store_d(char* d, Py_ssize_t ds, const double* s, Py_ssize_t ss, Py_ssize_t m,
                    int t) noexcept nogil
    void cl_store_f(char* d, Py_ssize_t ds, const float* s, Py_ssize_t ss, Py_ssize_t m,
                    int t) noexcept nogil
    void cl_round_d(double* v, Py_ssize_t m, int t) noexcept nogil
    void cl_round_f(float* v, Py_ssize_t m, int t) noexcept nogil
    void cl_store_fit_f(char* d, const float* s, Py_ssize_t m, int t) noexcept nogil

cdef extern from "c/line_taps.h":
    void cl_sym_d(double* acc, const double* buf, Py_ssize_t T, Py_ssize_t B, const double* w,
                  Py_ssize_t K, int sign) noexcept nogil
    void cl_sym_f(float* acc, const float* buf, Py_ssize_t T, Py_ssize_t B, const float* w,
                  Py_ssize_t K, int sign) noexcept nogil
    void cl_gen_d(double* acc, const double* buf, Py_ssize_t T, Py_ssize_t B, const double* w,
                  Py_ssize_t K) noexcept nogil
    void cl_gen_f(float* acc, const float* buf, Py_ssize_t T, Py_ssize_t B, const float* w,
                  Py_ssize_t K) noexcept nogil
    int cl_sym2_f(float* a0, float* a1, const float* buf, Py_ssize_t T, Py_ssize_t B,
                  const float* w, Py_ssize_t K, int sign) noexcept nogil
    void cl_taps2_f(float* acc, const float** src, const float* w, Py_ssize_t n,
                    Py_ssize_t T) noexcept nogil

cdef extern from "c/window_sums.h":
    void cl_running_d(double* acc, double* run, const double* buf, Py_ssize_t q0, Py_ssize_t nq,
                      Py_ssize_t B, Py_ssize_t size, Py_ssize_t anchor) noexcept nogil
    void cl_running_f(float* acc, float* run, const float* buf, Py_ssize_t q0, Py_ssize_t nq,
                      Py_ssize_t B, Py_ssize_t size, Py_ssize_t anchor) noexcept nogil
    void cl_colrun_d(double* mid, Py_ssize_t ms, double* run, const double* rows, Py_ssize_t nr,
                     Py_ssize_t W, Py_ssize_t size, double inv, int trunc) noexcept nogil
    void cl_colrun_f(float* mid, Py_ssize_t ms, float* run, const float* rows, Py_ssize_t nr,
                     Py_ssize_t W, Py_ssize_t size, float inv, int trunc) noexcept nogil
    void cl_boxsum_d(double* out, const double* ext, Py_ssize_t W, Py_ssize_t size,
                     double inv) noexcept nogil
    void cl_boxsum_f(float* out, const float* ext, Py_ssize_t W, Py_ssize_t size,
                     float inv) noexcept nogil

cdef extern from "c/trunc_check.h":
    void cl_check_f(float* acc, const float* buf, Py_ssize_t T, Py_ssize_t B, const double* w,
                    Py_ssize_t K, int sign, float e) noexcept nogil
    void cl_check2_f(float* acc, const float** src, const double* w, Py_ssize_t n, Py_ssize_t T,
                     float e) noexcept nogil
    Py_ssize_t cl_flag_d(unsigned char* flags, const double* res, Py_ssize_t m,
                         double e) noexcept nogil
    Py_ssize_t cl_flag_f(unsigned char* flags, const float* res, Py_ssize_t m,
                         float e) noexcept nogil


cdef enum:
    TILE = 1024          # buffer values of output accumulated at a time (in L1)
    ANCHOR = 32          # float running sums are added up afresh every ANCHOR outputs


# ---- the bridge: one fused function per C function (double buffers: _d, float buffers: _f) ----

cdef inline void sym(floating* acc, const floating* buf, Py_ssize_t T, Py_ssize_t B,
                     const floating* w, Py_ssize_t K, int sign) noexcept nogil:
    if floating is double:
        cl_sym_d(acc, buf, T, B, w, K, sign)
    else:
        cl_sym_f(acc, buf, T, B, w, K, sign)


cdef inline void gen(floating* acc, const floating* buf, Py_ssize_t T, Py_ssize_t B,
                     const floating* w, Py_ssize_t K) noexcept nogil:
    if floating is double:
        cl_gen_d(acc, buf, T, B, w, K)
    else:
        cl_gen_f(acc, buf, T, B, w, K)


cdef inline void running(floating* acc, floating* run, const floating* buf, Py_ssize_t q0,
                         Py_ssize_t nq, Py_ssize_t B, Py_ssize_t size) noexcept nogil:
    """Running means (float sums re-anchored every ANCHOR outputs, double ones never)."""
    if floating is double:
        cl_running_d(acc, run, buf, q0, nq, B, size, 0)
    else:
        cl_running_f(acc, run, buf, q0, nq, B, size, ANCHOR)


cdef inline void load(floating* d, Py_ssize_t ds, const char* s, Py_ssize_t ss, Py_ssize_t m,
                      int t) noexcept nogil:
    if floating is double:
        cl_load_d(d, ds, s, ss, m, t)
    else:
        cl_load_f(d, ds, s, ss, m, t)


cdef inline void store(char* d, Py_ssize_t ds, const floating* s, Py_ssize_t ss, Py_ssize_t m,
                       int t) noexcept nogil:
    if floating is double:
        cl_store_d(d, ds, s, ss, m, t)
    else:
        cl_store_f(d, ds, s, ss, m, t)


cdef inline void round_to(floating* v, Py_ssize_t m, int t) noexcept nogil:
    """v[k] = what storing v[k] into dtype t and reading it back gives (nothing to do for a float
    dtype at least as wide as the buffers)."""
    if t == CL_FLOAT64 or (floating is float and t == CL_FLOAT32):
        return
    if floating is double:
        cl_round_d(v, m, t)
    else:
        cl_round_f(v, m, t)


cdef inline int buffer_code(const floating* buf) noexcept nogil:
    """The dtype code of the buffers' type (arrays of it need no conversion)."""
    return CL_FLOAT32 if floating is float else CL_FLOAT64


cdef inline void load_row(floating* dst, const char* x, Py_ssize_t idx, Py_ssize_t n,
                          Py_ssize_t isz, int t, double cval) noexcept nogil:
    """dst[0:n] = row `idx` of the 2-D array x (rows of n samples of `isz` bytes, dtype t), or
    cval everywhere where idx < 0 (the row falls outside, see modes.map_index)."""
    cdef Py_ssize_t i
    if idx < 0:
        for i in range(n):
            dst[i] = <floating>cval
    else:
        load(dst, 1, x + idx * n * isz, isz, n, t)


cdef inline void taps(floating* acc, const floating* buf, Py_ssize_t T, Py_ssize_t B,
                      const floating* w, Py_ssize_t K, int symmetry, const double* wd,
                      float check) noexcept nogil:
    """acc[t] = sum_j w[j] * buf[t + j * B] for t < T, SciPy's order of operations; float buffers
    with check > 0: re-checked near truncation boundaries (c/trunc_check.h, weights wd)."""
    if symmetry != 0:
        sym(acc, buf, T, B, w, K, symmetry)
    else:
        gen(acc, buf, T, B, w, K)
    if floating is float:
        if check > 0:
            cl_check_f(acc, buf, T, B, wd, K, symmetry, check)


# ---- helpers at the Python boundary ----

cdef inline float check_margin(bint single, double check) except -1:
    """The ``check`` argument of the entry points, validated (see lines.correlate)."""
    if check < 0 or check != check:
        raise ValueError("check must be a non-negative number")
    if check > 0 and not single:
        raise ValueError("check needs single")
    return <float>check


cdef inline double* aligned(double[::1] area):
    """First 64-byte aligned double of `area` (which has 8 spare doubles)."""
    cdef size_t addr = <size_t>&area[0]
    return <double*>((addr + 63) // 64 * 64)


cdef inline float recip(Py_ssize_t size, int tin) noexcept nogil:
    """What float buffers multiply a window sum by instead of dividing by `size` (the divisions
    dominate otherwise). Float data: 1 / size (within an ulp or two of the quotient). Integer data
    (sums ``S`` exact, ``|S| < 2**20``): 1 / size raised by 2**-21 and rounded up, ``r``; then
    ``S / size <= fl(S * r) <= (S / size) (1 + 2**-20)``, and as a quotient that is not an integer
    lies at least ``1 / size`` below the next one, ``fl(S * r)`` truncates to the exact quotient
    truncated, which is what SciPy's double ``S / size`` truncates to."""
    cdef double r = 1.0 / <double>size
    cdef float f
    if tin == CL_FLOAT32 or tin == CL_FLOAT64:
        return <float>r
    r = r * (1.0 + 1.0 / 2097152.0)
    f = <float>r
    if <double>f < r:
        f = nextafterf(f, 1.0)
    return f


# ---- the work items of a call, over the threads ----

# item_fn(job, item, work): one work item of a job, with the calling thread's work area
ctypedef void (*item_fn)(const void* job, Py_ssize_t item, double* work) noexcept nogil

cdef struct Items:
    item_fn fn
    const void* job
    double* base
    Py_ssize_t per


cdef inline void _items_batch(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil:
    cdef const Items* t = <const Items*>ctx
    cdef Py_ssize_t item
    for item in range(lo, hi):
        t.fn(t.job, item, t.base + tid * t.per)


cdef extern from "c/cc_pool.h":
    ctypedef void (*cc_batch_fn)(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil
    int cc_parallel(cc_batch_fn fn, void* ctx, Py_ssize_t n, Py_ssize_t batch,
                    int threads) noexcept nogil


cdef inline void run_items(item_fn fn, const void* job, Py_ssize_t n_items, double* base,
                           Py_ssize_t per, int n_threads) noexcept nogil:
    """fn(job, item, base + tid * per) for every item, on up to `n_threads` threads (items handed
    out one at a time; each writes its own outputs, so results do not depend on the schedule)."""
    cdef Items t
    t.fn, t.job, t.base, t.per = fn, job, base, per
    if n_threads > 1 and cc_parallel(_items_batch, &t, n_items, 1, n_threads) > 1:
        return
    _items_batch(&t, 0, n_items, 0)


cdef inline int team_size(int n_threads, Py_ssize_t n_items) noexcept nogil:
    """The threads a call of `n_items` work items starts: `n_threads` (decided by the caller,
    convcore._threads.kernel_threads), never more than there are items."""
    return <int>n_items if n_items < n_threads else (n_threads if n_threads > 1 else 1)
