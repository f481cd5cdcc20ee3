"""Built-in data: simulated particle-detector events, and scikit-learn's handwritten digits.

:func:`detector_events` draws images of charged-particle tracks in a 2-D pixel detector (a
time-projection or liquid-argon chamber seen from one side), the lecture's application: "can we
classify events in detectors?" — is this track a proton or not?
"""
import numpy as np

from ._validation import as_int, check_memory

__all__ = ["PARTICLES", "detector_events", "load_digits", "train_test_split"]

#: Class names, in the order of the multi-class labels.
PARTICLES = ("proton", "muon", "pion", "electron")

_MIP = 1.0            # deposit per pixel of a minimum-ionising particle (the unit of the image)
_BRAGG_EXPONENT = 1.75  # Bragg-Kleeman rule: range R = a * E ** 1.75
_RADIATION_LENGTH = 5.0  # mean distance, in pixels, between an electron shower's branchings


def _landau(rng, size):
    """Ionisation fluctuations: a Moyal (Landau-like) factor of mean ~1 with a long upper tail."""
    z = rng.standard_normal(size)
    moyal = -np.log(np.maximum(z * z, 1e-12))  # Moyal-distributed, mean ~1.27
    return np.clip(1.0 + 0.15 * (moyal - 1.27), 0.3, 4.0)


def _walk(rng, start, angle, length, scatter, step=0.5):
    """Points every `step` pixels along a track that starts at `start` heading `angle`, with
    multiple Coulomb scattering: a Gaussian kick of `scatter` radians per step."""
    m = max(int(length / step), 1)
    angles = angle + np.cumsum(rng.normal(0.0, scatter, m))
    steps = step * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return start + np.cumsum(steps, axis=0), angles[-1]


def _proton(rng, vertex, angle, energy):
    """A short, dense track ending in a Bragg peak: deposit per step dE/dx ~ (R - x)^(1/p - 1)."""
    track_range = 2.0 + 6.0 * energy ** _BRAGG_EXPONENT  # pixels
    points, _ = _walk(rng, vertex, angle, track_range, scatter=0.03)
    x = np.linspace(0.0, track_range, len(points), endpoint=False)
    remaining = track_range - x + 0.4  # the 0.4 px keeps the peak finite at the stopping point
    dedx = 3.0 * _MIP * remaining ** (1.0 / _BRAGG_EXPONENT - 1.0)
    return points, 0.5 * dedx * _landau(rng, len(points))


def _mip_track(rng, vertex, angle, length, kink_probability, kink_sigma):
    """A long minimum-ionising track that may kink once (a decay or a hadronic scatter)."""
    if rng.random() < kink_probability:
        cut = rng.uniform(0.3, 0.8) * length
        first, end_angle = _walk(rng, vertex, angle, cut, scatter=0.01)
        kinked = end_angle + rng.choice([-1, 1]) * abs(rng.normal(0.0, kink_sigma)) + 0.3
        second, _ = _walk(rng, first[-1], kinked, length - cut, scatter=0.01)
        points = np.concatenate([first, second])
    else:
        points, _ = _walk(rng, vertex, angle, length, scatter=0.01)
    return points, 0.5 * _MIP * _landau(rng, len(points))


def _electron(rng, vertex, angle, energy):
    """An electromagnetic shower: a track that branches (bremsstrahlung, pair production) every
    radiation length or so, sharing its energy between the branches until they range out."""
    segments, deposits = [], []
    stack = [(np.asarray(vertex, float), angle, energy * 8.0, 0)]
    while stack:
        start, heading, e, generation = stack.pop()
        length = min(rng.exponential(_RADIATION_LENGTH), 4.0 * e + 1.0)
        points, end_heading = _walk(rng, start, heading, length, scatter=0.08)
        segments.append(points)
        deposits.append(0.5 * _MIP * _landau(rng, len(points)))
        if e > 1.0 and generation < 5:
            share = rng.uniform(0.2, 0.8)
            spread = abs(rng.normal(0.0, 0.35))
            stack.append((points[-1], end_heading + spread, e * share, generation + 1))
            stack.append((points[-1], end_heading - spread, e * (1 - share), generation + 1))
    return np.concatenate(segments), np.concatenate(deposits)


