"""convcore on dask against dask-image, and against the in-memory convcore call.

The same 2-worker ``distributed.LocalCluster`` (processes, one thread each) and the same chunks
for both dask libraries: an 8192x8192 float32 image in 4096x4096 chunks and a 512^3 float32 volume
in 256x256x256 chunks (64 MiB each, half of dask's default ``array.chunk-size``; ``--chunk`` and
``--volume-chunks`` take others), generated on the workers (fixed seed) and held there, each
worker holding the same half of each array's chunks (``--placement``), so each timing is the
filtering and its scheduling (results are persisted on the workers, not sent back; between two
runs, outside the timing, the scheduler is let to forget the last result, so that no run finds an
earlier one in memory):

- ``gaussian s=1`` / ``s=4``  ``gaussian_filter(x, sigma)``
- ``sobel``                  ``sobel(x)`` (axis -1)
- ``uniform 5``              ``uniform_filter(x, 5)``
- ``correlate 5x5``          ``correlate(x, w)``, w random (seed 0)
- ``3-D gaussian s=2``       ``gaussian_filter(volume, 2)``

Each library runs in its own process with its own cluster (dask-image's never imports convcore),
the processes taking turns round after round (their order reversed every other round) so a busy
spell of the shared machine hits all alike; each process reports the median of ``--repeats``
timings after a warm-up, and the table shows the median over ``--rounds``. "in-memory" is
convcore's call on the NumPy array in one process on ``--threads`` threads (default 2: the cores
the cluster's two one-thread workers use). Ratios: dask-image / convcore-dask (above 1: convcore
faster) and convcore-dask / in-memory (the cost of chunks and scheduling). Under the table: the
scheduling floor (a no-op task per chunk) and, for the 2-D cases, that floor plus the in-memory
time over the in-memory time, the least the ratio can be while the chunks together cost what the
whole image does in memory.

    python benchmarks/bench_dask.py                     # the issue's table
    python benchmarks/bench_dask.py --size 4096 --side 256 --rounds 1   # quicker
    python benchmarks/bench_dask.py --scheduler threads   # no cluster: dask's threads
    python benchmarks/bench_dask.py --chunk 2048 --volume-chunks 128 256 256   # smaller chunks
    python benchmarks/bench_dask.py --cases "3-D gaussian s=2"   # some cases only
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _timing import header

CASES = ["gaussian s=1", "gaussian s=4", "sobel", "uniform 5", "correlate 5x5",
         "3-D gaussian s=2"]
LIBS = ["convcore", "dask-image", "in-memory"]
WHERE = {"distributed": "LocalCluster of 2 workers x 1 thread",
         "threads": "dask's threaded scheduler, 2 threads"}


def _filters(lib, cases=CASES):
    """{case: function(array) -> result} for `cases` of one library, imported here (and only
    here)."""
    import numpy as np
    if lib == "dask-image":
        from dask_image import ndfilters as nd
    else:
        from convcore import ndimage as nd
    w = np.random.default_rng(0).standard_normal((5, 5)).astype(np.float32)
    every = {"gaussian s=1": lambda x: nd.gaussian_filter(x, 1.0),
             "gaussian s=4": lambda x: nd.gaussian_filter(x, 4.0),
             "sobel": lambda x: nd.sobel(x, axis=-1),
             "uniform 5": lambda x: nd.uniform_filter(x, 5),
             "correlate 5x5": lambda x: nd.correlate(x, w),
             "3-D gaussian s=2": lambda x: nd.gaussian_filter(x, 2.0)}
    return {case: every[case] for case in cases}


def _same(block):
    return block


def _copy(block, pieces):
    return block.copy()


def _volume_chunks(side):
    return (side // 2,) * 3


def _median_time(run, repeats):
    run()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _forget(client, keys):
    """Wait until the scheduler holds none of `keys` (results released by the caller)."""
    deadline = time.monotonic() + 30
    while any(client.who_has(keys).values()) and time.monotonic() < deadline:
        time.sleep(0.01)


def _placed(client, x, placement):
    """`x` computed and held on the cluster's workers: as the scheduler places it (``scheduler``)
    or (``halves``) its chunks in C order split into equal runs, one run per worker (chunk i on
    worker ``i * workers // chunks``, the co-assignment dask's scheduler aims at), so both
    libraries' processes see the same split. As the scheduler places them, runs had 12 and 11 of
    the image's 16 chunks on one worker: the time of a filter on it follows the busier
    worker. Returns the held array and the chunks per worker."""
    import dask.array as da
    import numpy as np
    from distributed import wait
    if placement == "scheduler":
        held = x.persist()
    else:
        workers = sorted(client.scheduler_info()["workers"])
        blocks = x.to_delayed()
        parts = np.empty(blocks.shape, dtype=object)
        for i, idx in enumerate(np.ndindex(*blocks.shape)):
            future = client.compute(blocks[idx], workers=[workers[i * len(workers) // blocks.size]],
                                    allow_other_workers=False)
            parts[idx] = da.from_delayed(future, tuple(c[j] for c, j in zip(x.chunks, idx)),
                                         dtype=x.dtype)
        held = da.block(parts.tolist()).persist()
    wait(held)
    count = {}
    for addr in client.who_has(held).values():
        for a in addr:
            count[a] = count.get(a, 0) + 1
    return held, sorted(count.values(), reverse=True)


def run_one(lib, size, side, chunk, repeats, scheduler, threads, cases=CASES,
            placement="halves", volume_chunks=None):
    """Time `cases` for `lib` in this process; print {case: seconds} as JSON."""
    import numpy as np
    filters = _filters(lib, cases)
    times = {}
    volume_chunks = tuple(volume_chunks or _volume_chunks(side))
    if lib == "in-memory":
        import convcore
        convcore.set_num_threads(threads)
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
    if lib == "convcore":   # what the cluster costs before any filtering: one no-op per chunk,
        # and dask's map_overlap (as dask-image uses it) of a no-op with one sample of overlap
        filters["no-op"] = lambda x: x.map_blocks(_same)
        filters["no-op overlap"] = lambda x: x.map_overlap(_same, depth=1, boundary="none")
        if "3-D gaussian s=2" in cases:   # its graph as it is (edges cut and moved to the
            # chunk's task), the passes left out: the task copies its chunk (the memory the
            # first pass writes)
            from convcore._dask._halo import halo_map
            filters["3-D no passes"] = lambda v: halo_map(
                _copy, v, (8, 8, 8), (False,) * 3, v.dtype, v._meta, "no-passes", pieces=True)
    if scheduler == "threads":   # dask's default scheduler: two threads in this process
        with dask.config.set(scheduler="threads", num_workers=2):
            rng = da.random.default_rng(0)
            image = rng.random((size, size), chunks=chunk, dtype=np.float32).persist()
            volume = rng.random((side, side, side), chunks=volume_chunks,
                                dtype=np.float32).persist()
            for case, fn in filters.items():
                x = volume if case.startswith("3-D") else image
                times[case] = _median_time(lambda: fn(x).persist(), repeats)
        print(json.dumps(times))
        return
    from dask.core import flatten
    from distributed import Client, LocalCluster, wait
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        rng = da.random.default_rng(0)
        image, times["image chunks per worker"] = _placed(
            client, rng.random((size, size), chunks=chunk, dtype=np.float32), placement)
        volume, times["volume chunks per worker"] = _placed(
            client, rng.random((side, side, side), chunks=volume_chunks,
                               dtype=np.float32), placement)
        for case, fn in filters.items():
            x = volume if case.startswith("3-D") else image
            runs = []
            for _ in range(repeats + 1):   # the first is the warm-up
                start = time.perf_counter()
                out = client.persist(fn(x))
                wait(out)
                runs.append(time.perf_counter() - start)
                keys = list(flatten(out.__dask_keys__()))
                del out
                _forget(client, keys)
            times[case] = statistics.median(runs[1:])
    print(json.dumps(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk", type=int, help="image chunk side (default: size / 2)")
    parser.add_argument("--volume-chunks", type=int, nargs=3, metavar=("Z", "Y", "X"),
                        help="the volume's chunk shape (default: side / 2 along each axis)")
    parser.add_argument("--threads", type=int, default=2, help="threads of the in-memory call")
    parser.add_argument("--scheduler", choices=["distributed", "threads"], default="distributed",
                        help="the 2-worker LocalCluster, or dask's threaded scheduler (2 threads)")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=CASES,
                        help="the cases to run (default: all)")
    parser.add_argument("--placement", choices=["halves", "scheduler"], default="halves",
                        help="the cluster's input chunks: in C order, the first half on one "
                        "worker, the rest on the other (the same for both libraries), or where "
                        "dask's scheduler puts them (uneven from run to run)")
    parser.add_argument("--one", choices=LIBS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    chunk = args.chunk or args.size // 2
    volume_chunks = tuple(args.volume_chunks or _volume_chunks(args.side))
    if args.one:
        run_one(args.one, args.size, args.side, chunk, args.repeats, args.scheduler,
                args.threads, args.cases, args.placement, volume_chunks)
        return
    print(header(f"{args.threads} (in-memory call); dask: {WHERE[args.scheduler]}, convcore "
                 "chunk threads 1"))
    print(f"image {args.size}x{args.size} float32 chunks {chunk}; volume {args.side}^3 "
          f"float32 chunks {volume_chunks}"
          + (f"; input chunks placed: {args.placement}" if args.scheduler == "distributed"
             else ""))
    results = {lib: [] for lib in LIBS}
    for r in range(args.rounds):
        for lib in (LIBS if r % 2 == 0 else LIBS[::-1]):
            cmd = [sys.executable, __file__, "--one", lib, "--size", str(args.size),
                   "--side", str(args.side), "--chunk", str(chunk), "--repeats",
                   str(args.repeats), "--scheduler", args.scheduler, "--threads",
                   str(args.threads), "--placement", args.placement, "--volume-chunks",
                   *map(str, volume_chunks), "--cases", *args.cases]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results[lib].append(json.loads(out.strip().splitlines()[-1]))
        print(f"round {r + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.2f}",
              flush=True)
    med = {lib: {c: statistics.median(run[c] for run in results[lib]) for c in args.cases}
           for lib in LIBS}
    print(f"{'case':18} {'convcore-dask':>13} {'dask-image':>11} {'in-memory':>10} "
          f"{'dask-image/convcore':>20} {'convcore-dask/in-memory':>24}")
    for c in args.cases:
        cc, di, im = med["convcore"][c], med["dask-image"][c], med["in-memory"][c]
        print(f"{c:18} {cc * 1e3:10.1f} ms {di * 1e3:8.1f} ms {im * 1e3:7.1f} ms "
              f"{di / cc:19.2f}x {cc / im:23.2f}x")
    noop, overlap = (statistics.median(run[k] for run in results["convcore"])
                     for k in ("no-op", "no-op overlap"))
    print(f"scheduling floor: a no-op task per image chunk takes {noop * 1e3:.1f} ms; "
          f"dask's map_overlap of a no-op (depth 1) {overlap * 1e3:.1f} ms")
    flat = [c for c in args.cases if not c.startswith("3-D")]
    if flat:   # the cluster's floor plus the filtering itself at the in-memory call's speed
        print("least convcore-dask can take (floor + in-memory), over in-memory: " + ", ".join(
            f"{c} {(noop + med['in-memory'][c]) / med['in-memory'][c]:.2f}x" for c in flat))
    if "3-D gaussian s=2" in args.cases:
        bare = statistics.median(run["3-D no passes"] for run in results["convcore"])
        print(f"3-D: convcore's graph without the passes (edges cut and moved, each chunk "
              f"copied) {bare * 1e3:.1f} ms")
    if args.scheduler == "distributed":   # as placed, each dask process (cluster) in turn
        for what in ("image", "volume"):
            print(f"{what} chunks per worker: " + ", ".join(
                f"{lib} " + " ".join("/".join(map(str, run[f"{what} chunks per worker"]))
                                     for run in results[lib]) for lib in LIBS[:2]))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
