"""Timing shared by the benchmark scripts (run them as `python benchmarks/bench_x.py`)."""
import time

import numpy as np


def median_times(fns, repeat):
    """Median run time of each function, the functions taking turns so that a load change on the
    (shared) machine hits all of them alike."""
    for fn in fns:
        fn()  # warm up (allocations, thread pools)
    times = [[] for _ in fns]
    for _ in range(repeat):
        for fn, ts in zip(fns, times):
            start = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - start)
    return [float(np.median(ts)) for ts in times]
