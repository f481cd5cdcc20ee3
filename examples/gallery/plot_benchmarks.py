"""
Benchmark figures
=================

The figures printed by the scripts in ``benchmarks/`` (quoted as printed, from the README; measured
on the 2-core development machine, an AMD EPYC with AVX-512, shared with other jobs, so absolute
times swing and the ratios are the meaningful part), drawn as plots. Re-run a script to measure
your own machine, e.g. ``python benchmarks/bench_models.py``.
"""
import matplotlib.pyplot as plt
import numpy as np

# bench_conv.py: conv2d, float32, threads=2, median of 9 interleaved runs (GFLOP/s), load 0.8
CONV = """\
32, 3, 32, 5, 32        forward        95.0      64.7    1.47
32, 3, 32, 5, 32        fwd+bwd       103.3      73.7    1.40
16, 64, 32, 3, 64       forward       304.5     204.7    1.49
16, 64, 32, 3, 64       fwd+bwd       256.1     183.8    1.39
8, 64, 56, 3, 64        forward       278.8     189.6    1.47
8, 64, 56, 3, 64        fwd+bwd       227.2     100.3    2.27
8, 128, 28, 3, 128      forward       327.6     218.7    1.50
8, 128, 28, 3, 128      fwd+bwd       250.7     194.7    1.29
64, 1, 28, 5, 32        forward        95.9      98.8    0.97
64, 1, 28, 5, 32        fwd+bwd        83.1      30.3    2.74"""

# bench_ndimage.py: 2048x2048, 2 threads, float32 rows (ms, median of 5)
NDIMAGE = """\
gaussian s=1   float32           4.4      70.4        4.5     16.1x      1.03x
gaussian s=4   float32          17.6     113.6        9.7      6.5x      0.55x
gaussian s=16  float32          39.3     365.1       61.4      9.3x      1.56x
sobel          float32           3.2      60.7        3.9     18.9x      1.22x
uniform 5      float32           2.9      63.5        3.7     22.1x      1.28x
correlate 5x5  float32           4.5      63.2        3.7     14.1x      0.83x"""

# bench_models.py: model inference (eval, float32), threads=2, median of 5 runs, wait policy PASSIVE
MODELS = """\
resnet18 8x3x224x224               191.7     194.9   0.98       3.3e-07
lenet5 64x1x32x32                    2.0       3.3   0.61       2.6e-07
alexnet 16x3x64x64                  47.1      36.3   1.30       5.8e-07
vgg11 16x3x32x32                    88.2      86.8   1.02       4.0e-07
vgg16 16x3x32x32                   110.0     109.4   1.01       3.1e-07
resnet18 32x3x32x32                 24.0      23.3   1.03       5.7e-07
resnet34 32x3x32x32                 45.7      41.9   1.09       5.4e-07
googlenet 32x3x32x32                36.6      46.3   0.79       3.7e-07
xception 32x3x32x32                 39.6      39.8   1.00       6.1e-07"""

# %%
# Convolution layers against PyTorch (oneDNN): GFLOP/s of each, forward and forward+backward.
rows = [line.rsplit(None, 4) for line in CONV.splitlines()]
labels = [f"{shape.strip()}\n{kind}" for shape, kind, *_ in rows]
ours, torch = (np.array([float(r[i]) for r in rows]) for i in (2, 3))
x = np.arange(len(rows))
fig, ax = plt.subplots(figsize=(11, 4))
ax.bar(x - 0.2, ours, 0.4, label="convcore")
ax.bar(x + 0.2, torch, 0.4, label="PyTorch")
ax.set_xticks(x, labels, fontsize=7)
ax.set_ylabel("GFLOP/s (higher is better)")
ax.set_title("conv2d float32, 2 threads; N, C_in, H, k, C_out")
ax.legend()
fig.tight_layout()

# %%
# Image filters on a 2048x2048 float32 image: how many times faster than scipy.ndimage and OpenCV.
rows = [line.split() for line in NDIMAGE.splitlines()]
names = [" ".join(r[:-6]) for r in rows]
versus_scipy = [float(r[-2].rstrip("x")) for r in rows]
versus_opencv = [float(r[-1].rstrip("x")) for r in rows]
x = np.arange(len(rows))
fig2, ax = plt.subplots(figsize=(9, 4))
ax.bar(x - 0.2, versus_scipy, 0.4, label="scipy.ndimage time / convcore time")
ax.bar(x + 0.2, versus_opencv, 0.4, label="OpenCV time / convcore time")
ax.axhline(1, color="k", lw=0.8)
ax.set_xticks(x, names)
ax.set_yscale("log")
ax.set_ylabel("speed-up (higher is better)")
ax.legend()
fig2.tight_layout()

# %%
# The model zoo's inference against PyTorch: convcore time / PyTorch time (lower is better).
rows = [line.rsplit(None, 4) for line in MODELS.splitlines()]
fig3, ax = plt.subplots(figsize=(9, 4))
ax.barh([r[0] for r in rows], [float(r[3]) for r in rows])
ax.axvline(1, color="k", lw=0.8)
ax.set_xlabel("convcore time / PyTorch time (lower is better)")
ax.invert_yaxis()
fig3.tight_layout()
