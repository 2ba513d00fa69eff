/* libtrk-device-hip.so: a loader in front of libtrk-hip-impl.so (devices/cuda's host
 * code and kernels built for HIP). The implementation links libamdhip64, which has no
 * static form; loading it from here turns "the HIP runtime is not installed" into a
 * module with zero devices and a reason, instead of a module the registry cannot load
 * (and warns about on every start) on every machine without ROCm. */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "device_impl.h"

#define IMPL_FILE "libtrk-hip-impl.so"

static const struct trk_module_ops *impl;
static const char *load_error; /* why impl is NULL */
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

/* Loads the implementation from the folder this module came from, once per process.
 * Never unloaded (it is linked -z nodelete): the HIP runtime does not survive it. */
static const char *load_impl(void)
{
    static char err[256];
    Dl_info info;
    char path[PATH_MAX];
    if (!dladdr((void *)load_impl, &info) || !info.dli_fname)
        return "cannot locate libtrk-device-hip.so";
    snprintf(path, sizeof path, "%s", info.dli_fname);
    char *slash = strrchr(path, '/');
    size_t dir = slash ? (size_t)(slash - path + 1) : 0;
    if (dir + sizeof IMPL_FILE > sizeof path)
        return "module path too long";
    memcpy(path + dir, IMPL_FILE, sizeof IMPL_FILE);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(err, sizeof err, "%s", e ? e : "dlopen failed");
        return err;
    }
    trk_device_module_entry_fn entry;
    *(void **)&entry = dlsym(h, TRK_DEVICE_MODULE_ENTRY_SYMBOL);
    const struct trk_module_ops *ops = entry ? entry() : NULL;
    if (!ops || ops->abi_version != TRK_DEVICE_ABI_VERSION || !ops->init || !ops->device_open)
        return IMPL_FILE " is not a HIP module of this trkserve build: reinstall it";
    impl = ops;
    return NULL;
}

static void load(void)
{
    load_error = load_impl();
}

static enum trk_status shim_init(void **ctx, uint32_t *n, char *why, size_t why_len)
{
    *ctx = NULL;
    *n = 0;
    pthread_once(&load_once, load);
    if (!impl) {
        snprintf(why, why_len, "no AMD GPU / HIP runtime: %s", load_error);
        return TRK_OK;
    }
    return impl->init(ctx, n, why, why_len);
}

static enum trk_status shim_device_open(void *ctx, uint32_t index,
                                        const struct trk_device_ops **ops, void **dev)
{
    return impl->device_open(ctx, index, ops, dev);
}

static void shim_fini(void *ctx)
{
    if (impl && impl->fini)
        impl->fini(ctx);
}

static const struct trk_module_ops shim_ops = {
    .abi_version = TRK_DEVICE_ABI_VERSION,
    .name = "hip",
    .init = shim_init,
    .device_open = shim_device_open,
    .fini = shim_fini,
};

__attribute__((visibility("default"))) const struct trk_module_ops *trk_device_module_entry(void);
const struct trk_module_ops *trk_device_module_entry(void)
{
    return &shim_ops;
}