def check_events_memory(n, size, what):
    """Refuse (ValueError naming `what`) `n` events of ``size x size`` pixels that memory cannot
    hold: the simulation holds three float64 copies of the images at its peak."""
    check_memory((3, n, size, size), 8, what)


def detector_events(n=1000, size=32, seed=None, noise=0.05, proton_fraction=0.5, multiclass=False):
    """Simulate images of single charged particles in a 2-D pixel detector.

    Each event is one particle, starting at a random vertex near the centre, in a random direction
    and with a random energy, drawn as ionisation deposits in units of a minimum-ionising particle
    (MIP) per pixel step:

    - **protons** lose energy fast and stop: a short, dense track whose deposit per unit length
      rises toward the end (the Bragg peak, dE/dx ~ (R - x)^(1/p - 1) with the Bragg-Kleeman
      range R ~ E^p, p = 1.75);
    - **muons** and **pions** are minimum ionising: long, thin tracks of about 1 MIP that often
      leave the detector, slightly bent by multiple scattering; a muon sometimes kinks (decay), a
      pion more often and more sharply (hadronic scattering);
    - **electrons** start electromagnetic showers: the track branches every radiation length or so
      and the branches share the energy until they range out.

    Deposits fluctuate with a Landau-like (Moyal) distribution and are spread over neighbouring
    pixels; the readout adds Gaussian noise.

    Parameters
    ----------
    n : int
        Number of events.
    size : int
        Images are ``size x size`` pixels (at least 16).
    seed : int or numpy.random.Generator, optional
        Makes the events reproducible.
    noise : float
        Standard deviation of the readout noise, in MIP.
    proton_fraction : float
        Share of protons; the rest is split evenly between muons, pions and electrons.
    multiclass : bool
        Labels ``0..3`` in the order of :data:`PARTICLES` instead of ``1`` = proton, ``0`` = not.

    Returns
    -------
    images : ndarray of float32, shape (n, 1, size, size)
        Deposited energy per pixel, channels-first, ready for a ``Conv2d(1, ...)``.
    labels : ndarray of int64, shape (n,)

    Examples
    --------
    >>> images, labels = detector_events(100, size=32, seed=0)
    >>> images.shape, images.dtype, sorted(set(labels.tolist()))
    ((100, 1, 32, 32), dtype('float32'), [0, 1])
    """
    n = as_int(n, "n", 1)
    size = as_int(size, "size", 16)
    check_events_memory(n, size, f"n={n}, size={size}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a non-negative number, got {noise!r}")
    if not 0.0 <= proton_fraction <= 1.0:
        raise ValueError(f"proton_fraction must lie in [0, 1], got {proton_fraction!r}")
    rng = np.random.default_rng(seed)
    others = (1.0 - proton_fraction) / 3.0
    particles = rng.choice(4, size=n, p=[proton_fraction, others, others, others])
    scale = size / 32.0  # geometry in units of a 32-pixel detector
    flat_index, weights = [], []
    for event, particle in enumerate(particles):
        vertex = size / 2.0 + rng.uniform(-0.2, 0.2, 2) * size
        angle = rng.uniform(0.0, 2.0 * np.pi)
        energy = rng.uniform(0.5, 1.5)
        if particle == 0:
            points, deposit = _proton(rng, vertex, angle, energy)
            points = vertex + (points - vertex) * scale
        elif particle == 1:
            points, deposit = _mip_track(rng, vertex, angle, rng.uniform(18, 40) * scale, 0.15, 0.4)
        elif particle == 2:
            points, deposit = _mip_track(rng, vertex, angle, rng.uniform(14, 34) * scale, 0.45, 1.0)
        else:
            points, deposit = _electron(rng, vertex, angle, energy)
            points = vertex + (points - vertex) * scale
        # bilinear splatting of every deposit onto its four neighbouring pixels
        base = np.floor(points - 0.5)
        frac = points - 0.5 - base
        for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
            row, col = base[:, 1] + dy, base[:, 0] + dx
            w = deposit * np.where(dy, frac[:, 1], 1 - frac[:, 1]) * np.where(dx, frac[:, 0], 1 - frac[:, 0])
            inside = (row >= 0) & (row < size) & (col >= 0) & (col < size)
            flat_index.append((event * size + row[inside].astype(np.int64)) * size
                              + col[inside].astype(np.int64))
            weights.append(w[inside])
    images = np.bincount(np.concatenate(flat_index), np.concatenate(weights),
                         minlength=n * size * size)
    images = images.reshape(n, 1, size, size) + rng.normal(0.0, noise, (n, 1, size, size))
    labels = particles if multiclass else (particles == 0)
    return images.astype(np.float32), labels.astype(np.int64)


