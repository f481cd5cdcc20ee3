"""convcore on dask against dask-image, and against the in-memory convcore call.

The same 2-worker ``distributed.LocalCluster`` (processes, one thread each) and the same chunks
for both dask libraries: an 8192x8192 float32 image in 2048x2048 chunks and a 512^3 float32 volume
in 128x256x256 chunks, generated on the workers (fixed seed) and held there, so each timing is the
filtering and its scheduling (results are persisted on the workers, not sent back):

- ``gaussian s=1`` / ``s=4``  ``gaussian_filter(x, sigma)``
- ``sobel``                  ``sobel(x)`` (axis -1)
- ``uniform 5``              ``uniform_filter(x, 5)``
- ``correlate 5x5``          ``correlate(x, w)``, w random (seed 0)
- ``3-D gaussian s=2``       ``gaussian_filter(volume, 2)``

Each library runs in its own process with its own cluster (dask-image's never imports convcore),
the processes taking turns round after round so a busy spell of the shared machine hits all alike;
each process reports the median of ``--repeats`` timings after a warm-up, and the table shows the
median over ``--rounds``. "in-memory" is convcore's call on the NumPy array in one process with
``convcore.get_num_threads()`` threads (the cluster's two cores). Ratios: dask-image / convcore-dask
(above 1: convcore faster) and convcore-dask / in-memory (the cost of chunks and scheduling).

    python benchmarks/bench_dask.py                     # the issue's table
    python benchmarks/bench_dask.py --size 4096 --side 256 --rounds 1   # quicker
    python benchmarks/bench_dask.py --scheduler threads   # no cluster: dask's threads
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid

CASES = ["gaussian s=1", "gaussian s=4", "sobel", "uniform 5", "correlate 5x5",
         "3-D gaussian s=2"]
LIBS = ["convcore", "dask-image", "in-memory"]
WHERE = {"distributed": "LocalCluster of 2 workers x 1 thread",
         "threads": "dask's threaded scheduler, 2 threads"}


def _filters(lib):
    """{case: function(array) -> result} for one library, imported here (and only here)."""
    import numpy as np
    if lib == "dask-image":
        from dask_image import ndfilters as nd
    else:
        from convcore import ndimage as nd
    w = np.random.default_rng(0).standard_normal((5, 5)).astype(np.float32)
    return {"gaussian s=1": lambda x: nd.gaussian_filter(x, 1.0),
            "gaussian s=4": lambda x: nd.gaussian_filter(x, 4.0),
            "sobel": lambda x: nd.sobel(x, axis=-1),
            "uniform 5": lambda x: nd.uniform_filter(x, 5),
            "correlate 5x5": lambda x: nd.correlate(x, w),
            "3-D gaussian s=2": lambda x: nd.gaussian_filter(x, 2.0)}


def _same(block):
    return block


def _median_time(run, repeats):
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run_one(lib, size, side, repeats, scheduler):
    """Time every case for `lib` in this process; print {case: seconds} as JSON."""
    import numpy as np
    filters = _filters(lib)
    times = {}
    if lib == "in-memory":
        rng = np.random.default_rng(0)
        image = rng.random((size, size), dtype=np.float32)
        volume = rng.random((side, side, side), dtype=np.float32)
        for case, fn in filters.items():
            x = volume if case.startswith("3-D") else image
            times[case] = _median_time(lambda: fn(x), repeats)
        print(json.dumps(times))
        return
    import dask
    import dask.array as da
    if scheduler == "threads":   # dask's default scheduler: two threads in this process
        with dask.config.set(scheduler="threads", num_workers=2):
            rng = da.random.default_rng(0)
            image = rng.random((size, size), chunks=size // 4, dtype=np.float32).persist()
            volume = rng.random((side, side, side), chunks=(side // 4, side // 2, side // 2),
                                dtype=np.float32).persist()
            for case, fn in filters.items():
                x = volume if case.startswith("3-D") else image
                times[case] = _median_time(lambda: fn(x).persist(), repeats)
        print(json.dumps(times))
        return
    from distributed import Client, LocalCluster, wait
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        rng = da.random.default_rng(0)
        image = rng.random((size, size), chunks=size // 4, dtype=np.float32).persist()
        volume = rng.random((side, side, side), chunks=(side // 4, side // 2, side // 2),
                            dtype=np.float32).persist()
        wait([image, volume])
        for case, fn in filters.items():
            x = volume if case.startswith("3-D") else image

            def run():
                # a fresh name for the input (an identity task per chunk, no copy) so that no
                # result of an earlier run, still held by the workers, answers this one
                fresh = x.map_blocks(_same, name=f"input-{uuid.uuid4().hex}")
                out = client.persist(fn(fresh))
                wait(out)
                del out
            times[case] = _median_time(run, repeats)
    print(json.dumps(times))


def _machine():
    flags = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = line
                    break
    except OSError:
        pass
    features = [f for f in ("avx512f", "avx2", "fma") if f" {f}" in flags]
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, features: "
            f"{' '.join(features) or 'unknown'}; load average {os.getloadavg()[0]:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scheduler", choices=["distributed", "threads"], default="distributed",
                        help="the 2-worker LocalCluster, or dask's threaded scheduler (2 threads)")
    parser.add_argument("--one", choices=LIBS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args.one, args.size, args.side, args.repeats, args.scheduler)
        return
    print(f"machine: {_machine()}")
    print(f"image {args.size}x{args.size} float32 chunks {args.size // 4}; volume {args.side}^3 "
          f"float32 chunks ({args.side // 4}, {args.side // 2}, {args.side // 2}); "
          f"{WHERE[args.scheduler]}; convcore chunk threads 1; in-memory threads: all cores")
    results = {lib: [] for lib in LIBS}
    for r in range(args.rounds):
        for lib in LIBS:
            cmd = [sys.executable, __file__, "--one", lib, "--size", str(args.size),
                   "--side", str(args.side), "--repeats", str(args.repeats),
                   "--scheduler", args.scheduler]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[lib].append(json.loads(out.strip().splitlines()[-1]))
        print(f"round {r + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.2f}",
              flush=True)
    med = {lib: {c: statistics.median(run[c] for run in results[lib]) for c in CASES}
           for lib in LIBS}
    print(f"{'case':18} {'convcore-dask':>13} {'dask-image':>11} {'in-memory':>10} "
          f"{'dask-image/convcore':>20} {'convcore-dask/in-memory':>24}")
    for c in CASES:
        cc, di, im = med["convcore"][c], med["dask-image"][c], med["in-memory"][c]
        print(f"{c:18} {cc * 1e3:10.1f} ms {di * 1e3:8.1f} ms {im * 1e3:7.1f} ms "
              f"{di / cc:19.2f}x {cc / im:23.2f}x")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
