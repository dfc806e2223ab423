/* Prometheus counters and histograms; see metrics.h. */
#include "common/metrics.h"

#include <inttypes.h>
#include <stdbool.h>

const uint64_t metrics_latency_bounds_us[METRICS_LATENCY_BUCKETS] = {
	50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000,
};

void metrics_histogram_observe(struct metrics_histogram *h, uint64_t value_us)
{
	size_t i = 0;

	while (i < METRICS_LATENCY_BUCKETS && value_us > metrics_latency_bounds_us[i])
		i++;
	atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, value_us, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void metrics_histogram_write(struct buf *out, const char *name, const char *labels,
			     const struct metrics_histogram *h)
{
	bool labelled = labels[0] != '\0';
	const char *sep = labelled ? "," : "";
	const char *brace_open = labelled ? "{" : "";
	const char *brace_close = labelled ? "}" : "";
	uint64_t cumulative = 0;

	for (size_t i = 0; i < METRICS_LATENCY_BUCKETS; i++) {
		cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
		buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels, sep,
			   (double)metrics_latency_bounds_us[i] / 1e6, cumulative);
	}
	cumulative += atomic_load_explicit(&h->buckets[METRICS_LATENCY_BUCKETS], memory_order_relaxed);
	buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, cumulative);
	/* A series without labels is written without braces: "name_sum 1.5", not "name_sum{} 1.5". */
	buf_printf(out, "%s_sum%s%s%s %.6f\n", name, brace_open, labels, brace_close,
		   (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
	buf_printf(out, "%s_count%s%s%s %" PRIu64 "\n", name, brace_open, labels, brace_close,
		   atomic_load_explicit(&h->count, memory_order_relaxed));
}

void metrics_size_observe(struct metrics_size_histogram *h, uint64_t value)
{
	size_t i = 0;

	while (i < METRICS_SIZE_BUCKETS && value > (UINT64_C(1) << i))
		i++;
	atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, value, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
}

void metrics_size_write(struct buf *out, const char *name, const struct metrics_size_histogram *h)
{
	uint64_t cumulative = 0;

	for (size_t i = 0; i < METRICS_SIZE_BUCKETS; i++) {
		cumulative += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
		buf_printf(out, "%s_bucket{le=\"%" PRIu64 "\"} %" PRIu64 "\n", name, UINT64_C(1) << i,
			   cumulative);
	}
	cumulative += atomic_load_explicit(&h->buckets[METRICS_SIZE_BUCKETS], memory_order_relaxed);
	buf_printf(out, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
	buf_printf(out, "%s_sum %" PRIu64 "\n", name, atomic_load_explicit(&h->sum, memory_order_relaxed));
	buf_printf(out, "%s_count %" PRIu64 "\n", name,
		   atomic_load_explicit(&h->count, memory_order_relaxed));
}

void metrics_write_header(struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}
