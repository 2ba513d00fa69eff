/* trkserve — the client library: KServe v2 requests over HTTP (libcurl) or gRPC (gRPC's C
 * core), to one or several servers with load balancing and failover, and an in-process
 * mode that runs the same model without a network (the direct-vs-service comparison).
 * Works against trkserve and NVIDIA Triton alike.
 *
 * URLs: "http://host:8000", "https://host:8000", "grpc://host:8001", "grpcs://host:8001",
 * "inprocess:<model repository>" (the server core in this process). */
#ifndef TRK_CLIENT_H
#define TRK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/status.h"
#include "trk/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRK_CLIENT_ERR_MAX 512

struct trk_client_options {
    uint32_t timeout_ms;        /* per request, connect included; 0: none */
    bool binary;                /* HTTP: binary tensor extension (default true); false: JSON */
    const char *compression;    /* NULL, "gzip" or "deflate" (HTTP Content-Encoding, gRPC
                                   grpc-encoding) */
    const char *auth_token;     /* sent as "Authorization: Bearer <token>" when set */
    const char *ca_file;        /* TLS: CA bundle to verify the server; NULL: system */
    bool insecure;              /* TLS: do not verify (tests with self-signed certs) */
    uint32_t retries;           /* failover: other servers tried after a transport failure
                                   (0: every other server once) */
};
void trk_client_options_default(struct trk_client_options *opt);

/* One inference call. Inputs are borrowed for the call. */
struct trk_client_request {
    const char *model;
    int64_t version;                        /* < 0: server's choice */
    const char *id;                         /* NULL or "" : none */
    uint32_t ninputs;
    const struct trk_tensor *const *inputs;
    uint32_t noutputs;                      /* 0: all outputs */
    const char *const *outputs;
};

struct trk_client_result {
    enum trk_status status;           /* TRK_OK, or the failure mapped back from the wire */
    int wire_code;                    /* HTTP status or gRPC status code; 0 for transport
                                         failures (connection refused, reset) */
    char error[TRK_CLIENT_ERR_MAX];   /* the server's {"error": ...} / grpc message, or ours */
    char model_version[32];
    char id[256];
    uint32_t noutputs;
    struct trk_tensor **outputs;      /* owned; freed by trk_client_result_fini */
    uint32_t server_index;            /* which URL answered (failover, load balancing) */
};
void trk_client_result_fini(struct trk_client_result *r); /* frees outputs; re-usable */

/* ---- transports: one implementation per protocol ------------------------------------ */

/* A connection to ONE server URL. A connection is used by one thread at a time; the
 * client opens one per thread/slot. */
struct trk_client_transport {
    const char *scheme; /* "http", "grpc", "inprocess" */
    enum trk_status (*open)(const char *url, const struct trk_client_options *opt, void **conn,
                            char *err, size_t errlen);
    void (*close)(void *conn);
    /* Blocks until the answer. Returns TRK_OK when the server answered (even with an error:
     * see result->status); TRK_ERR_IO (or TRK_ERR_TIMEOUT) when the transport failed, so
     * that failover may try another server. */
    enum trk_status (*infer)(void *conn, const struct trk_client_request *req,
                             struct trk_client_result *result);
    /* Health; *ok false when the server answered "not live/ready". */
    enum trk_status (*live)(void *conn, bool *ok);
    enum trk_status (*ready)(void *conn, bool *ok);
    /* Model metadata as Triton's JSON (gRPC converts), *json malloc'd. */
    enum trk_status (*model_metadata)(void *conn, const char *model, int64_t version,
                                      char **json, char *err, size_t errlen);
};

/* The built-in transports (NULL when the build lacks one). */
const struct trk_client_transport *trk_client_transport_http(void);
const struct trk_client_transport *trk_client_transport_grpc(void);
const struct trk_client_transport *trk_client_transport_inprocess(void);
/* The transport for a URL's scheme, or NULL. */
const struct trk_client_transport *trk_client_transport_for(const char *url);

/* ---- the client: several servers, load balancing, failover -------------------------- */

struct trk_client;

