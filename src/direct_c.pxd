# The C of the direct kernel (src/direct.pyx), in src/c/: the row passes once per dtype and
# instruction set, generated from Tempita templates (direct_rows.h.tp, direct_pairs.h.tp,
# direct_block.h.tp, direct_nan.h.tp), and the run-time choice of instruction set (direct_simd.h).
#
# The passes are C11 _Generic over the element type of their first pointer, so fused Cython code
# makes one call for every dtype; they are declared here with `(...)` so that Cython hands the
# typed pointers through unchanged and the C compiler checks every argument against the chosen
# function. See each header for what a pass computes.

cdef extern from "c/direct_simd.h":
    int cc_use_avx2
    void cc_simd_init(int allowed) noexcept nogil

cdef extern from "c/direct_rows.h":
    void cc_row(...) noexcept nogil      # (d, s, w, g, n): g <= 8 taps along one row
    void cc_rows(...) noexcept nogil     # (d, s, w, g, n): one tap from each of g <= 8 rows
    void cc_rect(...) noexcept nogil     # (d, s, w, kw, r, n, acc): r <= 3 rows of 3 or 5 taps

cdef extern from "c/direct_pairs.h":
    void cc_pair3(...) noexcept nogil    # (d0, d1, s0, s1, s2, s3, w, n): 3x3, two output rows
    void cc_pair5(...) noexcept nogil    # (d0, d1, s, w, n): 5x5, two output rows

cdef extern from "c/direct_block.h":
    enum: CC_BLOCK_ROWS                  # output rows per cc_block call (4)
    void cc_block(...) noexcept nogil    # (d, s, w, kh, kw, n): large kernels, 4 output rows

cdef extern from "c/direct_nan.h":
    int cc_anynan(...) noexcept nogil    # (v, n): whether one of v[0:n] is NaN
    void cc_set_flag(unsigned char* f) noexcept nogil
