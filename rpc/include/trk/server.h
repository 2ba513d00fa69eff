/* trkserve — the server core: model repository, loaded models and their instances, the
 * per-model bounded queue, one worker thread per instance, dynamic batching, statistics
 * and metrics. Protocol-free: the HTTP and gRPC front ends (trk/frontend.h) translate
 * their wire formats into the objects here and back, and never see a kernel or a device.
 *
 * Flow: a front end's I/O thread parses a request into a trk_infer_request and calls
 * trk_server_infer_async(); validation errors and a full queue are answered at once (the
 * I/O thread never blocks on the model); otherwise a worker runs it and calls the
 * request's done callback from the worker thread. Every function here is thread-safe
 * unless its comment says otherwise. */
#ifndef TRK_SERVER_H
#define TRK_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/model_config.h"
#include "trk/model_repository.h"
#include "trk/status.h"
#include "trk/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRK_SERVER_NAME "trkserve"
#define TRK_SERVER_ERR_MAX 512   /* error message buffers in the structs below */
#define TRK_REQUEST_ID_MAX 256   /* request ids longer than this are refused (400) */

struct trk_server;

struct trk_server_options {
    const char *model_repository;  /* required: the repository folder */
    const char *device_path;       /* extra folder for device modules (NULL: default search) */
    uint64_t max_request_bytes;    /* default body limit when a model sets none (0: 256 MiB) */
    bool strict_readiness;         /* ready only when every model is READY (Triton's
                                      --strict-readiness, default true) */
    bool load_models;              /* load every READY model at create (default true;
                                      false = Triton's explicit mode: load on request) */
};

/* Fills in the defaults above. */
void trk_server_options_default(struct trk_server_options *opt);

/* Opens the device registry, scans the repository and loads its models (one bad model is
 * logged and left UNAVAILABLE; the others serve). Fails only when the repository cannot
 * be read or the registry not opened (err says why). Blocks while models load. */
enum trk_status trk_server_create(const struct trk_server_options *opt, struct trk_server **out,
                                  char *err, size_t errlen);

/* Stops accepting requests (new ones get UNAVAILABLE "server is shutting down"), lets
 * queued and running requests finish for up to timeout_ms (after that they are cancelled
 * and answered UNAVAILABLE), and joins the workers. Idempotent. Blocks. */
void trk_server_drain(struct trk_server *s, uint32_t timeout_ms);

/* Drains (with no wait) and frees everything. Every request must have been answered.
 * NULL-safe. */
void trk_server_free(struct trk_server *s);

/* Health: live until trk_server_free; ready while not draining and (strict) every model
 * READY, (not strict) the repository scanned. */
bool trk_server_live(const struct trk_server *s);
bool trk_server_ready(const struct trk_server *s);

/* Version string of the server ("0.1.0") and the protocol extensions the core implements
 * ("model_repository", "model_configuration", "statistics", ...; NULL-terminated static
 * list). Front ends add their own (HTTP: "binary_tensor_data"). */
const char *trk_server_version(void);
const char *const *trk_server_extensions(void);

/* ---- models ------------------------------------------------------------------------ */

/* A loaded model version: its config and instances. Reference-counted so a front end may
 * keep it while a reload replaces it. */
struct trk_model;

/* The model `name` at `version` (< 0: the highest READY version). Returns TRK_OK and a
 * reference in *out, TRK_ERR_NOT_FOUND ("unknown model 'x'" / "unknown version 3 of
 * model 'x'") or TRK_ERR_UNAVAILABLE ("model 'x' is not ready: <reason>"), with the
 * message in err. */
enum trk_status trk_server_model_acquire(struct trk_server *s, const char *name, int64_t version,
                                         struct trk_model **out, char *err, size_t errlen);
void trk_model_release(struct trk_model *m); /* NULL-safe */

/* Borrowed views of an acquired model (valid until its release). */
const struct trk_model_config *trk_model_config_get(const struct trk_model *m);
int64_t trk_model_version_get(const struct trk_model *m);

/* Versions of model `name` that are READY, ascending, up to cap; returns how many there
 * are (may exceed cap). 0 when unknown or none ready. */
