/* trk devices: what the registry found, and why a module gave no device. */
#include <stdio.h>
#include <string.h>

#include "trk_tool.h"

struct trk_registry *trk_tool_open_registry(void)
{
    struct trk_registry *reg = NULL;
    enum trk_status st = trk_registry_open(NULL, &reg);
    if (st != TRK_OK) {
        fprintf(stderr, "trk: cannot open the device registry: %s\n", trk_status_str(st));
        return NULL;
    }
    return reg;
}

void trk_tool_default_devices(char *buf, size_t len)
{
    struct trk_registry *reg = trk_tool_open_registry();
    snprintf(buf, len, "cpu");
    for (uint32_t d = 0; reg && d < trk_registry_device_count(reg); d++) {
        const char *id = trk_device_id(trk_registry_device(reg, d));
        if (strncmp(id, "cpu", 3))
            snprintf(buf + strlen(buf), len - strlen(buf), ",%s", id);
    }
    trk_registry_close(reg);
}

const char *trk_tool_bytes(uint64_t bytes, char *buf, size_t len)
{
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

int trk_cmd_devices(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: trk devices\n\n"
                   "Lists every device module the registry tried (built-in CPU, then\n"
                   "libtrk-device-*.so from $TRK_DEVICE_PATH and <libdir>/trk), whether it\n"
                   "loaded, how many devices it gave and why it gave none, then every device\n"
                   "with the id to pass as --device (cpu, opencl:0, cuda:1, ...).\n");
            return 0;
        }
        fprintf(stderr, "trk devices: unexpected argument '%s' (see --help)\n", argv[i]);
        return 2;
    }
    struct trk_registry *reg = trk_tool_open_registry();
    if (!reg)
        return 1;
    printf("modules:\n");
    for (uint32_t i = 0; i < trk_registry_module_count(reg); i++) {
        const struct trk_module_info *m = trk_registry_module(reg, i);
        printf("  %-8s %-7s %u device(s)  %s\n", m->name, m->status == TRK_OK ? "loaded" : "FAILED",
               m->device_count, m->path);
        if (m->why[0])
            printf("           why: %s\n", m->why);
    }
    printf("devices:\n");
    for (uint32_t i = 0; i < trk_registry_device_count(reg); i++) {
        struct trk_device *d = trk_registry_device(reg, i);
        const struct trk_device_props *p = trk_device_props(d);
        char mem[32];
        printf("  [%u] %-10s %s\n", i, trk_device_id(d), p->name);
        printf("       kind %s, vendor %s, driver %s\n", trk_device_kind_str(p->kind), p->vendor,
               p->driver);
        printf("       memory %s, %u compute units, block %u (max %u), shared %u B%s%s\n",
               trk_tool_bytes(p->global_mem, mem, sizeof mem), p->compute_units,
               p->preferred_block, p->max_block_size, p->shared_mem,
               p->serial_blocks ? ", serial blocks" : "", p->vendor_blas ? ", vendor BLAS" : "");
    }
    struct trk_device *def = NULL;
    trk_log_set_level(TRK_LOG_ERROR);
    if (trk_registry_select(reg, NULL, &def) == TRK_OK)
        printf("default device: %s (order: first GPU, else accelerator, else CPU)\n",
               trk_device_id(def));
    trk_registry_close(reg);
    return 0;
}
