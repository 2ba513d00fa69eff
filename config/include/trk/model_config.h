/* trkserve — one model's configuration (config.cfg, libconfig syntax) as plain C structs,
 * mirroring Triton's ModelConfig (model_config.proto) as far as trkserve serves it.
 *
 * Only config/ includes libconfig.h; everything here is plain C. A loaded config is
 * validated, normalised (defaults filled in the way Triton normalises) and immutable:
 * any number of threads may read it. It is reference-counted so that the repository and
 * the running model can share it across a reload (trk_model_config_ref / _free).
 * The syntax, with every field, is documented in config/examples/models/gemm/config.cfg. */
#ifndef TRK_MODEL_CONFIG_H
#define TRK_MODEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/status.h"
#include "trk/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits the loader enforces (each is also named in its error message). */
#define TRK_MODEL_NAME_MAX 128          /* model names: [A-Za-z0-9_.-], not starting with '.' */
#define TRK_MODEL_MAX_IO 256            /* inputs, and separately outputs */
#define TRK_MODEL_MAX_INSTANCES 1024    /* count per device in one instance group */
#define TRK_MODEL_DEFAULT_QUEUE 1024    /* queue_capacity when the file does not set it */

/* Kind of an instance group; the values are Triton's ModelInstanceGroup.Kind numbers. */
enum trk_instance_kind {
    TRK_INSTANCE_KIND_AUTO = 0,  /* the server picks (registry default order) */
    TRK_INSTANCE_KIND_GPU = 1,   /* must run on a GPU (cuda, hip, an OpenCL GPU, ...) */
    TRK_INSTANCE_KIND_CPU = 2,   /* must run on the CPU (the built-in device or an OpenCL CPU) */
    TRK_INSTANCE_KIND_MODEL = 3, /* the algorithm places itself; no devices may be listed */
};

/* "KIND_AUTO", "KIND_GPU", "KIND_CPU", "KIND_MODEL"; "KIND_INVALID" otherwise. Thread-safe. */
const char *trk_instance_kind_name(enum trk_instance_kind kind);

/* "TYPE_FP32", ..., "TYPE_STRING" for BYTES (Triton's config spelling; the wire and
 * trk_dtype_name() say "FP32" / "BYTES"); "TYPE_INVALID" otherwise. Thread-safe. */
const char *trk_dtype_config_name(enum trk_dtype dt);

enum trk_version_policy_kind {
    TRK_VERSION_POLICY_LATEST = 0, /* the num_versions highest-numbered version folders */
    TRK_VERSION_POLICY_ALL,        /* every version folder */
    TRK_VERSION_POLICY_SPECIFIC,   /* exactly the listed versions */
};

struct trk_version_policy {
    enum trk_version_policy_kind kind; /* default LATEST with num_versions 1, as Triton */
    uint32_t num_versions;             /* LATEST: >= 1 */
    uint32_t nversions;                /* SPECIFIC: >= 1 entries ... */
    int64_t *versions;                 /* ... each >= 1, unique, ascending */
};

/* One input or output tensor. dims never include the batch dimension: when
 * max_batch_size > 0 every request tensor has one more, leading, dimension. */
struct trk_model_io {
    char name[TRK_TENSOR_NAME_MAX];     /* non-empty, unique among the inputs (outputs) */
    enum trk_dtype data_type;           /* never TRK_DTYPE_INVALID */
    uint32_t ndims;                     /* 1 .. TRK_TENSOR_MAX_DIMS (minus 1 when batching) */
    int64_t dims[TRK_TENSOR_MAX_DIMS];  /* each -1 (any extent) or >= 1 */
    bool has_reshape;                   /* reshape given (what the algorithm sees instead) */
    uint32_t reshape_ndims;             /* 0 (a scalar) only when max_batch_size > 0 */
    int64_t reshape[TRK_TENSOR_MAX_DIMS]; /* same element count as dims, -1 runs matching */
    bool allow_ragged_batch;            /* inputs only: batch requests of different shapes */
    bool optional;                      /* inputs only: requests may omit it */
};

