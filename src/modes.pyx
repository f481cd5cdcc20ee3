"""The edge-rule codes of ``src/modes.pxd``, exported to Python as the IntEnum ``Mode``.

``convcore/_modes.py`` takes its values from here, so the codes the kernels switch on are written
once. Cython exports a ``cpdef enum`` only from the module that owns its .pxd, and the compiled
modules (``convcore._kernels.<name>``) do not own ``src/<name>.pxd`` by name, so this module
compiles the declarations themselves.
"""
include "modes.pxd"
