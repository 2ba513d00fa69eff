#include "trk/kernels.h"

#include <stddef.h>

#define TRK_ARGKIND_BUF TRK_ARG_BUF
#define TRK_ARGKIND_U32 TRK_ARG_U32
#define TRK_ARGKIND_I32 TRK_ARG_I32
#define TRK_ARGKIND_F32 TRK_ARG_F32
#define TRK_ARGKIND_U64 TRK_ARG_U64

#include "kernel_pp.h"

#define TRK_KIND_ITEM(i, k) TRK_ARGKIND_##k
static const struct trk_kernel_info kernel_table[] = {
#define TRK_KERNEL_DEF(name, ...)                                                      \
    {#name, TRK_PP_NARG(__VA_ARGS__), {TRK_PP_MAP(TRK_KIND_ITEM, __VA_ARGS__)}},
#include "trk/kernels.def"
#undef TRK_KERNEL_DEF
};

const struct trk_kernel_info *trk_kernel_info(uint32_t id)
{
    return id < TRK_KERNEL_COUNT ? &kernel_table[id] : NULL;
}

const char *trk_arg_kind_str(enum trk_arg_kind kind)
{
    switch (kind) {
    case TRK_ARG_BUF: return "BUF";
    case TRK_ARG_U32: return "U32";
    case TRK_ARG_I32: return "I32";
    case TRK_ARG_F32: return "F32";
    case TRK_ARG_U64: return "U64";
    }
    return "?";
}
