"""
Pooling: the lecture's 4x4 example
==================================

Max pooling with 2x2 windows and stride 2 keeps the largest value of each window: the lecture's
4x4 input becomes [[6, 9], [3, 7]]. In the backward pass the gradient of each output goes back to
the one input that was kept; the other inputs get zero. Average pooling keeps the mean and shares
the gradient equally.
"""
import matplotlib.pyplot as plt
import numpy as np

import convcore

x = np.array([[1, 1, 2, 4],
              [5, 6, 9, 3],
              [3, 2, 4, 4],
              [1, 2, 0, 7]], dtype=np.float32)[None, None]       # (N, C, H, W) = (1, 1, 4, 4)

pooled, indices = convcore.max_pool2d(x, 2, stride=2, return_indices=True)
print("max pool:\n", pooled[0, 0])
grad = convcore.max_pool2d_backward(np.ones_like(pooled), indices, x.shape)
print("gradient reaching the input:\n", grad[0, 0])
averaged = convcore.avg_pool2d(x, 2, stride=2)
print("average pool:\n", averaged[0, 0])


def show(ax, a, title, cmap="Blues"):
    ax.imshow(a, cmap=cmap)
    for (i, j), v in np.ndenumerate(a):
        ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=14)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
show(axes[0], x[0, 0], "input 4x4")
show(axes[1], pooled[0, 0], "max pool 2x2, stride 2", "Oranges")
show(axes[2], grad[0, 0], "gradient (ones in)", "Greens")
show(axes[3], averaged[0, 0], "average pool", "Purples")
fig.tight_layout()
