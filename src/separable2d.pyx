"""Two 1-D passes over a 2-D image in one sweep: the separable filters of scipy.ndimage on images
(``correlate1d`` along axis 0, then along axis 1, or the other way round), on the double or float
line buffers of ``lines`` (src/linebuf.pxd), each strip of output rows finished while its input
rows are in cache. Kernels of 5 taps or more along axis 0 read the strip's rows from a copy at a
padded stride, band by band of columns (see ``_row_stride``, ``_band``); symmetric passes of 11
taps or more run in one sweep, on float buffers by multiply-adds where the AVX2 build and the
CPU have them (float32 results then differ from the baseline build's by rounding; integer
results stay SciPy's through the re-check). uint8 images into uint8 with short symmetric kernels
(the Gaussians of small sigma) run on the kernels of c/sep8.h (AVX2 builds, CPUs with FMA): the
pass across rows reads the bytes where they are, 8 columns at a time with the kernel's rows held
in registers, no float copy of the strip. uint8 into uint8 with small integer 3-tap kernels
(sobel, prewitt) runs in bytes (``wrap3_u8``): SciPy's conversion of an integer sum into uint8
is the sum modulo 256.
"""
import numpy as np

from .linework import array_codes as _array_codes, work_area as _work_area

from buffers cimport address
from fused cimport floating
from linebuf cimport (CL_UINT16, TILE, buffer_code, check_margin, cl_check_f, cl_load,
                      cl_round_fit_f, cl_store, cl_store_fit_f, cl_sym2_f, cl_sym2_fma_f,
                      cl_sym_fma_f, cl_sym_sweep_d, load_row, round_to, run_job, taps)
from modes cimport MODE_CONSTANT, map_index
from parallel cimport import_parallel

import_parallel()  # the one runner of the process (src/parallel.pxd)


cdef extern from "c/sep8.h":
    enum:
        CL_SEP8_MAX_TAPS
    int cl_sep8_ready() noexcept nogil
    void cl_sep8_cols(float* mid, Py_ssize_t ms, const unsigned char* const* rows, Py_ssize_t nr,
                      Py_ssize_t W, const float* w, const double* wd, Py_ssize_t K,
                      float e) noexcept nogil
    void cl_sep8_row(unsigned char* out, const float* ext, Py_ssize_t W, const float* w,
                     const double* wd, Py_ssize_t K, float e) noexcept nogil


cdef struct Sep:
    char* x
    char* y
    Py_ssize_t H, W, R, isz, osz
    Py_ssize_t RS             # the stride of the strip's rows in the work area (see `_row_stride`)
    Py_ssize_t band           # columns of a band of a banded column pass (see `_band`), or 0
    const void* wr            # weights along axis 0 (rows), Kr taps, symmetry sr
    const void* wc            # weights along axis 1 (columns), Kc taps, symmetry sc
                              # (double, or float with float buffers)
    Py_ssize_t Kr, Kc
    int sr, sc, mode_r, mode_c, tin, tout, rows_first
    double cval
    const double* wrd         # the weights in double, for outputs re-checked (check > 0)
    const double* wcd
    float check_r, check_c
    bint sep8                 # uint8 to uint8 on the byte-reading kernels of c/sep8.h


cdef enum:
    FMA_MIN_TAPS = 11     # float buffers: symmetric kernels from this length by multiply-adds
    BAND_MIN_TAPS = 5     # column kernels from this length run band by band (see `_band`)
    SEP8_ROWS = 32        # output rows of a strip on the kernels of c/sep8.h


