/* trkserve client library internals shared by the transports, the client and the tests
 * (tests/test_client.c includes this file). Not installed. */
#ifndef TRK_CLIENT_INTERNAL_H
#define TRK_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/client.h"

/* ---- HTTP body encoding (Triton's binary tensor extension) -------------------------- */

/* A request body as pieces: the JSON header (owned) followed by the inputs' bytes
 * (borrowed from the request's tensors, in input order). */
struct trk_client_http_body {
    char *json;              /* owned, NUL-terminated; json_len bytes are sent */
    size_t json_len;         /* the Inference-Header-Content-Length value */
    uint32_t nchunks;
    const void **chunk;      /* owned array of borrowed pointers */
    size_t *chunk_len;       /* owned */
    size_t total;            /* json_len + every chunk */
};

/* Encodes req as Triton's C++ client does: binary=true puts every input as a binary
 * chunk ("binary_data_size") and asks for binary outputs; binary=false writes every
 * input as JSON "data" (FP16 is refused: JSON cannot carry it) and asks for JSON
 * outputs. On failure err says why (TRK_ERR_INVALID_ARG, TRK_ERR_NO_MEMORY).
 * body must be zeroed or fini'd; free it with trk_client_http_body_fini. Thread-safe. */
enum trk_status trk_client_http_encode_request(const struct trk_client_request *req, bool binary,
                                               struct trk_client_http_body *body, char *err,
                                               size_t errlen);
void trk_client_http_body_fini(struct trk_client_http_body *b); /* NULL-safe, re-usable */

/* Copies the pieces into one malloc'd buffer of b->total bytes (*out). */
enum trk_status trk_client_http_body_flatten(const struct trk_client_http_body *b, char **out);

/* gzip (RFC 1952) or deflate (zlib format, RFC 1950, as HTTP's "deflate" means) of n
 * bytes; *out malloc'd. TRK_ERR_INVALID_ARG for another algorithm name. */
enum trk_status trk_client_http_compress(const char *alg, const void *in, size_t n, void **out,
                                         size_t *outlen);
/* The inverse (gzip and zlib streams are both accepted for either name); refuses output
 * above max bytes (TRK_ERR_OVERFLOW) and corrupt input (TRK_ERR_PARSE). */
enum trk_status trk_client_http_decompress(const void *in, size_t n, size_t max, void **out,
                                           size_t *outlen);

/* Fills r (which must be zeroed or fini'd) from an HTTP answer: header_len is the
 * Inference-Header-Content-Length value (< 0: absent, the whole body is JSON). For
 * code 200 the outputs are decoded (binary chunks or JSON "data", flat or nested);
 * otherwise r->status comes from the code and r->error from {"error": ...}. A malformed
 * answer gives r->status TRK_ERR_PARSE and a message; never crashes. Thread-safe. */
void trk_client_http_decode_response(int http_code, const char *body, size_t len,
                                     int64_t header_len,
                                     struct trk_client_result *r);

/* TRK status for an HTTP status code (200 -> OK, 400 -> INVALID_ARG, 404 -> NOT_FOUND,
 * 413 -> OVERFLOW, 501 -> UNSUPPORTED, 503 -> UNAVAILABLE, 504/408 -> TIMEOUT, other
 * 5xx -> INTERNAL, other 4xx -> INVALID_ARG). */
enum trk_status trk_client_http_status_from_code(int code);

/* ---- helpers ---------------------------------------------------------------------- */

/* snprintf into err when err is not NULL. */
void trk_client_errf(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A heap tensor that owns a copy of nbytes at data (BYTES allowed: data is the KServe
 * length-prefixed form). NULL when out of memory or the shape is invalid. */
struct trk_tensor *trk_client_tensor_copy(const char *name, enum trk_dtype dt, uint32_t ndim,
                                          const int64_t *shape, const void *data,
                                          size_t nbytes);

/* Triton model-metadata JSON for a server-side config (in-process transport). */
struct trk_model_config;
char *trk_client_metadata_json(const struct trk_model_config *cfg, const int64_t *versions,
                               uint32_t nversions);

#endif
