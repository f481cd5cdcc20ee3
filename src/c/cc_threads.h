/* What the thread pool (cc_pool.h) needs from the operating system and the compiler, for POSIX
   threads and for Win32 threads: a lock (with a try-lock), a condition variable, detached
   threads, a yield, a monotonic clock, the process id (to notice a fork), and 64-bit atomics;
   on Linux (with _GNU_SOURCE, which Python.h defines) also the CPU a thread runs on and a way
   for a thread to move itself off one (cc_cpu, cc_move_off; elsewhere -1 and nothing).

   CC_THREADS is 1 where all of it exists: POSIX with GCC or Clang, and Windows (MinGW GCC, Clang
   or 64-bit MSVC); else 0 and the pool is not built. Atomics are GCC/Clang's __atomic builtins
   wherever those exist (MinGW too); MSVC has no C11 atomics without an experimental flag, so
   there the shared variables are `volatile` (CC_ATOMIC), whose loads acquire and stores release
   under /volatile:ms (setup.py passes it; x64's default), and read-modify-writes are Interlocked.

   CC_LD/CC_ST: acquire load, release store; CC_ST_SEQ: sequentially consistent store; CC_INC(v):
   add 1, return the sum; CC_CAS(v, t, x): if v equals the lvalue t, store x and return true (t
   may be overwritten when it fails). v is a 64-bit integer, or for CC_LD/CC_ST a pointer. */
#ifndef CONVCORE_CC_THREADS_H
#define CONVCORE_CC_THREADS_H

#if defined(__GNUC__) || defined(__clang__)
#define CC_ATOMICS 1
#define CC_ATOMIC
#define CC_LD(v) __atomic_load_n(&(v), __ATOMIC_ACQUIRE)
#define CC_ST(v, x) __atomic_store_n(&(v), (x), __ATOMIC_RELEASE)
#define CC_ST_SEQ(v, x) __atomic_store_n(&(v), (x), __ATOMIC_SEQ_CST)
#define CC_INC(v) __atomic_add_fetch(&(v), 1, __ATOMIC_ACQ_REL)
#define CC_CAS(v, t, x) \
    __atomic_compare_exchange_n(&(v), &(t), (x), 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64)) && !defined(_ISO_VOLATILE)
#define CC_ATOMICS 1
#define CC_ATOMIC volatile
#define CC_LD(v) (v)
#define CC_ST(v, x) ((v) = (x))
#define CC_ST_SEQ(v, x) InterlockedExchange64((volatile LONG64 *)&(v), (LONG64)(x))
#define CC_INC(v) InterlockedIncrement64((volatile LONG64 *)&(v))
#define CC_CAS(v, t, x) \
    (InterlockedCompareExchange64((volatile LONG64 *)&(v), (LONG64)(x), (LONG64)(t)) == (LONG64)(t))
#else
#define CC_ATOMICS 0
#endif

#if CC_ATOMICS && defined(_WIN32)
#define CC_THREADS 1
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <process.h>
typedef SRWLOCK cc_lock;
typedef CONDITION_VARIABLE cc_cond;
#define CC_LOCK_INIT SRWLOCK_INIT
#define CC_COND_INIT CONDITION_VARIABLE_INIT
#define cc_lock_take(l) AcquireSRWLockExclusive(l)
#define cc_lock_try(l) (TryAcquireSRWLockExclusive(l) != 0)
#define cc_lock_give(l) ReleaseSRWLockExclusive(l)
#define cc_cond_wait(c, l) SleepConditionVariableSRW((c), (l), INFINITE, 0)
#define cc_cond_wake_all(c) WakeAllConditionVariable(c)
#define cc_lock_reset(l) InitializeSRWLock(l)
#define cc_cond_reset(c) InitializeConditionVariable(c)
#define CC_THREAD_MAIN(name, arg) unsigned __stdcall name(void *arg)
typedef unsigned(__stdcall *cc_thread_main)(void *);
#define cc_yield() SwitchToThread()
#define cc_process_id() GetCurrentProcessId()
typedef DWORD cc_pid_t;

/* starts fn(arg) on a thread of its own that nobody joins; 0 when it started */
static int cc_thread_start(cc_thread_main fn, void *arg) {
    /* _beginthreadex, not CreateThread: the thread may use the C runtime */
    HANDLE th = (HANDLE)_beginthreadex(NULL, 0, fn, arg, 0, NULL);
    if (th == NULL) return -1;
    CloseHandle(th);
    return 0;
}

static double cc_now(void) {
    LARGE_INTEGER t, f;
    QueryPerformanceCounter(&t);
    QueryPerformanceFrequency(&f);
    return (double)t.QuadPart / (double)f.QuadPart;
}

#elif CC_ATOMICS && (defined(__unix__) || defined(__APPLE__))
#define CC_THREADS 1
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
typedef pthread_mutex_t cc_lock;
typedef pthread_cond_t cc_cond;
#define CC_LOCK_INIT PTHREAD_MUTEX_INITIALIZER
#define CC_COND_INIT PTHREAD_COND_INITIALIZER
#define cc_lock_take(l) pthread_mutex_lock(l)
#define cc_lock_try(l) (pthread_mutex_trylock(l) == 0)
#define cc_lock_give(l) pthread_mutex_unlock(l)
#define cc_cond_wait(c, l) pthread_cond_wait((c), (l))
#define cc_cond_wake_all(c) pthread_cond_broadcast(c)
#define cc_lock_reset(l) pthread_mutex_init((l), NULL)
#define cc_cond_reset(c) pthread_cond_init((c), NULL)
#define CC_THREAD_MAIN(name, arg) void *name(void *arg)
typedef void *(*cc_thread_main)(void *);
#define cc_yield() sched_yield()
#define cc_process_id() getpid()
typedef pid_t cc_pid_t;

/* starts fn(arg) on a thread of its own that nobody joins; 0 when it started */
static int cc_thread_start(cc_thread_main fn, void *arg) {
    pthread_t th;
    pthread_attr_t attr;
    int rc;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&th, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc;
}

static double cc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#else
#define CC_THREADS 0
#endif

#if CC_THREADS && defined(__linux__) && defined(_GNU_SOURCE)
#include <sched.h>
#define CC_CAN_MOVE 1
#define cc_cpu() sched_getcpu()
/* moves the calling thread to another CPU it may run on than `cpu`, and gives it back the CPUs
   it had (which leaves it where it is now, until the scheduler next places it) */
static void cc_move_off(int cpu) {
    cpu_set_t had, away;
    if (sched_getaffinity(0, sizeof had, &had) != 0 || !CPU_ISSET(cpu, &had)
        || CPU_COUNT(&had) < 2)
        return;
    away = had;
    CPU_CLR(cpu, &away);
    if (sched_setaffinity(0, sizeof away, &away) == 0) sched_setaffinity(0, sizeof had, &had);
}
#else
#define CC_CAN_MOVE 0
#define cc_cpu() (-1)
#define cc_move_off(cpu) ((void)(cpu))
#endif
#endif
