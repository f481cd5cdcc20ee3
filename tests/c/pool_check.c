/* The thread pool's own test, in C without Python: run_batches (src/c/parallel.h) on the pool
   (src/c/cc_pool.h) as this platform builds it. tests/test_pool_c.py compiles it with the
   system's cc (POSIX threads) and with MinGW, running the .exe under Wine (Win32 threads; also
   with the atomics MSVC builds use, tests/c/msvc_branch.h).

   Checks that every index of a job runs exactly once, on a thread id below the thread count, for
   1-4 threads and batch sizes from 1 to more than the job; jobs started from inside a batch
   (nested); callers on several threads at once; many jobs in a row, with the pool's races
   widened (delay below); that helper threads do take part; and the back-off after a late
   helper, and its end; and on Linux (built with _GNU_SOURCE) that a helper can move off a CPU.
   Prints "ok ..." and exits 0, or names each failure and exits 1. */
#define _POSIX_C_SOURCE 200809L /* pthreads, clock_gettime under -std=c11 */
#define CC_POOL_WITHOUT_PYTHON
#define CC_POOL_TEST_DELAY(tid) delay()
/* the back-off's lapse, longer than the pool's 20 ms: check_backoff's next call must come
   within it even on a busy machine */
#define CC_BACKOFF_SECONDS 0.2
static void delay(void);
#include "cc_pool.h"
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    long long *hits;
    int *tids;
    Py_ssize_t offset; /* of this job's index 0 in hits and tids */
    int threads, nested;
    long long bad_tid, helped; /* atomic: any thread may count */
} marks;

static long long failures = 0; /* atomic */

/* Where the pool reads or publishes its ticket, every 7th thread to pass waits 5 us: helpers
   then read a finished job's ticket while the next job is being written, which no scheduler
   does often enough for a test to see (a pool that reused the old ticket ran batches twice). */
static void delay(void) {
    static unsigned long long calls = 0; /* atomic */
    if (CC_INC(calls) % 7 == 0)
        for (double t0 = cc_now(); cc_now() - t0 < 5e-6;) {
        }
}

static void mark(void *ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) {
    marks *m = ctx;
    if (tid < 0 || tid >= m->threads) {
        CC_INC(m->bad_tid);
        return;
    }
    if (tid > 0) CC_INC(m->helped);
    if (m->nested) { /* the batch as a job of its own, from inside a job */
        marks inner = {m->hits, m->tids, m->offset + lo, m->threads, 0, 0, 0};
        run_batches(mark, &inner, hi - lo, 1, m->threads);
        if (CC_LD(inner.bad_tid)) CC_INC(m->bad_tid);
        return;
    }
    for (Py_ssize_t i = m->offset + lo; i < m->offset + hi; i++) {
        CC_INC(m->hits[i]);
        m->tids[i] = tid;
    }
}

/* one job over n indices; returns the threads it used, or 0 after reporting a failure */
static int cover(Py_ssize_t n, Py_ssize_t batch, int threads, int nested, long long *helped) {
    long long *hits = calloc((size_t)n + 1, sizeof *hits);
    int *tids = calloc((size_t)n + 1, sizeof *tids);
    marks m = {hits, tids, 0, threads, nested, 0, 0};
    int used = run_batches(mark, &m, n, batch, threads), ok = used >= 1 && used <= threads;
    for (Py_ssize_t i = 0; i < n; i++) ok &= hits[i] == 1 && tids[i] >= 0 && tids[i] < threads;
    ok &= CC_LD(m.bad_tid) == 0;
    if (!ok) {
        fprintf(stderr, "FAIL n=%lld batch=%lld threads=%d nested=%d used=%d\n", (long long)n,
                (long long)batch, threads, nested, used);
        CC_INC(failures);
    }
    if (helped) *helped += CC_LD(m.helped);
    free(hits);
    free(tids);
    return ok ? used : 0;
}

/* A job of two batches whose helper holds the caller up: the caller's batch waits (up to 1 s)
   until a helper has claimed the other one, which then lasts until 5 ms plus 3 times the
   caller's own time after the caller has left its batch (the pool counts a helper late when
   the caller waits more than half its own time; a caller preempted in its batch must not make
   the wait look short) */
static CC_ATOMIC long long late_start = 0, late_claimed = 0, late_left = 0; /* microseconds of
                                      cc_now: the job's start, the claim, the caller's leaving */
static void late(void *ctx, Py_ssize_t lo, Py_ssize_t hi, int tid) {
    (void)ctx; (void)lo; (void)hi;
    double t0 = cc_now();
    if (tid == 0) {
        while (CC_LD(late_claimed) == 0 && cc_now() - t0 < 1.0) {
        }
        CC_ST(late_left, (long long)(1e6 * cc_now()));
        return;
    }
    CC_ST(late_claimed, (long long)(1e6 * t0));
    while (CC_LD(late_left) == 0 && cc_now() - t0 < 1.0) {
    }
    double left = 1e-6 * (double)CC_LD(late_left), own = left - 1e-6 * (double)CC_LD(late_start);
    while (cc_now() - left < 5e-3 + 3 * own) {
    }
}

