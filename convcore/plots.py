"""Figures for the learning workflow: confusion matrix, training curves, filters, feature maps.

Needs matplotlib (``pip install "convcore[plot]"``). Figures are built with
``matplotlib.figure.Figure`` rather than pyplot, so nothing depends on a display or on global state;
each function returns the Figure and writes it when ``path`` is given.
"""
import numpy as np

__all__ = ["plot_confusion_matrix", "plot_feature_maps", "plot_filters", "plot_history",
           "plot_images"]


def _figure(**kwargs):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError('plotting needs matplotlib: pip install "convcore[plot]"') from exc
    return Figure(**kwargs)


def _finish(fig, path):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def plot_confusion_matrix(cm, labels=None, normalize=False, title="Confusion matrix", path=None):
    """Draw a confusion matrix (rows: true class, columns: predicted class) with its counts.

    Parameters
    ----------
    cm : array_like, shape (n_classes, n_classes)
        From :func:`convcore.metrics.confusion_matrix`.
    labels : sequence of str, optional
        Class names.
    normalize : bool
        Show each row as fractions of its true class.
    path : str or path-like, optional
        Where to save the figure (format from the extension).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_confusion_matrix([[50, 3], [7, 40]], labels=["proton", "not proton"])
    >>> fig.axes[0].get_xlabel()
    'predicted'
    """
    cm = np.asarray(cm, dtype=float)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square 2-D matrix, got shape {cm.shape}")
    if labels is not None and len(labels) != cm.shape[0]:
        raise ValueError(f"labels has {len(labels)} names for {cm.shape[0]} classes")
    if normalize:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1e-12)
    labels = [str(i) for i in range(cm.shape[0])] if labels is None else list(labels)
    fig = _figure(figsize=(1.2 * len(labels) + 2.5, 1.2 * len(labels) + 1.5))
    ax = fig.add_subplot()
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = cm.max() / 2.0
    for i, j in np.ndindex(cm.shape):
        text = f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
        ax.text(j, i, text, ha="center", va="center",
                color="white" if cm[i, j] > threshold else "black")
    return _finish(fig, path)


