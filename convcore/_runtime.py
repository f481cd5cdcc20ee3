"""Loads the OpenMP runtime of the compiled core, with passive waiting unless the user chose.

GCC's OpenMP runtime reads ``OMP_WAIT_POLICY`` once, when it is loaded (with the first compiled
module). By default its idle threads spin for a while after every parallel region, waiting for the
next one. convcore's regions alternate with NumPy work on the calling thread, and on a machine whose
cores are shared with other jobs the spinning threads take the cores that the working ones need:
ResNet-18 inference on 8 images of 224x224, 2 threads, load average ~3, took 700-1440 ms with
spinning threads and 160-560 ms with passive ones (one thread: 290 ms); on a quiet machine both
took 158 ms. So convcore asks for ``PASSIVE`` while its runtime loads, then removes the variable
again, so that child processes see the environment the user set. A value the user set is kept.
(When another package in the process has already loaded the same runtime, the policy is that
package's.)
"""
import os

#: The policy convcore's OpenMP runtime was loaded with: the user's, or "PASSIVE".
WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")

if WAIT_POLICY is None:
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        from . import _openmp  # noqa: F401  (loads the runtime)
    finally:
        del os.environ["OMP_WAIT_POLICY"]
    WAIT_POLICY = "PASSIVE"
