#ifndef TRK_CPU_KERNELS_H
#define TRK_CPU_KERNELS_H

#include <stdint.h>

struct trk_item;

/* A kernel argument resolved for the CPU: buffers are host pointers. */
union trk_cpu_karg {
    void *ptr;
    uint32_t u32;
    int32_t i32;
    float f32;
    uint64_t u64;
};

typedef void (*trk_cpu_kernel_fn)(const struct trk_item *item, const union trk_cpu_karg *args);

/* Indexed by enum trk_kernel_id. */
extern const trk_cpu_kernel_fn trk_cpu_kernels[];

#endif
