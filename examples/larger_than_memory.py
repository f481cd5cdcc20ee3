"""Filtering an image larger than the cluster's memory: disk to disk, chunk by chunk, with dask.

A float32 image bigger than the workers' combined ``memory_limit`` is written to disk as a stack
of NumPy files (read back as memory maps), blurred and edge-filtered by ``convcore.ndimage`` on a
``distributed.LocalCluster`` and written to disk again; the peak memory of every worker process
is printed against its limit. Each task holds one strip of rows and its overlap, never the image.

    python examples/larger_than_memory.py [--size 16384] [--strip 256] [--memory-limit 400MiB]

On a real cluster only the client changes (the paths must then be on storage every worker
reads, and ``Client`` points at the scheduler)::

    from distributed import Client
    client = Client("tcp://scheduler-host:8786")
    image = da.from_npy_stack("/shared/image")
    da.to_npy_stack("/shared/smooth", ndimage.gaussian_filter(image, 4.0), axis=0)

Each chunk runs convcore's kernels on one thread (the workers are the parallelism);
``dask.config.set({"convcore.threads": 2})`` gives each chunk two.
"""
import argparse
import os
import resource
import tempfile
import time

import dask.array as da
import numpy as np
from dask.utils import format_bytes, parse_bytes
from distributed import Client, LocalCluster

from convcore import ndimage


def peak_rss():
    """Peak resident memory of the calling process, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def dir_size(path):
    return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=16384, help="image side (float32 pixels)")
    parser.add_argument("--strip", type=int, default=256, help="rows per chunk")
    parser.add_argument("--memory-limit", default="400MiB", help="per worker")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    limit = parse_bytes(args.memory_limit)
    nbytes = args.size * args.size * 4
    print(f"image {args.size} x {args.size} float32: {format_bytes(nbytes)} on disk; "
          f"{args.workers} workers x {format_bytes(limit)} = {format_bytes(args.workers * limit)}")
    if nbytes <= args.workers * limit:
        print("note: the image fits in the workers' memory; raise --size to make the point")

    with tempfile.TemporaryDirectory() as tmp, \
            LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                         memory_limit=limit, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        workers = set(client.scheduler_info()["workers"])
        src, smooth, edges = (os.path.join(tmp, name) for name in ("image", "smooth", "edges"))
        # a synthetic image, generated and written strip by strip (never whole in memory)
        noise = da.random.default_rng(0).standard_normal((args.size, args.size),
                                                         chunks=(args.strip, args.size),
                                                         dtype=np.float32)
        da.to_npy_stack(src, noise, axis=0)
        image = da.from_npy_stack(src)          # memory maps, one per strip
        print(f"written {format_bytes(dir_size(src))} in {image.numblocks[0]} strips")

        start = time.perf_counter()
        blurred = ndimage.gaussian_filter(image, sigma=4.0)     # lazy: nothing computed yet
        da.to_npy_stack(smooth, blurred, axis=0)
        da.to_npy_stack(edges, ndimage.sobel(da.from_npy_stack(smooth), axis=1), axis=0)
        seconds = time.perf_counter() - start

        check = slice(args.size // 2 - 64, args.size // 2 + 64)
        got = da.from_npy_stack(smooth)[check, :256].compute()
        # the same rows in memory: the strip plus the Gaussian's reach (radius 16) on each side
        rows = slice(check.start - 16, check.stop + 16)
        near = ndimage.gaussian_filter(np.asarray(image[rows, :].compute()), sigma=4.0)
        same = np.array_equal(got, near[16:-16, :256])
        peaks = client.run(peak_rss)
        restarted = workers - set(peaks)
    print(f"gaussian_filter(sigma=4) and sobel, disk to disk: {seconds:.1f} s; a 128-row sample "
          f"equals the in-memory result bit for bit: {same}")
    for worker, peak in sorted(peaks.items()):
        print(f"worker {worker}: peak memory {format_bytes(peak)} of {format_bytes(limit)} "
              f"({'under' if peak < limit else 'OVER'} the limit)")
    if restarted:   # a worker that went over its limit was restarted by its nanny
        print(f"{len(restarted)} worker(s) restarted on the way (over the memory limit)")


if __name__ == "__main__":
    main()
