/* trkserve — what the HTTP and metrics listeners share (private to trkhttp). */
#ifndef TRK_HTTP_LISTEN_H
#define TRK_HTTP_LISTEN_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/frontend.h"

/* A started MHD daemon with the buffers it borrows. */
struct http_listener {
    struct MHD_Daemon *d;
    uint16_t port;
    char *cert, *key;  /* PEM contents (MHD reads them while running) */
    char *auth;        /* "Bearer <token>", or NULL when no token is required */
};

/* Binds opt->address:opt->port itself (so that "address in use" is reported precisely),
 * loads the TLS files, and starts an MHD daemon with internal epoll threads (a pool of
 * `threads` when > 1), MHD_ALLOW_SUSPEND_RESUME and the given handler/completion
 * callbacks. On failure err says why and *l is left empty. Blocks while binding. */
enum trk_status http_listener_start(struct http_listener *l, const struct trk_listen_options *opt,
                                    uint32_t threads, uint32_t max_connections,
                                    uint32_t timeout_s, MHD_AccessHandlerCallback handler,
                                    void *handler_cls, MHD_RequestCompletedCallback completed,
                                    void *completed_cls, char *err, size_t errlen);

/* Stops the daemon (if any) and frees the buffers. */
void http_listener_stop(struct http_listener *l);

/* Whether the request carries the bearer token l->auth (true when none is needed). */
bool http_listener_authorized(const struct http_listener *l, struct MHD_Connection *c);

/* Queues body (malloc'd, taken over; may be NULL for an empty body) with the status and
 * content type. Returns MHD's result. */
enum MHD_Result http_respond(struct MHD_Connection *c, unsigned int code, char *body, size_t len,
                             const char *content_type);

/* Queues {"error":"msg"} with the status (401 adds WWW-Authenticate, 405 adds Allow). */
enum MHD_Result http_respond_error(struct MHD_Connection *c, unsigned int code, const char *msg,
                                   const char *allow);

#endif
