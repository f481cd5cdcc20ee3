"""Which engine runs a convolution, and in what steps: one table of measured thresholds, then the
rules that read it. Rules take a :class:`~.plan.Plan` and look at shapes only, never at the thread
count, so a result has the same bits on 1 or 2 threads.

Every figure was measured on AVX-512 with SciPy's OpenBLAS, float32, one thread unless said
(GFLOP/s, or ms where so marked).
"""
import math

# --- the table ---------------------------------------------------------------------------------

# Operations (2 per multiply-add) a thread should have before a second one is worth waking (a
# small layer's whole run is shorter than waking a thread, and on a busy machine than a scheduler
# time slice). Halved from 2**24 once the pool's helpers watched for the next job between calls:
# LeNet-5's 6 -> 16 5x5 backward 2.07 -> 1.37 ms, training steps of LeNet-5 0.73x and of the
# digits network 0.83x the time, the ResNets within noise (0.94-1.05), 2 threads, quiet machine.
GRAIN = 1 << 23
# Matrix entries per thread from which the small-map engine's dense matrix is written on every
# thread.
EXPAND_GRAIN = 1 << 18

# OpenBLAS multiplies small matrices (M * N * K up to about 1e6) by a kernel that reads them in
# place, without packing; a shallow layer's im2col tile of up to that size runs by it.
SMALL_GEMM = 1_000_000

# Channels (in and out) from which a 3x3 stride-1 convolution runs by Winograd F(2x2, 3x3): its 16
# GEMMs have C_in as their depth and C_out rows; with fewer channels the transforms cost more than
# the multiplications they save. Measured (16 images of 32x32, forward / weight gradient, Winograd
# against im2col): 8 -> 8 channels 55/54 against 44/45, 8 -> 32 100/92 against 80/53, 32 -> 8
# 72/73 against 25/25; 4 -> 16 56/55 against 58/60, 3 -> 64 70/53 against 82/51.
MIN_CHANNELS_WINOGRAD = 8
# Rows of 2x2 output tiles per Winograd step: at most about this many tiles (the weight gradient's
# steps; its GEMMs sum over the tiles, and wider ones did a little better).
WINOGRAD_TILES = 256
# Winograd runs a step of 16 GEMMs per image whose width is the image's 2x2 tiles; their 16
# transformed weight matrices are read again for every image. With few tiles (a deep layer on a
# small image) that traffic costs more than the multiplications saved once the 16 matrices no
# longer stay in cache. Measured (forward / weight gradient, Winograd against im2col, with the
# vectorised transforms): 8x512x7x7 (16 tiles, 16 MiB of transformed weights) 60/73 against
# 86/77, 32x512x4x4 (4 tiles) 34/59 against 80/69, 8x512x10x10 (25 tiles) 93/113 against 86/88;
# 16x448x8x8 (16 tiles, 12 MiB) 118/139 against 89/85; 32x384x4x4 (9 MiB) 122/71 against 83/59;
# 32x128x4x4 103/60 against 64/56; 32x64x4x4 66/49 against 47/42; one tile (2x2 maps) 49/13
# against 67/26 at 256 channels.
MIN_WINOGRAD_TILES = 4
WINOGRAD_CACHED_BYTES = 14 << 20
MIN_WINOGRAD_TILES_UNCACHED = 25
# Share of a step's 2x2 output tiles that lies past the output (odd maps) up to which Winograd
# runs: 3x3 maps fill 9 of their 4 tiles' 16 outputs, and the 2.25 times fewer multiplications
# shrink to 1.27 (ms, one thread, Winograd against im2col of 8 images a GEMM: 16x192x3x3 by
# 384x192x3x3 3.47 against 2.62; 32x512x3x3 by 512x512x3x3 25.7 against 20.3; 5x5 maps, 25 of
# 36: 16x256x5x5 by 256x256x3x3 6.16 against 6.49, 32x128x5x5 2.50 against 3.62).
MAX_WINOGRAD_WASTE = 0.4
# The weight gradient's GEMMs sum over a step's tiles: with few they are too shallow (32x256x4x4,
# 4 tiles a step: 41 GFLOP/s against 59 by im2col; 32x64x8x8, 16 tiles: 83 against 59).
MIN_WINOGRAD_TILES_WEIGHT_GRAD = 16
# Tiles per step at most when whole small images share a step: batch 32, 3x3 'same' (ms, steps of
# 64-128 tiles against 48): 128 channels on 4x4 maps 1.99 against 1.54, on 6x6 3.39 against 2.74;
# 64 on 8x8 1.48 against 1.38; 8x128x8x8 1.45 against 1.21.
WINOGRAD_IMAGES_TILES = 48
# Output tiles per row up to which a Winograd forward whose steps hold whole images transforms
# their input channels innermost (a vector of channels at a time, the image first laid out
# position by position) rather than along tile rows of that few tiles. Measured (ms, min of 100
# calls, one thread, AVX2, busy machine, 3x3 'same', the same bits either way, channels innermost
# against along the rows): 32x64x8x8 1.52 against 1.99; 32x16x8x8 0.33 against 0.42;
# 32x192x8x8 9.9 against 11.3; 32x64x12x12 3.61 against 4.24; 32x64x16x16 5.97 against 6.41,
# 16x128x16x16 10.1 against 9.8; 16x64x32x32 (16 tiles a row) 11.7 against 11.9. The weight
# gradient follows the same rule (ms, median, one thread, AVX-512, load 1.9, channels innermost
# against along the rows: 32x64x8x8 1.40 against 2.16; 32x32x16x16 1.20 against 1.54;
# 32x128x8x8 4.51 against 5.50).
WINOGRAD_CHANNELS_INNER_TILES = 8
# Forward (and input-gradient) steps hold 16 * (C_in + C_out) values per tile (the transformed
# input and the products), kept within about L2: 8x128x28x28 ran 186 GFLOP/s with 56 tiles per
# step (0.9 MiB) against 153 with 84 to 256; 8x64x56x56 174 with 112 tiles (0.9 MiB) against 133
# with 256; below 64 tiles the GEMMs get too narrow (8x256x14x14: 126 with 28).
WINOGRAD_STEP_BYTES = 1 << 20