cdef inline void _sym_tiles(floating* acc, const floating* buf, Py_ssize_t T, Py_ssize_t B,
                            const floating* w, Py_ssize_t K, int sym, const double* wd,
                            float check) noexcept nogil:
    """acc[t] = sum_j w[j] * buf[t + j * B] for t < T, in tiles that keep acc in L1.

    Float buffers with a long (anti)symmetric kernel: by fused multiply-adds where the build and
    the CPU have them (cl_sym_fma_f: half the additions, which bound such kernels' speed; float
    rounding, then re-checked as the others), else in SciPy's order of operations; double
    buffers: in one sweep where the build has it (cl_sym_sweep_d, SciPy's order, same bits)."""
    cdef Py_ssize_t t0 = 0, n
    while t0 < T:
        n = T - t0 if T - t0 < TILE else TILE
        if (floating is float and sym != 0 and K >= FMA_MIN_TAPS
                and cl_sym_fma_f(<float*>acc + t0, <const float*>buf + t0, n, B,
                                 <const float*>w, K, sym)):
            if check > 0:
                cl_check_f(<float*>acc + t0, <const float*>buf + t0, n, B, wd, K, sym, check)
        elif not (floating is double and sym != 0 and K >= FMA_MIN_TAPS
                  and cl_sym_sweep_d(<double*>acc + t0, <const double*>buf + t0, n, B,
                                     <const double*>w, K, sym)):
            taps(acc + t0, buf + t0, n, B, w, K, sym, wd, check)
        t0 += n


cdef bint _sym2_rows(float* acc0, float* acc1, const float* buf, Py_ssize_t W, Py_ssize_t B,
                    const float* w, Py_ssize_t K, int sym, const double* wd,
                    float check) noexcept nogil:
    """Two neighbouring output rows of a symmetric kernel across rows (acc0 from buf, acc1 from
    buf + B) in one sweep per tile, with their re-checks; False when K has no such sweep."""
    cdef Py_ssize_t t0 = 0, n
    if sym == 0 or K > 9 or K % 2 == 0:
        return False
    while t0 < W:
        n = W - t0 if W - t0 < TILE else TILE
        cl_sym2_f(acc0 + t0, acc1 + t0, buf + t0, n, B, w, K, sym)
        if check > 0:
            cl_check_f(acc0 + t0, buf + t0, n, B, wd, K, sym, check)
            cl_check_f(acc1 + t0, buf + B + t0, n, B, wd, K, sym, check)
        t0 += n
    return True


cdef void _fill_ends(const Sep* s, floating* ext) noexcept nogil:
    """The ends [0, c) and [c + W, W + Kc - 1) of the row held at ext[c:c + W] (c = Kc // 2), by
    the edge rule mode_c."""
    cdef Py_ssize_t c = s.Kc // 2, p, idx
    cdef Py_ssize_t n_ext = s.W + s.Kc - 1
    p = 0
    while p < n_ext:
        if p == c:
            p = c + s.W
            continue
        idx = map_index(p - c, s.W, s.mode_c)
        ext[p] = <floating>s.cval if idx < 0 else ext[c + idx]
        p += 1


cdef void _row_pass(const Sep* s, floating* ext, floating* res) noexcept nogil:
    """res[0:W] = the column-axis filter of the row held at ext[c:c + W] (c = Kc // 2): its ends
    are filled in by the edge rule mode_c first."""
    _fill_ends(s, ext)
    _sym_tiles(res, ext, s.W, 1, <const floating*>s.wc, s.Kc, s.sc, s.wcd, s.check_c)


cdef void _sep8_item(const Sep* s, Py_ssize_t r0, Py_ssize_t nr, float* work) noexcept nogil:
    """Output rows [r0, r0 + nr) of a uint8 image by the kernels of c/sep8.h: the pass across
    rows reads the strip's bytes where they are (the rows outside the image: the edge rule's
    rows, or a row of the constant), then each intermediate row is filtered along itself."""
    cdef const unsigned char* rows[2 * SEP8_ROWS]
    cdef Py_ssize_t cc = s.Kc // 2, cr = s.Kr // 2, ms = s.W + s.Kc - 1, p, idx
    cdef float* mid = work
    cdef unsigned char* const_row = <unsigned char*>(mid + s.R * ms)
    for p in range(s.W):
        const_row[p] = <unsigned char>s.cval
    for p in range(nr + s.Kr - 1):
        idx = map_index(r0 - cr + p, s.H, s.mode_r)
        rows[p] = const_row if idx < 0 else <unsigned char*>s.x + idx * s.W
    cl_sep8_cols(mid + cc, ms, rows, nr, s.W, <const float*>s.wr, s.wrd, s.Kr, s.check_r)
    for p in range(nr):
        _fill_ends(s, mid + p * ms)
        cl_sep8_row(<unsigned char*>s.y + (r0 + p) * s.W, mid + p * ms, s.W, <const float*>s.wc,
                    s.wcd, s.Kc, s.check_c)


