/*
 * Timing helpers shared by the benchmarks.  Header only: each benchmark is
 * one source file linked against the libraries it measures.
 */
#ifndef BH_BENCH_H
#define BH_BENCH_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline double bench_clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* Wall-clock time in ms. */
static inline double bench_now_ms(void)
{
	return bench_clock_ms(CLOCK_MONOTONIC);
}

/* CPU time of the process in ms: the machine is shared, so benchmarks
 * report it next to wall time. */
static inline double bench_cpu_ms(void)
{
	return bench_clock_ms(CLOCK_PROCESS_CPUTIME_ID);
}

/* qsort() comparator for doubles. */
static inline int bench_double_cmp(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* The median of @v (sorted in place); @n > 0. */
static inline double bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_double_cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The process's resident memory in bytes (/proc/self/statm), 0 when
 * unknown. */
static inline long bench_rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

#endif