enum trk_timeout_action {
    TRK_TIMEOUT_ACTION_REJECT = 0, /* a request that waited longer than its timeout fails */
    TRK_TIMEOUT_ACTION_DELAY = 1,  /* it is served after every request still in time */
};

/* Triton's ModelQueuePolicy. */
struct trk_queue_policy {
    enum trk_timeout_action timeout_action;
    uint64_t default_timeout_microseconds; /* 0: no queue timeout */
    bool allow_timeout_override;           /* a request may ask for a shorter timeout */
    uint32_t max_queue_size;               /* 0: queue_capacity bounds the queue */
};

/* Triton's ModelDynamicBatching (priority levels are not supported). */
struct trk_dynamic_batching {
    bool present;                          /* the file has a dynamic_batching group */
    uint32_t npreferred;
    int32_t *preferred_batch_size;         /* each 1..max_batch_size, as given; when the file
                                              gives none and max_batch_size > 0 it is
                                              { max_batch_size } (Triton's normalisation) */
    uint64_t max_queue_delay_microseconds; /* how long the batcher may hold a request */
    bool preserve_ordering;                /* responses leave in request order */
    bool has_default_queue_policy;         /* the file has a default_queue_policy group */
    struct trk_queue_policy default_queue_policy;
};

/* Triton's ModelInstanceGroup plus trkserve device specs. The server creates `count`
 * instances on each listed device (count in total when no device is listed), one
 * worker thread each. With no devices: KIND_CPU means "cpu", KIND_GPU every GPU (as
 * Triton), KIND_AUTO the registry's default device, KIND_MODEL what the algorithm picks. */
struct trk_instance_group {
    char *name;        /* as given, else "<model>_<index>" (Triton's default); unique */
    enum trk_instance_kind kind;
    uint32_t count;    /* 1 .. TRK_MODEL_MAX_INSTANCES; default 1 */
    uint32_t ndevices;
    char **devices;    /* normalised specs for trk_registry_select(): "cpu", "cpu:0",
                          "gpu:1", "opencl:0", "cuda:1", "hip:0", "accelerator:0", "stub:0"
                          or "auto"; unique; Triton GPU ids N appear as "gpu:N" */
    uint32_t ngpus;
    int32_t *gpus;     /* the integer GPU ids as written (Triton's `gpus`), echoed in JSON */
};

/* One entry of `parameters`: Triton's map<string, {string_value}>. */
struct trk_model_param {
    char *key;   /* unique */
    char *value; /* numbers and booleans in the file are converted to their text */
};

struct trk_model_config {
    char *name;          /* the model name; defaults to the name of the folder holding
                            the file; in a repository it must equal that folder's name */
    char *algorithm;     /* trkserve: the implementation that serves the model ("identity",
                            "sum", "gemm", "patatrack", "exatrkx", ...); [a-z0-9_]+; the
                            server, not this loader, checks that it exists */
    char *platform;      /* Triton's platform; "" when unset */
    char *backend;       /* Triton's backend; "trkserve" when neither is set */
    struct trk_version_policy version_policy;
    int32_t max_batch_size; /* 0: no batching; > 0: implicit leading batch dimension */
    uint32_t ninputs;    /* >= 1 */
    struct trk_model_io *inputs;
    uint32_t noutputs;   /* >= 1 */
    struct trk_model_io *outputs;
    uint32_t ninstance_groups; /* >= 1: with none in the file, one group named after the
                                  model, KIND_AUTO, count 1 (Triton's normalisation) */
    struct trk_instance_group *instance_groups;
    struct trk_dynamic_batching dynamic_batching;
    uint32_t nparameters;
    struct trk_model_param *parameters; /* sorted by key (strcmp) */
    /* trkserve extras (not part of Triton's config JSON) */
    uint32_t queue_capacity;    /* bound of the model's request queue (>= 1; default
                                   TRK_MODEL_DEFAULT_QUEUE); see trk_model_config_queue_limit */
    uint64_t max_request_bytes; /* largest request body accepted for this model (413 above);
                                   0: the server's limit */
    char *path;                 /* the file this was loaded from ("<string>" origin for
                                   trk_model_config_parse) */
    char *dir;                  /* the folder holding it: the model folder ("." when none) */
};

