# The C of the shallow-K direct convolution (src/shallow.pyx), in src/c/shallow.h (rendered from
# its Tempita template): C11 _Generic over the element type, declared with `(...)` so that Cython
# hands the typed pointers through unchanged and the C compiler checks every argument against the
# chosen function.

cdef extern from "c/shallow.h":
    # output channels per register block, and the values read past a packed band
    int SH_OB "CC_SH_OB"
    int SH_SLACK "CC_SH_SLACK"
    # (x, C, H, W, sh, sw, kw, dw, pt, pl, OW, r0, rows, pitch, xp): a band of one image, packed
    void shallow_pack "convcore_shallow_pack"(...) noexcept nogil
    # bytes of a packed band above which its outputs run run by run (see shallow.h)
    int SH_L1_BYTES "CC_SH_L1_BYTES"
    # (w, bias or NULL, c_out, K, wp, bp): the weights (c_out x K) and bias in the blocks of
    # SH_OB output channels that shallow_band reads, padded with zeros
    void shallow_weights "convcore_shallow_weights"(...) noexcept nogil
    # (xp, off, K, wp, bias, y, c_out, plane, n, runs_outer): the n outputs of a packed band
    void shallow_band "convcore_shallow_band"(...) noexcept nogil
    # bytes of a vector (0: scalars)
    int SH_VEC_BYTES "CC_SH_VEC_BYTES"
    # (xb, gb, nb, G, off, K, c_out, plane, acc, gw, first, last): the share of a group of G
    # packed bands (at xb, their grad_output at gb, nb outputs each) of a chunk in the weight
    # gradient, added to gw (c_out x K) after the chunk's last group, else carried in the
    # vector sums acc (c_out x K vectors; not read for the chunk's first group)
    void shallow_wband "convcore_shallow_wband"(...) noexcept nogil
