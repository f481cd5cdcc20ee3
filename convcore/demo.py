"""``convcore demo``: the lecture's workflow on simulated detector events, with no download.

1. simulate particle tracks in a 2-D detector (:func:`convcore.datasets.detector_events`);
2. apply the lecture's filters (blurring, the four line detectors, an edge filter) to an event;
3. train a small CNN to tell protons from other particles;
4. print the confusion matrix, accuracy, precision, recall and F1 on held-out events;
5. write the figures (events and filters, training curves, confusion matrix, learned filters,
   feature maps) when matplotlib is installed.

Run it as ``convcore demo`` or ``python -m convcore demo``; ``--events`` and ``--epochs`` trade
time for accuracy. :func:`run_demo` does the same from Python and returns the numbers.
"""
import argparse
import os
import sys
import time

import numpy as np

from . import datasets, filters, metrics
from . import _threads
from ._threads import get_num_threads, set_num_threads
from ._validation import as_int, check_output_dir

__all__ = ["add_arguments", "run", "run_demo"]

#: The lecture's filters shown on an event: (name, kernel); the Sobel pair is combined by
#: :func:`convcore.filters.edges`.
LECTURE_FILTERS = (
    ("blur (box 3x3)", filters.box(3)),
    ("line: horizontal", filters.line_horizontal()),
    ("line: vertical", filters.line_vertical()),
    ("line: diagonal 45", filters.line_diagonal_45()),
    ("line: diagonal 135", filters.line_diagonal_135()),
)
_SHADES = " .:-=+*#%@"


def add_arguments(parser):
    """Declare the demo's options on an ``argparse`` parser."""
    parser.add_argument("--seed", type=int, default=0, help="seed of the events and of the "
                        "network's initialisation (default 0)")
    parser.add_argument("--events", type=int, default=4000,
                        help="number of simulated events, a quarter held out (default 4000)")
    parser.add_argument("--epochs", type=int, default=8, help="training epochs (default 8)")
    parser.add_argument("--size", type=int, default=32, help="detector size in pixels (default 32)")
    parser.add_argument("--proton-fraction", type=float, default=0.3,
                        help="share of protons among the events (default 0.3)")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for the kernels (default 1: on 32x32 images one thread per "
                             "batch is as fast, and immune to busy cores)")
    parser.add_argument("--output", default="convcore-demo",
                        help="directory for the figures (default ./convcore-demo; written only "
                             "when matplotlib is installed)")
    parser.add_argument("--no-plots", action="store_true", help="do not write figures")


def run(args):
    """Entry point of ``convcore demo``: run :func:`run_demo` with the parsed options."""
    try:
        _check_options(args.events, args.epochs, args.size, args.proton_fraction)
        as_int(args.threads, "threads", 1)
        if not args.no_plots:
            check_output_dir(args.output, "--output")
    except (ValueError, TypeError) as exc:
        print(f"convcore demo: error: {exc}", file=sys.stderr)
        return 2
    previous = _threads._setting
    set_num_threads(args.threads)
    try:
        run_demo(events=args.events, epochs=args.epochs, seed=args.seed, size=args.size,
                 proton_fraction=args.proton_fraction,
                 output=None if args.no_plots else args.output)
    finally:
        set_num_threads(previous)
    return 0


def _check_options(events, epochs, size, proton_fraction):
    events = as_int(events, "events", 40)
    epochs = as_int(epochs, "epochs", 1)
    size = as_int(size, "size", 16)
    if size % 4:
        raise ValueError(f"size must be a multiple of 4, got {size}")
    if not 0.0 < proton_fraction < 1.0:
        raise ValueError(f"proton_fraction must lie strictly between 0 and 1, got {proton_fraction!r}")
    datasets.check_events_memory(events, size, f"events={events}, size={size}")
    return events, epochs, size


def _ascii(image, threshold=0.15):
    """An image as rows of characters, darker characters for larger deposits."""
    image = np.asarray(image, dtype=float)
    top = max(float(image.max()), 1e-12)
    levels = np.clip(np.rint(image / top * 9), 0, 9).astype(int)
    levels[image < threshold] = 0
    return ["".join(_SHADES[v] for v in row) for row in levels]


def _crop(image, margin=1):
    """The smallest window holding every deposit above noise (plus a margin), for printing."""
    rows, cols = np.nonzero(image > 0.3)
    if rows.size == 0:
        return image
    r0, r1 = max(rows.min() - margin, 0), min(rows.max() + margin + 1, image.shape[0])
    c0, c1 = max(cols.min() - margin, 0), min(cols.max() + margin + 1, image.shape[1])
    return image[r0:r1, c0:c1]


def _side_by_side(left, right, titles, gap=4):
    width = max(len(line) for line in left) if left else 0
    lines = [f"{titles[0]:<{width}}{' ' * gap}{titles[1]}"]
    for i in range(max(len(left), len(right))):
        a = left[i] if i < len(left) else ""
        b = right[i] if i < len(right) else ""
        lines.append(f"{a:<{width}}{' ' * gap}{b}".rstrip())
    return lines


