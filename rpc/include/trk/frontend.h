/* trkserve — the network front ends over one trk_server: KServe v2 HTTP/REST
 * (libmicrohttpd), Prometheus metrics (its own port) and gRPC (gRPC's C core with
 * protobuf-c messages). Each runs its own threads; start and stop them from one thread.
 * A front end never blocks its I/O threads on a model: it submits with
 * trk_server_infer_async and answers from the done callback. */
#ifndef TRK_FRONTEND_H
#define TRK_FRONTEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/server.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Options shared by the three listeners. */
struct trk_listen_options {
    const char *address;      /* IP address to bind; NULL: "127.0.0.1" */
    uint16_t port;            /* 0: an ephemeral port (tests read it back with *_port) */
    const char *tls_cert;     /* PEM files: both set = TLS (HTTPS / gRPC over TLS) */
    const char *tls_key;
    const char *auth_token;   /* non-NULL: every request must carry
                                 "Authorization: Bearer <token>" (401 / UNAUTHENTICATED);
                                 health endpoints stay open for probes */
    uint32_t threads;         /* I/O threads; 0: a default */
};

/* ---- HTTP/REST ------------------------------------------------------------------------ */

struct trk_http_options {
    struct trk_listen_options listen;  /* default port 8000 is set by trkserve, not here */
    uint64_t max_body_bytes;           /* 413 above, for models that set no
                                          max_request_bytes (a model's own limit replaces
                                          it, larger or smaller); 0: 256 MiB */
    uint32_t connection_timeout_s;     /* idle/slow client timeout; 0: 60 s */
    uint32_t max_connections;          /* 0: 4096 */
};

struct trk_http;

/* Binds and starts serving. On failure (port in use, bad TLS files) err says why. */
enum trk_status trk_http_start(struct trk_server *s, const struct trk_http_options *opt,
                               struct trk_http **out, char *err, size_t errlen);
/* The port actually bound. */
uint16_t trk_http_port(const struct trk_http *h);
/* Stops accepting, waits for responses in flight, frees. NULL-safe. Blocks. */
void trk_http_stop(struct trk_http *h);

/* ---- metrics (GET /metrics, Prometheus text) ------------------------------------------ */

struct trk_metrics;
enum trk_status trk_metrics_start(struct trk_server *s, const struct trk_listen_options *opt,
                                  struct trk_metrics **out, char *err, size_t errlen);
uint16_t trk_metrics_port(const struct trk_metrics *m);
void trk_metrics_stop(struct trk_metrics *m);

/* ---- gRPC (inference.GRPCInferenceService) -------------------------------------------- */

struct trk_grpc_options {
    struct trk_listen_options listen;
    int32_t max_message_bytes;         /* send and receive; 0: INT32_MAX (2 GiB) as Triton */
};

struct trk_grpc;
enum trk_status trk_grpc_start(struct trk_server *s, const struct trk_grpc_options *opt,
                               struct trk_grpc **out, char *err, size_t errlen);
uint16_t trk_grpc_port(const struct trk_grpc *g);
/* Stops accepting, cancels streams, waits for calls in flight, frees. NULL-safe. */
void trk_grpc_stop(struct trk_grpc *g);

#ifdef __cplusplus
}
#endif
#endif
