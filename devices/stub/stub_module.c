/* A device module for registry tests, compiled once per STUB_MODE into
 * libtrk-device-stub_<mode>.so (tests/modules/, never installed):
 *   STUB_OK         one "GPU" with host-memory buffers and synchronous copies;
 *                   kernel launches are refused with TRK_ERR_UNSUPPORTED
 *   STUB_NODEV      loads, finds no hardware, says why
 *   STUB_BADABI     reports the wrong ABI version
 *   STUB_NOSYM      exports no entry symbol
 *   STUB_INITFAIL   init fails
 *   STUB_INCOMPLETE device ops table misses required slots */
#include <stdlib.h>
#include <string.h>

#include "device_impl.h"

#if defined(STUB_OK) || defined(STUB_INCOMPLETE)
struct stub_event {
    int dummy;
};

static void stub_props(void *dev, struct trk_device_props *p)
{
    memset(p, 0, sizeof *p);
    strcpy(p->name, "Stub GPU (tests)");
    strcpy(p->vendor, "trkserve");
    strcpy(p->driver, "stub");
    p->kind = TRK_DEVICE_KIND_GPU;
    p->global_mem = p->max_alloc = 1u << 20;
    p->compute_units = 1;
    p->max_block_size = 256;
    p->preferred_block = 64;
}
static void stub_close(void *dev) { (void)dev; }
static enum trk_status stub_alloc(void *dev, size_t size, void **h)
{
    *h = malloc(size ? size : 1);
    return *h ? TRK_OK : TRK_ERR_NO_MEMORY;
}
static void stub_free(void *dev, void *h) { free(h); }
static int queue_token;
static enum trk_status stub_qcreate(void *dev, void **q)
{
    *q = &queue_token;
    return TRK_OK;
}
static void stub_qdestroy(void *dev, void *q) { (void)q; }
static enum trk_status stub_finish(void *q) { return TRK_OK; }
static enum trk_status stub_write(void *q, struct trk_buffer *d, size_t off, const void *s, size_t n)
{
    memcpy((char *)d->handle + off, s, n);
    return TRK_OK;
}
static enum trk_status stub_read(void *q, void *d, struct trk_buffer *s, size_t off, size_t n)
{
    memcpy(d, (char *)s->handle + off, n);
    return TRK_OK;
}
static enum trk_status stub_copy(void *q, struct trk_buffer *d, size_t doff, struct trk_buffer *s,
                                 size_t soff, size_t n)
{
    memcpy((char *)d->handle + doff, (char *)s->handle + soff, n);
    return TRK_OK;
}
static enum trk_status stub_memset(void *q, struct trk_buffer *b, size_t off, uint8_t v, size_t n)
{
    memset((char *)b->handle + off, v, n);
    return TRK_OK;
}
__attribute__((unused)) static enum trk_status stub_launch(void *q, uint32_t k, uint32_t g, uint32_t b, uint32_t na,
                                   const struct trk_arg *a)
{
    return TRK_ERR_UNSUPPORTED;
}
static enum trk_status stub_record(void *q, void **ev)
{
    *ev = calloc(1, sizeof(struct stub_event));
    return *ev ? TRK_OK : TRK_ERR_NO_MEMORY;
}
static enum trk_status stub_ev_wait(void *ev) { return TRK_OK; }
static enum trk_status stub_ev_query(void *ev, bool *done)
{
    *done = true;
    return TRK_OK;
}
static enum trk_status stub_elapsed(void *a, void *b, double *ms)
{
    *ms = 0;
    return TRK_OK;
}
static void stub_ev_free(void *ev) { free(ev); }

static const struct trk_device_ops stub_ops = {
    .get_props = stub_props,
    .close = stub_close,
    .buffer_alloc = stub_alloc,
    .buffer_free = stub_free,
    .queue_create = stub_qcreate,
    .queue_destroy = stub_qdestroy,
    .queue_finish = stub_finish,
    .write = stub_write,
    .read = stub_read,
    .copy = stub_copy,
    .memset = stub_memset,
#ifndef STUB_INCOMPLETE
    .launch = stub_launch,
#endif
    .event_record = stub_record,
    .event_wait = stub_ev_wait,
    .event_query = stub_ev_query,
    .event_elapsed_ms = stub_elapsed,
    .event_free = stub_ev_free,
};
#endif

static enum trk_status stub_init(void **ctx, uint32_t *n, char *why, size_t why_len)
{
    *ctx = NULL;
#if defined(STUB_INITFAIL)
    strncpy(why, "stub driver refused to start (test)", why_len - 1);
    *n = 0;
    return TRK_ERR_DEVICE;
#elif defined(STUB_NODEV)
    strncpy(why, "no stub hardware present (test)", why_len - 1);
    *n = 0;
    return TRK_OK;
#else
    (void)why;
    (void)why_len;
    *n = 1;
    return TRK_OK;
#endif
}

static enum trk_status stub_open(void *ctx, uint32_t i, const struct trk_device_ops **ops,
                                 void **dev)
{
#if defined(STUB_OK) || defined(STUB_INCOMPLETE)
    *ops = &stub_ops;
    *dev = NULL;
    return TRK_OK;
#else
    return TRK_ERR_INTERNAL;
#endif
}

static const struct trk_module_ops stub_module = {
#ifdef STUB_BADABI
    .abi_version = TRK_DEVICE_ABI_VERSION + 1000,
#else
    .abi_version = TRK_DEVICE_ABI_VERSION,
#endif
    .name = "stub",
    .init = stub_init,
    .device_open = stub_open,
};

#ifdef STUB_NOSYM
const struct trk_module_ops *stub_wrongly_named_entry(void);
const struct trk_module_ops *stub_wrongly_named_entry(void)
#else
const struct trk_module_ops *trk_device_module_entry(void);
const struct trk_module_ops *trk_device_module_entry(void)
#endif
{
    return &stub_module;
}