def load_digits():
    """scikit-learn's 8x8 handwritten digits as ``(images, labels)``, images scaled to [0, 1].

    Returns
    -------
    images : ndarray of float32, shape (1797, 1, 8, 8)
    labels : ndarray of int64, shape (1797,)

    Raises
    ------
    ImportError
        When scikit-learn is not installed (``pip install "convcore[ml]"``).
    """
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError as exc:
        raise ImportError('load_digits needs scikit-learn: pip install "convcore[ml]"') from exc
    digits = sklearn_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, np.newaxis]
    return images, digits.target.astype(np.int64)


def train_test_split(*arrays, test_size=0.25, seed=None, stratify=None):
    """Split arrays into random train and test parts along their first axis.

    Parameters
    ----------
    *arrays : array_like
        Arrays with the same first dimension (e.g. images and labels).
    test_size : float or int
        Share (in (0, 1)) or number of samples held out for testing.
    seed : int or numpy.random.Generator, optional
        Makes the split reproducible.
    stratify : array_like of labels, optional
        Hold out the same share of every class (each class rounded on its own).

    Returns
    -------
    list of ndarray
        ``[a_train, a_test, b_train, b_test, ...]``, scikit-learn's order.

    Examples
    --------
    >>> import numpy as np
    >>> x, y = np.arange(20).reshape(10, 2), np.array([0] * 6 + [1] * 4)
    >>> x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.5, seed=0, stratify=y)
    >>> x_train.shape, x_test.shape, int(y_test.sum())
    ((5, 2), (5, 2), 2)
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array")
    arrays = [np.asarray(a) for a in arrays]
    n = len(arrays[0])
    for i, a in enumerate(arrays):
        if a.ndim == 0 or len(a) != n:
            raise ValueError(f"arrays must have the same first dimension: array 0 has {n} samples, "
                             f"array {i} has shape {a.shape}")
    if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, (int, float, np.number)):
        raise TypeError(f"test_size must be a number, got {test_size!r}")
    if isinstance(test_size, (int, np.integer)):
        if not 0 < test_size < n:
            raise ValueError(f"test_size must lie in [1, {n - 1}] samples, got {test_size}")
        fraction = test_size / n
    else:
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"test_size must lie strictly between 0 and 1, got {test_size!r}")
        fraction = float(test_size)
    rng = np.random.default_rng(seed)
    if stratify is None:
        order = rng.permutation(n)
        cut = max(1, min(n - 1, int(round(n * fraction))))
        test, train = order[:cut], order[cut:]
    else:
        groups = np.asarray(stratify)
        if groups.shape != (n,):
            raise ValueError(f"stratify must be 1-D with {n} labels, got shape {groups.shape}")
        train, test = [], []
        for cls in np.unique(groups):
            members = rng.permutation(np.flatnonzero(groups == cls))
            cut = int(round(len(members) * fraction))
            test.append(members[:cut])
            train.append(members[cut:])
        train, test = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
        if len(train) == 0 or len(test) == 0:
            raise ValueError(f"test_size={test_size!r} leaves an empty train or test part")
    return [part for a in arrays for part in (a[train], a[test])]
