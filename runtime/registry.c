/* Device registry: the built-in CPU device plus every libtrk-device-*.so found. */
#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device_internal.h"

#define MODULE_PREFIX "libtrk-device-"
#define MODULE_SUFFIX ".so"

struct reg_module {
    struct trk_module_info info;
    const struct trk_module_ops *ops;
    void *ctx;    /* module_ctx from init */
    void *dl;     /* dlopen handle, NULL for built-in */
    bool inited;
};

struct trk_registry {
    struct reg_module *modules;
    uint32_t nmodules, cap_modules;
    struct trk_device **devices;
    uint32_t ndevices, cap_devices;
};

const char *trk_device_kind_str(enum trk_device_kind kind)
{
    switch (kind) {
    case TRK_DEVICE_KIND_CPU: return "cpu";
    case TRK_DEVICE_KIND_GPU: return "gpu";
    case TRK_DEVICE_KIND_ACCELERATOR: return "accelerator";
    }
    return "?";
}

static struct reg_module *add_module(struct trk_registry *reg, const char *name, const char *path)
{
    if (reg->nmodules == reg->cap_modules) {
        uint32_t cap = reg->cap_modules ? reg->cap_modules * 2 : 8;
        struct reg_module *m = realloc(reg->modules, cap * sizeof *m);
        if (!m)
            return NULL;
        reg->modules = m;
        reg->cap_modules = cap;
    }
    struct reg_module *m = &reg->modules[reg->nmodules++];
    memset(m, 0, sizeof *m);
    snprintf(m->info.name, sizeof m->info.name, "%s", name);
    snprintf(m->info.path, sizeof m->info.path, "%s", path);
    return m;
}

static enum trk_status add_device(struct trk_registry *reg, struct trk_device *dev)
{
    if (reg->ndevices == reg->cap_devices) {
        uint32_t cap = reg->cap_devices ? reg->cap_devices * 2 : 8;
        struct trk_device **d = realloc(reg->devices, cap * sizeof *d);
        if (!d)
            return TRK_ERR_NO_MEMORY;
        reg->devices = d;
        reg->cap_devices = cap;
    }
    reg->devices[reg->ndevices++] = dev;
    return TRK_OK;
}

static bool ops_complete(const struct trk_device_ops *o)
{
    return o && o->get_props && o->close && o->buffer_alloc && o->buffer_free &&
           o->queue_create && o->queue_destroy && o->queue_finish && o->write && o->read &&
           o->copy && o->memset && o->launch && o->event_record && o->event_wait &&
           o->event_query && o->event_elapsed_ms && o->event_free;
}

/* Initialises an already-resolved module and opens its devices. */
static void start_module(struct trk_registry *reg, struct reg_module *m)
{
    const struct trk_module_ops *mo = m->ops;
    if (mo->abi_version != TRK_DEVICE_ABI_VERSION) {
        m->info.status = TRK_ERR_ABI;
        snprintf(m->info.why, sizeof m->info.why,
                 "built for device ABI %u, this libtrk needs %u: rebuild the module",
                 mo->abi_version, TRK_DEVICE_ABI_VERSION);
        return;
    }
    if (!mo->init || !mo->device_open) {
        m->info.status = TRK_ERR_ABI;
        snprintf(m->info.why, sizeof m->info.why, "module ops table lacks init/device_open");
        return;
    }
    uint32_t n = 0;
    char why[160] = ""; /* leaves room for the prefix in info.why */
    enum trk_status st = mo->init(&m->ctx, &n, why, sizeof why);
    if (st != TRK_OK) {
        m->info.status = st;
        snprintf(m->info.why, sizeof m->info.why, "init failed (%s)%s%s", trk_status_str(st),
                 why[0] ? ": " : "", why);
        return;
    }
    m->inited = true;
    if (n == 0) {
        snprintf(m->info.why, sizeof m->info.why, "%s", why[0] ? why : "no devices found");
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct trk_device_ops *ops = NULL;
        void *ctx = NULL;
        st = mo->device_open(m->ctx, i, &ops, &ctx);
        if (st == TRK_OK && !ops_complete(ops)) {
            if (ops && ops->close)
                ops->close(ctx);
            st = TRK_ERR_ABI;
        }
        if (st != TRK_OK) {
            TRK_LOGW("module %s: device %u failed to open: %s", m->info.name, i,
                     trk_status_str(st));
            snprintf(m->info.why, sizeof m->info.why, "device %u failed to open: %s", i,
                     trk_status_str(st));
            continue;
        }
        struct trk_device *dev = calloc(1, sizeof *dev);
        if (!dev || add_device(reg, dev) != TRK_OK) {
            free(dev);
            ops->close(ctx);
            continue;
        }
        dev->ops = ops;
        dev->ctx = ctx;
        dev->reg = reg;
        snprintf(dev->module, sizeof dev->module, "%s", m->info.name);
        snprintf(dev->id, sizeof dev->id, "%s:%u", m->info.name, m->info.device_count);
        ops->get_props(ctx, &dev->props);
        if (dev->props.preferred_block == 0)
            dev->props.preferred_block = 1;
        if (dev->props.max_block_size == 0)
            dev->props.max_block_size = dev->props.preferred_block;
        if (dev->props.compute_units == 0)
            dev->props.compute_units = 1;
        dev->props.vendor_blas = ops->sgemm != NULL;
        m->info.device_count++;
    }
}