def plot_history(history, metrics=None, path=None):
    """Training curves: one panel per metric, training and validation together.

    Parameters
    ----------
    history : mapping of name to a list of per-epoch values, or an object with a ``history``
        mapping (as returned by ``model.fit``). Names starting with ``val_`` are drawn with the
        metric they validate.
    metrics : sequence of str, optional
        The metrics to draw (default: every one but the bookkeeping entries ``lr`` and ``time``).

    Examples
    --------
    >>> fig = plot_history({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7], "accuracy": [0.6, 0.8],
    ...                     "lr": [0.001, 0.001]})
    >>> [ax.get_title() for ax in fig.axes]
    ['loss', 'accuracy']
    >>> [ax.get_title() for ax in plot_history({"loss": [1.0], "lr": [0.1]}, metrics=["lr"]).axes]
    ['lr']
    """
    history = getattr(history, "history", history)
    if not hasattr(history, "items") or not history:
        raise ValueError("history must be a non-empty mapping of metric name to values")
    if metrics is None:
        metrics = [k for k in history if not k.startswith("val_") and k not in ("lr", "time")]
        metrics += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]
    else:
        metrics = list(metrics)
        for name in metrics:
            if name not in history and f"val_{name}" not in history:
                raise ValueError(f"metrics: {name!r} is not in the history (it has "
                                 f"{sorted(history)})")
    if not metrics:
        raise ValueError("metrics must name at least one metric to draw")
    fig = _figure(figsize=(4.5 * len(metrics), 3.5))
    for i, name in enumerate(metrics):
        ax = fig.add_subplot(1, len(metrics), i + 1)
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            if key in history:
                values = np.asarray(history[key], dtype=float)
                ax.plot(np.arange(1, len(values) + 1), values, marker="o", label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.legend()
    return _finish(fig, path)


def _grid(fig, planes, titles, cmap, cols=None):
    count = len(planes)
    cols = int(np.ceil(np.sqrt(count))) if cols is None else min(cols, count)
    rows = int(np.ceil(count / cols))
    for i, (plane, title) in enumerate(zip(planes, titles)):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(plane, cmap=cmap)
        ax.set_title(title, fontsize=8)
        ax.axis("off")


def plot_filters(weight, channel=0, max_filters=32, path=None):
    """Show the learned 2-D kernels of a convolution, one image per output channel.

    Parameters
    ----------
    weight : array_like, shape (C_out, C_in, kh, kw)
        A Conv2d layer's weights (``layer.weight.data``).
    channel : int
        Which input channel's kernels to show.

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_filters(np.random.default_rng(0).normal(size=(6, 1, 5, 5)))
    >>> len(fig.axes)
    6
    """
    weight = np.asarray(weight, dtype=float)
    if weight.ndim != 4:
        raise ValueError(f"weight must be 4-D (C_out, C_in, kh, kw), got shape {weight.shape}")
    if not 0 <= channel < weight.shape[1]:
        raise ValueError(f"channel must lie in [0, {weight.shape[1]}), got {channel}")
    planes = weight[:max_filters, channel]
    fig = _figure(figsize=(8, 8))
    _grid(fig, planes, [f"filter {i}" for i in range(len(planes))], "RdBu_r")
    return _finish(fig, path)


def plot_feature_maps(maps, max_maps=16, path=None):
    """Show a layer's output for one input: one image per channel.

    Parameters
    ----------
    maps : array_like, shape (C, H, W) or (1, C, H, W)
        E.g. ``model[:2](x[:1])``, the activations after the first layers.

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_feature_maps(np.ones((1, 4, 8, 8)))
    >>> len(fig.axes)
    4
    """
    maps = np.asarray(maps, dtype=float)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"maps must be (C, H, W) or (1, C, H, W), got shape {maps.shape}")
    planes = maps[:max_maps]
    fig = _figure(figsize=(8, 8))
    _grid(fig, planes, [f"channel {i}" for i in range(len(planes))], "viridis")
    return _finish(fig, path)


def plot_images(images, titles=None, cols=None, cmap="viridis", path=None):
    """Show 2-D images side by side, e.g. an event and its filtered versions.

    Parameters
    ----------
    images : sequence of array_like, each (H, W)
        Images of any sizes (a filter with a stride gives a smaller one).
    titles : sequence of str, optional
        One title per image.
    cols : int, optional
        Images per row (default: a square grid).
    cmap : str
        A matplotlib colour map.
    path : str or path-like, optional
        Where to save the figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_images([np.eye(8), np.ones((4, 4))], titles=["event", "blurred"], cols=2)
    >>> [ax.get_title() for ax in fig.axes]
    ['event', 'blurred']
    """
    planes = [np.asarray(image, dtype=float) for image in images]
    if not planes:
        raise ValueError("images must hold at least one image")
    for i, plane in enumerate(planes):
        if plane.ndim != 2:
            raise ValueError(f"images[{i}] must be 2-D (H, W), got shape {plane.shape}")
    if titles is None:
        titles = [""] * len(planes)
    elif len(titles) != len(planes):
        raise ValueError(f"titles has {len(titles)} entries for {len(planes)} images")
    if cols is not None and (isinstance(cols, bool) or not isinstance(cols, int) or cols < 1):
        raise ValueError(f"cols must be a positive integer, got {cols!r}")
    n_cols = min(cols or int(np.ceil(np.sqrt(len(planes)))), len(planes))
    n_rows = int(np.ceil(len(planes) / n_cols))
    fig = _figure(figsize=(2.4 * n_cols, 2.4 * n_rows + 0.3))
    _grid(fig, planes, titles, cmap, cols=n_cols)
    return _finish(fig, path)
