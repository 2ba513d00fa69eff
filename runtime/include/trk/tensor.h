/* trkserve — host tensors: the common currency of algorithms and the server. */
#ifndef TRK_TENSOR_H
#define TRK_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trk/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The KServe v2 / Triton data types. */
enum trk_dtype {
    TRK_DTYPE_INVALID = 0,
    TRK_DTYPE_BOOL,
    TRK_DTYPE_UINT8,
    TRK_DTYPE_UINT16,
    TRK_DTYPE_UINT32,
    TRK_DTYPE_UINT64,
    TRK_DTYPE_INT8,
    TRK_DTYPE_INT16,
    TRK_DTYPE_INT32,
    TRK_DTYPE_INT64,
    TRK_DTYPE_FP16,
    TRK_DTYPE_FP32,
    TRK_DTYPE_FP64,
    TRK_DTYPE_BYTES, /* length-prefixed strings, as in the protocol */
    TRK_DTYPE_COUNT
};

#define TRK_TENSOR_MAX_DIMS 8
#define TRK_TENSOR_NAME_MAX 64

struct trk_tensor {
    char name[TRK_TENSOR_NAME_MAX];
    enum trk_dtype dtype;
    uint32_t ndim;
    int64_t shape[TRK_TENSOR_MAX_DIMS];
    void *data;
    size_t nbytes;
    bool owns_data; /* data is freed by trk_tensor_free */
};

/* Bytes per element; 0 for BYTES and INVALID. */
size_t trk_dtype_size(enum trk_dtype dt);
/* Protocol name: "FP32", "INT64", ...; "INVALID" for bad values. */
const char *trk_dtype_name(enum trk_dtype dt);
/* Parses a protocol name ("FP32", also "TYPE_FP32" as in Triton configs); INVALID if unknown. */
enum trk_dtype trk_dtype_from_name(const char *name);

/* Number of elements; fails on negative dims or when the product overflows size_t. */
enum trk_status trk_shape_numel(uint32_t ndim, const int64_t *shape, size_t *numel);

/* Allocates a tensor with zeroed data of the size the shape implies (dtype must be
 * fixed-size). On success *out owns the tensor and its data. */
enum trk_status trk_tensor_alloc(const char *name, enum trk_dtype dt, uint32_t ndim,
                                 const int64_t *shape, struct trk_tensor **out);
/* Allocates a tensor owning nbytes of UNINITIALISED data, any dtype (BYTES included:
 * the caller writes the length-prefixed elements); nbytes is not checked against the
 * shape. On success *out owns the tensor and its data. */
enum trk_status trk_tensor_alloc_bytes(const char *name, enum trk_dtype dt, uint32_t ndim,
                                       const int64_t *shape, size_t nbytes,
                                       struct trk_tensor **out);
/* Makes a tensor that borrows data (nbytes must match the shape for fixed-size
 * dtypes); the caller keeps ownership of data and must outlive the tensor. */
enum trk_status trk_tensor_wrap(const char *name, enum trk_dtype dt, uint32_t ndim,
                                const int64_t *shape, void *data, size_t nbytes,
                                struct trk_tensor **out);
/* Frees the tensor and, if it owns it, its data. NULL-safe. */
void trk_tensor_free(struct trk_tensor *t);

/* Checks t against an expected dtype and shape, where -1 in `shape` accepts any
 * extent. On mismatch writes "input 'X': expected FP32 [-1,3], got INT32 [10]"
 * into msg and returns TRK_ERR_INVALID_ARG. */
enum trk_status trk_tensor_check(const struct trk_tensor *t, enum trk_dtype dt, uint32_t ndim,
                                 const int64_t *shape, char *msg, size_t msg_len);

/* Writes "[d0,d1,...]" into buf. */
void trk_shape_format(uint32_t ndim, const int64_t *shape, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
