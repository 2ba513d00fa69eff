/* trkserve gRPC front end internals: protobuf-c messages (trkproto) <-> the server core's
 * objects. No network here, so the fuzz target (tests/fuzz/fuzz_grpc_request.c) and the
 * tests call these directly. Not installed. Every function is thread-safe (no shared
 * state). */
#ifndef TRK_GRPC_CONVERT_H
#define TRK_GRPC_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "grpc_service.pb-c.h"
#include "model_config.pb-c.h"
#include "trk/server.h"

/* ---- an arena for building response messages --------------------------------------- */

/* Every allocation of one response, freed together. A failed allocation sets `failed`
 * (and returns NULL); check it once after building. */
struct trk_pb_arena {
    void **ptrs;
    size_t n, cap;
    bool failed;
};

/* Zeroed memory owned by the arena (NULL and a->failed on failure). */
void *trk_pb_alloc(struct trk_pb_arena *a, size_t bytes);
/* A copy of s owned by the arena ("" for NULL). */
char *trk_pb_strdup(struct trk_pb_arena *a, const char *s);
/* printf into arena memory. */
char *trk_pb_printf(struct trk_pb_arena *a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Frees everything the arena handed out; the arena is reusable. */
void trk_pb_arena_fini(struct trk_pb_arena *a);

/* ---- requests ---------------------------------------------------------------------- */

/* A model version string of the protocol: "" -> -1 (the server's choice), a decimal
 * number -> its value; anything else is TRK_ERR_INVALID_ARG with err saying why. */
enum trk_status trk_grpc_parse_version(const char *s, int64_t *out, char *err, size_t errlen);

/* Converts a decoded ModelInferRequest into a new request for trk_server_infer_async
 * (done/user left for the caller). Inputs in raw_input_contents are borrowed from msg,
 * which must outlive the request; typed contents (InferTensorContents) are converted
 * into owned data (BYTES into the length-prefixed form). Parameters: "timeout" (us) and
 * "priority" are used, others ignored. On failure *out is NULL, err says what was wrong
 * (TRK_ERR_INVALID_ARG, TRK_ERR_UNSUPPORTED, TRK_ERR_NO_MEMORY). Never crashes on any
 * message protobuf-c accepted. */
enum trk_status trk_grpc_request_from_proto(const Inference__ModelInferRequest *msg,
                                            struct trk_infer_request **out, char *err,
                                            size_t errlen);

/* ---- responses --------------------------------------------------------------------- */

/* ModelInferResponse for a finished, successful request: outputs in order, each with
 * its bytes in raw_output_contents (also when empty). The message borrows names,
 * shapes and data from req (keep req alive while packing); the rest is in `a`. */
enum trk_status trk_grpc_response_from_request(const struct trk_infer_request *req,
                                               struct trk_pb_arena *a,
                                               Inference__ModelInferResponse **out);

/* Triton's ModelConfig message for a config (what ModelConfig returns). Strings and
 * arrays are borrowed from c or allocated in `a`. */
enum trk_status trk_grpc_config_to_proto(const struct trk_model_config *c,
                                         struct trk_pb_arena *a, Inference__ModelConfig **out);

/* ModelMetadataResponse: ready versions, platform, inputs and outputs with the batch
 * dimension (-1) prepended when max_batch_size > 0. */
enum trk_status trk_grpc_metadata_to_proto(const struct trk_model_config *c,
                                           const int64_t *versions, uint32_t nversions,
                                           struct trk_pb_arena *a,
                                           Inference__ModelMetadataResponse **out);

/* ModelStatisticsResponse from trk_server_stats' array. */
enum trk_status trk_grpc_stats_to_proto(const struct trk_model_stats *st, uint32_t n,
                                        struct trk_pb_arena *a,
                                        Inference__ModelStatisticsResponse **out);

/* RepositoryIndexResponse from trk_server_repository_index's array. */
enum trk_status trk_grpc_index_to_proto(const struct trk_repo_entry *e, uint32_t n,
                                        struct trk_pb_arena *a,
                                        Inference__RepositoryIndexResponse **out);

#endif
