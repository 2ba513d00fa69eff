/* trkserve — kernel ids and signatures, generated from runtime/kernels.def.
 *
 * The list is the contract between algorithms (which launch kernels by id) and
 * device modules (which must provide every kernel in it). A kernel missing from a
 * device's sources fails that device's build. */
#ifndef TRK_KERNELS_H
#define TRK_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Kinds of kernel argument, spelled BUF U32 I32 F32 U64 in kernels.def. */
enum trk_arg_kind {
    TRK_ARG_BUF = 1, /* a device buffer: a TRK_GLOBAL pointer in the kernel */
    TRK_ARG_U32,
    TRK_ARG_I32,
    TRK_ARG_F32,
    TRK_ARG_U64,
};

#define TRK_KERNEL_MAX_ARGS 24

enum trk_kernel_id {
#define TRK_KERNEL_DEF(name, ...) TRK_KERNEL_##name,
#include "trk/kernels.def"
#undef TRK_KERNEL_DEF
    TRK_KERNEL_COUNT
};

struct trk_kernel_info {
    const char *name;
    uint32_t nargs;
    enum trk_arg_kind args[TRK_KERNEL_MAX_ARGS];
};

/* Returns the signature of kernel id, or NULL for an unknown id. */
const struct trk_kernel_info *trk_kernel_info(uint32_t id);

/* Returns "BUF", "U32", ...; "?" for an unknown kind. */
const char *trk_arg_kind_str(enum trk_arg_kind kind);

#ifdef __cplusplus
}
#endif
#endif
