/* trkserve — algorithms as the server and the tools see them: an ops table per algorithm
 * (identity, sum, gemm, later patatrack and exatrkx), looked up by the name a model's
 * config.cfg gives in `algorithm = "...";`.
 *
 * One *instance* of an algorithm is created per model instance: it is bound to one device,
 * owns its own queue, conditions/weights and scratch (sized at init, no allocation of
 * device memory in execute), and is driven by exactly one thread at a time (the model
 * instance's worker). Different instances may run concurrently on different threads.
 *
 * Tensors: inputs and outputs are the model config's inputs/outputs, in config order, as
 * host tensors (trk/tensor.h). With max_batch_size > 0 the server has already merged the
 * requests of a batch: every input then has the leading batch dimension and execute must
 * produce outputs whose leading dimension equals the inputs' (the server splits them by
 * rows). The same ops run in-process (trk reco, trk perf --in-process) and behind the
 * server, so results are identical. */
#ifndef TRK_ALGORITHM_H
#define TRK_ALGORITHM_H

#include <stddef.h>
#include <stdint.h>

#include "trk/device.h"
#include "trk/model_config.h"
#include "trk/status.h"
#include "trk/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TRK_ALGORITHM_ERR_MAX 512 /* size of the err buffers below */

/* Times an execute call may report (nanoseconds, CLOCK_MONOTONIC), mapping onto Triton's
 * compute_input (host → device), compute_infer and compute_output (device → host). An
 * algorithm that leaves them 0 has its whole execute counted as compute_infer. */
struct trk_exec_timing {
    uint64_t input_ns;
    uint64_t infer_ns;
    uint64_t output_ns;
};

struct trk_algorithm {
    const char *name;        /* "gemm": what config.cfg names in `algorithm` */
    const char *description; /* one line for `trkserve --help` / logs */

    /* Validates the model's inputs, outputs and parameters without a device (called by
     * `trkserve --check-config` and before any instance is created). On failure writes one
     * line naming the field ("parameter 'depth' = 'x' is not an integer in [1, 64]") to err
     * and returns TRK_ERR_INVALID_ARG. May be NULL (everything accepted). Thread-safe. */
    enum trk_status (*check)(const struct trk_model_config *cfg, char *err, size_t errlen);

    /* Creates one instance on `dev`. `version_dir` is the model version folder
     * ("<repo>/<model>/<version>") with the weights/conditions, which init loads now.
     * On success *state is the instance. Blocks (file I/O, device uploads). */
    enum trk_status (*init)(const struct trk_model_config *cfg, const char *version_dir,
                            struct trk_device *dev, void **state, char *err, size_t errlen);

    /* Runs one (possibly batched) request. inputs[i] is the config's input i (NULL for an
     * omitted optional input); the tensors and their data are borrowed for the call only.
     * On success outputs[j] (j < noutputs, config order) are new heap tensors
     * (trk_tensor_alloc) the caller owns and frees; on failure none are left allocated and
     * err says why in one line that can go to a client unchanged ("input 'X': expected
     * FP32 [-1,3], got INT32 [10]"). Return TRK_ERR_INVALID_ARG for bad request data
     * (HTTP 400), TRK_ERR_OVERFLOW for an event beyond the configured capacities,
     * anything else for an internal failure (500). timing may be NULL. Called by one
     * thread at a time per instance; blocks until the outputs are on the host. */
    enum trk_status (*execute)(void *state, const struct trk_tensor *const *inputs,
                               uint32_t ninputs, struct trk_tensor **outputs, uint32_t noutputs,
                               struct trk_exec_timing *timing, char *err, size_t errlen);

    /* Releases the instance and its device memory. NULL-safe on state. */
    void (*fini)(void *state);

    /* Device memory the instance holds (bytes), for metrics and benchmarks. May be NULL. */
    uint64_t (*memory_bytes)(void *state);
};

/* The algorithm named `name` (a static table: never freed), or NULL. Thread-safe. */
const struct trk_algorithm *trk_algorithm_find(const char *name);

/* Number of algorithms and the i-th, in a stable order, for listings. Thread-safe. */
uint32_t trk_algorithm_count(void);
const struct trk_algorithm *trk_algorithm_at(uint32_t i);

#ifdef __cplusplus
}
#endif
#endif
