"""
A 101x101 blur on a photograph
==============================

The lecture's largest filter: a 101x101 Gaussian (sigma 20) over a 512x512 colour photograph,
channel by channel. Directly that is 10,201 multiplications per pixel and channel, 8 billion in
all; the Gaussian is separable (rank one), so :func:`convcore.filters.apply` runs it as two 1-D
passes of 101 weights — 200 times less work — with the edges mirrored (``boundary="symm"``).
"""
import time

import matplotlib.pyplot as plt
import numpy as np
from skimage import data

from convcore import filters

photo = data.astronaut()                      # (512, 512, 3) uint8
kernel = filters.gaussian(101, sigma=20)      # (101, 101), sums to 1
start = time.perf_counter()
blurred = filters.apply(photo, kernel)        # floats in [0, 1], same shape
seconds = time.perf_counter() - start
print(f"101x101 blur of a {photo.shape} photograph: {seconds * 1000:.0f} ms")

# %%
# The kernel has rank one: it is the outer product of a 1-D Gaussian with itself.
print("rank of the kernel:", np.linalg.matrix_rank(kernel))

fig, axes = plt.subplots(1, 3, figsize=(10, 3.6))
axes[0].imshow(photo)
axes[0].set_title("photograph")
axes[1].imshow(kernel, cmap="viridis")
axes[1].set_title("101x101 Gaussian, sigma 20")
axes[2].imshow(blurred)
axes[2].set_title("blurred")
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()