static bool module_name_loaded(const struct trk_registry *reg, const char *name)
{
    for (uint32_t i = 0; i < reg->nmodules; i++)
        if (!strcmp(reg->modules[i].info.name, name) && reg->modules[i].info.status == TRK_OK)
            return true;
    return false;
}

static void load_file(struct trk_registry *reg, const char *dir, const char *file)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    size_t flen = strlen(file), plen = strlen(MODULE_PREFIX), slen = strlen(MODULE_SUFFIX);
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(flen - plen - slen), file + plen);
    if (module_name_loaded(reg, name)) {
        TRK_LOGI("module %s at %s ignored: one was already loaded from an earlier folder",
                 name, path);
        return;
    }
    struct reg_module *m = add_module(reg, name, path);
    if (!m)
        return;
    m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!m->dl) {
        const char *e = dlerror();
        m->info.status = TRK_ERR_NOT_FOUND;
        snprintf(m->info.why, sizeof m->info.why, "cannot load: %s", e ? e : "dlopen failed");
    } else {
        trk_device_module_entry_fn entry;
        *(void **)&entry = dlsym(m->dl, TRK_DEVICE_MODULE_ENTRY_SYMBOL);
        if (!entry) {
            m->info.status = TRK_ERR_ABI;
            snprintf(m->info.why, sizeof m->info.why, "not a trkserve device module: no %s symbol",
                     TRK_DEVICE_MODULE_ENTRY_SYMBOL);
        } else if (!(m->ops = entry())) {
            m->info.status = TRK_ERR_ABI;
            snprintf(m->info.why, sizeof m->info.why, "%s returned NULL",
                     TRK_DEVICE_MODULE_ENTRY_SYMBOL);
        } else {
            start_module(reg, m);
        }
    }
    if (m->info.status != TRK_OK)
        TRK_LOGW("device module %s (%s) gives no devices: %s", name, path, m->info.why);
    else if (m->info.device_count == 0)
        TRK_LOGI("device module %s gives no devices: %s", name, m->info.why);
    else
        TRK_LOGI("device module %s: %u device(s)", name, m->info.device_count);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan_dir(struct trk_registry *reg, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        TRK_LOGD("module folder %s not readable; skipped", dir);
        return;
    }
    char *names[256];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        size_t len = strlen(e->d_name), plen = strlen(MODULE_PREFIX), slen = strlen(MODULE_SUFFIX);
        if (len > plen + slen && !strncmp(e->d_name, MODULE_PREFIX, plen) &&
            !strcmp(e->d_name + len - slen, MODULE_SUFFIX))
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str); /* deterministic device order */
    for (size_t i = 0; i < n; i++) {
        if (names[i])
            load_file(reg, dir, names[i]);
        free(names[i]);
    }
}

static void scan_path_list(struct trk_registry *reg, const char *list)
{
    char *copy = strdup(list), *save = NULL;
    if (!copy)
        return;
    for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save))
        if (*tok)
            scan_dir(reg, tok);
    free(copy);
}

enum trk_status trk_registry_open(const struct trk_registry_options *opt,
                                  struct trk_registry **out)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    struct trk_registry_options defaults = {0};
    if (!opt)
        opt = &defaults;
    struct trk_registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return TRK_ERR_NO_MEMORY;
    if (!opt->no_cpu) {
        struct reg_module *m = add_module(reg, "cpu", "built-in");
        if (!m) {
            trk_registry_close(reg);
            return TRK_ERR_NO_MEMORY;
        }
        m->ops = trk_cpu_module();
        trk_cpu_module_set_threads(opt->cpu_threads);
        start_module(reg, m);
    }
    if (opt->module_path) {
        scan_path_list(reg, opt->module_path);
    } else {
        const char *env = getenv("TRK_DEVICE_PATH");
        if (env && *env)
            scan_path_list(reg, env);
        /* Modules live in <folder of libtrk.so>/trk, in the build tree and installed. */
        Dl_info info;
        if (dladdr((void *)trk_registry_open, &info) && info.dli_fname) {
            char dir[PATH_MAX];
            snprintf(dir, sizeof dir, "%s", info.dli_fname);
            char *slash = strrchr(dir, '/');
            if (slash) {
                *slash = '\0';
                size_t len = strlen(dir);
                if (len + 5 < sizeof dir) {
                    memcpy(dir + len, "/trk", 5);
                    scan_dir(reg, dir);
                }
            }
        }
    }
    *out = reg;
    return TRK_OK;
}

