# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Convolutional neural networks, the lecture in code
#
# Every slide of the lecture, in order, with convcore: each formula is computed by hand in plain
# NumPy next to the library call, on the slide's own numbers where the slide has some, and an
# `assert` checks that the two agree. Run it as a script (`python examples/lecture.py`) or as a
# notebook (`jupytext --to notebook examples/lecture.py`, needs `pip install "convcore[notebook]"`).

# %%
import matplotlib.pyplot as plt
import numpy as np
from scipy import signal as scipy_signal

import convcore
from convcore import filters, functional as F, losses, metrics, models, nn, signal
from convcore.datasets import PARTICLES, detector_events, train_test_split

print("convcore", convcore.__version__)


def show(*images, titles=()):
    """The images side by side (in a notebook the figure appears under the cell)."""
    fig, axes = plt.subplots(1, len(images), figsize=(3 * len(images), 3), squeeze=False)
    for ax, image, title in zip(axes[0], images, list(titles) + [""] * len(images)):
        ax.imshow(image, cmap="gray")
        ax.set_title(title)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def close(a, b, tol=1e-9):
    """The library's result and the hand computation agree (to float rounding)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert np.allclose(a, b, rtol=tol, atol=tol), np.abs(a - b).max()
    return True


# %% [markdown]
# ## Discrete convolutions: $C = A \circledast h$
#
# $$C[m, n] = \sum_{j=-\omega}^{\omega} \sum_{i=-\omega}^{\omega} h[i + \omega, j + \omega]\, A[m + i, n + j]$$
#
# A $(2\omega + 1) \times (2\omega + 1)$ filter $h$ slides over the matrix $A$; each output is the
# sum of the products of the filter with the values under it. (Written this way, with
# $A[m + i, \dots]$, it is what signal processing calls a *correlation*; CNNs and the lecture call it
# a convolution.) By hand, straight from the formula, for every position where the filter fits
# (the slides' "Edges: None"):

# %%
def by_the_formula(A, h, stride=1):
    """C[m, n] = sum_j sum_i h[i + w, j + w] A[m + i, n + j], (m, n) where the filter fits."""
    w = h.shape[0] // 2
    rows, cols = A.shape[0] - 2 * w, A.shape[1] - 2 * w
    C = np.zeros((rows, cols))
    for m in range(rows):                  # m, n index the output; the centre sits at A[m + w, n + w]
        for n in range(cols):
            for j in range(-w, w + 1):
                for i in range(-w, w + 1):
                    C[m, n] += h[i + w, j + w] * A[m + w + i, n + w + j]
    return C[::stride, ::stride]


# %% [markdown]
# ## Filter, stride, edges: the slides' 8x8 grid
#
# The grid of the slide (a vertical line, a horizontal line, two diagonals) and the lecture's
# horizontal-line detector: $-1$ everywhere but a row of $2$ through the middle. It sums to 0, so
# flat regions give 0, and it answers $2 + 2 + 2 = 6$ on a one-pixel horizontal line (a bit less
# here, where the other lines cross the filter's $-1$ rows).

# %%
A = np.array([
    [1, 0, 1, 0, 0, 0, 0, 0],
    [0, 1, 1, 0, 0, 0, 0, 0],
    [0, 0, 1, 0, 0, 0, 0, 0],
    [0, 0, 1, 1, 0, 0, 0, 0],
    [0, 0, 1, 0, 1, 0, 0, 0],
    [1, 1, 1, 1, 1, 1, 1, 1],
    [0, 0, 1, 0, 0, 0, 1, 0],
    [0, 0, 1, 0, 0, 0, 0, 1],
])
h = filters.line_horizontal()
print(h)
C = filters.apply(A, h, boundary="none")
print(C)
assert close(C, by_the_formula(A, h))
show(A, C, titles=["A", "C = A * h (edges: none)"])
assert close(C, scipy_signal.correlate2d(A, h, mode="valid"))      # SciPy agrees
assert close(C, signal.correlate2d(A, h, mode="valid"))            # convcore's SciPy drop-in
assert C.sum(axis=1).argmax() == 4                                     # strongest on the line (row 5 of A)
line = np.zeros((5, 5), dtype=int)
line[2] = 1                                                            # a one-pixel line alone
assert (filters.apply(line, h, boundary="none")[1] == 6).all()         # 2 + 2 + 2 on the line

# %% [markdown]
# The same sum is the CNN's convolution layer (channels first, $(N, C, H, W)$, no flip):

# %%
assert close(F.conv2d(A[None, None].astype(float), h[None, None])[0, 0], C)

# %% [markdown]
# **Stride**: the filter jumps `stride` pixels at a time, i.e. every `stride`-th output is kept.

# %%
C2 = filters.apply(A, h, boundary="none", stride=2)
print(C2)
assert close(C2, by_the_formula(A, h, stride=2))
assert close(C2, F.conv2d(A[None, None].astype(float), h[None, None], stride=2)[0, 0])

# %% [markdown]
# **Edges**: at the border part of the filter falls outside the grid. "None" computes only where
# it fits (the output shrinks by 2 for a 3x3 filter); the other rules invent the missing values
# and keep the size: zeros, the grid mirrored about its edge, or the grid repeated (wrap). By
# hand: pad the grid, then apply the formula.

# %%
for boundary, pad_mode in [("zero", "constant"), ("mirror", "symmetric"), ("wrap", "wrap")]:
    out = filters.apply(A, h, boundary=boundary)
    assert out.shape == A.shape
    assert close(out, by_the_formula(np.pad(A, 1, mode=pad_mode), h)), boundary
    print(boundary, out[0])
assert filters.apply(A, h, boundary="none").shape == (6, 6)

# %% [markdown]
# The slides' 8x9 grid (one more column) and 10x10 grid (shifted, a frame of zeros) under the four
# line detectors: each finds the lines in its own direction.

# %%
A9 = np.hstack([A, np.array([[0, 0, 0, 0, 0, 1, 0, 0]]).T])
A10 = np.array([
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
    [0, 1, 0, 1, 0, 0, 0, 0, 0, 0],
    [0, 0, 1, 1, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 1, 0, 0, 0, 0, 0],
    [0, 0, 0, 1, 1, 0, 0, 0, 0, 0],
    [0, 0, 0, 1, 0, 1, 0, 0, 0, 0],
    [0, 1, 1, 1, 1, 1, 1, 1, 1, 0],
    [0, 0, 0, 1, 0, 0, 0, 1, 0, 0],
    [0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
])
detectors = {"horizontal": filters.line_horizontal(), "vertical": filters.line_vertical(),
             "diagonal 45": filters.line_diagonal_45(), "diagonal 135": filters.line_diagonal_135()}
for grid in (A9, A10):
    for name, kernel in detectors.items():
        out = filters.apply(grid, kernel, boundary="none")
        assert close(out, by_the_formula(grid, kernel)), name
    print(grid.shape, "-> (", *out.shape, ") for each detector")
print(filters.apply(A10, detectors["vertical"], boundary="none"))

# %% [markdown]
# ## Filter (11x11), stride 1, edges none, on a photograph
#
# A larger filter works the same way. The "photograph" here is a synthetic grey scene (a sky
# gradient, a sun, a house and sensor noise), so the notebook needs no download; any grey image
# (e.g. `skimage.data.camera()`) goes through the same calls. The 11x11 box filter (all weights
# 1/121) is a blur: each output is the mean of the 11x11 pixels around it.

# %%
def synthetic_photograph(size=256, seed=0):
    y, x = np.mgrid[0:size, 0:size] / size
    image = 0.8 - 0.5 * y                                              # sky, brighter at the top
    image[(x - 0.75) ** 2 + (y - 0.2) ** 2 < 0.01] = 1.0                # the sun
    image[(y > 0.55) & (x > 0.15) & (x < 0.55)] = 0.25                  # a house
    image[(y > 0.7) & (x > 0.3) & (x < 0.38)] = 0.05                    # its door
    image[y > 0.9] = 0.4                                                # the ground
    image += np.random.default_rng(seed).normal(0, 0.03, image.shape)   # sensor noise
    return image


photo = synthetic_photograph()
box11 = filters.box(11)
blurred = filters.apply(photo, box11, boundary="none")
print(photo.shape, "->", blurred.shape)                                 # 256 - 10 = 246
show(photo, blurred, titles=["photograph", "11x11 box blur"])
windows = np.lib.stride_tricks.sliding_window_view(photo, (11, 11))     # every 11x11 neighbourhood
assert close(blurred, windows.mean(axis=(2, 3)))
for m, n in [(0, 0), (100, 37), (245, 245)]:                            # and the formula itself
    assert np.isclose(blurred[m, n], sum(box11[i, j] * photo[m + i, n + j]
                                         for i in range(11) for j in range(11)))

# %% [markdown]
# ## Blurring filter (3x3)
#
# The 3x3 blurs of the slides: the box (mean of the 9 neighbours) and the Gaussian (the centre
# weighs most). On the 10x10 grid the lines spread into their neighbours.

# %%
for name, kernel in [("box", filters.box(3)), ("gaussian", filters.gaussian(3, sigma=1.0))]:
    out = filters.apply(A10, kernel, boundary="none")
    assert close(out, by_the_formula(A10, kernel))
    assert np.isclose(kernel.sum(), 1.0)                                 # a blur keeps the mean level
    print(name, np.round(kernel, 3).tolist())
print(np.round(filters.apply(A10, filters.box(3), boundary="none") * 9).astype(int))   # counts of 1s

# %% [markdown]
# ## Line detection / extraction on the photograph
#
# The four detectors on the photograph: the horizontal one lights up the roof line and the
# ground, the vertical one the walls and the door.

# %%
responses = {name: filters.apply(photo, kernel, boundary="none") for name, kernel in detectors.items()}
show(*(np.clip(r, 0, None) for r in responses.values()), titles=list(responses))
for name, kernel in detectors.items():
    assert close(responses[name], scipy_signal.correlate2d(photo, kernel, mode="valid"))
    print(f"{name:>12}: strongest response {responses[name].max():.2f}")
roof = np.flatnonzero(photo[:, 100] < 0.3)[0] - 2      # output row centred on the last row of sky
along_roof = {name: np.abs(r[roof, 50:130]).mean() for name, r in responses.items()}
print("mean response along the roof line:", {k: round(v, 2) for k, v in along_roof.items()})
assert max(along_roof, key=along_roof.get) == "horizontal"

# %% [markdown]
# ## Filter (101x101) on the photograph
#
# A 101x101 Gaussian blur: $101^2 = 10201$ multiply-adds per pixel by the formula; convcore sees
# that the Gaussian is a column times a row and runs two 1-D passes ($2 \times 101$).

# %%
g101 = filters.gaussian(101)
blur101 = filters.apply(photo, g101, boundary="none")
print(photo.shape, "->", blur101.shape)                                 # 256 - 100 = 156
show(photo, blur101, titles=["photograph", "101x101 Gaussian blur"])
for m, n in [(0, 0), (77, 120), (155, 155)]:                            # the formula at a few pixels
    assert np.isclose(blur101[m, n], np.sum(g101 * photo[m:m + 101, n:n + 101]))
col, row = g101[:, 50] / g101[:, 50].sum(), g101[50] / g101[50].sum()
assert close(g101, np.outer(col, row))                                  # separable: column x row

# %% [markdown]
# ## N-D discrete convolutions
#
# $$C[m] = \sum_{i=-\omega}^{\omega} h[i + \omega]\, A[m + i]$$
#
# In one dimension: the slide's 1x5 filter of weights 0.5 on a signal (stride 1, edges none).

# %%
h5 = filters.moving_average(5, weight=0.5).ravel()
print(h5)
a = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0, 0.0, 1.0])
C1 = signal.correlate(a, h5, mode="valid")
by_hand = [sum(h5[i + 2] * a[m + 2 + i] for i in range(-2, 3)) for m in range(len(a) - 4)]
print(C1)
assert close(C1, by_hand)
assert close(F.conv1d(a[None, None], h5[None, None])[0, 0], by_hand)     # the CNN's 1-D layer
assert C1[0] == 0.5 * (0 + 1 + 2 + 3 + 4)

# %% [markdown]
# And in three dimensions (a volume, a 3x3x3 filter): the same sum over three offsets.

# %%
vol = np.random.default_rng(1).random((6, 7, 8))
h3 = np.random.default_rng(2).random((3, 3, 3))
out3 = F.conv3d(vol[None, None], h3[None, None])[0, 0]
hand3 = np.zeros((4, 5, 6))
for i, j, k in np.ndindex(3, 3, 3):
    hand3 += h3[i, j, k] * vol[i:i + 4, j:j + 5, k:k + 6]
assert close(out3, hand3)
assert close(out3, scipy_signal.correlate(vol, h3, mode="valid"))

# %% [markdown]
# Discrete convolutions apply to array- or matrix-like data; with pre-defined filters they blur,
# sharpen or find lines; a CNN *learns* its filters, to extract the features its task needs.
#
# # Convolutional neural networks: architecture and training
#
# ## Backpropagation
#
# The loss function $J(w) = \hat y - y$; the weights move against the gradient, found with the
# chain rule through the network. For a network $x \to q_1 = w_1 x \to \hat y = w_2 q_1$:
#
# $$\frac{\partial J}{\partial w_1} = \frac{\partial J}{\partial \hat y}
#   \frac{\partial \hat y}{\partial q_1} \frac{\partial q_1}{\partial w_1} = 1 \cdot w_2 \cdot x,
#   \qquad \frac{\partial J}{\partial w_2} = 1 \cdot q_1$$
#
# and each weight takes a step $\eta$ along it (the slide writes $w + \eta \dots$; to *decrease*
# the loss the step is $w - \eta\, \partial J / \partial w$, as on the next slides).

# %%
x_in, w1, w2, y_true, eta = 2.0, 0.5, -1.5, 1.0, 0.1
net = nn.Sequential(nn.Linear(1, 1, bias=False, dtype=np.float64),
                    nn.Linear(1, 1, bias=False, dtype=np.float64))
net[0].weight.data[...] = w1
net[1].weight.data[...] = w2
y_hat = net(np.array([[x_in]]))
q1 = w1 * x_in
assert close(y_hat, [[w2 * q1]])
J = y_hat - y_true                                                       # the slide's loss
net.backward(np.ones_like(y_hat))                                        # dJ/dyhat = 1
assert close(net[0].weight.grad, [[1 * w2 * x_in]])                      # chain rule, layer 1
assert close(net[1].weight.grad, [[1 * q1]])                             # layer 2
print("dJ/dw1 =", net[0].weight.grad.item(), " dJ/dw2 =", net[1].weight.grad.item())
print("w1 ->", w1 - eta * net[0].weight.grad.item())

# %% [markdown]
# ## Backpropagation through a convolution
#
# $$\vec o = \vec x \circledast \vec F, \qquad
#   o[n] = \sum_{i=-\omega}^{\omega} x[i + n + \omega]\, F[i + \omega]$$
#
# so with a two-weight filter $o_0 = F_0 x_0 + F_1 x_1$, $o_1 = F_0 x_1 + F_1 x_2$, ... and
#
# $$\frac{\partial J}{\partial F_i} = \sum_k \frac{\partial J}{\partial o_k}
#   \frac{\partial o_k}{\partial F_i}, \qquad
#   \frac{\partial J}{\partial F_1} = \frac{\partial J}{\partial o_0} x_1
#   + \frac{\partial J}{\partial o_1} x_2 + \dots, \qquad
#   F_i \leftarrow F_i - \eta \frac{\partial J}{\partial F_i}$$
#
# The slide's eight inputs $x_0 \dots x_7$ and a three-weight filter:

# %%
x8 = np.array([1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0, 0.0])                  # x_0 ... x_7
F3 = np.array([0.5, -1.0, 0.25])                                         # F_0, F_1, F_2
o = F.conv1d(x8[None, None], F3[None, None])[0, 0]
o_hand = [sum(x8[i + n + 1] * F3[i + 1] for i in (-1, 0, 1)) for n in range(6)]
assert close(o, o_hand)
assert o[0] == F3[0] * x8[0] + F3[1] * x8[1] + F3[2] * x8[2]
dJ_do = np.array([10.0, 100.0, 0.0, -1.0, 2.0, 0.5])                     # from the layers above
_, grad_F, _ = F.conv1d_backward(dJ_do[None, None], x8[None, None], F3[None, None])
dJ_dF_hand = [sum(dJ_do[k] * x8[k + i] for k in range(6)) for i in range(3)]   # do_k/dF_i = x_{k+i}
assert close(grad_F[0, 0], dJ_dF_hand)
print("dJ/dF =", grad_F[0, 0], " F after one step:", F3 - 0.01 * grad_F[0, 0])
# the docstring's two-weight example: o0 = F0 x0 + F1 x1, dJ/dF1 = 10 * x1 + 100 * x2 = 320
_, grad_w, _ = F.conv1d_backward([[[10.0, 100.0]]], [[[1.0, 2.0, 3.0]]], [[[1.0, 1.0]]])
assert grad_w[0, 0, 1] == 10 * 2.0 + 100 * 3.0 == 320

# %% [markdown]
# ## Pooling
#
# Max pooling with 2x2 filters and stride 2: the slide's 4x4 matrix becomes
# $\begin{pmatrix}6 & 9\\ 3 & 7\end{pmatrix}$.

# %%
P = np.array([[1, 1, 2, 4],
              [5, 6, 9, 3],
              [3, 2, 4, 4],
              [1, 2, 0, 7]], dtype=float)
pooled, where = F.max_pool2d(P[None, None], 2, return_indices=True)
hand = [[P[r:r + 2, c:c + 2].max() for c in (0, 2)] for r in (0, 2)]
print(pooled[0, 0])
assert close(pooled[0, 0], hand) and close(hand, [[6, 9], [3, 7]])
assert close(nn.MaxPool2d(2)(P[None, None])[0, 0], hand)

# %% [markdown]
# Backpropagation through max pooling: each window's gradient goes to its maximum, 0 elsewhere.

# %%
grad_in = F.max_pool2d_backward(np.ones((1, 1, 2, 2)), where, (1, 1, 4, 4))[0, 0]
hand_grad = np.zeros((4, 4))
for r in (0, 2):
    for c in (0, 2):
        i, j = np.unravel_index(P[r:r + 2, c:c + 2].argmax(), (2, 2))
        hand_grad[r + i, c + j] = 1
print(grad_in)
assert close(grad_in, hand_grad)

# %% [markdown]
# ## A CNN for the detector events: proton or not proton?
#
# Application 2: can we use machine learning to accurately classify events in detectors? The
# simulated events of `convcore.datasets.detector_events`: a proton leaves a short, dense track;
# muons, pions and electrons do not. Convolution, ReLU and pooling twice, then a dense layer.

# %%
images, labels = detector_events(800, size=16, seed=0, proton_fraction=0.3)
x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=0.25, seed=0,
                                                    stratify=labels)
nn.init.manual_seed(0)
cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Flatten(), nn.Linear(16 * 4 * 4, 2))
history = cnn.fit(x_train, y_train, epochs=10, batch_size=32, lr=3e-3, verbose=0, seed=0,
                  loss=losses.CrossEntropyLoss())
print("training loss per epoch:", np.round(history["loss"], 3))
y_pred = cnn.predict(x_test)

# %% [markdown]
# ## Metrics: the confusion matrix
#
# Rows: the true class, columns: the predicted one, proton first (TP, FN / FP, TN).
#
# $$\text{accuracy} = \frac{TP + TN}{TP + FN + FP + TN}, \quad
#   \text{precision} = \frac{TP}{TP + FP}, \quad \text{recall} = \frac{TP}{TP + FN}, \quad
#   F_1 = \frac{2 \cdot \text{precision} \cdot \text{recall}}{\text{precision} + \text{recall}}$$

# %%
TP = sum(1 for t, p in zip(y_test, y_pred) if t == 1 and p == 1)
FN = sum(1 for t, p in zip(y_test, y_pred) if t == 1 and p == 0)
FP = sum(1 for t, p in zip(y_test, y_pred) if t == 0 and p == 1)
TN = sum(1 for t, p in zip(y_test, y_pred) if t == 0 and p == 0)
cm = metrics.confusion_matrix(y_test, y_pred, labels=[1, 0])
print(cm)
assert close(cm, [[TP, FN], [FP, TN]])
accuracy = (TP + TN) / (TP + FN + FP + TN)
precision = TP / (TP + FP)
recall = TP / (TP + FN)
f1 = 2 * precision * recall / (precision + recall)
assert np.isclose(metrics.accuracy_score(y_test, y_pred), accuracy)
assert np.isclose(metrics.precision_score(y_test, y_pred), precision)
assert np.isclose(metrics.recall_score(y_test, y_pred), recall)
assert np.isclose(metrics.f1_score(y_test, y_pred), f1)
print(f"accuracy {accuracy:.3f}  precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}")
assert accuracy > 0.85

# %% [markdown]
# A perfect model has only TP and TN. And "99% accuracy" says little when one class is rare: a
# model that always answers "not proton" (or "no cancer") on events with 1% protons is 99%
# accurate, and finds none of them (recall 0).

# %%
assert close(metrics.confusion_matrix(y_test, y_test, labels=[1, 0]),
             [[np.sum(y_test == 1), 0], [0, np.sum(y_test == 0)]])
rare = np.array([1] * 1 + [0] * 99)
always_no = np.zeros(100, dtype=int)
print("accuracy", metrics.accuracy_score(rare, always_no),
      " recall", metrics.recall_score(rare, always_no, zero_division=0))
assert metrics.accuracy_score(rare, always_no) == 0.99
assert metrics.recall_score(rare, always_no, zero_division=0) == 0.0

# %% [markdown]
# ## Multi-class classification
#
# What does this matrix look like for several classes? One row and one column per class; the
# network ends in one score (logit) per class, turned into probabilities by the softmax
#
# $$\mathrm{Softmax}(\mathbf x)_i = \frac{e^{x_i}}{\sum_{j=1}^C e^{x_j}}$$

# %%
logits = cnn(x_test[:3])
probabilities = F.softmax(logits, dim=1)
hand_softmax = [[np.exp(v) / sum(np.exp(u) for u in row) for v in row] for row in logits.astype(float)]
assert close(probabilities, hand_softmax, 1e-6)
assert close(cnn.predict_proba(x_test[:3]), hand_softmax, 1e-6)
print(np.round(probabilities, 3))

events4, kinds = detector_events(400, size=16, seed=1, multiclass=True)
guess = np.array([0, 1, 2, 3] * 100)                                     # a dummy "model"
cm4 = metrics.confusion_matrix(kinds, guess)
hand4 = np.zeros((4, 4), dtype=int)
for t, p in zip(kinds, guess):
    hand4[t, p] += 1
assert close(cm4, hand4)
print(PARTICLES)
print(cm4)

# %% [markdown]
# ## Loss functions
#
# $$\text{MSE: } J(w) = \frac1N \sum_i (\hat y_i - y_i)^2, \qquad
#   \text{MAE: } J(w) = \frac1N \sum_i |\hat y_i - y_i|, \qquad
#   \text{CE: } \mathcal L(\mathbf y, \hat{\mathbf y}) = -\sum_{i=1}^N \sum_{j=1}^C y_{ij} \log \hat y_{ij}$$

# %%
y_hat_r, y_r = np.array([2.5, 0.0, 2.0, 8.0]), np.array([3.0, -0.5, 2.0, 7.0])
mse_hand = sum((p - t) ** 2 for p, t in zip(y_hat_r, y_r)) / len(y_r)
mae_hand = sum(abs(p - t) for p, t in zip(y_hat_r, y_r)) / len(y_r)
assert np.isclose(F.mse_loss(y_hat_r, y_r), mse_hand) and np.isclose(losses.MSELoss()(y_hat_r, y_r), mse_hand)
assert np.isclose(F.l1_loss(y_hat_r, y_r), mae_hand) and np.isclose(losses.MAELoss()(y_hat_r, y_r), mae_hand)
print(f"MSE {mse_hand}  MAE {mae_hand}")

# %% [markdown]
# Cross-entropy with one-hot targets $y_{ij}$ and predicted probabilities $\hat y_{ij}$. The
# library (as PyTorch) takes the network's **logits** and applies the softmax itself; the slide's
# double sum is `reduction="sum"` (the default `"mean"` divides by $N$). From probabilities,
# pass their logarithm (the softmax of $\log \hat y$ is $\hat y$ again), or use `nll_loss`.

# %%
y_hat_c = np.array([[0.7, 0.2, 0.1],
                    [0.3, 0.5, 0.2]])
y_c = np.array([[1.0, 0.0, 0.0],
                [0.0, 1.0, 0.0]])
ce_hand = -sum(y_c[i, j] * np.log(y_hat_c[i, j]) for i in range(2) for j in range(3))
print("slide's L =", round(ce_hand, 4))
assert np.isclose(F.cross_entropy(np.log(y_hat_c), y_c, reduction="sum"), ce_hand)
assert np.isclose(F.cross_entropy(np.log(y_hat_c), [0, 1], reduction="sum"), ce_hand)    # labels
assert np.isclose(F.nll_loss(np.log(y_hat_c), [0, 1], reduction="sum"), ce_hand)
assert np.isclose(F.cross_entropy(np.log(y_hat_c), y_c), ce_hand / 2)                     # mean
assert np.isclose(losses.CrossEntropyLoss(reduction="sum")(np.log(y_hat_c), y_c), ce_hand)
# from the network's logits: softmax inside
z = cnn(x_test[:4]).astype(float)
onehot = np.eye(2)[y_test[:4]]
p_z = F.softmax(z, dim=1)
assert np.isclose(F.cross_entropy(z, y_test[:4], reduction="sum"), -np.sum(onehot * np.log(p_z)))
# the trap: probabilities passed as logits are softmaxed a second time, another number
print("probabilities taken as logits:", round(float(F.cross_entropy(y_hat_c, y_c, reduction="sum")), 4))
# its gradient with respect to the logits is softmax - y, the slide's one-hot target
assert close(F.cross_entropy_backward(1.0, z, y_test[:4], reduction="sum"), p_z - onehot)

# %% [markdown]
# ## Choosing an architecture
#
# How many layers, nodes per layer, learning rate, dropout, activation functions; how many
# convolution layers, filter size, stride, pooling? Each choice fixes the shapes: a convolution
# of an $H$-pixel side with a $k$-wide filter, padding $p$ and stride $s$ gives
# $\lfloor (H + 2p - k) / s \rfloor + 1$ pixels.

# %%
def side(H, k, s=1, p=0):
    return (H + 2 * p - k) // s + 1


x_probe = np.zeros((1, 1, 32, 32), np.float32)
for k, s, p in [(3, 1, 0), (3, 1, 1), (5, 2, 2), (11, 4, 2)]:
    out = nn.Conv2d(1, 4, k, stride=s, padding=p)(x_probe)
    assert out.shape == (1, 4, side(32, k, s, p), side(32, k, s, p))
    print(f"filter {k}x{k}, stride {s}, padding {p}: 32 -> {out.shape[-1]}")
assert nn.MaxPool2d(2)(x_probe).shape[-1] == side(32, 2, 2)
# a convolution layer has C_out * C_in * k * k weights and C_out biases
conv = nn.Conv2d(3, 16, 5)
assert conv.num_parameters() == 16 * 3 * 5 * 5 + 16

# %% [markdown]
# ## Pre-trained models
#
# AlexNet, VGG, ResNets, Inception (GoogLeNet), Xception: architectures trained on ImageNet whose
# weights are published (`models.get_weights`, `models.list_weights`). Here they are built
# untrained, for two classes; AlexNet's parameters, counted by hand from its layers, match.

# %%
alexnet = models.alexnet(num_classes=2)
convs = [(3, 64, 11), (64, 192, 5), (192, 384, 3), (384, 256, 3), (256, 256, 3)]
dense = [(256 * 6 * 6, 4096), (4096, 4096), (4096, 2)]
by_hand = sum(co * ci * k * k + co for ci, co, k in convs) + sum(i * o + o for i, o in dense)
assert alexnet.num_parameters() == by_hand
print(f"AlexNet: {by_hand:,} parameters")
for build in (models.resnet18, models.googlenet, models.xception):
    net_ = build(num_classes=2)
    print(f"{build.__name__}: {net_.num_parameters():,} parameters")
# VGG-16 has 138 million; its 13 convolutions are all 3x3 (stride 1, padding 1):
vgg16_convs = [(3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
               (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512)]
print(f"VGG-16 convolutions: {sum(co * ci * 9 + co for ci, co in vgg16_convs):,} parameters")
print("published weights:", len(models.list_weights()))

# %% [markdown]
# ## Example workflow
#
# Split the data, train, check on held-out data: done above for the detector events
# (`train_test_split`, `fit`, `predict`, the metrics).
#
# ## Other network mechanisms: point convolutions and attention
#
# A **point (1x1) convolution** mixes the channels of each pixel and nothing else:
# $o[c_o, m, n] = \sum_{c_i} W[c_o, c_i]\, x[c_i, m, n] + b[c_o]$.

# %%
point = nn.PointConv2d(3, 5, dtype=np.float64)
xp = np.random.default_rng(3).random((2, 3, 4, 4))
W = point.weight.data.reshape(5, 3)
b = point.bias.data
hand_point = np.zeros((2, 5, 4, 4))
for c_out in range(5):
    for c_in in range(3):
        hand_point[:, c_out] += W[c_out, c_in] * xp[:, c_in]
    hand_point[:, c_out] += b[c_out]
assert close(point(xp), hand_point)

# %% [markdown]
# **Attention** lets every position draw on every other one, weighted by similarity:
# $A = \mathrm{softmax}(Q K^\top / \sqrt d)$, output $A V$, with $Q, K, V$ linear maps of the input.

# %%
rng = np.random.default_rng(4)
L, E = 5, 4
xs = rng.standard_normal((1, L, E))
w_in, w_out = rng.standard_normal((3 * E, E)), rng.standard_normal((E, E))
att = F.self_attention(xs, w_in, None, w_out, None, num_heads=1)
Q, K, V = xs[0] @ w_in[:E].T, xs[0] @ w_in[E:2 * E].T, xs[0] @ w_in[2 * E:].T
scores = Q @ K.T / np.sqrt(E)
A_hand = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)     # softmax of each row
assert close(att[0], (A_hand @ V) @ w_out.T)
assert close(F.softmax(scores, dim=1), A_hand)
print("attention weights of position 0:", np.round(A_hand[0], 3))

# %% [markdown]
# Every formula of the lecture agreed with convcore.

# %%
print("all slides checked")