# Input channels (per group) up to which, and kernel taps times channels from which, a 1-D or
# 2-D convolution runs by the shallow engine (direct, from packed bands) rather than im2col's GEMM
# of depth K. Measured (ms-min of one thread, GFLOP/s shallow against im2col or Winograd):
# 64x1x28x28 by 32x1x5x5 73 against 66; 32x3x32x32 by 32x3x5x5 102 against 85; 8x3x224x224 by
# 64x3x7x7 stride 2 88 against 70; 16x3x64x64 by 64x3x11x11 stride 4 87 against 53;
# 64x6x14x14 by 16x6x5x5 68 against 48; 32x8x32x32 by 16x8x3x3 91 against 87; with 16 channels
# (3x3) 86-90 against 99-107. Its forward is also faster from K = 9 (us, min of one thread,
# shallow against im2col: 64x1x28x28 by 32x1x3x3 387 against 432; 32x1x8x8 by 32x1x3x3 39
# against 60), but a training step then loses im2col's columns, which the weight gradient
# reuses: the digits network's step (its first layer 32x1x8x8 by 32x1x3x3) took 2.21 ms with
# K = 9 against 2.14 with 25 (2 threads, 30 alternating rounds, load 1.8). So from K = 25.
SHALLOW_MAX_CHANNELS = 8
SHALLOW_MIN_K = 25
# Multiply-adds each thread of the shallow engine should have (as GRAIN): its work splits into
# bands of output rows with nothing to add up after, so a smaller share than GRAIN's pays
# (microseconds, busy machine, minimum of 300 calls, 1 against 2 threads: LeNet-5's 64x6x14x14
# by 16x6x5x5, 15.4 M multiply-adds, 422 against 286; 64x1x32x32 by 8x1x5x5, 10 M, 270 against
# 208; 16x6x14x14, 3.8 M, 107 against 107).
SHALLOW_GRAIN = 1 << 22
# A band of output rows of the shallow engine is packed into about this many bytes (kept in L2
# while the band's blocks of output channels run over it).
SHALLOW_BAND_BYTES = 256 * 1024
# Partial weight gradients of the shallow engine (chunks of bands, summed apart and then in
# order): enough for two threads to share a batch unevenly, few to zero and add.
SHALLOW_WEIGHT_CHUNKS = 8
# The weight gradient of the shallow engine packs the bands of a chunk in groups of at most
# this many bytes and outputs and runs each register block over a group's bands at once, its
# sums in registers (see src/c/shallow.h). Kernel ms, one thread: 32x3x32x32 by 64x3x7x7
# stride 2 (bands of 256 outputs, 51 KiB), groups of 1, 2, 4: AVX-512 1.91, 1.68, 1.69-1.71
# (before the aligned loads), then 2: 1.61-1.62, 4: 1.56-1.57; AVX2 1: 1.71-1.74, 4: 1.62.
# 64x1x28x28 by 32x1x5x5 (784 outputs), groups of 1, 2, 8: AVX2 0.84, 0.98, 0.96-0.97 (the
# group's rows then come from L2, and AVX2 needs more of them per multiply-add); AVX-512 0.85,
# 0.85, 0.815 (LeNet's 64x1x32x32 by 6x1x5x5 0.228 and 0.217 with 1 and 8): 1024 outputs.
SHALLOW_WEIGHT_GROUP_BYTES = 256 * 1024
SHALLOW_WEIGHT_GROUP_OUTPUTS = 1024
# Taps from which the shallow weight gradient runs from an aligned copy of grad_output's rows,
# where a group holds a whole chunk (no vector sums kept in L2 besides). Kernel ms, one thread,
# copy against none: 32x3x32x32 by 64x3x7x7 stride 2 (K = 147) 1.56-1.58 against 1.64-1.67
# (AVX-512), 1.58-1.62 against 1.67 (AVX2); 64x1x28x28 by 32x1x5x5 (K = 25) 0.94 against 0.82
# (AVX-512), 1.07 against 0.97 (AVX2); 8x3x224x224 by 64x3x7x7 stride 2 (a group of 1 of 12
# bands: the copy, the band and the sums overflow L2) 21.0 against 20.2-20.3 (AVX-512).
SHALLOW_WEIGHT_COPY_MIN_K = 64
# C_out * K up to which the shallow engine computes the weight gradient: it keeps a vector sum
# per weight on each thread (C_out * K vectors of up to 64 bytes, 1 MiB here, within L2), where
# im2col + GEMM keeps nothing of that size (ms, one thread, busy machine, shallow against
# im2col: 8x3x224x224 by 64x3x7x7 stride 2, 9408 sums, 27.0 against 36.6; AlexNet's
# 16x3x64x64 by 64x3x11x11 stride 4, 23232 sums, 4.0 against 4.4, no longer worth it).
SHALLOW_WEIGHT_GRAD_MAX_SUMS = 16384

