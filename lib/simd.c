/*
 * simd.c - which SIMD loops this machine may run, asked of the CPU once.
 */
#include <pthread.h>

#include "internal.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
static int avx2, avx512;

static void
simd_init(void)
{
	__builtin_cpu_init();
	avx2 = __builtin_cpu_supports("avx2") != 0;
	avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vbmi");
}

int z4_simd_off;

int
z4_simd_avx2(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, simd_init);
	return avx2 && !z4_simd_off;
}

int
z4_simd_avx512(void)
{
	return z4_simd_avx2() && avx512;
}
#else
int z4_simd_off;

int
z4_simd_avx2(void)
{
	return 0;
}

int
z4_simd_avx512(void)
{
	return 0;
}
#endif
