"""
Learned filters and feature maps
================================

What a trained network's first layer looks for, and what it sees in one event: the 3x3 filters of
the first convolution (:func:`convcore.plots.plot_filters`), and the outputs of the first
convolution and ReLU for a proton event (:func:`convcore.plots.plot_feature_maps`). Like the
lecture's hand-made line detectors, several filters come out as oriented edge and line detectors.
"""
import numpy as np

from convcore import datasets, nn, plots

X, y = datasets.detector_events(1200, size=32, seed=1)
nn.init.manual_seed(1)
model = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(16 * 8 * 8, 32), nn.ReLU(), nn.Linear(32, 2))
model.fit(X, y, epochs=4, batch_size=32, lr=3e-3, seed=1, verbose=0)
filters_figure = plots.plot_filters(model[0].weight.data)

# %%
# The first proton event, through the first convolution and its ReLU.
event = X[np.flatnonzero(y == 1)[:1]]
maps = model.eval()[:2](event)
maps_figure = plots.plot_feature_maps(maps)
