#ifndef BENCH_AFFINITY_H
#define BENCH_AFFINITY_H

/// The number of CPUs in the calling process's affinity mask (sched_getaffinity), or -1
/// with errno set when it cannot be read. Glibc's Swift module lacks the call, which
/// needs _GNU_SOURCE.
int bench_affinity_cpu_count(void);

#endif