uint32_t trk_server_model_versions(struct trk_server *s, const char *name, int64_t *versions,
                                   uint32_t cap);

/* Whether `name` (version < 0: any version) is READY. */
bool trk_server_model_ready(struct trk_server *s, const char *name, int64_t version);

/* ---- inference ----------------------------------------------------------------------- */

struct trk_infer_request;
typedef void (*trk_infer_done_fn)(struct trk_infer_request *req, void *user);

/* One request. The front end allocates it, fills the input side, submits it, and gets it
 * back in `done`; then it reads the result side and frees it. */
struct trk_infer_request {
    /* ---- set by the front end ---- */
    char model_name[TRK_MODEL_NAME_MAX];
    int64_t model_version;          /* < 0: the highest READY version */
    char id[TRK_REQUEST_ID_MAX];    /* echoed; "" when none */
    uint32_t ninputs;
    struct trk_tensor *inputs;      /* [ninputs], by name; data borrowed unless owns_data:
                                       the front end keeps borrowed bytes alive until done */
    uint32_t nrequested;            /* 0: every output, in config order */
    char (*requested)[TRK_TENSOR_NAME_MAX]; /* [nrequested] output names, that order */
    uint64_t timeout_us;            /* request "timeout" parameter (queue timeout); 0: none */
    uint64_t deadline_ns;           /* CLOCK_MONOTONIC deadline (gRPC); 0: none */
    uint64_t priority;              /* accepted, not used */
    atomic_bool cancelled;          /* set with trk_infer_request_cancel */
    trk_infer_done_fn done;         /* required; called once, from a worker thread */
    void *user;

    /* ---- set by the server before done ---- */
    enum trk_status status;         /* TRK_OK, or why it failed */
    char error[TRK_SERVER_ERR_MAX]; /* one line for the client when status != TRK_OK */
    int64_t served_version;         /* the version that ran */
    uint32_t noutputs;              /* = nrequested, or every output of the model */
    struct trk_tensor **outputs;    /* [noutputs] owned by the request, in requested order */
    uint64_t queue_ns, compute_input_ns, compute_infer_ns, compute_output_ns;
};

/* A zeroed request with room for ninputs inputs and nrequested output names (heap; free
 * with trk_infer_request_free). Returns NULL when out of memory. */
struct trk_infer_request *trk_infer_request_alloc(uint32_t ninputs, uint32_t nrequested);

/* Frees the request, its outputs and every input that owns_data. NULL-safe. Never call it
 * between a successful submit and done. */
void trk_infer_request_free(struct trk_infer_request *req);

/* Asks the server to stop the request: if still queued it is answered with
 * TRK_ERR_TIMEOUT ("cancelled") without running; a running one completes. Any thread. */
void trk_infer_request_cancel(struct trk_infer_request *req);

/* Validates the request against the model (unknown model/version, missing, extra or
 * duplicate inputs, wrong dtype, shape not matching dims, batch above max_batch_size,
 * byte size not matching the shape, unknown requested output) and queues it. On TRK_OK
 * the server owns the request until it calls req->done (never from inside this call).
 * On any other status the request was not queued, req->error says why, and the caller
 * still owns it: TRK_ERR_NOT_FOUND (404), TRK_ERR_INVALID_ARG (400), TRK_ERR_UNAVAILABLE
 * (503: model not ready, queue full, server draining). Never blocks on the model. */
enum trk_status trk_server_infer_async(struct trk_server *s, struct trk_infer_request *req);

/* trk_server_infer_async and a wait for done (req->done and user are replaced). Returns
 * req->status. For tools and tests. */
enum trk_status trk_server_infer(struct trk_server *s, struct trk_infer_request *req);

/* ---- statistics (Triton's ModelStatistics) ----------------------------------------- */

struct trk_duration_stat {
    uint64_t count;
    uint64_t ns;
};

struct trk_batch_stat {
    uint64_t batch_size;
    struct trk_duration_stat compute_input, compute_infer, compute_output;
};

