/* Runtime-private parts of the device objects. */
#ifndef TRK_DEVICE_INTERNAL_H
#define TRK_DEVICE_INTERNAL_H

#include "device_impl.h"

struct trk_device {
    const struct trk_device_ops *ops;
    void *ctx;
    struct trk_registry *reg;
    struct trk_device_props props;
    char module[64];
    char id[80];
};

/* Sets the thread count the built-in CPU device uses at its next init (0: default). */
void trk_cpu_module_set_threads(unsigned nthreads);

#endif
