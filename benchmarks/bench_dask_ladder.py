"""Where convcore-on-dask's time goes beyond the in-memory call: the 2-D cases of bench_dask.py
taken apart, step by step, on dask's threaded scheduler.

Each case runs as (one process; the steps take turns round after round, median and min shown):

- ``mem T``      the in-memory call on ``--threads`` threads (bench_dask's "in-memory")
- ``mem 1``      the same on one thread
- ``serial``     the chunk function (the in-memory call on one 2048x2048 chunk, kernels on one
                 thread, as the dask tasks run it) on the 16 chunks one after another, no dask:
                 ``serial - mem 1`` is what cutting the image into chunks costs the kernels
- ``2 threads``  the same 16 calls shared by two Python threads, no dask: against ``serial`` /
                 2, what two chunks filtered at once cost each other (memory bandwidth, the GIL
                 between the kernel calls)
- ``map_blocks`` dask's ``map_blocks`` of that chunk function (no overlap, so wrong at the rims;
                 ``meta`` given, so not called on a probe): against ``2 threads``, dask's
                 threaded scheduler (graph, order, one task at a time per thread)
- ``dask``       convcore on the dask array (bench_dask's "convcore"): against ``map_blocks``,
                 the overlap (edge tasks, the rims recomputed or the grown copy; ``_dask/_halo``)

    python benchmarks/bench_dask_ladder.py
    python benchmarks/bench_dask_ladder.py --cases sobel "uniform 5" --rounds 15
"""
import argparse
import statistics
import threading
import time

from _timing import header

CASES = ["gaussian s=1", "gaussian s=4", "sobel", "uniform 5", "correlate 5x5"]
STEPS = ["mem T", "mem 1", "serial", "2 threads", "map_blocks", "dask"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--chunk", type=int, help="chunk side (default: size / 4)")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--threads", type=int, default=2, help="threads of the in-memory call")
    parser.add_argument("--cases", nargs="+", choices=CASES, default=CASES)
    args = parser.parse_args()
    chunk = args.chunk or args.size // 4

    import dask
    import dask.array as da
    import numpy as np

    import convcore
    from convcore import ndimage as nd
    from convcore._threads import kernel_threads

    w = np.random.default_rng(0).standard_normal((5, 5)).astype(np.float32)
    every = {"gaussian s=1": lambda x: nd.gaussian_filter(x, 1.0),
             "gaussian s=4": lambda x: nd.gaussian_filter(x, 4.0),
             "sobel": lambda x: nd.sobel(x, axis=-1),
             "uniform 5": lambda x: nd.uniform_filter(x, 5),
             "correlate 5x5": lambda x: nd.correlate(x, w)}
    # convcore alone, in this one process (no peer library): not _timing's comparing line
    first, second = header(args.threads).splitlines()
    print(f"threads={args.threads} (mem T); dask: threaded scheduler, 2 threads, convcore chunk "
          f"threads 1; convcore only, one process, the steps taking turns\n{second}")
    print(f"image {args.size}x{args.size} float32 chunks {chunk}; ms, median (min) of "
          f"{args.rounds} rounds")
    print(f"{'case':14}" + "".join(f"{s:>17}" for s in STEPS))
    with dask.config.set(scheduler="threads", num_workers=2):
        x = da.random.default_rng(0).random((args.size, args.size), chunks=chunk,
                                            dtype=np.float32).persist()
        image = x.compute()
        blocks = [b.compute() for b in x.to_delayed().ravel()]
        for case in args.cases:
            f = every[case]

            def on_chunk(block):
                with kernel_threads(1):
                    return f(block)

            def shared():   # the outputs kept, as dask keeps them, so no call reuses the
                # memory the last one freed
                out = [None] * len(blocks)

                def part(first):
                    for i in range(first, len(blocks), 2):
                        out[i] = on_chunk(blocks[i])
                workers = [threading.Thread(target=part, args=(i,)) for i in range(2)]
                for t in workers:
                    t.start()
                for t in workers:
                    t.join()
                return out

            steps = {"mem T": (args.threads, lambda: f(image)), "mem 1": (1, lambda: f(image)),
                     "serial": (1, lambda: [on_chunk(b) for b in blocks]),
                     "2 threads": (1, shared),
                     "map_blocks": (1, lambda: x.map_blocks(on_chunk, meta=x._meta).persist()),
                     "dask": (1, lambda: f(x).persist())}
            times = {s: [] for s in STEPS}
            for r in range(args.rounds + 1):   # the first round is the warm-up
                for s in (STEPS if r % 2 == 0 else STEPS[::-1]):
                    threads, run = steps[s]
                    convcore.set_num_threads(threads)
                    start = time.perf_counter()
                    run()
                    if r:
                        times[s].append(time.perf_counter() - start)
            print(f"{case:14}" + "".join(
                f"{statistics.median(times[s]) * 1e3:9.1f} ({min(times[s]) * 1e3:5.1f})"
                for s in STEPS), flush=True)
    print(header(args.threads).splitlines()[1].split(";")[0] + " at the end")


if __name__ == "__main__":
    main()
