"""The compiled modules behind the convolution engines, each loaded here and only here, so that a
kernel moving to another module changes one line. Engines look them up at call time
(``kernels.im2col.forward``), which also lets a test spy on every call."""
from ..._cpu import load
from ..._kernels import smallmaps  # noqa: F401 (the engines' handles)

im2col = load("im2col")  # the widest build this CPU may run (convcore._cpu)
winograd = load("winograd")  # Winograd F(2x2, 3x3) for 3x3 kernels (src/winograd.pyx)
depthwise = load("depthwise")  # direct depthwise kernels (src/depthwise.pyx; same bits in every build)
shallow = load("shallow")  # direct convolution of shallow first layers (src/shallow.pyx)
from ..._kernels import shifted  # noqa: E402,F401 (small maps as shifted GEMMs, src/shifted.pyx)
