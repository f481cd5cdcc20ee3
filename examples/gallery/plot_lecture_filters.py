"""
The four line detectors
=======================

The lecture's line-detection kernels: each is -1 everywhere except a line of 2 through the middle
(horizontal, vertical, or one of the two diagonals), so it sums to zero — flat regions give
nothing — and answers most strongly to a thin bright line in its own direction. Here they run on
a photograph and on a simulated detector event, whose particle tracks are such lines.
"""
import matplotlib.pyplot as plt
import numpy as np
from skimage import data

from convcore import datasets, filters

detectors = {
    "horizontal": filters.line_horizontal(),
    "vertical": filters.line_vertical(),
    "diagonal 45": filters.line_diagonal_45(),
    "diagonal 135": filters.line_diagonal_135(),
}
for name, kernel in detectors.items():
    print(f"{name:>12}: {kernel.tolist()}")

# %%
# On a photograph (grey levels in [0, 1]); the response is clipped at zero to keep the lines
# brighter than their surroundings.
photo = data.camera()[::2, ::2]               # 256x256 grey
fig, axes = plt.subplots(1, 5, figsize=(12, 3))
axes[0].imshow(photo, cmap="gray")
axes[0].set_title("photograph")
for ax, (name, kernel) in zip(axes[1:], detectors.items()):
    response = filters.apply(photo, kernel)
    ax.imshow(np.clip(response, 0, None), cmap="magma")
    ax.set_title(name)
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()

# %%
# On a detector event: a proton's short, thick track and the longer tracks of other particles.
images, labels = datasets.detector_events(4, size=64, seed=3)
event = images[0, 0]
fig2, axes = plt.subplots(1, 5, figsize=(12, 3))
axes[0].imshow(event, cmap="viridis")
axes[0].set_title("event (proton)" if labels[0] else "event")
for ax, (name, kernel) in zip(axes[1:], detectors.items()):
    ax.imshow(np.clip(filters.apply(event, kernel, preserve_range=True), 0, None), cmap="viridis")
    ax.set_title(name)
for ax in axes:
    ax.set_axis_off()
fig2.tight_layout()
