"""Direct 2-D convolution for layers of shallow depth K = C_in * kh * kw (first layers), forward.

im2col turns such a layer into a GEMM whose inner dimension is only K (25 for 1 channel and a 5x5
kernel, 147 for 3 channels and 7x7): the matrix is written and read again for few multiply-adds per
value, and BLAS runs such thin products well below speed. Here a band of output rows is packed
once, zero-padded, with the input's columns gathered for each kernel column (an im2col along W
only, src/c/shallow.h), so that each tap reads the packed band at one fixed offset from the flat
output index; a register block of output channels by vectors of outputs then accumulates over the
taps without any intermediate matrix.

Every input is ``(N, C, 1, H, W)`` (a 1-D input has H = 1): ``geometry`` as in ``im2col``, with a
kernel, stride and padding of 1, 1 and 0 along D. Bands of output rows of the images are spread
over the threads of convcore's pool (src/parallel.pxd).

- ``forward(x, w, off, bias, y, geometry, rows, work, n_threads)``: ``x`` (N, C_in, H*W), ``w``
  (C_out, K) the weights (laid out here in blocks of ``OB`` output channels), ``off`` (K,) each
  tap's offset into the packed band, ``bias`` (C_out,) or (0,) for none, ``y``
  (N, C_out, oH*oW) written; bands of ``rows`` output rows, each packed into C_in * sh * kw
  planes of (rows + E) * oW values, E = (kh - 1) * dh // sh, in ``work`` (n_threads, planes *
  (rows + E) * oW + SLACK). The taps run kernel row by kernel row, and the output rows whose
  window meets the top or bottom padding run apart with only the kernel rows that meet the
  input (where the vectors saved pay for those a shorter run leaves part-filled): the zero
  padding costs no multiply-adds there (32x3x32x32 by 64x3x7x7 stride 2, padding 3: 5% of them).
- ``weight_grad(x, gy, off, partial, geometry, rows, work, chunk, group, copy_gy, n_threads)``: the
  weight gradient ``partial[i, o, k] += sum gy[n, o, q] * x_packed[q + off[k]]`` over the outputs
  q of the bands of chunk i (``chunk`` consecutive items, item = image * bands + band), packed as
  the forward packs them: ``gy`` (N, C_out, oH*oW), ``partial`` (chunks, C_out, K) zeroed by the
  caller and summed by it in order; ``work`` (n_threads, ``weight_grad_work(...)`` values) holds
  ``group`` packed bands of a chunk and (with ``copy_gy``, aligned) their grad_output rows,
  run together, and C_out * K
  vectors of sums carried from group to group (VECTOR_BYTES each, or one value). A chunk's
  bands run in order on one thread, the sums lane by lane and the lanes added at its end, so
  they have the same bits on any number of threads and for any group. The output rows whose
  window meets only the zero padding for all of a block's taps are left out (whole vectors).
- ``weight_grad_work(geometry, c_in, c_out, rows, chunk, group, itemsize)``: the values of
  ``work`` each thread of ``weight_grad`` needs.
"""
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from fused cimport floating
from geometry cimport Geometry, read_geometry, valid_range
from parallel cimport import_parallel, run_batches
from shallow_c cimport (SH_L1_BYTES, SH_OB, SH_SLACK, SH_VEC_BYTES, shallow_band, shallow_pack,
                       shallow_wband, shallow_weights)

import_parallel()

#: Output channels per block of the packed weights, and the scratch values past a packed band.
OB = SH_OB
SLACK = SH_SLACK
#: Bytes of the vectors (0: scalars): the weight gradient's vector sums take C_out * K vectors of
#: scratch per thread past the packed band.
VECTOR_BYTES = SH_VEC_BYTES
cdef enum:
    MAX_GROUP = 16
    ALIGN = 64  # bytes: a cache line, and the widest vector
#: The most bands the weight gradient packs and runs together.
WEIGHT_GROUP_MAX = MAX_GROUP


ctypedef struct Job:
    bint f64
    void* out
    const void* x
    const void* wp
    const void* gy
    const void* bias
    const Py_ssize_t* off
    const Py_ssize_t* runs  # forward: band b's at runs + b * run_ld: a count, (q0, n, k0, nk)s
    Py_ssize_t run_ld
    const Py_ssize_t* rows_met  # weight gradient: tap k meets output rows [2k] to [2k + 1] - 1
    void* work
    Py_ssize_t work_ld, K, c_in, c_out, bands, rows, pitch, chunk, acc_at, lanes
    Py_ssize_t group, band_ld, gy_ld  # weight gradient: bands run together (see _wgrad_work)
    bint copy_gy  # weight gradient: run from a copy of the group's grad_output rows
    bint wgrad, runs_outer
    const Geometry* g


