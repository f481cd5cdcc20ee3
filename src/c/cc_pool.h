/* The process-wide pool of helper threads behind run_batches() (src/c/parallel.h). Compiled
   into one module only, convcore._kernels.parallel, so the process has one pool; the other
   kernel modules reach it through the capsule that module publishes. It runs on POSIX threads,
   and on Win32 threads on Windows (the few system calls it makes: src/c/cc_threads.h).

   Why not OpenMP: an OpenMP parallel region ends with a barrier: on a shared machine, a worker
   that is not scheduled in time (another process holds the other core) holds the whole call up
   for a scheduler tick or more (measured: a 0.45 ms 3x3 filter of a 1024x1024 image took 8-16 ms
   with 2 OpenMP threads while a compiler ran on the other core, 0.9 ms on one thread). And the
   process's libgomp is shared with PyTorch and others, whose speed depends on how it was loaded.
   Here the caller publishes a job and works on it at once; items are claimed in batches through
   one atomic ticket (generation << 32 | next batch) by compare-and-swap; the caller only waits
   for batches a helper has actually claimed. A helper that wakes late finds the ticket's
   generation changed or exhausted and claims nothing; it reads the job's fields before its
   claim, and a successful claim proves the job was still the same (the caller closes the
   ticket before it rewrites them).

   cc_parallel(fn, ctx, n, batch, threads) runs fn(ctx, lo, hi, tid) over [0, n) and returns the
   number of threads it could use; 1 means it ran nothing (pool busy, backing off, or absent:
   CC_POOL is 0 where cc_threads.h finds no threads or atomics, or when built with
   CONVCORE_NO_POOL) and the caller runs the job itself (run_batches does). A forked child starts
   helpers of its own. */
#ifndef CONVCORE_CC_POOL_H
#define CONVCORE_CC_POOL_H
#include "parallel.h"
#include "cc_threads.h"
#if CC_THREADS && !defined(CONVCORE_NO_POOL)
#define CC_POOL 1
#include <stdint.h>
#define CC_MAX_THREADS 64
#ifndef CC_POOL_TEST_DELAY  /* tests/c/pool_check.c pauses threads here to widen the races */
#define CC_POOL_TEST_DELAY(tid)
#endif
#define CC_CLOSED 0xffffffffULL  /* a ticket's batch count while its job is being written */
static cc_lock cc_run_mu = CC_LOCK_INIT;  /* one job at a time */
static cc_lock cc_mu = CC_LOCK_INIT;      /* wake-ups */
static cc_cond cc_cv = CC_COND_INIT;
static CC_ATOMIC unsigned long long cc_ticket = 0;  /* generation << 32 | next batch */
static CC_ATOMIC unsigned long long cc_wake = 0;  /* generation, written under cc_mu */
static CC_ATOMIC long long cc_done = 0;   /* batches finished in this generation */
/* the job's fields (atomic loads/stores: a late helper may read them while they change) */
static CC_ATOMIC cc_batch_fn cc_fn = 0;
static void *CC_ATOMIC cc_ctx = 0;
static CC_ATOMIC long long cc_n = 0, cc_batch = 1, cc_batches = 0, cc_threads = 1, cc_claims = 0;
static CC_ATOMIC long long cc_per = 1;
static CC_ATOMIC long long cc_caller_cpu = -1;  /* where the caller of the job runs, or -1 */
static int cc_sleepers = 0;                /* helpers asleep on cc_cv, under cc_mu */
static int cc_helpers = 0;
static int cc_skip = 0, cc_penalty = 0;    /* back-off after a call that waited for a helper */
static double cc_late_at = 0;              /* when that call ended */
/* A back-off lapses this long after the late call: a helper preempted by another process gets
   its core back within the scheduler's slice (a few ms), so older evidence says nothing about
   the next call. Calls that follow each other closely (a training step's layers) still skip the
   pool 2, 4, ... 16 times in a row; a call that comes later (an application's next frame, a
   benchmark's next turn after its pause) tries the helpers again. Counted in calls alone, a
   late helper in one filter of bench_ndimage's round made the next filters of the round, 50 ms
   later, run on one thread (seen with counters in the pool, machine at load 2: a 2048x2048
   Gaussian takes 5 ms on one thread, 2.8 ms on two). */
