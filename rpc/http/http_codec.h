/* trkserve — HTTP/REST wire format of KServe v2 / Triton inference (private to trkhttp;
 * exported only for tests/test_http.c and the fuzz target). Pure functions: no sockets,
 * no server. All of them are thread-safe (no shared state).
 *
 * A request body is a JSON header optionally followed by binary tensor sections
 * (Inference-Header-Content-Length gives the header's length); see the notes on the
 * binary tensor extension in /work/shared/notes/triton-protocol.md §1.4. */
#ifndef TRK_HTTP_CODEC_H
#define TRK_HTTP_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/model_config.h"
#include "trk/server.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Content codings of request and response bodies ("deflate" is the zlib format). */
enum trk_http_coding {
    TRK_HTTP_CODING_IDENTITY = 0,
    TRK_HTTP_CODING_GZIP,
    TRK_HTTP_CODING_DEFLATE,
    TRK_HTTP_CODING_UNKNOWN,
};

/* Coding named by a Content-Encoding value (NULL or "" or "identity": IDENTITY;
 * case-insensitive); UNKNOWN for anything else. */
enum trk_http_coding trk_http_content_coding(const char *value);

/* The coding to answer with for an Accept-Encoding value: gzip when acceptable, else
 * deflate, else identity (q=0 entries are not acceptable). NULL: identity. */
enum trk_http_coding trk_http_accept_coding(const char *value);

/* "gzip" / "deflate" / NULL for identity. */
const char *trk_http_coding_name(enum trk_http_coding c);

/* Decompresses in[0..len) (coding GZIP or DEFLATE). On TRK_OK *out is malloc'd (the caller
 * frees it; one spare NUL byte after *outlen). TRK_ERR_OVERFLOW when the result would be
 * larger than limit (nothing is allocated beyond limit + 1), TRK_ERR_PARSE for corrupt or
 * truncated data, TRK_ERR_NO_MEMORY; err says which. */
enum trk_status trk_http_inflate(enum trk_http_coding coding, const void *in, size_t len,
                                 size_t limit, char **out, size_t *outlen, char *err,
                                 size_t errlen);

/* Compresses in[0..len) with coding GZIP or DEFLATE; *out is malloc'd (caller frees). */
enum trk_status trk_http_deflate(enum trk_http_coding coding, const void *in, size_t len,
                                 char **out, size_t *outlen);

/* Parses an Inference-Header-Content-Length value against the body length: NULL gives
 * *out = -1 (header absent); a decimal integer in [0, body_len] gives it; anything else
 * is TRK_ERR_INVALID_ARG with the reason in err. */
enum trk_status trk_http_parse_header_length(const char *value, size_t body_len, int64_t *out,
                                             char *err, size_t errlen);

/* A decoded inference request and how its outputs are to be answered. */
struct trk_http_infer {
    struct trk_infer_request *req; /* owned; model_name/version/done/user left for the caller */
    bool *binary;                  /* [req->nrequested]: output i is answered as binary */
    bool binary_default;           /* for outputs when none were requested (binary_data_output,
                                      or a raw binary request) */
};

/* Decodes an (already decompressed) infer request body. header_len: the
 * Inference-Header-Content-Length value, -1 when absent (the body is all JSON), 0 for a
 * raw binary request (the body is the tensor of the model's only input; cfg required).
 * cfg (may be NULL) is used only for raw requests. Inputs from binary sections borrow
 * from `body` when suitably aligned, so the body must outlive out->req; JSON data is
 * copied (owns_data). On TRK_OK the caller owns *out (trk_http_infer_fini); on failure
 * nothing is left allocated and err holds a message for the client. Statuses:
 * TRK_ERR_PARSE (malformed JSON), TRK_ERR_INVALID_ARG (bad fields, dtype, sizes,
 * truncated binary data, FP16 in JSON, shared memory, classification, sequences: all
 * answered 400), TRK_ERR_NO_MEMORY. */
enum trk_status trk_http_decode_infer(const char *body, size_t len, int64_t header_len,
                                      const struct trk_model_config *cfg,
                                      struct trk_http_infer *out, char *err, size_t errlen);

/* Frees out->req and out->binary; zeroes *out. NULL-safe. */
void trk_http_infer_fini(struct trk_http_infer *inf);

/* Encodes the response of a finished, successful request (inf->req->status == TRK_OK):
 * {"id"?,"model_name","model_version","outputs":[...]} followed by the binary sections.
 * *body is malloc'd (caller frees), *header_len is the JSON length when any output is
 * binary and 0 for a pure JSON body. Fails with TRK_ERR_INVALID_ARG (an FP16 output, NaN
 * or infinity, or non-UTF-8 BYTES requested as JSON: ask for binary_data instead) or
 * TRK_ERR_NO_MEMORY, err says which. */
enum trk_status trk_http_encode_infer(const struct trk_http_infer *inf, char **body,
                                      size_t *len, size_t *header_len, char *err,
                                      size_t errlen);

/* {"error":"<msg>"} with msg escaped (bytes outside printable ASCII become '?'), malloc'd;
 * NULL only when out of memory. */
char *trk_http_error_json(const char *msg);

#ifdef __cplusplus
}
#endif
#endif
