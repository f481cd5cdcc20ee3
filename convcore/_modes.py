"""Edge-rule names of scipy.signal and scipy.ndimage mapped to the kernels' integer codes.

The codes are defined once, by the enum ``Mode`` of ``src/modes.pxd`` that the kernels switch on;
the compiled module ``convcore._kernels.modes`` exports it and the names here are its values as
plain ints. One table per peer so each public function accepts exactly the names (and aliases)
its SciPy counterpart accepts.
"""
from ._kernels.modes import Mode

MODE_CONSTANT = int(Mode.MODE_CONSTANT)
MODE_REFLECT = int(Mode.MODE_REFLECT)
MODE_MIRROR = int(Mode.MODE_MIRROR)
MODE_NEAREST = int(Mode.MODE_NEAREST)
MODE_WRAP = int(Mode.MODE_WRAP)

#: ``boundary`` of scipy.signal.convolve2d / correlate2d (aliases as SciPy accepts them).
SIGNAL_BOUNDARIES = {
    "fill": MODE_CONSTANT, "pad": MODE_CONSTANT,
    "symm": MODE_REFLECT, "symmetric": MODE_REFLECT,
    "wrap": MODE_WRAP, "circular": MODE_WRAP,
}

#: ``boundary`` of convcore.filters: the lecture's edge rules by their slide names ('none': only
#: where the whole filter fits, so the output shrinks; 'zero'; 'mirror'; 'wrap') and scipy.signal's
#: names, each mapped to the scipy.signal boundary it runs as (None: ``mode='valid'``).
FILTER_BOUNDARIES = {"none": None, "valid": None, "zero": "fill", "mirror": "symm",
                     **{name: name for name in SIGNAL_BOUNDARIES}}

#: ``mode`` of the scipy.ndimage filters (the grid-* names are aliases for filtering).
NDIMAGE_MODES = {
    "constant": MODE_CONSTANT, "grid-constant": MODE_CONSTANT,
    "reflect": MODE_REFLECT, "grid-mirror": MODE_REFLECT,
    "mirror": MODE_MIRROR,
    "nearest": MODE_NEAREST,
    "wrap": MODE_WRAP, "grid-wrap": MODE_WRAP,
}
