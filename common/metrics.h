/*
 * Prometheus text-format building blocks: lock-free counters and
 * fixed-bucket histograms that many threads update and /metrics renders.
 */
#ifndef JKD_COMMON_METRICS_H
#define JKD_COMMON_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/buf.h"

/* Latency buckets in microseconds, upper bounds; the +Inf bucket is implicit. */
#define METRICS_LATENCY_BUCKETS 14
extern const uint64_t metrics_latency_bounds_us[METRICS_LATENCY_BUCKETS];

struct metrics_histogram {
	_Atomic uint64_t buckets[METRICS_LATENCY_BUCKETS + 1]; /* not cumulative */
	_Atomic uint64_t sum_us;
	_Atomic uint64_t count;
};

void metrics_histogram_observe(struct metrics_histogram *h, uint64_t value_us);

/*
 * Writes the _bucket, _sum and _count lines of h under name, with labels
 * (for example `route="/kv/v1/{key}"`, or "" for none), converting to seconds.
 */
void metrics_histogram_write(struct buf *out, const char *name, const char *labels,
			     const struct metrics_histogram *h);

/* Size-valued histogram (batch sizes and the like) with power-of-two buckets up to 4096. */
#define METRICS_SIZE_BUCKETS 13
struct metrics_size_histogram {
	_Atomic uint64_t buckets[METRICS_SIZE_BUCKETS + 1];
	_Atomic uint64_t sum;
	_Atomic uint64_t count;
};

void metrics_size_observe(struct metrics_size_histogram *h, uint64_t value);
void metrics_size_write(struct buf *out, const char *name, const struct metrics_size_histogram *h);

/* Writes "# HELP" and "# TYPE" lines. */
void metrics_write_header(struct buf *out, const char *name, const char *type, const char *help);

#endif
