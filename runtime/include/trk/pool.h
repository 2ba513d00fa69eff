/* trkserve — a persistent pthreads thread pool (no OpenMP, no TBB). */
#ifndef TRK_POOL_H
#define TRK_POOL_H

#include <stddef.h>
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct trk_pool;

/* Body of a parallel loop: processes indices [begin, end). `worker` is in
 * [0, trk_pool_size()] (the calling thread helps too) and is stable for the call. */
typedef void (*trk_pool_range_fn)(void *ctx, size_t begin, size_t end, unsigned worker);

/* Creates a pool with `nthreads` workers (0: the number of online CPUs, or
 * $TRK_NUM_THREADS when set). On success *out owns the pool; free with
 * trk_pool_free(). Threads are created here and nowhere else. */
enum trk_status trk_pool_create(unsigned nthreads, struct trk_pool **out);

/* Stops and joins the workers after the jobs in flight finish. NULL-safe. */
void trk_pool_free(struct trk_pool *pool);

/* Number of worker threads (not counting callers that help). */
unsigned trk_pool_size(const struct trk_pool *pool);

/* Runs fn over [0, n) in chunks of `chunk` indices (0: an even split over the
 * workers); blocks until every chunk has run. The caller executes chunks too, so
 * calls from several threads at once, and nested calls from inside fn, are safe
 * and cannot deadlock. Thread-safe. */
enum trk_status trk_pool_parallel_for(struct trk_pool *pool, size_t n, size_t chunk,
                                      trk_pool_range_fn fn, void *ctx);

/* Queues fn(arg) to run on a worker and returns at once; the caller keeps
 * ownership of arg, which must stay valid until fn runs. Thread-safe. */
enum trk_status trk_pool_submit(struct trk_pool *pool, void (*fn)(void *arg), void *arg);

#ifdef __cplusplus
}
#endif
#endif