cdef void _row_pass_in_place(const Sep* s, const floating* row, floating* ends,
                             floating* res) noexcept nogil:
    """_row_pass of a row of the buffers' type read where it is (W >= 2 (Kc - 1); no copy into an
    extended row): the outputs whose window lies inside it from the row itself, the c at each end
    through `ends` (10c values, the caller makes sure they fit: the samples [-c, 2c) and
    [W - 2c, W + c), then their 4c sums); every output the same sum of the same values as
    _row_pass's."""
    cdef Py_ssize_t c = s.Kc // 2, W = s.W, k, idx
    _sym_tiles(res + c, row, W - 2 * c, 1, <const floating*>s.wc, s.Kc, s.sc, s.wcd, s.check_c)
    if c == 0:
        return
    for k in range(3 * c):
        idx = map_index(k - c, W, s.mode_c)
        ends[k] = <floating>s.cval if idx < 0 else row[idx]
        idx = map_index(W - 2 * c + k, W, s.mode_c)
        ends[3 * c + k] = <floating>s.cval if idx < 0 else row[idx]
    # one sweep over both ends: outputs [0, c) are the first row end's, [3c, 4c) the last's (the
    # ones between straddle the two and are not used)
    _sym_tiles(ends + 6 * c, ends, 4 * c, 1, <const floating*>s.wc, s.Kc, s.sc, s.wcd, s.check_c)
    for k in range(c):
        res[k] = ends[6 * c + k]
        res[W - c + k] = ends[9 * c + k]


cdef inline void _round(const Sep* s, floating* v, Py_ssize_t m, bint fit) noexcept nogil:
    """round_to the output's dtype (`fit`: float values known to fit an int, no range check)."""
    if floating is float:
        if fit:
            cl_round_fit_f(v, m, s.tout)
            return
    round_to(v, m, s.tout)


cdef inline void _store(const Sep* s, Py_ssize_t r, const floating* v, bint fit) noexcept nogil:
    """Output row r from v[0:W] (`fit` as for _round)."""
    if floating is float:
        if fit:
            cl_store_fit_f(s.y + r * s.W * s.osz, v, s.W, s.tout)
            return
    cl_store(s.y + r * s.W * s.osz, s.osz, v, 1, s.W, s.tout)