/* A client over nurls servers (all with the same models). Connections are opened lazily,
 * one per calling thread and server. */
enum trk_status trk_client_create(const char *const *urls, uint32_t nurls,
                                  const struct trk_client_options *opt, struct trk_client **out,
                                  char *err, size_t errlen);
void trk_client_free(struct trk_client *c); /* NULL-safe; no call may be in flight */

/* Synchronous inference: picks the least-loaded live server (round robin among equals);
 * when the transport fails (server died, connection reset) it retries the SAME request
 * on another server, so each request is answered exactly once or fails after every
 * server was tried. Thread-safe (any number of threads). result is overwritten (fini a
 * previous result first); returns result->status (TRK_OK only when the model ran). */
enum trk_status trk_client_infer(struct trk_client *c, const struct trk_client_request *req,
                                 struct trk_client_result *result);

/* Asynchronous: the callback runs on a client thread once the result is there; the
 * request's inputs must stay alive until then (the request struct, names and arrays are
 * copied). The client keeps at most `concurrency` calls in flight
 * (trk_client_set_concurrency; default 1) and queues the rest. The result is fini'd after
 * the callback returns: to keep the outputs, take them (set outputs NULL, noutputs 0).
 * Returns TRK_ERR_INVALID_ARG / TRK_ERR_NO_MEMORY without calling back. */
typedef void (*trk_client_done_fn)(struct trk_client_result *result, void *user);
enum trk_status trk_client_infer_async(struct trk_client *c, const struct trk_client_request *req,
                                       trk_client_done_fn done, void *user);
/* Sets the async pool size (1..65536); waits for the async calls already queued first.
 * Call it from one thread, not from a callback. */
enum trk_status trk_client_set_concurrency(struct trk_client *c, uint32_t concurrency);
/* Waits until every async call has called back. Not from a callback. */
void trk_client_wait(struct trk_client *c);

/* Model metadata (Triton's JSON) from the first server that answers (failover as for
 * infer). *json is malloc'd; the caller frees it. On failure err says why and the status
 * is the server's (TRK_ERR_NOT_FOUND for an unknown model) or the transport's.
 * Thread-safe; blocks. */
enum trk_status trk_client_model_metadata(struct trk_client *c, const char *model,
                                          int64_t version, char **json, char *err,
                                          size_t errlen);

/* ---- request inputs from model metadata (trk infer, trk perf) ------------------------ */

/* Input tensors for every input of a model (except those named in skip[], which the
 * caller supplies), from its metadata JSON, perf_analyzer's way:
 * shapes[] are "NAME:d1,d2,..." and give the extents of an input's -1 dims, either all
 * dims, or all but a leading -1 batch dim; a leading -1 not given becomes `batch` (>= 1);
 * any other -1 without a shape is an error naming the input and the flag. Data: zeros,
 * or (random) uniform [0,1) floats, [0,100) integers, random bools, and for BYTES short
 * decimal strings, from `seed`. On success *out is a heap array of *n owned tensors
 * (free with trk_client_tensors_free). TRK_ERR_PARSE for bad JSON, TRK_ERR_INVALID_ARG
 * with err for a shape problem. Thread-safe. */
enum trk_status trk_client_inputs_from_metadata(const char *metadata_json, uint32_t nshapes,
                                                const char *const *shapes, uint32_t batch,
                                                bool random, uint64_t seed,
                                                const char *const *skip, uint32_t nskip,
                                                struct trk_tensor ***out, uint32_t *n,
                                                char *err, size_t errlen);

/* Fills an allocated tensor with the data above (random or zeros); for BYTES it
 * replaces t's data (t must own it or have none). Returns TRK_ERR_NO_MEMORY or
 * TRK_ERR_INVALID_ARG (bad shape). */
enum trk_status trk_client_tensor_fill(struct trk_tensor *t, bool random, uint64_t *seed);

/* Frees n tensors and the array. NULL-safe. */
void trk_client_tensors_free(struct trk_tensor **t, uint32_t n);

#ifdef __cplusplus
}
#endif
#endif