# Partial weight gradients summed apart (and then added in order): at most one per image, at
# most WEIGHT_CHUNKS, and no more than fit in WEIGHT_CHUNK_BYTES (but at least 2, so that two
# threads share a large layer). The count never depends on the thread count. Fewer chunks give
# the Winograd weight gradient more tiles per step (deeper GEMMs) and less to zero and add
# (ms, weight gradient, 1 thread, 8 chunks in 32 MiB against 4 in 8 MiB: 32x128x4x4 by
# 128x128x3x3 2.14 against 1.81, 32x256x4x4 by 256x256x3x3 11.7 against 5.7, 8x256x14x14 16.6
# against 12.4; twelve layers of ResNet-18/LeNet-5 shapes 54.3 against 43.6, none slower).
WEIGHT_CHUNKS = 4
WEIGHT_CHUNK_BYTES = 8 * 1024 * 1024

# Input channels per group from which the stride-1 input gradient runs as a convolution (its GEMM
# has this many rows; with fewer, GEMM + col2im is faster), or with fewer when that convolution
# runs by Winograd (16x8x32x32 by 8x8x3x3: 50 GFLOP/s against 36 by col2im; 12 -> 16 channels 82
# against 54; with 4 input channels, im2col, 31 against 71).
MIN_CHANNELS_BY_CONV = 16