/* Reads and validates one config.cfg. On success *out owns a new config (reference
 * count 1) and err is "". On failure *out is NULL and err holds one line
 * "FILE:LINE: field 'input.[1].data_type': unknown type 'TYPE_FLOAT'; use one of ..."
 * (":LINE" left out where no line applies), truncated to errlen; err may be NULL.
 * Returns TRK_ERR_PARSE for syntax and validation errors, TRK_ERR_NOT_FOUND when the
 * file does not exist, TRK_ERR_IO when it cannot be read, TRK_ERR_NO_MEMORY.
 * Blocks on file I/O; thread-safe. */
enum trk_status trk_model_config_load(const char *path, struct trk_model_config **out,
                                      char *err, size_t errlen);

/* Same from text in memory (tests, fuzzing); `origin` names it in messages and gives
 * the default model name's folder (NULL: "<string>", and `name` becomes required).
 * @include is refused here as in files. Thread-safe. */
enum trk_status trk_model_config_parse(const char *text, const char *origin,
                                       struct trk_model_config **out, char *err,
                                       size_t errlen);

/* Takes one more reference to c and returns it; NULL-safe. Thread-safe. */
struct trk_model_config *trk_model_config_ref(struct trk_model_config *c);

/* Drops one reference; the last one frees the config and everything it points to.
 * NULL-safe. Thread-safe against other refs/frees of the same config. */
void trk_model_config_free(struct trk_model_config *c);

/* Writes the config as Triton's JSON (ModelConfigToJson: proto field names, enums as
 * strings, every primitive/repeated/map field printed, int64 as numbers, unset
 * sub-messages left out) — the body of GET /v2/models/{m}/config. trkserve extras are
 * not included. On success *json is a malloc'd NUL-terminated string the caller frees.
 * Returns TRK_ERR_INVALID_ARG or TRK_ERR_NO_MEMORY. Thread-safe. */
enum trk_status trk_model_config_to_json(const struct trk_model_config *c, char **json);

/* The "platform" of model metadata: platform when set, else backend. Borrowed. */
const char *trk_model_config_platform(const struct trk_model_config *c);

/* The bound of the model's request queue: default_queue_policy.max_queue_size when
 * dynamic batching sets it (> 0), else queue_capacity. */
uint32_t trk_model_config_queue_limit(const struct trk_model_config *c);

/* Input / output named `name`, or NULL. Borrowed from c. */
const struct trk_model_io *trk_model_config_input(const struct trk_model_config *c,
                                                  const char *name);
const struct trk_model_io *trk_model_config_output(const struct trk_model_config *c,
                                                   const char *name);

/* Value of parameter `key` (borrowed from c), or NULL when absent. */
const char *trk_model_config_param(const struct trk_model_config *c, const char *key);

/* Typed parameter reads for algorithms. Absent: *out = def and TRK_OK. Present but not
 * a base-10 integer in [lo, hi] (resp. true/false/1/0): TRK_ERR_INVALID_ARG, with the
 * reason logged ("model 'gemm': parameter 'depth' = 'x' is not an integer in [1, 64]"). */
enum trk_status trk_model_config_param_i64(const struct trk_model_config *c, const char *key,
                                           int64_t def, int64_t lo, int64_t hi, int64_t *out);
enum trk_status trk_model_config_param_bool(const struct trk_model_config *c, const char *key,
                                            bool def, bool *out);

#ifdef __cplusplus
}
#endif
#endif