static void spin_for(double seconds) {
    for (double t0 = cc_now(); cc_now() - t0 < seconds;) {
    }
}

/* after a call that waited for a helper the pool backs off (the next call runs on the caller
   alone), and the back-off lapses after CC_BACKOFF_SECONDS */
static void check_backoff(void) {
    spin_for(2 * CC_BACKOFF_SECONDS);   /* any earlier back-off has lapsed */
    CC_ST(late_claimed, 0);
    CC_ST(late_left, 0);
    CC_ST(late_start, (long long)(1e6 * cc_now()));
    if (run_batches(late, NULL, 2, 1, 2) != 2 || CC_LD(late_claimed) == 0) {
        fprintf(stderr, "SKIP back-off: no helper took the late batch\n");
        return;
    }
    if (cover(1 << 12, 1 << 8, 2, 0, NULL) != 1) {
        fprintf(stderr, "FAIL the call right after a late helper used the pool\n");
        CC_INC(failures);
    }
    spin_for(1.5 * CC_BACKOFF_SECONDS);
    if (cover(1 << 12, 1 << 8, 2, 0, NULL) != 2) {
        fprintf(stderr, "FAIL the back-off did not lapse after CC_BACKOFF_SECONDS\n");
        CC_INC(failures);
    }
}

/* cc_move_off: the thread runs on another CPU afterwards, and may use the same CPUs as before;
   returns 1 when it was checked (Linux, built with _GNU_SOURCE, at least 2 CPUs allowed) */
static int check_move_off(void) {
#if CC_CAN_MOVE
    cpu_set_t had, now;
    if (sched_getaffinity(0, sizeof had, &had) != 0 || CPU_COUNT(&had) < 2) return 0;
    int from = cc_cpu();
    cc_move_off(from);
    int to = cc_cpu();
    if (to == from || sched_getaffinity(0, sizeof now, &now) != 0 || !CPU_EQUAL(&had, &now)) {
        fprintf(stderr, "FAIL cc_move_off: CPU %d -> %d, affinity %s\n", from, to,
                CPU_EQUAL(&had, &now) ? "kept" : "changed");
        CC_INC(failures);
    }
    return 1;
#else
    return 0;
#endif
}

/* a caller on a thread of its own: random jobs, then it counts itself finished */
static cc_lock finished_mu = CC_LOCK_INIT;
static cc_cond finished_cv = CC_COND_INIT;
static int finished = 0; /* under finished_mu */

static CC_THREAD_MAIN(caller, arg) {
    unsigned long long r = 0x9E3779B97F4A7C15ULL * (unsigned long long)((intptr_t)arg + 1);
    for (int k = 0; k < 300; k++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        Py_ssize_t n = (Py_ssize_t)((r >> 33) % 20000), batch = 1 + (Py_ssize_t)((r >> 17) % 2000);
        cover(n, batch, 1 + (int)((r >> 7) % 4), (int)((intptr_t)arg % 2), NULL);
    }
    cc_lock_take(&finished_mu);
    finished++;
    cc_cond_wake_all(&finished_cv);
    cc_lock_give(&finished_mu);
    return 0;
}

int main(void) {
    static const Py_ssize_t sizes[][2] = {{0, 1}, {1, 1}, {7, 3}, {1000, 1}, {1000, 7},
                                          {100003, 4096}, {5, 100}};
    const int callers = 4;
    long long jobs = 0, helped = 0;
    int parallel = 0, moved = check_move_off();
    cc_pool = &cc_pool_impl; /* what cc_import_pool does in a kernel module */
    for (int threads = 1; threads <= 4; threads++)
        for (int nested = 0; nested <= 1; nested++)
            for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++, jobs++)
                cover(sizes[s][0], sizes[s][1], threads, nested, NULL);
    /* helpers take part: the pool backs off for up to 16 calls after a late helper, so retry */
    for (int k = 0; k < 2000 && !(parallel && helped); k++, jobs++)
        parallel |= cover(1 << 16, 1 << 10, 2, 0, &helped) == 2;
    if (CC_POOL && !(parallel && helped)) {
        fprintf(stderr, "FAIL no job ran on two threads\n");
        CC_INC(failures);
    }
    if (CC_POOL) check_backoff();
    for (int k = 0; k < 40000; k++, jobs++) /* many jobs in a row, one short, one longer */
        cover(k % 2 ? 3 + k % 61 : 2, 1 + k % 4 * (k % 2), 2 + k % 3, k % 10 == 1, &helped);
    for (intptr_t c = 0; c < callers; c++) {
        if (cc_thread_start(caller, (void *)c) != 0) {
            fprintf(stderr, "FAIL cannot start caller %d\n", (int)c);
            return 1;
        }
    }
    cc_lock_take(&finished_mu); /* a hang here is caught by the test's timeout */
    while (finished < callers) cc_cond_wait(&finished_cv, &finished_mu);
    cc_lock_give(&finished_mu);
    jobs += 300 * callers;
    printf("%s CC_POOL=%d jobs=%lld helper batches=%lld moved=%d failures=%lld\n",
           CC_LD(failures) ? "FAILED" : "ok", CC_POOL, jobs, helped, moved, CC_LD(failures));
    return CC_LD(failures) != 0;
}
