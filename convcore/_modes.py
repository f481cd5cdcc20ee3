"""Edge-rule names of scipy.signal and scipy.ndimage mapped to the kernels' integer codes.

The codes are those of ``src/_modes.pxd``; one table per peer so each public function accepts
exactly the names (and aliases) its SciPy counterpart accepts.
"""

MODE_CONSTANT, MODE_REFLECT, MODE_MIRROR, MODE_NEAREST, MODE_WRAP = range(5)

#: ``boundary`` of scipy.signal.convolve2d / correlate2d (aliases as SciPy accepts them).
SIGNAL_BOUNDARIES = {
    "fill": MODE_CONSTANT, "pad": MODE_CONSTANT,
    "symm": MODE_REFLECT, "symmetric": MODE_REFLECT,
    "wrap": MODE_WRAP, "circular": MODE_WRAP,
}

#: ``mode`` of the scipy.ndimage filters (the grid-* names are aliases for filtering).
NDIMAGE_MODES = {
    "constant": MODE_CONSTANT, "grid-constant": MODE_CONSTANT,
    "reflect": MODE_REFLECT, "grid-mirror": MODE_REFLECT,
    "mirror": MODE_MIRROR,
    "nearest": MODE_NEAREST,
    "wrap": MODE_WRAP, "grid-wrap": MODE_WRAP,
}