def build_cnn(size, n_classes=2, seed=0):
    """The demo's network: two convolution + ReLU + max-pool stages and two dense layers.

    Examples
    --------
    >>> model = build_cnn(32)
    >>> model(np.zeros((2, 1, 32, 32), dtype=np.float32)).shape
    (2, 2)
    """
    from . import nn
    nn.init.manual_seed(seed)
    side = size // 4
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * side * side, 32), nn.ReLU(), nn.Linear(32, n_classes))


def _print_confusion(cm, say):
    """The lecture's layout: proton (the positive class) first, rows true, columns predicted."""
    (tp, fn), (fp, tn) = cm
    say("                           PREDICTED")
    say("                      proton    not proton")
    say(f"   TRUE  proton      {tp:>6} TP  {fn:>6} FN")
    say(f"         not proton  {fp:>6} FP  {tn:>6} TN")


def run_demo(events=4000, epochs=8, seed=0, size=32, proton_fraction=0.3, output=None,
             batch_size=32, verbose=True, out=print):
    """Run the lecture's workflow and return its numbers.

    Parameters
    ----------
    events : int
        Number of simulated events; a quarter (stratified) is held out for testing.
    epochs : int
        Training epochs.
    seed : int
        Seeds the events, the split and the network's initialisation.
    size : int
        Detector images are ``size x size`` pixels (a multiple of 4, at least 16).
    proton_fraction : float
        Share of protons: below 0.5 the classes are imbalanced, as in the lecture's warning that
        accuracy alone can mislead.
    output : str or path-like, optional
        Directory for the figures (created); None writes none. Skipped when matplotlib is missing.
    batch_size : int
        Mini-batch size.
    verbose : bool
        Show the progress of training.
    out : callable
        Receives each printed line (``print`` by default).

    Returns
    -------
    dict
        ``confusion_matrix`` (proton first), ``accuracy``, ``precision``, ``recall``, ``f1``,
        ``baseline_accuracy`` (always answering "not proton"), ``history``, ``figures`` (paths
        written) and ``seconds``.
    """
    start = time.perf_counter()
    events, epochs, size = _check_options(events, epochs, size, proton_fraction)
    def say(line):
        out(line.rstrip())

    say(f"convcore demo: is this detector event a proton? (seed {seed}, {events} events of "
        f"{size}x{size} pixels, {epochs} epochs, {get_num_threads()} threads)")
    say("")

    # 1. data -------------------------------------------------------------------------------
    images, kinds = datasets.detector_events(events, size=size, seed=seed,
                                             proton_fraction=proton_fraction, multiclass=True)
    labels = (kinds == datasets.PARTICLES.index("proton")).astype(np.int64)
    train, test = datasets.train_test_split(np.arange(events), test_size=0.25, seed=seed,
                                            stratify=kinds)
    counts = ", ".join(f"{np.sum(kinds == i)} {name}s" for i, name in enumerate(datasets.PARTICLES))
    say(f"1. Simulated {events} events ({counts}); {len(train)} to train on, {len(test)} held out.")
    say("")

    # 2. the lecture's filters ----------------------------------------------------------------
    proton = int(np.flatnonzero(kinds == 0)[0])
    muon_like = np.flatnonzero(kinds == datasets.PARTICLES.index("muon"))
    other = int(muon_like[0]) if muon_like.size else int(np.flatnonzero(kinds != 0)[0])
    other_name = datasets.PARTICLES[kinds[other]]
    say("2. The lecture's filters (correlation, stride 1, zero edges) on a proton and a "
        f"{other_name} event:")
    for line in _side_by_side(_ascii(_crop(images[proton, 0])), _ascii(_crop(images[other, 0])),
                              (f"event {proton}: proton", f"event {other}: {other_name}")):
        say("   " + line)
    say("")
    say(f"   {'filter':<20}{'peak response':>15}{'':>4}{'peak response':>15}")
    say(f"   {'':<20}{'(proton)':>15}{'':>4}{f'({other_name})':>15}")
    filtered = {}
    for name, kernel in LECTURE_FILTERS:
        responses = [filters.apply(images[i, 0], kernel, boundary="fill") for i in (proton, other)]
        filtered[name] = responses
        say(f"   {name:<20}{responses[0].max():>15.2f}{'':>4}{responses[1].max():>15.2f}")
    responses = [filters.edges(images[i, 0]) for i in (proton, other)]
    filtered["edges (Sobel)"] = responses
    say(f"   {'edges (Sobel)':<20}{responses[0].max():>15.2f}{'':>4}{responses[1].max():>15.2f}")
    line_names = [name for name, _ in LECTURE_FILTERS if name.startswith("line")]
    strongest = [max(line_names, key=lambda n: filtered[n][k].max())[6:] for k in (0, 1)]
    say(f"   The strongest line detector follows each track: {strongest[0]} for the proton, "
        f"{strongest[1]} for the {other_name}.")
    lit = [int(np.sum(images[i, 0] > 0.3)) for i in (proton, other)]
    peak = [float(images[i, 0].max()) for i in (proton, other)]
    say(f"   The proton lights {lit[0]} pixels and peaks at {peak[0]:.2f} MIP (its Bragg peak); "
        f"the {other_name} lights {lit[1]} pixels and peaks at {peak[1]:.2f} MIP.")
    say("")

    # 3. the CNN ------------------------------------------------------------------------------
    say(f"3. Training a CNN (Conv-ReLU-MaxPool x2, Dense-ReLU-Dense; cross-entropy, Adam lr 2e-3, "
        f"batch {batch_size}):")
    model = build_cnn(size, 2, seed)
    for line in str(model.summary((1, size, size))).splitlines():
        say("   " + line)
    history = _fit(model, images[train], labels[train], epochs, batch_size, seed, verbose)
    say(f"   {'epoch':>5} {'loss':>8} {'accuracy':>9} {'seconds':>8}   (training events)")
    for epoch, (loss, acc, sec) in enumerate(zip(history["loss"], history["accuracy"],
                                                 history["time"]), 1):
        say(f"   {epoch:>5} {loss:>8.4f} {acc:>9.4f} {sec:>8.2f}")
    say("")

    # 4. metrics on held-out events -----------------------------------------------------------
    predicted = np.asarray(model.predict(images[test]))
    truth = labels[test]
    cm = metrics.confusion_matrix(truth, predicted, labels=[1, 0])
    accuracy = metrics.accuracy_score(truth, predicted)
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        truth, predicted, pos_label=1, average="binary", zero_division=0)
    baseline = float(np.mean(truth == 0))
    say(f"4. On the {len(test)} held-out events (positive class: proton):")
    _print_confusion(cm, say)
    say("")
    say(f"   accuracy  = (TP + TN) / all            = {accuracy:.3f}")
    say(f"   precision = TP / (TP + FP)             = {precision:.3f}")
    say(f"   recall    = TP / (TP + FN)             = {recall:.3f}")
    say(f"   F1        = 2 P R / (P + R)            = {f1:.3f}")
    say(f"   (answering 'not proton' every time scores accuracy {baseline:.3f} with recall 0: "
        "accuracy alone can mislead)")
    say("")
    report = metrics.classification_report(truth, predicted, labels=[1, 0],
                                           target_names=["proton", "not proton"], digits=3,
                                           zero_division=0)
    for line in report.rstrip().splitlines():
        say("   " + line)
    say("")

    # 5. figures ------------------------------------------------------------------------------
    figures = []
    if output is not None:
        figures = _write_figures(output, model, images, proton, other, other_name, filtered,
                                 history, cm, say)
    seconds = time.perf_counter() - start
    say(f"Finished in {seconds:.1f} s.")
    return {"confusion_matrix": cm, "accuracy": accuracy, "precision": float(precision),
            "recall": float(recall), "f1": float(f1), "baseline_accuracy": baseline,
            "history": history, "figures": figures, "seconds": seconds}