#ifndef CC_BACKOFF_SECONDS
#define CC_BACKOFF_SECONDS 20e-3
#endif
static cc_pid_t cc_pid = 0;

/* claim and run batches of the current generation `gen`; returns when none is left */
static void cc_work(unsigned long long gen, int tid) {
    for (;;) {
        unsigned long long t = CC_LD(cc_ticket);
        if ((t >> 32) != gen) return;
        CC_POOL_TEST_DELAY(tid);
        cc_batch_fn fn = CC_LD(cc_fn);
        void *ctx = CC_LD(cc_ctx);
        long long n = CC_LD(cc_n), batch = CC_LD(cc_batch), batches = CC_LD(cc_batches);
        long long threads = CC_LD(cc_threads), claims = CC_LD(cc_claims), per = CC_LD(cc_per);
        long long c = (long long)(t & 0xffffffffULL);
        if (c >= claims || tid >= threads) return;
        if (!CC_CAS(cc_ticket, t, t + 1)) continue;
        /* claim c of generation gen: the job is alive until cc_done counts it. Claims go
           round the `threads` contiguous parts of the batches, so threads working at the same
           pace stay in different parts (first touches of the output's pages, each zeroing a
           page of up to 2 MiB, then run side by side instead of one after the other) */
        long long i = (c % threads) * per + c / threads;
        if (i < batches) {
            long long hi = (i + 1) * batch < n ? (i + 1) * batch : n;
            fn(ctx, (Py_ssize_t)(i * batch), (Py_ssize_t)hi, tid);
        }
        CC_INC(cc_done);
    }
}

/* A helper that has finished a job watches for the next one for CC_SPIN_SECONDS, yielding its
   core to any other thread that wants it, before it sleeps on the condition variable: kernels
   called one after another (the layers of a training step: about 150 jobs in a ResNet-18 step,
   20 in a small CNN's) then find it awake instead of paying a wake-up (10-30 us on a quiet
   machine; 150-400 us, up to 1.2 ms, on a virtual machine after a pause). 1 ms, about as long
   as libgomp's default spin: with 100 us, a helper woken late after a pause got less of the
   job, finished first, was asleep again before the caller's next call, and woke late again, so
   call after call ran on about one thread (32x3x32x32 by 64x3x7x7 stride 2, 16 calls after a
   50 ms pause: 1.44-1.60 ms in 2 of 3 runs, 0.82 in the third; with 0.5-2 ms 0.78-1.04 in 9 of
   9; back to back 0.87) */
#ifndef CC_SPIN_SECONDS
#define CC_SPIN_SECONDS 1e-3
#endif
/* A helper woken on the caller's CPU moves to another one. After a pause, Linux often wakes it
   there (it wakes where its waker runs, or the caller itself woke where the helper last ran),
   and the two share one core until the load balancer parts them, a scheduler tick or more
   later: 32x3x32x32 by 32x3x5x5 after a 50 ms pause, 2 threads, calls 2-4 took 1.5-1.7 ms, one
   thread's time, with the pair on one CPU at half of the calls' starts; pinned apart, 0.87-0.90
   as back to back. Only the helper's own affinity changes, and only for two system calls. */
static void cc_leave_caller(void) {
    int caller = (int)CC_LD(cc_caller_cpu);
    if (caller >= 0 && cc_cpu() == caller) cc_move_off(caller);
}

static CC_THREAD_MAIN(cc_helper, arg) {
    int tid = (int)(intptr_t)arg;
    unsigned long long seen = 0;
    for (;;) {
        double t0 = cc_now();
        while (CC_LD(cc_wake) == seen && cc_now() - t0 < CC_SPIN_SECONDS) cc_yield();
        if (CC_LD(cc_wake) != seen) {
            seen = CC_LD(cc_wake);
        } else {
            cc_lock_take(&cc_mu);
            cc_sleepers++;
            while (cc_wake == seen) cc_cond_wait(&cc_cv, &cc_mu);
            cc_sleepers--;
            seen = cc_wake;
            cc_lock_give(&cc_mu);
        }
        cc_leave_caller();
        cc_work(seen, tid);
    }
    return 0;
}

/* run fn over [0, n) in batches on up to `threads` threads (the caller is thread 0); returns
   the number of threads the job could use (1: run it serially, the pool was busy or absent) */