# Output positions per image up to which, and input channels from which, an ungrouped convolution
# runs by shifted GEMMs over images laid out batch innermost (src/shifted.pyx): one GEMM per
# kernel tap and run of output positions, reading the input in place and skipping the zero
# padding, where im2col copies every input value once per tap and Winograd transforms a few 2x2
# tiles per image. Measured (ms, one thread, forward / weight gradient, batch 32, 3x3 'same'):
# 32x32x4x4 by 64x32x3x3 0.18/0.23 against 0.47/0.64 by Winograd and 0.34/0.51 by im2col;
# 32x128x4x4 by 128x128x3x3 1.24/1.61 against 1.41/1.82; on 8x8 maps (32x64x8x8 by 64x64x3x3)
# 1.57/1.84 against 1.36/1.72 by Winograd. With a stride the input is laid out by phase, so a
# tap's runs are as long as with stride 1 (ms, one thread, forward / both gradients, against
# im2col: 32x64x8x8 by 128x64x3x3 stride 2 0.89/2.03 against 0.97/2.12); but where the kernel is
# narrower than the stride (a strided 1x1 shortcut) the taps read a fraction of the input that the
# layout copies whole: up to 4 positions that still pays (32x128x4x4 by 256x128x1x1 stride 2,
# 0.19 against 0.28), on 16 it does not (32x64x8x8 by 128x64x1x1 stride 2: 0.175 against 0.150;
# 32x128x8x8 by 256x128x1x1 0.65 against 0.43).
SHIFTED_MAX_POSITIONS = 16
SHIFTED_MAX_POSITIONS_SKIPPING = 4
# Input channels from which a stride-1 forward that shifted GEMMs could run goes by Winograd
# instead where the Winograd GEMMs are small enough to multiply by U_xi^T (winograd_by_input): on
# 4x4 maps its 4 tiles need 64 multiplications per channel pair where the shifted GEMMs need 100
# (ms of CPU time, one thread, busy machine, batch 32, 3x3 'same', shifted against Winograd):
# 128 -> 128 channels 1.16 against 0.97, 96 -> 96 0.82 against 0.72, 160 -> 160 2.54 against
# 2.07, 112 -> 224 2.07 against 1.75, 64 -> 64 0.33 against 0.30; but 32 -> 64 0.25 against 0.29,
# and 256 -> 256 (GEMMs too large for U_xi^T) 5.9 against 7.1. The gradients stay shifted.
WINOGRAD_OVER_SHIFTED_CHANNELS = 64
# Input positions per image at most: a step lays out the whole input maps of its images (a large
# stride over a large map would lay out much that no tap reads).
SHIFTED_MAX_INPUT = 64
SHIFTED_MIN_CHANNELS = 16
# Images per step of the shifted GEMMs: their columns are a run's positions times the images.
SHIFTED_IMAGES = 16

# Weight bytes from which, and output positions per image up to which, a 1x1 stride-1 forward
# joins images into one GEMM (see images_per_gemm) rather than reading each image in place: a
# GEMM per image of 1 to 4 columns reads the whole weight matrix again for every image, from L3
# once it no longer fits in L2. Measured (ms, 2 threads, busy machine, batch 32, in place against
# joined): 512 -> 512 on 2x2 maps (1 MiB of weights) 2.05 against 0.82; 512 -> 768 on 1x1 maps
# 0.65 against 0.42; 832 -> 384 on 1x1 0.58 against 0.44; 832 -> 256 on 1x1 (0.8 MiB) 0.31
# against 0.26; but 528 -> 256 on 2x2 (0.5 MiB) 0.38 against 0.46, 256 -> 256 0.20 against 0.25,
# and 832 -> 128 on 1x1 0.17 against 0.16.
POINTWISE_JOIN_BYTES = 768 << 10
POINTWISE_JOIN_POSITIONS = 16

# Operations per thread of the direct depthwise kernels from which a second thread is woken (as
# GRAIN, scaled by their speed: they run at 10-20 GFLOP/s where the GEMMs GRAIN was measured on
# run at 60-100, so the same time per thread is a quarter of GRAIN's operations). Xception's
# depthwise layers on 32x32 images (2.4 to 19 M operations) otherwise ran on one thread where
# PyTorch's took 1.3-1.4x less time on two (ms, one thread against two: 32x64x16x16 0.49
# against 0.35, 32x128x8x8 0.25 against 0.17, 32x256x4x4 0.16 against 0.12).
DEPTHWISE_GRAIN = GRAIN // 4

