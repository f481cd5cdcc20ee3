/* Included first (clang -include) when tests/test_pool_c.py builds pool_check.c with clang for
   MinGW: the system headers are read as clang's, then the compiler stops naming itself GCC or
   Clang and names itself MSVC, so src/c/cc_threads.h takes the MSVC branch that Windows builds
   use (volatile job fields, Interlocked read-modify-writes) and Wine runs it. What this cannot
   test is MSVC's code generation: under /volatile:ms the compiler too keeps other accesses on
   their side of a volatile one, clang does not (x86-64 itself keeps stores and loads in order). */
#include <windows.h>
#include <process.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#undef __GNUC__
#undef __clang__
#define _MSC_VER 1940
#ifndef _M_X64
#define _M_X64 100
#endif
