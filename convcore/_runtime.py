"""How the OpenMP runtime that convcore shares with other libraries waits: the user's choice.

The kernels run on the process's OpenMP runtime (GCC's libgomp on Linux), the same one that
PyTorch, scikit-learn and others use. It reads ``OMP_WAIT_POLICY`` and ``GOMP_SPINCOUNT`` once, when
it is loaded, and the policy then holds for every library in the process; the runtime has no call
that changes it later, not even for one parallel region. So convcore never sets them (it once set
``PASSIVE`` while the runtime loaded, and PyTorch in the same process then ran 2-2.5x slower).

By default, idle threads spin for a while after each parallel region before they sleep. On a
machine whose cores are shared with other busy processes, that spinning takes cores the working
threads need; there, start Python with ``OMP_WAIT_POLICY=PASSIVE`` (all OpenMP libraries in the
process then sleep at once: better under load, slower on a quiet machine), or run convcore on
fewer threads with :func:`convcore.set_num_threads`. Inside convcore, small calls run on one
thread and each kernel is one parallel region, which keeps the number of wake-ups low.
"""
import os

_NAMES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def wait_policy():
    """The wait policy the user set for the OpenMP runtime, as a short string.

    Returns
    -------
    str
        ``"OMP_WAIT_POLICY=..."`` and/or ``"GOMP_SPINCOUNT=..."`` as found in the environment, or
        ``"runtime default"`` when neither is set. Read only, never changed.

    Examples
    --------
    >>> from convcore._runtime import wait_policy
    >>> isinstance(wait_policy(), str)
    True
    """
    found = [f"{name}={os.environ[name]}" for name in _NAMES if name in os.environ]
    return " ".join(found) or "runtime default"