def _fit(model, x, y, epochs, batch_size, seed, verbose):
    from . import losses, optim
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size,
                        loss=losses.CrossEntropyLoss(),
                        optimizer=optim.Adam(model.parameters(), lr=2e-3), seed=seed,
                        verbose=1 if verbose else 0)
    return dict(history.history)


def _write_figures(output, model, images, proton, other, other_name, filtered, history, cm, say):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        say("5. Figures skipped: matplotlib is not installed (pip install \"convcore[plot]\").")
        return []
    from . import plots
    os.makedirs(output, exist_ok=True)
    paths = {name: os.path.join(output, f"{name}.png") for name in
             ("filters_on_events", "training_curves", "confusion_matrix", "learned_filters",
              "feature_maps")}
    titles = ["proton"] + [f"{name}" for name in filtered]
    planes = [images[proton, 0]] + [resp[0] for resp in filtered.values()]
    titles += [other_name] + list(filtered)
    planes += [images[other, 0]] + [resp[1] for resp in filtered.values()]
    plots.plot_images(planes, titles=titles, cols=len(filtered) + 1,
                      path=paths["filters_on_events"])
    plots.plot_history(history, path=paths["training_curves"])
    plots.plot_confusion_matrix(cm, labels=["proton", "not proton"],
                                title="held-out events", path=paths["confusion_matrix"])
    plots.plot_filters(model[0].weight.data, path=paths["learned_filters"])
    model.eval()
    plots.plot_feature_maps(model[1](model[0](images[proton:proton + 1])),
                            path=paths["feature_maps"])
    say(f"5. Figures written to {output}/: " + ", ".join(os.path.basename(p) for p in paths.values()))
    return list(paths.values())


def main(argv=None):
    """``python -m convcore.demo``: the same as ``convcore demo``."""
    parser = argparse.ArgumentParser(prog="convcore demo", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
