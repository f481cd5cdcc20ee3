"""The compiled kernels, built by setup.py from ``src/<name>.pyx`` into ``convcore._kernels.<name>``.

Private: they take validated, C-contiguous arrays and trust them. The public functions of
convcore check the arguments and call them; :func:`convcore._cpu.load` picks the widest
instruction-set build of the modules that have several (``lines``, ``im2col``, ``winograd``).
"""