# Output width up to which a depthwise weight gradient runs by the direct kernels; wider outputs
# go faster by im2col + GEMM (8x64x56x56, 3x3: 3.4 ms against 4.8; 32x256x4x4: 2.3 against 1.1).
DEPTHWISE_WEIGHT_GRAD_MAX_WIDTH = 32


# --- the rules ---------------------------------------------------------------------------------

def small_maps(c):
    """Whether `c` runs as one dense matrix (the small-map engine): ungrouped, with input maps of
    at most half as many positions as the kernel has taps, where im2col would multiply mostly
    padding (a 3x3 layer on 1x1 maps too: its matrix holds the centre taps, and its weight
    gradient comes out whole, the other taps zero, in the same pass) (32x256x2x2 by 256x256x3x3,
    on a busy machine: forward 2.5 ms by im2col against 2.0, input gradient 2.9 against 1.6,
    weight gradient 2.6 against 1.7)."""
    return c.groups == 1 and 2 * math.prod(c.x.shape[2:]) <= math.prod(c.weight.shape[2:])


def shifted_images(c):
    """Images per step when `c` runs by shifted GEMMs (see SHIFTED_MAX_POSITIONS), else 0:
    ungrouped, many input channels, small input and output maps, not a 1x1 convolution that reads
    its input in place."""
    skips = any(s > (k - 1) * d + 1 for s, k, d in zip(c.stride, c.weight.shape[2:], c.dilation))
    most = SHIFTED_MAX_POSITIONS_SKIPPING if skips else SHIFTED_MAX_POSITIONS
    if (c.groups != 1 or c.weight.shape[1] < SHIFTED_MIN_CHANNELS
            or not 2 <= math.prod(c.out_spatial) <= most
            or math.prod(c.x.shape[2:]) > SHIFTED_MAX_INPUT):
        return 0
    if math.prod(c.weight.shape[2:]) == 1 and c.stride == (1,) * c.nd and not any(
            lo or hi for lo, hi in c.pads):
        return 0
    batch = c.x.shape[0]
    return even_steps(batch, max(1, min(SHIFTED_IMAGES, (batch + 1) // 2)))


def one_position(c):
    """Whether `c` maps one input position to one output position per image, ungrouped (a deep
    layer of a network on small images: 1x1 maps): a dense layer over the channels, by the one
    kernel tap that meets the input (GoogLeNet's 832 -> 384 1x1 layer, batch 32, 2 threads: 0.35
    ms joined into GEMMs against 0.26 in PyTorch)."""
    return c.groups == 1 and math.prod(c.x.shape[2:]) == 1 and math.prod(c.out_spatial) == 1


def shallow(c):
    """Whether `c` runs by the shallow engine: 1-D or 2-D, ungrouped, few input channels, and
    enough taps times channels to fill the register blocks."""
    c_in = c.weight.shape[1]
    return (c.nd <= 2 and c.groups == 1 and c_in <= SHALLOW_MAX_CHANNELS
            and c_in * math.prod(c.weight.shape[2:]) >= SHALLOW_MIN_K)


def shallow_weight_grad(c):
    """Whether the weight gradient of `c` runs by the shallow engine (from its packed bands)."""
    return shallow(c) and c.weight.shape[0] * math.prod(c.weight.shape[1:]) <= (
        SHALLOW_WEIGHT_GRAD_MAX_SUMS)


def tile(K, L, rows=0):
    """Output positions per im2col tile, for GEMMs of `rows` (C_out per group) x tile x K (+1 for
    a bias column). For a deep K (many channels x taps) sgemm wants wider tiles (512 columns:
    K x 512 values, about the size of L2); for a shallow K (first layers) 256 columns, or as many
    as keep the GEMM small (64x1x28x28 by 32x1x5x5: weight gradient 63 GFLOP/s in 256-column
    tiles, 71 in one of 784; 32x3x32x32 by 32x3x5x5: forward 77 with 256 or 384 columns, 50 with
    512)."""
    if K >= 256:
        return min(512, L)
    return min(max(256, SMALL_GEMM // max(1, rows * (K + 1))), L)


def images_per_gemm(K, L, batch):
    """Images whose im2col columns go into one GEMM. A GEMM over the few output positions of a
    small image (a deep layer of a network on 32x32 inputs has 1 to 64) runs below speed; several
    images fill it to about `tile` columns. Images of `tile` columns or more go alone: the copy
    of the shared product back to each image then costs more than it saves (64x1x28x28 by
    32x1x5x5, 5 images per GEMM, 46 GFLOP/s against 65 alone; 64x3x28x28 by 16x3x5x5, 37 against
    57; 32x512x4x4 by 512x512x3x3, 16 images, 85 against 70). At most half the batch, so that two
    threads share it."""
    return max(1, min(tile(K, 1 << 30, 1 << 30) // L, (batch + 1) // 2))


def join_pointwise(c):
    """Whether the forward of a 1x1 stride-1 convolution joins images into GEMMs (copying them
    there) rather than multiplying each image's input in place (see POINTWISE_JOIN_BYTES)."""
    return (c.weight.nbytes >= POINTWISE_JOIN_BYTES
            and math.prod(c.out_spatial) <= POINTWISE_JOIN_POSITIONS)


def weight_chunks(batch, weight_bytes):
    """Partial weight gradients summed apart (see WEIGHT_CHUNKS)."""
    return min(batch, WEIGHT_CHUNKS, max(2, WEIGHT_CHUNK_BYTES // weight_bytes))


def _tiles(c):
    """2x2 output tiles of one image."""
    return ((c.out_spatial[0] + 1) // 2) * ((c.out_spatial[1] + 1) // 2)


def use_winograd(c, images=1):
    """A 2-D, ungrouped 3x3 convolution with stride 1 and no dilation between enough channels,
    with enough output tiles per image (per step of `images` images) for the transformed
    weights' traffic to pay, and few of them cut by the output's edge."""
    c_out, c_in = c.weight.shape[:2]
    if not (c.nd == 2 and c.groups == 1 and c.weight.shape[2:] == (3, 3)
            and c.stride == (1, 1) and c.dilation == (1, 1)
            and min(c_in, c_out) >= MIN_CHANNELS_WINOGRAD):
        return False
    tiles = _tiles(c)
    if 1 - math.prod(c.out_spatial) / (4 * tiles) > MAX_WINOGRAD_WASTE:
        return False
    cached = 16 * c_in * c_out * c.weight.itemsize <= WINOGRAD_CACHED_BYTES
    return tiles >= MIN_WINOGRAD_TILES and (
        cached or tiles * images >= MIN_WINOGRAD_TILES_UNCACHED)


def winograd_forward_tiles(c):
    """Tiles per step of the Winograd forward: ~WINOGRAD_STEP_BYTES of scratch, 64 to
    WINOGRAD_TILES tiles."""
    c_out, c_in = c.weight.shape[:2]
    fit = WINOGRAD_STEP_BYTES // (16 * (c_in + c_out) * c.weight.itemsize)
    return min(WINOGRAD_TILES, max(64, fit))


def winograd_forward_images(c):
    """Images per step of the Winograd forward, or 0 when it does not apply. An image with fewer
    tiles than a step holds (`winograd_forward_tiles`) shares its step with others, so that the
    16 transformed weight matrices are read once for several images (at most half the batch, so
    that two threads share it)."""
    if c.nd != 2:
        return 0
    tiles = _tiles(c)
    step = min(winograd_forward_tiles(c), WINOGRAD_IMAGES_TILES)
    images = even_steps(c.x.shape[0], max(1, min(step // tiles, (c.x.shape[0] + 1) // 2)))
    return images if use_winograd(c, images) else 0


def winograd_channels_inner(c, tile_rows):
    """Whether the Winograd forward or weight gradient of `c` in steps of `tile_rows` rows of
    tiles transforms its input channels innermost: the steps hold whole images, of at most
    WINOGRAD_CHANNELS_INNER_TILES tiles to a row."""
    return (tile_rows >= (c.out_spatial[0] + 1) // 2
            and (c.out_spatial[1] + 1) // 2 <= WINOGRAD_CHANNELS_INNER_TILES)


def winograd_by_input(c, tile_rows, images):
    """Whether the channels-innermost Winograd forward of `c` (steps of `images` images of
    `tile_rows` rows of tiles) multiplies by its transformed weights laid out input channel
    first, U_xi^T (C_in, C_out): its 16 GEMMs then take both operands transposed, which
    OpenBLAS's small-matrix kernels (see SMALL_GEMM) run faster than the A^T B product with U_xi,
    and its packed kernels slower (CPU time, one thread, forward, U_xi^T against U_xi:
    32x64x8x8 by 64x64x3x3, GEMMs of 64 x 32 tiles x 64, 1.01 against 1.36 ms; 32x32x8x8 0.37
    against 0.51; 16x128x8x8 by 128x128x3x3, 48 tiles, 1.80 against 2.28; 32x64x16x16, 64
    tiles, 3.77 against 4.76; but 8x256x14x14 by 256x256x3x3, 49 tiles, 19.8 against 13.4)."""
    tiles = images * tile_rows * ((c.out_spatial[1] + 1) // 2)
    return winograd_channels_inner(c, tile_rows) and (
        tiles * c.weight.shape[0] * c.weight.shape[1] <= SMALL_GEMM)


def winograd_over_shifted(c):
    """Whether the forward of `c`, which shifted GEMMs could run, runs by Winograd (see
    WINOGRAD_OVER_SHIFTED_CHANNELS): whole small images a step, enough input channels, GEMMs
    small enough for U_xi^T."""
    images = winograd_forward_images(c)
    return (images > 1 and c.weight.shape[1] >= WINOGRAD_OVER_SHIFTED_CHANNELS
            and winograd_by_input(c, (c.out_spatial[0] + 1) // 2, images))


def even_steps(batch, images):
    """At most `images` images per step, so that the batch falls into an even number of steps of
    about equal size (two threads then finish together: 12+12+8 images in three steps keep one
    thread 20 images long, the other 12; four steps of 8 do not)."""
    if images <= 1:
        return images
    steps = -(-batch // images)
    images = -(-batch // (steps + steps % 2))
    while images > 1 and -(-batch // images) % 2:
        images -= 1
    return images


def weight_grad_winograd(c):
    """(chunks, images per step) of the Winograd weight gradient, or None where im2col does
    better: small images go several to a step (up to WINOGRAD_TILES tiles, within a chunk), and
    a step needs MIN_WINOGRAD_TILES_WEIGHT_GRAD tiles (its GEMMs sum over them)."""
    if c.nd != 2:
        return None
    c_out, c_in = c.weight.shape[:2]
    chunks = weight_chunks(c.x.shape[0], 16 * c_out * c_in * c.weight.itemsize)
    tiles = _tiles(c)
    images = max(1, min(WINOGRAD_TILES // tiles, c.x.shape[0] // chunks))
    if tiles * images < MIN_WINOGRAD_TILES_WEIGHT_GRAD or not use_winograd(c, images):
        return None
    return chunks, images


def depthwise_weight_grad_direct(c):
    """Whether a depthwise weight gradient runs by the direct kernels (else im2col)."""
    return c.out_spatial[-1] <= DEPTHWISE_WEIGHT_GRAD_MAX_WIDTH


def input_grad_as_conv(c):
    """Whether the input gradient of `c` may run as a convolution with the flipped weights:
    stride 1, and not a 1x1 kernel on 1x1 maps (a 3x3 layer of the last stage on 32x32 inputs,
    trimmed to its centre tap): copying the flipped weights costs as much as the product itself,
    which the GEMM with the weights transposed does in place (32x512x1x1 by 512x512: 0.55 ms
    against 1.0; on 2x2 maps and wider the copy pays, 0.27 against 0.39)."""
    return all(s == 1 for s in c.stride) and not (
        math.prod(c.weight.shape[2:]) == 1 and math.prod(c.out_spatial) == 1)


def input_grad_needs_winograd(c):
    """Whether that convolution pays only when it runs by Winograd (few input channels)."""
    return c.weight.shape[1] < MIN_CHANNELS_BY_CONV
