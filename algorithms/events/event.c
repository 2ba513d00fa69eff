/* trkserve — events as lists of named tensors; the reference-data location. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "trk/data.h"
#include "trk/event.h"
#include "trk/log.h"

void trk_event_init(struct trk_event *ev, uint64_t number)
{
    if (!ev)
        return;
    memset(ev, 0, sizeof *ev);
    ev->number = number;
}

void trk_event_fini(struct trk_event *ev)
{
    if (!ev)
        return;
    for (uint32_t i = 0; i < ev->ntensors; i++)
        trk_tensor_free(ev->tensors[i]);
    free(ev->tensors);
    memset(ev, 0, sizeof *ev);
}

struct trk_tensor *trk_event_find(const struct trk_event *ev, const char *name)
{
    if (!ev || !name)
        return NULL;
    for (uint32_t i = 0; i < ev->ntensors; i++)
        if (!strcmp(ev->tensors[i]->name, name))
            return ev->tensors[i];
    return NULL;
}

enum trk_status trk_event_add(struct trk_event *ev, struct trk_tensor *t)
{
    if (!ev || !t) {
        trk_tensor_free(t);
        return TRK_ERR_INVALID_ARG;
    }
    if (trk_event_find(ev, t->name)) {
        TRK_LOGE("event already has a column '%s'", t->name);
        trk_tensor_free(t);
        return TRK_ERR_INVALID_ARG;
    }
    if (ev->ntensors == ev->cap) {
        uint32_t cap = ev->cap ? ev->cap * 2 : 16;
        struct trk_tensor **n = realloc(ev->tensors, cap * sizeof *n);
        if (!n) {
            trk_tensor_free(t);
            return TRK_ERR_NO_MEMORY;
        }
        ev->tensors = n;
        ev->cap = cap;
    }
    ev->tensors[ev->ntensors++] = t;
    return TRK_OK;
}

enum trk_status trk_event_add_column(struct trk_event *ev, const char *name,
                                     enum trk_dtype dt, size_t n, uint32_t width,
                                     void **data)
{
    int64_t shape[2] = {(int64_t)n, (int64_t)width};
    struct trk_tensor *t = NULL;
    enum trk_status st = trk_tensor_alloc(name, dt, width ? 2 : 1, shape, &t);
    if (st != TRK_OK)
        return st;
    if (data)
        *data = t->data;
    return trk_event_add(ev, t);
}

void *trk_event_column(const struct trk_event *ev, const char *name, enum trk_dtype dt,
                       uint32_t width, size_t *n)
{
    const struct trk_tensor *t = trk_event_find(ev, name);
    if (!t) {
        TRK_LOGE("column '%s': missing from the event", name);
        return NULL;
    }
    bool ok = t->dtype == dt && t->ndim == (width ? 2u : 1u) &&
              (!width || t->shape[1] == (int64_t)width);
    if (!ok) {
        char got[96];
        trk_shape_format(t->ndim, t->shape, got, sizeof got);
        TRK_LOGE("column '%s': expected %s [n%s%u], got %s %s", name,
                trk_dtype_name(dt), width ? "," : "", width ? width : 0u,
                trk_dtype_name(t->dtype), got);
        return NULL;
    }
    if (n)
        *n = (size_t)t->shape[0];
    /* A zero-row column may have no storage; hand out a valid pointer anyway. */
    static char empty[8];
    return t->data ? t->data : (void *)empty;
}

enum trk_status trk_event_copy(struct trk_event *dst, const struct trk_event *src)
{
    trk_event_init(dst, src->number);
    for (uint32_t i = 0; i < src->ntensors; i++) {
        const struct trk_tensor *s = src->tensors[i];
        struct trk_tensor *t = calloc(1, sizeof *t);
        if (!t)
            goto fail;
        *t = *s;
        t->owns_data = true;
        t->data = NULL;
        if (s->nbytes) {
            t->data = malloc(s->nbytes);
            if (!t->data) {
                free(t);
                goto fail;
            }
            memcpy(t->data, s->data, s->nbytes);
        }
        if (trk_event_add(dst, t) != TRK_OK)
            goto fail;
    }
    return TRK_OK;
fail:
    trk_event_fini(dst);
    return TRK_ERR_NO_MEMORY;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *trk_data_dir(void)
{
    const char *env = getenv("TRK_DATA_DIR");
    if (env && *env)
        return env;
#ifdef TRK_SOURCE_DIR
    if (is_dir(TRK_SOURCE_DIR "/../shared/data"))
        return TRK_SOURCE_DIR "/../shared/data";
#endif
    return "../shared/data";
}

bool trk_data_path(const char *rel, char *buf, size_t len)
{
    struct stat st;
    snprintf(buf, len, "%s/%s", trk_data_dir(), rel);
    return stat(buf, &st) == 0;
}