cdef void _sep_item(const Sep* s, Py_ssize_t item, floating* work) noexcept nogil:
    """Output rows [r0, r0 + R) of the two passes."""
    cdef Py_ssize_t r0 = item * s.R
    cdef Py_ssize_t nr = s.H - r0 if s.H - r0 < s.R else s.R
    cdef Py_ssize_t W = s.W, p, i, idx, n_in, t0, n
    cdef Py_ssize_t cr = s.Kr // 2, cc = s.Kc // 2, ms = s.W + s.Kc - 1
    cdef bint two, same_in, same_out, fit
    cdef floating* rows = work                            # (nr + Kr - 1) x W
    cdef floating* mid = rows + (s.R + s.Kr - 1) * s.RS   # nr x ms (rows_first: nr x W)
    cdef floating* ext = mid + s.R * ms                   # ms
    cdef floating* line = ext + ms                        # W
    cdef const floating* src = rows
    cdef floating* dst
    if floating is float:
        if s.sep8:
            _sep8_item(s, r0, nr, work)
            return
    # data already of the buffers' type: a strip's input rows read where they are, results
    # written into their place (no copies in and out)
    same_in, same_out = s.tin == buffer_code(rows), s.tout == buffer_code(rows)
    # float buffers over integers of at most 16 bits hold integers or sums below 2**24 (what made
    # the caller choose them, ``single``): every value fits an int, conversions need no check
    fit = floating is float and s.tin <= CL_UINT16 and s.tout <= CL_UINT16
    n_in = nr + s.Kr - 1
    if not s.rows_first:
        # columns of the image first (axis 0), each row of the result written into the middle
        # of its own extended row, then along each row (axis 1)
        if same_in and r0 - cr >= 0 and r0 - cr + n_in <= s.H and s.RS == W:
            src = <const floating*>s.x + (r0 - cr) * W
        else:
            for p in range(n_in):
                load_row(rows + p * s.RS, s.x, map_index(r0 - cr + p, s.H, s.mode_r), W, s.isz,
                         s.tin, s.cval)
        if s.band:
            # banded (see `_band`): the column pass of the whole strip first, in bands of columns
            # narrow enough that the Kr rows a band of outputs reads stay in L1 from one output
            # row to the next (a whole row at a time read them from L2 again for every
            # output row); every output the same sum as row by row. The row passes follow.
            t0 = 0
            while t0 < W:
                n = W - t0 if W - t0 < s.band else s.band
                p = 0
                if floating is float:
                    # long kernels two output rows a sweep by multiply-adds where the build and
                    # the CPU have them (the same bits as one at a time)
                    while (p + 1 < nr and s.Kr >= FMA_MIN_TAPS
                           and cl_sym2_fma_f(mid + p * ms + cc + t0, mid + (p + 1) * ms + cc + t0,
                                             src + p * s.RS + t0, n, s.RS, <const float*>s.wr,
                                             s.Kr, s.sr)):
                        if s.check_r > 0:
                            for i in range(p, p + 2):
                                cl_check_f(mid + i * ms + cc + t0, src + i * s.RS + t0, n, s.RS,
                                           s.wrd, s.Kr, s.sr, s.check_r)
                        p += 2
                    # short kernels two output rows a sweep (SciPy's order)
                    while p + 1 < nr and _sym2_rows(mid + p * ms + cc + t0,
                                                    mid + (p + 1) * ms + cc + t0,
                                                    src + p * s.RS + t0, n, s.RS,
                                                    <const float*>s.wr, s.Kr, s.sr, s.wrd,
                                                    s.check_r):
                        p += 2
                while p < nr:
                    _sym_tiles(mid + p * ms + cc + t0, src + p * s.RS + t0, n, s.RS,
                               <const floating*>s.wr, s.Kr, s.sr, s.wrd, s.check_r)
                    p += 1
                t0 += n
        i = 0
        while i < nr:
            two = False
            if floating is float:
                # float buffers: two output rows per sweep where the kernel allows
                two = (not s.band and i + 1 < nr
                       and _sym2_rows(mid + i * ms + cc, mid + (i + 1) * ms + cc, src + i * s.RS,
                                      W, s.RS, <const float*>s.wr, s.Kr, s.sr, s.wrd, s.check_r))
            if not two and not s.band:
                _sym_tiles(mid + i * ms + cc, src + i * s.RS, W, s.RS, <const floating*>s.wr,
                           s.Kr, s.sr, s.wrd, s.check_r)
            for p in range(i, i + 2 if two else i + 1):
                _round(s, mid + p * ms + cc, W, fit)
                if same_out:
                    _row_pass(s, mid + p * ms, <floating*>s.y + (r0 + p) * W)
                else:
                    _row_pass(s, mid + p * ms, line)
                    _store(s, r0 + p, line, fit)
            i += 2 if two else 1
    else:
        # along each row first (axis 1; the row read into the middle of its extension, or where
        # it is), then the columns (axis 0) of that intermediate, into the output where it is of
        # the buffers' type
        dst = <floating*>s.y + r0 * W if same_out else mid
        for p in range(n_in):
            idx = map_index(r0 - cr + p, s.H, s.mode_r)
            if idx < 0:
                for i in range(W):
                    rows[p * W + i] = <floating>s.cval
            else:
                # in place: W >= 2 (Kc - 1) splits the row into its inside and two ends, and
                # the ends' 10c values must fit in ext (ms values; the next values belong to
                # another thread's work area)
                if same_in and W >= 2 * (s.Kc - 1) and 10 * cc <= ms:
                    _row_pass_in_place(s, <const floating*>s.x + idx * W, ext, rows + p * W)
                else:
                    cl_load(ext + cc, 1, s.x + idx * W * s.isz, s.isz, W, s.tin)
                    _row_pass(s, ext, rows + p * W)
                _round(s, rows + p * W, W, fit)
        i = 0
        if floating is float:
            # float buffers: two output rows per sweep where the kernel allows
            while i + 1 < nr and _sym2_rows(dst + i * W, dst + (i + 1) * W, rows + i * W, W, W,
                                            <const float*>s.wr, s.Kr, s.sr, s.wrd, s.check_r):
                i += 2
        _sym_tiles(dst + i * W, rows + i * W, (nr - i) * W, W, <const floating*>s.wr, s.Kr,
                   s.sr, s.wrd, s.check_r)
        if not same_out:
            for i in range(nr):
                _store(s, r0 + i, mid + i * W, fit)


