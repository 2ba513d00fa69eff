/* trkserve — the model repository: a folder of model folders, each with a config.cfg
 * and numbered version folders, as Triton lays it out:
 *
 *     models/                 the repository (trkserve --model-repository models)
 *       gemm/                 one model; the folder name is the model name
 *         config.cfg          its configuration (trk/model_config.h)
 *         1/  2/              version folders: positive integers without leading zeros;
 *                             weights and conditions live here
 *
 * Hidden entries (".x") and plain files in the repository are ignored; every other
 * folder is a model, listed UNAVAILABLE with the reason when it has no usable config.
 * Folders inside a model that are not version numbers are ignored.
 *
 * Scanning only reads and validates: a model is READY here when its config is valid and
 * the version policy selects at least one version folder. The server then loads it and
 * records what happened with trk_repository_set_state(). A repository object is NOT
 * internally locked: the server serialises scan/reload/set_state/free against readers
 * (one repository lock). The configs it hands out are immutable and reference-counted:
 * take a reference (trk_model_config_ref) to keep one beyond the next reload. */
#ifndef TRK_MODEL_REPOSITORY_H
#define TRK_MODEL_REPOSITORY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "trk/model_config.h"
#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Triton's model states (repository index "state"). */
enum trk_model_state {
    TRK_MODEL_STATE_UNKNOWN = 0,
    TRK_MODEL_STATE_READY,
    TRK_MODEL_STATE_UNAVAILABLE,
    TRK_MODEL_STATE_LOADING,
    TRK_MODEL_STATE_UNLOADING,
};

/* "UNKNOWN", "READY", "UNAVAILABLE", "LOADING", "UNLOADING". Thread-safe. */
const char *trk_model_state_name(enum trk_model_state s);

struct trk_model_version {
    int64_t version;            /* >= 1 */
    char *path;                 /* "<model dir>/<version>" */
    enum trk_model_state state; /* READY, or UNAVAILABLE with a reason */
    char *reason;               /* "" when there is nothing to say; never NULL */
};

/* One model folder. Every field is owned by the repository and read-only for callers. */
struct trk_repository_model {
    char *name;                     /* the folder name */
    char *dir;                      /* "<repository>/<name>" */
    struct trk_model_config *config; /* NULL when the config could not be loaded */
    enum trk_model_state state;     /* READY when at least one version is READY */
    char *reason;                   /* why not READY ("FILE:LINE: field ...: ..."); never
                                       NULL, "" when READY */
    uint32_t nversions;             /* the versions the policy selects, ascending; for a
                                       SPECIFIC policy listed versions without a folder are
                                       here too, UNAVAILABLE */
    struct trk_model_version *versions;
};

struct trk_repository;

/* Scans the repository folder `dir`: loads every model's config and finds its version
 * folders. One bad model never fails the scan: it is listed UNAVAILABLE with its error
 * (also logged as a warning) and the others are READY. Returns TRK_ERR_NOT_FOUND or
 * TRK_ERR_IO when dir cannot be listed, TRK_ERR_NO_MEMORY; on TRK_OK *out owns the
 * repository (free with trk_repository_free). Blocks on file I/O. */
enum trk_status trk_repository_scan(const char *dir, struct trk_repository **out);

/* Frees the repository and drops its config references. NULL-safe. */
void trk_repository_free(struct trk_repository *repo);

/* The folder it was scanned from (borrowed). */
const char *trk_repository_dir(const struct trk_repository *repo);

/* Number of models; models are kept sorted by name. */
uint32_t trk_repository_count(const struct trk_repository *repo);

/* Model i (borrowed; valid until trk_repository_free, its contents until the next
 * reload of that model), or NULL when i is out of range. */
const struct trk_repository_model *trk_repository_model(const struct trk_repository *repo,
                                                        uint32_t i);

/* The model named `name` (borrowed, as above), or NULL. */
const struct trk_repository_model *trk_repository_find(const struct trk_repository *repo,
                                                       const char *name);

/* Re-reads one model folder (POST /v2/repository/models/{name}/load): a new config and
 * version list replace the old (the old config is dropped: hold a reference to keep it
 * running). A model folder created since the scan is added. `name` must be a plain
 * model name (no '/', not "." or ".."): anything else is TRK_ERR_INVALID_ARG, so a
 * request path cannot leave the repository. Returns TRK_OK when the model is READY,
 * TRK_ERR_PARSE when it is listed UNAVAILABLE (reason in the entry), TRK_ERR_NOT_FOUND
 * when the folder does not exist (a listed model is then UNAVAILABLE, its config
 * dropped). *out (may be NULL) receives the entry when there is one. */
enum trk_status trk_repository_reload(struct trk_repository *repo, const char *name,
                                      const struct trk_repository_model **out);

/* Records a state (the server's load, unload or failure): for one version, or for the
 * model and all its versions when version < 0. reason may be NULL (""). After a
 * per-version change the model is READY when any version is READY, else it takes this
 * state and reason. Triton writes "unloaded" as the reason after an unload. Returns
 * TRK_ERR_NOT_FOUND for an unknown model or version, TRK_ERR_NO_MEMORY. */
enum trk_status trk_repository_set_state(struct trk_repository *repo, const char *name,
                                         int64_t version, enum trk_model_state state,
                                         const char *reason);

/* Triton's repository index (POST /v2/repository/index, gRPC RepositoryIndex):
 * [{"name":"m","version":"1","state":"READY"},{"name":"bad","state":"UNAVAILABLE",
 * "reason":"..."}], one entry per listed version, one entry without "version" for a
 * model that has none; "reason" left out when empty. ready_only keeps READY entries.
 * On success *json is malloc'd; the caller frees it. */
enum trk_status trk_repository_index_json(const struct trk_repository *repo, bool ready_only,
                                          char **json);

/* For `trkserve --check-config`: scans `dir` and writes one line per model to `out`:
 *     gemm: OK (algorithm gemm, version 1)
 *     broken: ERROR models/broken/config.cfg:7: field 'max_batch_size': ...
 * nmodels / nbad (may be NULL) receive the counts. Returns TRK_OK when every model is
 * READY (also when there are none), TRK_ERR_PARSE when some are not, and scan errors
 * (nothing written then). */
enum trk_status trk_repository_check(const char *dir, FILE *out, uint32_t *nmodels,
                                     uint32_t *nbad);

#ifdef __cplusplus
}
#endif
#endif