void trk_registry_close(struct trk_registry *reg)
{
    if (!reg)
        return;
    for (uint32_t i = 0; i < reg->ndevices; i++) {
        struct trk_device *d = reg->devices[i];
        d->ops->close(d->ctx);
        free(d);
    }
    for (uint32_t i = reg->nmodules; i-- > 0;) {
        struct reg_module *m = &reg->modules[i];
        if (m->inited && m->ops->fini)
            m->ops->fini(m->ctx);
#ifndef TRK_KEEP_MODULES_LOADED
        if (m->dl)
            dlclose(m->dl);
#endif
    }
    free(reg->devices);
    free(reg->modules);
    free(reg);
}

uint32_t trk_registry_device_count(const struct trk_registry *reg)
{
    return reg ? reg->ndevices : 0;
}

struct trk_device *trk_registry_device(const struct trk_registry *reg, uint32_t i)
{
    return reg && i < reg->ndevices ? reg->devices[i] : NULL;
}

uint32_t trk_registry_module_count(const struct trk_registry *reg)
{
    return reg ? reg->nmodules : 0;
}

const struct trk_module_info *trk_registry_module(const struct trk_registry *reg, uint32_t i)
{
    return reg && i < reg->nmodules ? &reg->modules[i].info : NULL;
}

void trk_registry_describe(const struct trk_registry *reg, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    buf[0] = '\0';
    size_t off = 0;
    for (uint32_t i = 0; reg && i < reg->ndevices && off < len; i++) {
        int w = snprintf(buf + off, len - off, "%s%s (%s)", i ? ", " : "", reg->devices[i]->id,
                         reg->devices[i]->props.name);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    if (reg && reg->ndevices == 0)
        snprintf(buf, len, "no devices");
}

static bool parse_index(const char *s, uint32_t *out)
{
    if (!*s)
        return false;
    unsigned long v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > 1000000)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

static int kind_from_name(const char *s)
{
    for (int k = TRK_DEVICE_KIND_CPU; k <= TRK_DEVICE_KIND_ACCELERATOR; k++)
        if (!strcmp(s, trk_device_kind_str((enum trk_device_kind)k)))
            return k;
    return -1;
}

enum trk_status trk_registry_select(const struct trk_registry *reg, const char *spec,
                                    struct trk_device **out)
{
    if (!reg || !out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    char avail[1024];
    trk_registry_describe(reg, avail, sizeof avail);
    if (!spec || !*spec || !strcmp(spec, "auto")) {
        static const enum trk_device_kind order[] = {TRK_DEVICE_KIND_GPU,
                                                     TRK_DEVICE_KIND_ACCELERATOR};
        for (size_t o = 0; o < 2; o++)
            for (uint32_t i = 0; i < reg->ndevices; i++)
                if (reg->devices[i]->props.kind == order[o]) {
                    *out = reg->devices[i];
                    return TRK_OK;
                }
        for (uint32_t i = 0; i < reg->ndevices; i++)
            if (!strcmp(reg->devices[i]->module, "cpu")) {
                *out = reg->devices[i];
                return TRK_OK;
            }
        if (reg->ndevices) {
            *out = reg->devices[0];
            return TRK_OK;
        }
        TRK_LOGE("no device at all is available");
        return TRK_ERR_NOT_FOUND;
    }
    uint32_t idx;
    if (parse_index(spec, &idx)) {
        if (idx < reg->ndevices) {
            *out = reg->devices[idx];
            return TRK_OK;
        }
        TRK_LOGE("device index %u out of range; available: %s", idx, avail);
        return TRK_ERR_NOT_FOUND;
    }
    char name[64];
    const char *colon = strchr(spec, ':');
    size_t nlen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (nlen == 0 || nlen >= sizeof name) {
        TRK_LOGE("malformed device '%s': use NAME, NAME:INDEX (cpu, opencl:0, cuda:1, gpu) "
                 "or an index", spec);
        return TRK_ERR_INVALID_ARG;
    }
    memcpy(name, spec, nlen);
    name[nlen] = '\0';
    uint32_t want = 0;
    if (colon && !parse_index(colon + 1, &want)) {
        TRK_LOGE("malformed device '%s': the part after ':' must be an index", spec);
        return TRK_ERR_INVALID_ARG;
    }
    int kind = kind_from_name(name);
    bool module_known = false;
    for (uint32_t i = 0; i < reg->nmodules; i++)
        module_known |= !strcmp(reg->modules[i].info.name, name);
    uint32_t seen = 0;
    for (uint32_t i = 0; i < reg->ndevices; i++) {
        struct trk_device *d = reg->devices[i];
        bool match = module_known ? !strcmp(d->module, name) : (int)d->props.kind == kind;
        if (match && seen++ == want) {
            *out = d;
            return TRK_OK;
        }
    }
    const char *why = "";
    for (uint32_t i = 0; i < reg->nmodules; i++)
        if (!strcmp(reg->modules[i].info.name, name) && reg->modules[i].info.why[0])
            why = reg->modules[i].info.why;
    if (!module_known && kind < 0)
        TRK_LOGE("unknown device '%s'; available: %s", spec, avail);
    else
        TRK_LOGE("device '%s' is not present (%u such device%s%s%s); available: %s", spec, seen,
                 seen == 1 ? "" : "s", why[0] ? ": " : "", why, avail);
    return TRK_ERR_NOT_FOUND;
}