cdef Py_ssize_t _row_stride(Py_ssize_t W, Py_ssize_t band) noexcept:
    """The stride (in buffer values) of the strip's input rows when the column pass comes first.

    A banded column pass reads Kr rows for every output; at a stride of a multiple of 4 KiB (an
    image 1024 or 2048 wide) those all fall into one set of the 8-way L1 cache and evict each
    other (2048x2048 float32, 33 taps: the one-sweep pass took twice the time of two line
    passes). Such strips are copied into rows padded to a multiple of 16 values plus 16, so that
    each row starts a cache line further along the sets; the others read the image in place.
    """
    return (W + 15) // 16 * 16 + 16 if band else W


cdef Py_ssize_t _band(Py_ssize_t Kr, bint single, bint rows_first) noexcept:
    """Columns of the bands in which the column pass (axis 0 first) runs, or 0: row by row. The
    Kr input rows of a band take about 20 KiB of L1 with double buffers, 12 KiB with float ones
    (a multiple of 16 columns, at least 16; 2048x2048 float32 Gaussian of sigma 4, one thread,
    AVX2: 8.9-9.7 ms with 20 KiB, 8.6-8.7 with 12; float64 0.4 ms slower with 12).

    Row by row, each output row reads its Kr input rows whole (33 rows of 2048 floats, 270 KiB;
    9 rows of 2048 doubles, 144 KiB) from L2; band by band, Kr - 1 of them are still in L1 from
    the output row above (2048x2048, one thread, AVX2: Gaussian of sigma 1, 9 taps, float64
    10.5 -> 9.2 ms, float32 3.8 -> 3.45 ms, 3.2 ms with two output rows a sweep within each band
    as row by row). 3-tap kernels run row by row, reading the image in place. Float buffers
    compute two output rows a sweep either way where the kernel allows.
    """
    cdef Py_ssize_t b
    if rows_first or Kr < BAND_MIN_TAPS:
        return 0
    b = (12288 // (Kr * 4) if single else 20480 // (Kr * 8)) // 16 * 16
    return b if b > 16 else 16


def separable2d(x, const double[::1] w_rows, int sym_rows, int mode_rows,
                const double[::1] w_cols, int sym_cols, int mode_cols, out, double cval,
                bint rows_first, int n_threads, bint single=False, double check_rows=0.0,
                double check_cols=0.0, w_single=None, sep8=None):
    """Two 1-D passes over a C-contiguous 2-D image ``x`` into ``out`` (same shape) in one sweep.

    ``w_rows`` filters along axis 0 (centred: ``start = -(len // 2)``) with ``mode_rows``,
    ``w_cols`` along axis 1 with ``mode_cols``; ``rows_first`` chooses which pass comes first
    (False: axis 0 first). Equals two calls of ``lines.correlate``, the first one's result stored
    in ``out``'s dtype and read back (SciPy's intermediate array), but each strip of output rows
    is finished while its input rows are in cache, and with one parallel region. Pays for short
    column kernels (a strip re-reads ``len(w_rows) - 1`` rows of its neighbours, and with
    ``rows_first`` recomputes their row pass); the caller picks it (``FUSE_MAX_TAPS``).
    ``single`` computes with float buffers and weights, ``check_rows`` / ``check_cols`` are the
    ``check`` of each pass (as ``lines.correlate``'s). ``w_single`` (the two weight vectors as
    float32) and ``sep8`` (what :func:`sep8_fits` answers for this call) may come from a caller
    that keeps them between calls (their NumPy calls cost more than a small image's filtering
    once the caches are cold); None: computed here.
    """
    cdef Sep s
    cdef Py_ssize_t n_items
    cdef const float[::1] wrf
    cdef const float[::1] wcf
    if x.ndim != 2 or out.shape != x.shape:
        raise ValueError("x must be 2-D and out of the same shape")
    s.tin, s.tout = _array_codes(x, out)
    if w_rows.shape[0] < 1 or w_cols.shape[0] < 1:
        raise ValueError("weights must not be empty")
    if ((sym_rows != 0 and w_rows.shape[0] % 2 == 0)
            or (sym_cols != 0 and w_cols.shape[0] % 2 == 0)):
        raise ValueError("symmetry needs an odd number of weights")
    s.H, s.W = x.shape[0], x.shape[1]
    if s.H == 0 or s.W == 0:
        return out
    s.isz, s.osz = x.dtype.itemsize, out.dtype.itemsize
    s.wr, s.Kr, s.sr, s.mode_r = &w_rows[0], w_rows.shape[0], sym_rows, mode_rows
    s.wc, s.Kc, s.sc, s.mode_c = &w_cols[0], w_cols.shape[0], sym_cols, mode_cols
    if single:
        if w_single is None:
            w_single = (np.asarray(w_rows, dtype=np.float32), np.asarray(w_cols, dtype=np.float32))
        wrf, wcf = w_single
        if wrf.shape[0] != s.Kr or wcf.shape[0] != s.Kc:
            raise ValueError("w_single must hold the weights' float32 copies")
        s.wr, s.wc = &wrf[0], &wcf[0]
    s.cval, s.rows_first = cval, rows_first
    s.wrd, s.wcd = &w_rows[0], &w_cols[0]
    s.check_r, s.check_c = check_margin(single, check_rows), check_margin(single, check_cols)
    if sep8 is None:
        sep8 = single and not rows_first and sep8_fits(x.dtype, out.dtype, w_rows, sym_rows,
                                                       w_cols, sym_cols, mode_rows, mode_cols,
                                                       cval, s.check_r, s.check_c)
    s.sep8 = single and sep8 and not rows_first
    # strips of R output rows read R + Kr - 1 rows: taller strips for longer column kernels (and
    # for float buffers, half the size). Kernels of up to 9 taps: 48 rows (float) and 24 (double)
    # rather than 32 and 16, fewer rows read twice (2048x2048 Gaussian of sigma 1, one thread,
    # AVX2, calls of the two sizes alternating in one process: float32 3-6% and float64 3-8%
    # less CPU time); a 2048-wide image's work area then takes 0.87 / 0.96 MB of L2's 1 MiB.
    s.R = (48 if single else 24) if s.Kr <= 9 else 2 * (s.Kr - 1)
    if s.sep8:
        s.R = SEP8_ROWS
    s.band = _band(s.Kr, single, rows_first)
    s.RS = _row_stride(s.W, s.band)
    s.x = address(x)
    s.y = address(out)
    n_items = (s.H + s.R - 1) // s.R
    run_job(_sep_f if single else _sep_d, &s, n_items,
            (s.R + s.Kr - 1) * s.RS + (s.R + 1) * (s.W + s.Kc - 1) + s.W, n_threads, _work_area)
    return out


def sep8_available():
    """Whether this build and CPU have the kernels of c/sep8.h (AVX2 builds, CPUs with FMA)."""
    return bool(cl_sep8_ready())


def sep8_fits(x_dtype, out_dtype, w_rows, int sym_rows, w_cols, int sym_cols, int mode_rows,
              int mode_cols, double cval, float check_r, float check_c):
    """Whether the kernels of c/sep8.h compute a call of separable2d with float buffers and these
    dtypes, weights, edge rules, cval and margins: a uint8 image into uint8, symmetric
    kernels of at most CL_SEP8_MAX_TAPS taps, the AVX2 build on a CPU with FMA, and every sum
    of either pass, float or SciPy's double, inside (-1, 256) (data and constant in [0, 255],
    so that truncating toward zero is SciPy's conversion into uint8)."""
    if not (x_dtype == np.uint8 and out_dtype == np.uint8 and cl_sep8_ready()):
        return False
    if (mode_rows == <int>MODE_CONSTANT or mode_cols == <int>MODE_CONSTANT) and not (0 <= cval <= 255 and cval == int(cval)):
        return False
    for w, sym, e in ((w_rows, sym_rows, check_r), (w_cols, sym_cols, check_c)):
        w = np.asarray(w)
        if sym <= 0 or not 3 <= w.shape[0] <= CL_SEP8_MAX_TAPS:
            return False
        # the largest and smallest sums of 0..255 under these weights, each within the margin
        # e of the float ones (plus one ulp of 256 for the double rounding of the bounds)
        hi, lo = 255.0 * float(w[w > 0].sum()), 255.0 * float(w[w < 0].sum())
        if not (hi + 2 * e + 2.0 ** -15 < 256 and lo - 2 * e - 2.0 ** -15 > -1):
            return False
    return True


cdef void _sep_f(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    _sep_item(<const Sep*>job, item, <float*>work)


cdef void _sep_d(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    _sep_item(<const Sep*>job, item, work)



# ---- uint8 into uint8 with small integer 3-tap kernels (sobel, prewitt): wrap-around bytes ----

cdef struct Wrap3:
    const unsigned char* x
    unsigned char* y
    Py_ssize_t H, W
    unsigned char a[3]        # the first pass' weights (mod 256)
    unsigned char b[3]        # the second pass'
    bint cols_first           # the first pass along axis 1 (then axis 0), else along axis 0
    int mode_r, mode_c
    unsigned char cv          # the constant (mod 256)


cdef enum:
    WRAP_ROWS = 32            # output rows of a work item


cdef inline void _wrap_along(const Wrap3* s, const unsigned char* w, const unsigned char* src,
                             unsigned char* dst, unsigned char* ext) noexcept nogil:
    """dst[j] = w[0] X[j - 1] + w[1] X[j] + w[2] X[j + 1] mod 256, X: the row src extended by
    mode_c (the constant: cv); ext holds W + 2 bytes."""
    cdef Py_ssize_t j, W = s.W, i
    cdef unsigned char w0 = w[0], w1 = w[1], w2 = w[2]
    i = map_index(-1, W, s.mode_c)
    ext[0] = s.cv if i < 0 else src[i]
    i = map_index(W, W, s.mode_c)
    ext[W + 1] = s.cv if i < 0 else src[i]
    for j in range(W):
        ext[j + 1] = src[j]
    for j in range(W):
        dst[j] = <unsigned char>(w0 * ext[j] + w1 * ext[j + 1] + w2 * ext[j + 2])


cdef inline void _wrap_across(const Wrap3* s, const unsigned char* w, const unsigned char* r0,
                              const unsigned char* r1, const unsigned char* r2,
                              unsigned char* dst) noexcept nogil:
    """dst[j] = w[0] r0[j] + w[1] r1[j] + w[2] r2[j] mod 256."""
    cdef Py_ssize_t j
    cdef unsigned char w0 = w[0], w1 = w[1], w2 = w[2]
    for j in range(s.W):
        dst[j] = <unsigned char>(w0 * r0[j] + w1 * r1[j] + w2 * r2[j])


cdef void _wrap_item(const Wrap3* s, Py_ssize_t item, unsigned char* work) noexcept nogil:
    """Output rows [r0, r0 + WRAP_ROWS) of wrap3_u8."""
    cdef Py_ssize_t r0 = item * WRAP_ROWS, W = s.W, p, r, i
    cdef Py_ssize_t nr = s.H - r0 if s.H - r0 < WRAP_ROWS else WRAP_ROWS
    cdef unsigned char* ext = work                      # W + 2
    cdef unsigned char* const_row = ext + W + 2         # W
    cdef unsigned char* mid = const_row + W             # (WRAP_ROWS + 2) x W
    cdef const unsigned char* rows[WRAP_ROWS + 2]
    for p in range(W):
        const_row[p] = s.cv
    if s.cols_first:
        # along each row first (axis 1) into the strip's rows and its two neighbours; across
        # them (axis 0) into the output, the rows outside the image the edge rule's (or cv)
        for p in range(nr + 2):
            i = map_index(r0 - 1 + p, s.H, s.mode_r)
            if i < 0:
                rows[p] = const_row
            else:
                _wrap_along(s, s.a, s.x + i * W, mid + p * W, ext)
                rows[p] = mid + p * W
        for r in range(nr):
            _wrap_across(s, s.b, rows[r], rows[r + 1], rows[r + 2], s.y + (r0 + r) * W)
    else:
        # across the rows first (axis 0), each intermediate row then along itself (axis 1)
        for r in range(nr):
            for p in range(3):
                i = map_index(r0 + r - 1 + p, s.H, s.mode_r)
                rows[p] = <const unsigned char*>const_row if i < 0 else s.x + i * W
            _wrap_across(s, s.a, rows[0], rows[1], rows[2], mid)
            _wrap_along(s, s.b, mid, s.y + (r0 + r) * W, ext)


cdef void _wrap_job(const void* job, Py_ssize_t item, double* work) noexcept nogil:
    _wrap_item(<const Wrap3*>job, item, <unsigned char*>work)


def wrap3_u8(x, w_first, w_second, bint cols_first, int mode_rows, int mode_cols, int cval,
             out, int n_threads):
    """Two passes of 3-tap integer kernels over a C-contiguous 2-D uint8 image into uint8 ``out``
    (same shape, not overlapping), in wrap-around byte arithmetic.

    The first pass runs along axis 1 (``cols_first``) or axis 0 with the integer weights
    ``w_first``, the second along the other axis with ``w_second``, each centred, the edge rule
    of its axis (``mode_rows``, ``mode_cols``) reading ``cval`` outside under the constant rule.
    Equals ``separable2d`` with these kernels (and SciPy's two ``correlate1d`` calls) whenever
    every sum of SciPy's passes is an integer inside C's int: its conversion into uint8 is then
    the sum modulo 256, and sums modulo 256 can be formed from the bytes alone, 32 at a time on
    AVX2. The caller checks that (small integer weights, an integer cval).
    """
    cdef Wrap3 s
    cdef Py_ssize_t n_items, k
    if x.ndim != 2 or out.shape != x.shape or x.dtype != np.uint8 or out.dtype != np.uint8:
        raise ValueError("x and out must be 2-D uint8 arrays of one shape")
    if not (x.flags.c_contiguous and out.flags.c_contiguous and out.flags.writeable):
        raise ValueError("x and out must be C-contiguous (and out writeable)")
    if len(w_first) != 3 or len(w_second) != 3:
        raise ValueError("the weights must have 3 taps")
    for k in range(3):
        s.a[k] = <unsigned char>(<long long>w_first[k] & 255)
        s.b[k] = <unsigned char>(<long long>w_second[k] & 255)
    s.H, s.W = x.shape[0], x.shape[1]
    if s.H == 0 or s.W == 0:
        return out
    s.cols_first, s.mode_r, s.mode_c = cols_first, mode_rows, mode_cols
    s.cv = <unsigned char>(cval & 255)
    s.x = <const unsigned char*>address(x)
    s.y = <unsigned char*>address(out)
    n_items = (s.H + WRAP_ROWS - 1) // WRAP_ROWS
    run_job(_wrap_job, &s, n_items, (2 * s.W + 2 + (WRAP_ROWS + 2) * s.W) // 8 + 8, n_threads,
            _work_area)
    return out