struct trk_model_stats {
    char name[TRK_MODEL_NAME_MAX];
    int64_t version;
    uint64_t last_inference_ms;     /* wall clock, ms since the epoch; 0 never */
    uint64_t inference_count;       /* requests' batch rows (1 per request when no batching) */
    uint64_t execution_count;       /* executions (a batch of requests counts once) */
    struct trk_duration_stat success, fail, queue, compute_input, compute_infer,
        compute_output, cache_hit, cache_miss;
    uint32_t nbatch;
    struct trk_batch_stat *batch;   /* per executed batch size, ascending */
};

/* Statistics of every loaded model version (name NULL), of one model (version < 0: all
 * its versions) or one version. *out is a heap array of *n entries (free with
 * trk_model_stats_free); TRK_ERR_NOT_FOUND for an unknown model. */
enum trk_status trk_server_stats(struct trk_server *s, const char *name, int64_t version,
                                 struct trk_model_stats **out, uint32_t *n);
void trk_model_stats_free(struct trk_model_stats *stats, uint32_t n);

/* ---- repository --------------------------------------------------------------------- */

/* Triton's repository index as JSON (trk_repository_index_json's format). *json is
 * malloc'd; the caller frees it. */
enum trk_status trk_server_repository_index_json(struct trk_server *s, bool ready_only,
                                                 char **json);

/* The same as structs: *out is a heap array of *n entries (free with free()). */
struct trk_repo_entry {
    char name[TRK_MODEL_NAME_MAX];
    int64_t version;                /* 0: the model has no version listed */
    enum trk_model_state state;
    char reason[TRK_SERVER_ERR_MAX]; /* "" when none */
};
enum trk_status trk_server_repository_index(struct trk_server *s, bool ready_only,
                                            struct trk_repo_entry **out, uint32_t *n);

/* (Re)loads model `name` from its folder (new config, new instances; requests already
 * queued on the old version finish there). Blocks until loaded. TRK_ERR_NOT_FOUND when
 * there is no such folder, TRK_ERR_INVALID_ARG for a bad name, another error (message in
 * err) when the config or an instance fails: the model is then UNAVAILABLE. */
enum trk_status trk_server_model_load(struct trk_server *s, const char *name, char *err,
                                      size_t errlen);

/* Unloads model `name`: new requests get UNAVAILABLE; queued and running ones finish;
 * the state becomes UNAVAILABLE with reason "unloaded". Blocks until the instances are
 * gone. TRK_ERR_NOT_FOUND for an unknown model. */
enum trk_status trk_server_model_unload(struct trk_server *s, const char *name, char *err,
                                        size_t errlen);

/* ---- metrics -------------------------------------------------------------------------- */

/* Prometheus text exposition (format 0.0.4) of Triton's metric families: per model
 * nv_inference_request_success/_failure, nv_inference_count, nv_inference_exec_count,
 * nv_inference_request_duration_us, nv_inference_queue_duration_us,
 * nv_inference_compute_{input,infer,output}_duration_us, nv_inference_pending_request_count
 * ({model="m",version="1"}), and per device nv_gpu_utilization, nv_gpu_memory_total_bytes,
 * nv_gpu_memory_used_bytes with exactly one label, gpu_uuid (CPU devices included), plain
 * decimal values. *text is malloc'd; the caller frees it. */
enum trk_status trk_server_metrics_text(struct trk_server *s, char **text);

/* ---- status mapping (one table for both front ends) --------------------------------- */

/* HTTP status for a failed request: INVALID_ARG/PARSE/OVERFLOW/TIMEOUT(cancelled) 400,
 * NOT_FOUND 404, UNAVAILABLE 503, UNSUPPORTED 501, anything else 500; TRK_OK 200. */
int trk_status_http_code(enum trk_status st);

/* gRPC status code (grpc_status_code numbers): INVALID_ARG/PARSE/OVERFLOW 3, NOT_FOUND 5,
 * UNAVAILABLE 14, UNSUPPORTED 12, TIMEOUT 4 (DEADLINE_EXCEEDED) or 1 (CANCELLED) as the
 * message says, anything else 13; TRK_OK 0. */
int trk_status_grpc_code(enum trk_status st);

#ifdef __cplusplus
}
#endif
#endif