cdef void _part(floating* y, const Job* j, Py_ssize_t lo, Py_ssize_t hi, int tid) noexcept nogil:
    """Items lo..hi: item = image * bands + band of output rows. The forward writes the band's
    outputs to y; the weight gradient adds its share to chunk lo // chunk of the partial sums y
    (a batch of the pool is one chunk)."""
    cdef const Geometry* g = j.g
    cdef floating* xp = <floating*>j.work + tid * j.work_ld
    cdef Py_ssize_t item, n, r0, rows, OH = g.n_out[1], OW = g.n_out[2], r, q0, m, k0, nk
    cdef const Py_ssize_t* run
    cdef Py_ssize_t extra = (g.k[1] - 1) * g.dil[1] // g.s[1]
    if j.wgrad:
        _wgrad_part(y + (lo // j.chunk) * j.c_out * j.K, j, lo, hi, xp)
        return
    for item in range(lo, hi):
        n = item // j.bands
        r0 = (item - n * j.bands) * j.rows
        rows = OH - r0 if OH - r0 < j.rows else j.rows
        shallow_pack(<const floating*>j.x + n * j.c_in * g.plane, j.c_in, g.n_in[1], g.n_in[2],
                     g.s[1], g.s[2], g.k[2], g.dil[2], g.p[1], g.p[2], OW, r0, rows + extra,
                     j.pitch, xp)
        run = j.runs + (item - n * j.bands) * j.run_ld
        for r in range(run[0]):
            q0, m, k0, nk = run[1 + 4 * r], run[2 + 4 * r], run[3 + 4 * r], run[4 + 4 * r]
            shallow_band(<const floating*>xp + q0, j.off + k0, nk,
                         <const floating*>j.wp + k0 * SH_OB, j.K, <const floating*>j.bias,
                         y + n * j.c_out * g.L + r0 * OW + q0, j.c_out, g.L, m, j.runs_outer)


cdef void _wgrad_part(floating* gw, const Job* j, Py_ssize_t lo, Py_ssize_t hi,
                      floating* work) noexcept nogil:
    """The weight gradient of the chunk of items lo..hi, added to its partial sums gw: the
    items packed `group` at a time (each into its slot of band_ld values), with copy_gy their
    grad_output rows copied (gy_ld values apart), and run together; the vector sums past them
    (see _wgrad_work)."""
    cdef const Geometry* g = j.g
    cdef Py_ssize_t item, i, o, m, n, r0, OH = g.n_out[1], OW = g.n_out[2]
    cdef Py_ssize_t extra = (g.k[1] - 1) * g.dil[1] // g.s[1]
    cdef const floating* xb[MAX_GROUP]
    cdef const floating* gb[MAX_GROUP]
    cdef Py_ssize_t nb[MAX_GROUP]
    cdef Py_ssize_t rb[MAX_GROUP]
    cdef floating* xp = <floating*>((<size_t>work + ALIGN - 1) // ALIGN * ALIGN)
    cdef floating* gyc = xp + j.group * j.band_ld
    cdef const floating* src
    item = lo
    while item < hi:
        m = min(j.group, hi - item)
        for i in range(m):
            n = (item + i) // j.bands
            r0 = (item + i - n * j.bands) * j.rows
            nb[i] = (OH - r0 if OH - r0 < j.rows else j.rows) * OW
            rb[i] = r0
            xb[i] = xp + i * j.band_ld
            gb[i] = gyc + i * j.c_out * j.gy_ld
            shallow_pack(<const floating*>j.x + n * j.c_in * g.plane, j.c_in, g.n_in[1],
                         g.n_in[2], g.s[1], g.s[2], g.k[2], g.dil[2], g.p[1], g.p[2], OW, r0,
                         nb[i] // OW + extra, j.pitch, xp + i * j.band_ld)
            src = <const floating*>j.gy + n * j.c_out * g.L + r0 * OW
            if j.copy_gy:
                for o in range(j.c_out):
                    memcpy(<floating*>gb[i] + o * j.gy_ld, src + o * g.L,
                           nb[i] * sizeof(floating))
            else:
                gb[i] = src
        shallow_wband(xb, gb, nb, rb, <int>m, j.off, j.rows_met, OW, j.K, j.c_out,
                      j.gy_ld if j.copy_gy else g.L, xp + j.acc_at, gw, item == lo,
                      item + m == hi)
        item += m


cdef Py_ssize_t _wgrad_work(const Geometry* g, Py_ssize_t c_in, Py_ssize_t c_out,
                            Py_ssize_t rows, Py_ssize_t group, Py_ssize_t itemsize,
                            Py_ssize_t* band_ld, Py_ssize_t* gy_ld,
                            Py_ssize_t* acc_at) noexcept nogil:
    """The values of work a thread of the weight gradient needs (`rows` output rows a band,
    `group` bands together), and where its parts lie from its first ALIGN-byte boundary: the
    packed bands band_ld apart, then room for their grad_output rows gy_ld apart (copied there
    with copy_gy, so that every row starts on a boundary like the packed planes: the caller's
    grad_output lies 16 bytes off one as NumPy's arrays do, and every 64-byte load straddled two
    cache lines), then from acc_at C_out * K vector sums."""
    cdef Py_ssize_t planes, a = ALIGN // itemsize, lanes = SH_VEC_BYTES // itemsize or 1
    cdef Py_ssize_t pitch = _band_pitch(g, c_in, rows, &planes)
    band_ld[0] = (planes * pitch + SH_SLACK + a - 1) // a * a
    gy_ld[0] = (rows * g.n_out[2] + a - 1) // a * a
    acc_at[0] = group * (band_ld[0] + c_out * gy_ld[0])
    return acc_at[0] + c_out * c_in * g.taps * lanes + a


include "batch.pxi"


cdef Py_ssize_t _band_pitch(const Geometry* g, Py_ssize_t c_in, Py_ssize_t rows,
                            Py_ssize_t* planes) noexcept nogil:
    """The values of a packed band's plane, and (in planes) its planes."""
    planes[0] = c_in * g.s[1] * g.k[2]
    return (rows + (g.k[1] - 1) * g.dil[1] // g.s[1]) * g.n_out[2]


cdef Py_ssize_t _band_runs(const Geometry* g, Py_ssize_t r0, Py_ssize_t rows,
                           Py_ssize_t row_taps, Py_ssize_t lanes,
                           Py_ssize_t* runs) noexcept nogil:
    """The runs of output rows r0..r0+rows-1 that the forward computes apart, written to runs as
    (q0, n, k0, nk) each (n outputs from q0 of the band, the nk taps from k0, row_taps taps a
    kernel row) and counted. A run reads the kernel rows that meet the input for any of its rows.
    Runs start at whole vectors of `lanes` outputs (a run starting mid-vector leaves two
    part-filled: 64x1x28x28 by 32x1x5x5, rows of 28 split at rows 1, 2, 26 and 27, ran 1-6%
    slower though it saved 3% of the vectors), where the kernel rows met change (near the top
    and bottom padding), chosen by dynamic programming over those points (at most 2 * kh + 1):
    the fewest vectors times taps, and of those the fewest runs."""
    cdef Py_ssize_t kh = g.k[1], OW = g.n_out[2]
    cdef Py_ssize_t pts[130]
    cdef Py_ssize_t best[130]
    cdef Py_ssize_t prev[130]
    cdef Py_ssize_t lo[130]
    cdef Py_ssize_t hi[130]
    cdef Py_ssize_t m = 0, r, a, b, i0, i1, u0, u1, cost, e, s, count, t
    # the candidate points and the kernel rows met from each to the next (lo >= hi: none)
    for r in range(r0, r0 + rows):
        valid_range(r * g.s[1] - g.p[1], g.dil[1], g.n_in[1], kh, &i0, &i1)
        if m == 0 or ((r - r0) * OW % lanes == 0 and m < 128
                      and (i0 != lo[m - 1] or i1 != hi[m - 1])):
            pts[m], lo[m], hi[m] = r, i0, i1
            m += 1
        elif i0 < i1:  # this row joins the last point's
            if lo[m - 1] >= hi[m - 1]:
                lo[m - 1], hi[m - 1] = i0, i1
            else:
                lo[m - 1], hi[m - 1] = min(lo[m - 1], i0), max(hi[m - 1], i1)
    pts[m] = r0 + rows
    best[0] = 0
    for e in range(1, m + 1):
        best[e] = -1
        u0, u1 = kh, 0  # the kernel rows met from point s to point e
        for s in range(e - 1, -1, -1):
            if lo[s] < hi[s]:
                u0, u1 = min(u0, lo[s]), max(u1, hi[s])
            cost = best[s] + 2 * (((pts[e] - pts[s]) * OW + lanes - 1) // lanes) * max(
                u1 - u0, 0) + 1
            if best[e] < 0 or cost < best[e]:
                best[e], prev[e] = cost, s
    count, e = 0, m
    while e > 0:  # the runs, last first, then turned round
        s = prev[e]
        u0, u1 = kh, 0
        for t in range(s, e):
            if lo[t] < hi[t]:
                u0, u1 = min(u0, lo[t]), max(u1, hi[t])
        runs[4 * count], runs[4 * count + 1] = (pts[s] - r0) * OW, (pts[e] - pts[s]) * OW
        runs[4 * count + 2], runs[4 * count + 3] = u0 * row_taps, max(u1 - u0, 0) * row_taps
        count += 1
        e = s
    for a in range(count // 2):
        for t in range(4):
            b = runs[4 * a + t]
            runs[4 * a + t] = runs[4 * (count - 1 - a) + t]
            runs[4 * (count - 1 - a) + t] = b
    return count


def forward(const floating[:, :, ::1] x, const floating[:, ::1] w, const Py_ssize_t[::1] off,
            const floating[::1] bias, floating[:, :, ::1] y, const long long[:, ::1] geometry,
            Py_ssize_t rows, floating[:, ::1] work, int n_threads):
    cdef Geometry g = read_geometry(geometry)
    cdef Job j
    cdef Py_ssize_t K = w.shape[1], k, pitch, planes, c, i, jj, kh, kw, b
    cdef Py_ssize_t blocks = (y.shape[1] + SH_OB - 1) // SH_OB
    cdef floating* wp
    cdef Py_ssize_t* order
    cdef Py_ssize_t* offr
    cdef Py_ssize_t* runs
    cdef const floating* w0
    cdef const floating* b0
    if (g.n_in[0] != 1 or g.k[0] != 1 or g.s[0] != 1 or g.p[0] != 0 or x.shape[2] != g.plane
            or y.shape[0] != x.shape[0] or y.shape[2] != g.L or w.shape[0] != y.shape[1]
            or bias.shape[0] not in (0, y.shape[1]) or off.shape[0] != K
            or K != x.shape[1] * g.taps or rows < 1):
        raise ValueError("forward: array shapes do not match the geometry")
    if y.shape[0] * y.shape[1] * y.shape[2] == 0:
        return
    rows = min(rows, g.n_out[1])
    pitch = _band_pitch(&g, x.shape[1], rows, &planes)
    if work.shape[0] < max(n_threads, 1) or work.shape[1] < planes * pitch + SH_SLACK:
        raise ValueError("forward: work is too small for a packed band")
    for k in range(K):  # every read of a band's outputs stays inside the packed band
        if off[k] < 0 or off[k] + rows * g.n_out[2] > planes * pitch:
            raise ValueError("forward: a tap offset reaches past the packed band")
    j.f64, j.out, j.x, j.off = floating is double, &y[0, 0, 0], &x[0, 0, 0], &off[0]
    j.work, j.work_ld = &work[0, 0], work.shape[1]
    j.K, j.c_in, j.c_out, j.rows, j.pitch, j.g = K, x.shape[1], y.shape[1], rows, pitch, &g
    j.bands = (g.n_out[1] + rows - 1) // rows
    j.runs_outer = planes * pitch * <Py_ssize_t>sizeof(floating) > SH_L1_BYTES
    j.wgrad, j.chunk, j.gy = False, 1, NULL
    w0 = &w[0, 0]
    b0 = &bias[0] if bias.shape[0] else <const floating*>NULL
    kh, kw = g.k[1], g.k[2]
    j.run_ld = 1 + 4 * min(2 * kh + 1, 128)
    # the taps' order (kernel row, channel, column) and their offsets in it, every band's runs,
    # then the weights in blocks of SH_OB channels and the bias, both padded with zeros
    # (allocated last: nothing after it may raise and leak it)
    order = <Py_ssize_t*>malloc((2 * K + j.bands * j.run_ld) * sizeof(Py_ssize_t)
                                + blocks * SH_OB * (K + 1) * sizeof(floating))
    if order == NULL:
        raise MemoryError()
    offr, runs = order + K, order + 2 * K
    wp = <floating*>(runs + j.bands * j.run_ld)
    for i in range(kh):
        for c in range(j.c_in):
            for jj in range(kw):
                k = (i * j.c_in + c) * kw + jj
                order[k] = (c * kh + i) * kw + jj
                offr[k] = off[order[k]]
    shallow_weights(w0, b0, y.shape[1], K, order, wp, wp + blocks * SH_OB * K)
    for b in range(j.bands):
        runs[b * j.run_ld] = _band_runs(&g, b * rows, min(rows, g.n_out[1] - b * rows),
                                        j.c_in * kw, SH_VEC_BYTES // sizeof(floating)
                                        if SH_VEC_BYTES else 1, runs + b * j.run_ld + 1)
    j.wp, j.bias, j.off, j.runs = wp, wp + blocks * SH_OB * K, offr, runs
    with nogil:
        run_batches(_batch, &j, x.shape[0] * j.bands, 1, n_threads)
    free(order)


def weight_grad(const floating[:, :, ::1] x, const floating[:, :, ::1] gy,
                const Py_ssize_t[::1] off, floating[:, :, ::1] partial,
                const long long[:, ::1] geometry, Py_ssize_t rows, floating[:, ::1] work,
                Py_ssize_t chunk, Py_ssize_t group, bint copy_gy, int n_threads):
    cdef Geometry g = read_geometry(geometry)
    cdef Job j
    cdef Py_ssize_t K = partial.shape[2], k, pitch, planes, items
    if (g.n_in[0] != 1 or g.k[0] != 1 or g.s[0] != 1 or g.p[0] != 0 or x.shape[2] != g.plane
            or gy.shape[0] != x.shape[0] or gy.shape[2] != g.L or partial.shape[1] != gy.shape[1]
            or off.shape[0] != K or K != x.shape[1] * g.taps or rows < 1 or chunk < 1
            or not 1 <= group <= MAX_GROUP):
        raise ValueError("weight_grad: array shapes do not match the geometry")
    rows = min(rows, g.n_out[1])
    j.bands = (g.n_out[1] + rows - 1) // rows
    items = x.shape[0] * j.bands
    if partial.shape[0] != (items + chunk - 1) // chunk:
        raise ValueError("weight_grad: partial must hold one sum per chunk of bands")
    if items == 0 or gy.shape[1] == 0:
        return
    pitch = _band_pitch(&g, x.shape[1], rows, &planes)
    j.lanes = SH_VEC_BYTES // sizeof(floating) if SH_VEC_BYTES else 1
    j.group = min(group, chunk)
    if (work.shape[0] < max(n_threads, 1) or work.shape[1] < _wgrad_work(
            &g, x.shape[1], gy.shape[1], rows, j.group, sizeof(floating), &j.band_ld, &j.gy_ld,
            &j.acc_at)):
        raise ValueError("weight_grad: work is too small for the packed bands and the sums")
    for k in range(K):  # every read of a band's outputs stays inside the packed band
        if off[k] < 0 or off[k] + rows * g.n_out[2] > planes * pitch:
            raise ValueError("weight_grad: a tap offset reaches past the packed band")
    j.f64, j.out, j.x, j.gy, j.wp, j.bias, j.off = floating is double, &partial[0, 0, 0], \
        &x[0, 0, 0], &gy[0, 0, 0], NULL, NULL, &off[0]
    j.work, j.work_ld = &work[0, 0], work.shape[1]
    j.K, j.c_in, j.c_out, j.rows, j.pitch, j.g = K, x.shape[1], gy.shape[1], rows, pitch, &g
    j.wgrad, j.chunk, j.runs_outer = True, chunk, False
    # the output rows each tap meets: tap k = (c * kh + i) * kw + jj reads input row
    # r * sh - pt + i * dh for output row r
    rows_met = <Py_ssize_t*>malloc(2 * K * sizeof(Py_ssize_t))
    if rows_met == NULL:
        raise MemoryError()
    for k in range(K):
        valid_range((k // g.k[2] % g.k[1]) * g.dil[1] - g.p[1], g.s[1], g.n_in[1], g.n_out[1],
                    &rows_met[2 * k], &rows_met[2 * k + 1])
    j.rows_met = rows_met
    j.copy_gy = copy_gy
    with nogil:
        run_batches(_batch, &j, items, chunk, n_threads)
    free(rows_met)


def weight_grad_work(const long long[:, ::1] geometry, Py_ssize_t c_in, Py_ssize_t c_out,
                     Py_ssize_t rows, Py_ssize_t chunk, Py_ssize_t group, Py_ssize_t itemsize):
    """The values of ``work`` each thread of ``weight_grad`` needs."""
    cdef Geometry g = read_geometry(geometry)
    cdef Py_ssize_t band_ld, gy_ld, acc_at
    return _wgrad_work(&g, c_in, c_out, min(max(rows, 1), g.n_out[1]), min(group, chunk),
                       itemsize, &band_ld, &gy_ld, &acc_at)

