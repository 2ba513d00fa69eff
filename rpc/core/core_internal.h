/* Private to libtrkserver: the objects behind trk/server.h.
 *
 * Locking (always in this order, never the other way round):
 *   s->control   serialises create/load/unload/drain (the slow operations)
 *   s->lock      the repository (not internally locked) and the list of active models
 *   m->mu        one model version's queue, its workers' state
 *   m->stats_mu  its statistics
 * done callbacks and algorithm calls run with no lock held. */
#ifndef TRK_CORE_INTERNAL_H
#define TRK_CORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "trk/algorithm.h"
#include "trk/device.h"
#include "trk/server.h"

#define CORE_REASON_UNLOADED "unloaded"
#define CORE_REASON_NOT_LOADED "not loaded (explicit model control: load it through the repository API)"

enum core_fail_reason { FAIL_REJECTED = 0, FAIL_CANCELED, FAIL_BACKEND, FAIL_OTHER, FAIL_NREASONS };

/* A queued request and what validation learnt about it. */
struct core_item {
    struct trk_infer_request *req;
    uint64_t enq_ns;
    uint64_t expire_ns; /* 0: never */
    uint32_t rows;      /* batch rows (1 without batching) */
};

struct core_instance {
    struct trk_model *m;
    struct trk_device *dev;
    uint32_t dev_index;  /* in the registry, for metrics */
    void *state;
    uint64_t mem_bytes;
    pthread_t thread;
    bool started;
    /* scratch sized at build: the current batch and the algorithm's tensors */
    struct core_item *batch;          /* [max(1, max_batch_size)] */
    const struct trk_tensor **in_ptr; /* [cfg->ninputs] */
    struct trk_tensor *in_buf;        /* [cfg->ninputs] */
    struct trk_tensor **out;          /* [cfg->noutputs] */
};

struct core_stats {
    uint64_t last_inference_ms, inference_count, execution_count;
    struct trk_duration_stat success, fail, queue, compute_input, compute_infer, compute_output;
    uint64_t fail_reason[FAIL_NREASONS];
    uint32_t nbatch, capbatch;
    struct trk_batch_stat *batch; /* ascending batch_size */
};

struct trk_model {
    atomic_uint refs;
    struct trk_server *srv;
    struct trk_model_config *cfg; /* own reference */
    const struct trk_algorithm *algo;
    int64_t version;
    char *version_dir;
    bool any_dtype, any_shape;
    uint32_t queue_cap;

    pthread_mutex_t mu;
    pthread_cond_t work_cv; /* workers wait for items */
    pthread_cond_t idle_cv; /* drain waits for pending == 0 */
    struct core_item *ring; /* [queue_cap] */
    uint32_t head, n;       /* queued items */
    atomic_uint pending;    /* queued + running */
    bool stopping;          /* no new items; workers exit when the queue is empty */
    bool abort;             /* queued items are answered UNAVAILABLE */
    bool joined;

    uint32_t ninst;
    struct core_instance *inst;

    pthread_mutex_t stats_mu;
    struct core_stats stats;
};

struct core_devstat {
    atomic_uint_fast64_t busy_ns; /* summed execute time of the device's workers */
    uint64_t last_busy_ns, last_scrape_ns;
};

struct trk_server {
    struct trk_server_options opt;
    char *repo_dir, *device_path;
    struct trk_registry *reg;
    uint32_t ndev;
    struct core_devstat *devstat;

    pthread_mutex_t control;
    pthread_mutex_t lock;
    struct trk_repository *repo;
    struct trk_model **active;
    uint32_t nactive, capactive;
    atomic_bool draining;
    bool drained;

    pthread_mutex_t metrics_mu;
    uint64_t cpu_last_total, cpu_last_idle;
};

uint64_t core_now_ns(void);
uint64_t core_wall_ms(void);

/* Builds model version `version` (instances, workers). On failure err says why. */
enum trk_status core_model_build(struct trk_server *s, struct trk_model_config *cfg,
                                 const struct trk_algorithm *algo, int64_t version,
                                 const char *version_dir, struct trk_model **out, char *err,
                                 size_t errlen);
/* Stops taking items (abort: answers the queued ones UNAVAILABLE), joins the workers and
 * finalises the instances. Idempotent. Blocks. */
void core_model_stop(struct trk_model *m, bool abort);
/* Waits until nothing is queued or running, or until deadline_ns. */
void core_model_wait_idle(struct trk_model *m, uint64_t deadline_ns);

/* Validates req against m (server.h's rules); on failure fills req->error. */
enum trk_status core_validate(const struct trk_model *m, struct trk_infer_request *req,
                              uint32_t *rows);

/* Statistics helpers (stats.c). */
void core_stats_record_fail(struct trk_model *m, enum core_fail_reason why, uint64_t ns);
void core_stats_free(struct core_stats *st);
/* One successful execution of k items (rows batch rows) with its phase times. */
void core_stats_record_batch(struct trk_model *m, const struct core_item *items, uint32_t k,
                             uint32_t rows, uint64_t t_start, uint64_t cin, uint64_t cinf,
                             uint64_t cout, uint64_t t_end);

#endif