static int cc_parallel(cc_batch_fn fn, void *ctx, Py_ssize_t n, Py_ssize_t batch, int threads) {
    if (threads > CC_MAX_THREADS) threads = CC_MAX_THREADS;
    if (!cc_lock_try(&cc_run_mu)) return 1;
    if (cc_skip > 0 && cc_now() - cc_late_at > CC_BACKOFF_SECONDS)
        cc_skip = 0;                   /* the back-off has lapsed */
    if (cc_skip > 0) {                 /* backing off: helpers were late recently */
        cc_skip--;
        cc_lock_give(&cc_run_mu);
        return 1;
    }
    if (cc_pid != cc_process_id()) {  /* first use, or a forked child: no helpers yet */
        if (cc_pid != 0) {             /* a child: a parent's helper may have held cc_mu */
            cc_lock_reset(&cc_mu);
            cc_cond_reset(&cc_cv);
        }
        cc_helpers = 0;
        cc_pid = cc_process_id();
    }
    while (cc_helpers < threads - 1
           && cc_thread_start(cc_helper, (void *)(intptr_t)(cc_helpers + 1)) == 0)
        cc_helpers++;
    if (threads > cc_helpers + 1) threads = cc_helpers + 1;
    if (threads <= 1) { cc_lock_give(&cc_run_mu); return 1; }
    long long batches = (n + batch - 1) / batch;
    long long per = (batches + threads - 1) / threads;
    if (per * threads >= (long long)CC_CLOSED) { cc_lock_give(&cc_run_mu); return 1; }
    /* close the ticket before the job's fields change: a helper still in the last job may have
       read its exhausted ticket; were the ticket left as it is, that helper could read the new
       job's fields and claim with the old ticket (and run batches of the new job twice) */
    unsigned long long gen = (CC_LD(cc_ticket) >> 32) + 1;
    CC_ST_SEQ(cc_ticket, gen << 32 | CC_CLOSED);
    CC_ST(cc_fn, fn); CC_ST(cc_ctx, ctx); CC_ST(cc_n, (long long)n);
    CC_ST(cc_batch, (long long)batch); CC_ST(cc_batches, batches);
    CC_ST(cc_threads, (long long)threads);
    CC_ST(cc_per, per); CC_ST(cc_claims, per * threads);
    CC_ST(cc_done, 0);
    CC_ST(cc_caller_cpu, (long long)cc_cpu());
    CC_POOL_TEST_DELAY(0);
    CC_ST_SEQ(cc_ticket, gen << 32);
    cc_lock_take(&cc_mu);
    CC_ST(cc_wake, gen);
    int woken = cc_sleepers;
    cc_cond_wake_all(&cc_cv);
    cc_lock_give(&cc_mu);
    /* a helper woken from its sleep may have been queued on this CPU (see cc_leave_caller),
       where it would wait for the caller's time slice to end: let it run and move away now */
    if (woken && CC_CAN_MOVE) cc_yield();
    double t0 = cc_now();
    cc_work(gen, 0);
    double t1 = cc_now();
    /* every batch is claimed: wait for those that helpers are still running */
    int spins = 0;
    while (CC_LD(cc_done) < per * threads) {
        if (++spins > 64) cc_yield();
    }
    /* a helper that held the caller up (it was preempted: the machine is busy) makes the next
       calls run on the caller alone, 2, 4, ... up to 16 of them, then the pool is tried again
       (longer back-offs left whole benchmark runs on one thread while OpenCV kept two), unless
       CC_BACKOFF_SECONDS have passed */
    double t2 = cc_now();
    if (t2 - t1 > 0.5 * (t1 - t0) + 50e-6) {
        cc_penalty = cc_penalty ? (cc_penalty < 16 ? 2 * cc_penalty : 16) : 2;
        cc_skip = cc_penalty;
        cc_late_at = t2;
    } else {
        cc_penalty = 0;
    }
    cc_lock_give(&cc_run_mu);
    return threads;
}
#else
#define CC_POOL 0
static int cc_parallel(cc_batch_fn fn, void *ctx, Py_ssize_t n, Py_ssize_t batch, int threads) {
    (void)fn; (void)ctx; (void)n; (void)batch; (void)threads;
    return 1;
}
#endif
static const cc_pool_api cc_pool_impl = {CC_POOL_API_VERSION, cc_parallel};
#endif
