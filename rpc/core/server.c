/* trk/server.h: server lifecycle, the repository, model lookup, loading and unloading,
 * submission. Workers and execution are in model.c, validation in validate.c,
 * statistics and metrics in stats.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_internal.h"
#include "trk/log.h"

#ifndef TRK_VERSION_STRING
#define TRK_VERSION_STRING "0.1.0"
#endif

uint64_t core_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t core_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void trk_server_options_default(struct trk_server_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->strict_readiness = true;
    opt->load_models = true;
}

const char *trk_server_version(void)
{
    return TRK_VERSION_STRING;
}

const char *const *trk_server_extensions(void)
{
    static const char *const k_ext[] = {"model_repository", "model_configuration",
                                        "schedule_policy", "statistics", NULL};
    return k_ext;
}

/* ---- active model list (s->lock held) ------------------------------------------------ */

static void active_remove_name(struct trk_server *s, const char *name, struct trk_model **old,
                               uint32_t *nold, uint32_t cap)
{
    uint32_t w = 0;
    for (uint32_t i = 0; i < s->nactive; i++) {
        struct trk_model *m = s->active[i];
        if (strcmp(m->cfg->name, name) == 0 && *nold < cap)
            old[(*nold)++] = m;
        else
            s->active[w++] = m;
    }
    s->nactive = w;
}

static enum trk_status active_add(struct trk_server *s, struct trk_model *m)
{
    if (s->nactive == s->capactive) {
        uint32_t cap = s->capactive ? 2 * s->capactive : 16;
        struct trk_model **a = realloc(s->active, cap * sizeof *a);
        if (!a)
            return TRK_ERR_NO_MEMORY;
        s->active = a;
        s->capactive = cap;
    }
    s->active[s->nactive++] = m;
    return TRK_OK;
}

static void retire(struct trk_model **old, uint32_t nold, bool abort)
{
    for (uint32_t i = 0; i < nold; i++) {
        core_model_stop(old[i], abort);
        trk_model_release(old[i]);
    }
}

static uint32_t count_name(struct trk_server *s, const char *name)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->nactive; i++)
        n += strcmp(s->active[i]->cfg->name, name) == 0;
    return n;
}

/* ---- loading ---------------------------------------------------------------------------- */

struct version_todo {
    int64_t version;
    char *path;
};

static void set_state(struct trk_server *s, const char *name, int64_t version,
                      enum trk_model_state st, const char *reason)
{
    pthread_mutex_lock(&s->lock);
    trk_repository_set_state(s->repo, name, version, st, reason);
    pthread_mutex_unlock(&s->lock);
}

/* Loads (or reloads, rescan) model `name`; s->control held. */
static enum trk_status load_model(struct trk_server *s, const char *name, bool rescan, char *err,
                                  size_t errlen)
{
    enum trk_status st = TRK_OK;
    struct trk_model_config *cfg = NULL;
    struct version_todo *todo = NULL;
    uint32_t ntodo = 0, nold = 0, nnew = 0;
    struct trk_model **old = NULL, **fresh = NULL;
    err[0] = '\0';

    pthread_mutex_lock(&s->lock);
    const struct trk_repository_model *rm = NULL;
    if (rescan) {
        st = trk_repository_reload(s->repo, name, &rm);
        if (st == TRK_ERR_INVALID_ARG) {
            pthread_mutex_unlock(&s->lock);
            snprintf(err, errlen, "'%s' is not a model name", name);
            return st;
        }
    } else {
        rm = trk_repository_find(s->repo, name);
    }
    uint32_t nact = count_name(s, name);
    old = calloc(nact ? nact : 1, sizeof *old);
    if (!rm || st == TRK_ERR_NOT_FOUND) {
        if (old)
            active_remove_name(s, name, old, &nold, nact);
        pthread_mutex_unlock(&s->lock);
        snprintf(err, errlen, "no model folder '%s' in the repository %s", name, s->repo_dir);
        retire(old, nold, false);
        free(old);
        return TRK_ERR_NOT_FOUND;
    }
    if (rm->state != TRK_MODEL_STATE_READY || !rm->config) {
        snprintf(err, errlen, "%s", rm->reason[0] ? rm->reason : "model is not ready");
        if (old)
            active_remove_name(s, name, old, &nold, nact);
        pthread_mutex_unlock(&s->lock);
        retire(old, nold, false);
        free(old);
        return TRK_ERR_PARSE;
    }
    cfg = trk_model_config_ref(rm->config);
    todo = calloc(rm->nversions ? rm->nversions : 1, sizeof *todo);
    for (uint32_t i = 0; todo && i < rm->nversions; i++) {
        if (rm->versions[i].state != TRK_MODEL_STATE_READY)
            continue;
        todo[ntodo].version = rm->versions[i].version;
        todo[ntodo].path = strdup(rm->versions[i].path);
        if (!todo[ntodo].path)
            break;
        ntodo++;
    }
    pthread_mutex_unlock(&s->lock);
    if (!old || !todo) {
        st = TRK_ERR_NO_MEMORY;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    const struct trk_algorithm *algo = trk_algorithm_find(cfg->algorithm);
    if (!algo) {
        char names[256] = "";
        for (uint32_t i = 0; i < trk_algorithm_count(); i++) {
            size_t l = strlen(names);
            snprintf(names + l, sizeof names - l, "%s%s", i ? ", " : "",
                     trk_algorithm_at(i)->name);
        }
        snprintf(err, errlen, "unknown algorithm '%s' (this build has: %s)", cfg->algorithm,
                 names);
        st = TRK_ERR_NOT_FOUND;
        goto unavailable;
    }
    if (algo->check) {
        char cerr[TRK_ALGORITHM_ERR_MAX] = "";
        if ((st = algo->check(cfg, cerr, sizeof cerr)) != TRK_OK) {
            snprintf(err, errlen, "%s: %s", cfg->path ? cfg->path : name, cerr);
            goto unavailable;
        }
    }
    fresh = calloc(ntodo ? ntodo : 1, sizeof *fresh);
    if (!fresh) {
        st = TRK_ERR_NO_MEMORY;
        snprintf(err, errlen, "out of memory");
        goto unavailable;
    }
    for (uint32_t i = 0; i < ntodo; i++) {
        char verr[TRK_SERVER_ERR_MAX];
        struct trk_model *m = NULL;
        enum trk_status vst =
            core_model_build(s, cfg, algo, todo[i].version, todo[i].path, &m, verr, sizeof verr);
        if (vst != TRK_OK) {
            TRK_LOGE("model '%s' version %" PRId64 " failed to load: %s", name,
                     todo[i].version, verr);
            set_state(s, name, todo[i].version, TRK_MODEL_STATE_UNAVAILABLE, verr);
            snprintf(err, errlen, "version %" PRId64 ": %s", todo[i].version, verr);
            st = vst;
            continue;
        }
        fresh[nnew++] = m;
    }
    if (nnew == 0) {
        if (st == TRK_OK) {
            st = TRK_ERR_NOT_FOUND;
            snprintf(err, errlen, "model '%s' has no version folder to load", name);
        }
        goto unavailable;
    }
    /* Swap: the new versions serve from now on; the old ones finish their queues. */
    pthread_mutex_lock(&s->lock);
    active_remove_name(s, name, old, &nold, nact);
    for (uint32_t i = 0; i < nnew; i++) {
        if (active_add(s, fresh[i]) != TRK_OK) {
            pthread_mutex_unlock(&s->lock);
            st = TRK_ERR_NO_MEMORY;
            snprintf(err, errlen, "out of memory");
            retire(fresh + i, nnew - i, true);
            nnew = i;
            pthread_mutex_lock(&s->lock);
            break;
        }
        trk_repository_set_state(s->repo, name, fresh[i]->version, TRK_MODEL_STATE_READY, "");
    }
    pthread_mutex_unlock(&s->lock);
    retire(old, nold, false);
    goto done;

unavailable:
    pthread_mutex_lock(&s->lock);
    active_remove_name(s, name, old, &nold, nact);
    trk_repository_set_state(s->repo, name, -1, TRK_MODEL_STATE_UNAVAILABLE, err);
    pthread_mutex_unlock(&s->lock);
    TRK_LOGE("model '%s' is UNAVAILABLE: %s", name, err);
    retire(old, nold, false);
    if (fresh)
        retire(fresh, nnew, true);
fail:
done:
    for (uint32_t i = 0; i < ntodo; i++)
        free(todo[i].path);
    free(todo);
    free(old);
    free(fresh);
    trk_model_config_free(cfg);
    return st;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

enum trk_status trk_server_create(const struct trk_server_options *opt, struct trk_server **out,
                                  char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!out) {
        snprintf(err, errlen, "no output pointer");
        return TRK_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (!opt || !opt->model_repository || !opt->model_repository[0]) {
        snprintf(err, errlen, "no model repository given (--model-repository DIR)");
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st;
    struct trk_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    s->opt = *opt;
    pthread_mutex_init(&s->control, NULL);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->metrics_mu, NULL);
    atomic_init(&s->draining, false);
    s->repo_dir = strdup(opt->model_repository);
    s->device_path = opt->device_path ? strdup(opt->device_path) : NULL;
    if (!s->repo_dir || (opt->device_path && !s->device_path)) {
        st = TRK_ERR_NO_MEMORY;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    s->opt.model_repository = s->repo_dir;
    s->opt.device_path = s->device_path;

    struct trk_registry_options ropt = {.module_path = s->device_path};
    if ((st = trk_registry_open(&ropt, &s->reg)) != TRK_OK) {
        snprintf(err, errlen, "cannot open the device registry: %s", trk_status_str(st));
        goto fail;
    }
    s->ndev = trk_registry_device_count(s->reg);
    s->devstat = calloc(s->ndev ? s->ndev : 1, sizeof *s->devstat);
    if (!s->devstat) {
        st = TRK_ERR_NO_MEMORY;
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    uint64_t now = core_now_ns();
    for (uint32_t i = 0; i < s->ndev; i++) {
        atomic_init(&s->devstat[i].busy_ns, 0);
        s->devstat[i].last_scrape_ns = now;
    }
    if ((st = trk_repository_scan(s->repo_dir, &s->repo)) != TRK_OK) {
        snprintf(err, errlen, "cannot read the model repository '%s': %s", s->repo_dir,
                 st == TRK_ERR_NOT_FOUND ? "no such folder" : trk_status_str(st));
        goto fail;
    }
    pthread_mutex_lock(&s->control);
    uint32_t nmodels = trk_repository_count(s->repo);
    for (uint32_t i = 0; i < nmodels; i++) {
        const struct trk_repository_model *rm = trk_repository_model(s->repo, i);
        char name[TRK_MODEL_NAME_MAX], merr[TRK_SERVER_ERR_MAX];
        snprintf(name, sizeof name, "%s", rm->name);
        if (rm->state != TRK_MODEL_STATE_READY)
            continue; /* the scan logged why */
        if (!opt->load_models) {
            trk_repository_set_state(s->repo, name, -1, TRK_MODEL_STATE_UNAVAILABLE,
                                     CORE_REASON_NOT_LOADED);
            continue;
        }
        load_model(s, name, false, merr, sizeof merr);
    }
    pthread_mutex_unlock(&s->control);
    *out = s;
    return TRK_OK;
fail:
    trk_server_free(s);
    return st;
}

void trk_server_drain(struct trk_server *s, uint32_t timeout_ms)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->control);
    pthread_mutex_lock(&s->lock);
    atomic_store(&s->draining, true);
    bool done = s->drained;
    uint32_t n = s->nactive;
    struct trk_model **ms = n ? calloc(n, sizeof *ms) : NULL;
    for (uint32_t i = 0; ms && i < n; i++) {
        ms[i] = s->active[i];
        atomic_fetch_add(&ms[i]->refs, 1);
    }
    pthread_mutex_unlock(&s->lock);
    if (!done) {
        uint64_t deadline = core_now_ns() + (uint64_t)timeout_ms * 1000000u;
        for (uint32_t i = 0; ms && i < n; i++)
            core_model_wait_idle(ms[i], deadline);
        for (uint32_t i = 0; ms && i < n; i++)
            core_model_stop(ms[i], true);
        if (!ms) /* out of memory: stop them under the lock the slow way */
            for (uint32_t i = 0; i < s->nactive; i++)
                core_model_stop(s->active[i], true);
        s->drained = true;
    }
    for (uint32_t i = 0; ms && i < n; i++)
        trk_model_release(ms[i]);
    free(ms);
    pthread_mutex_unlock(&s->control);
}

void trk_server_free(struct trk_server *s)
{
    if (!s)
        return;
    trk_server_drain(s, 0);
    for (uint32_t i = 0; i < s->nactive; i++)
        trk_model_release(s->active[i]);
    free(s->active);
    trk_repository_free(s->repo);
    free(s->devstat);
    trk_registry_close(s->reg);
    free(s->repo_dir);
    free(s->device_path);
    pthread_mutex_destroy(&s->control);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->metrics_mu);
    free(s);
}

bool trk_server_live(const struct trk_server *s)
{
    return s != NULL;
}

bool trk_server_ready(const struct trk_server *cs)
{
    struct trk_server *s = (struct trk_server *)cs; /* locks only */
    if (!s || atomic_load(&s->draining))
        return false;
    if (!s->opt.strict_readiness)
        return true;
    bool ready = true;
    pthread_mutex_lock(&s->lock);
    uint32_t n = trk_repository_count(s->repo);
    for (uint32_t i = 0; ready && i < n; i++) {
        const struct trk_repository_model *rm = trk_repository_model(s->repo, i);
        if (rm->state == TRK_MODEL_STATE_READY)
            continue;
        /* Models left out on purpose do not make the server unready. */
        ready = strcmp(rm->reason, CORE_REASON_UNLOADED) == 0 ||
                strcmp(rm->reason, CORE_REASON_NOT_LOADED) == 0;
    }
    pthread_mutex_unlock(&s->lock);
    return ready;
}

/* ---- models ------------------------------------------------------------------------------ */

enum trk_status trk_server_model_acquire(struct trk_server *s, const char *name, int64_t version,
                                         struct trk_model **out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (out)
        *out = NULL;
    if (!s || !name || !out) {
        snprintf(err, errlen, "no model name");
        return TRK_ERR_INVALID_ARG;
    }
    enum trk_status st = TRK_OK;
    pthread_mutex_lock(&s->lock);
    struct trk_model *best = NULL;
    for (uint32_t i = 0; i < s->nactive; i++) {
        struct trk_model *m = s->active[i];
        if (strcmp(m->cfg->name, name) != 0)
            continue;
        if (version >= 0 ? m->version == version : (!best || m->version > best->version))
            best = m;
    }
    if (best) {
        atomic_fetch_add(&best->refs, 1);
        *out = best;
    } else {
        const struct trk_repository_model *rm = trk_repository_find(s->repo, name);
        const char *reason = NULL;
        if (!rm) {
            st = TRK_ERR_NOT_FOUND;
            snprintf(err, errlen, "unknown model '%s'", name);
        } else if (version >= 0) {
            const struct trk_model_version *v = NULL;
            for (uint32_t i = 0; i < rm->nversions; i++)
                if (rm->versions[i].version == version)
                    v = &rm->versions[i];
            if (!v) {
                st = TRK_ERR_NOT_FOUND;
                snprintf(err, errlen, "unknown version %" PRId64 " of model '%s'", version, name);
            } else {
                reason = v->reason[0] ? v->reason : rm->reason;
            }
        } else {
            reason = rm->reason;
        }
        if (st == TRK_OK) {
            st = TRK_ERR_UNAVAILABLE;
            snprintf(err, errlen, "model '%s' is not ready: %s", name,
                     reason && reason[0] ? reason : "not loaded");
        }
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

static void model_free(struct trk_model *m)
{
    core_model_stop(m, true);
    for (uint32_t i = 0; i < m->ninst; i++) {
        free(m->inst[i].batch);
        free(m->inst[i].in_ptr);
        free(m->inst[i].in_buf);
        free(m->inst[i].out);
    }
    free(m->inst);
    free(m->ring);
    core_stats_free(&m->stats);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->stats_mu);
    pthread_cond_destroy(&m->work_cv);
    pthread_cond_destroy(&m->idle_cv);
    free(m->version_dir);
    trk_model_config_free(m->cfg);
    free(m);
}

void trk_model_release(struct trk_model *m)
{
    if (m && atomic_fetch_sub(&m->refs, 1) == 1)
        model_free(m);
}

const struct trk_model_config *trk_model_config_get(const struct trk_model *m)
{
    return m ? m->cfg : NULL;
}

int64_t trk_model_version_get(const struct trk_model *m)
{
    return m ? m->version : -1;
}

uint32_t trk_server_model_versions(struct trk_server *s, const char *name, int64_t *versions,
                                   uint32_t cap)
{
    if (!s || !name)
        return 0;
    uint32_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; i < s->nactive; i++) {
        if (strcmp(s->active[i]->cfg->name, name) != 0)
            continue;
        /* insertion keeps them ascending */
        int64_t v = s->active[i]->version;
        if (versions && n < cap) {
            uint32_t j = n;
            while (j > 0 && versions[j - 1] > v) {
                versions[j] = versions[j - 1];
                j--;
            }
            versions[j] = v;
        }
        n++;
    }
    pthread_mutex_unlock(&s->lock);
    return n;
}

bool trk_server_model_ready(struct trk_server *s, const char *name, int64_t version)
{
    if (!s || !name)
        return false;
    bool ready = false;
    pthread_mutex_lock(&s->lock);
    for (uint32_t i = 0; !ready && i < s->nactive; i++)
        ready = strcmp(s->active[i]->cfg->name, name) == 0 &&
                (version < 0 || s->active[i]->version == version);
    pthread_mutex_unlock(&s->lock);
    return ready && !atomic_load(&s->draining);
}

/* ---- repository ------------------------------------------------------------------------ */

enum trk_status trk_server_repository_index_json(struct trk_server *s, bool ready_only,
                                                 char **json)
{
    if (!s || !json)
        return TRK_ERR_INVALID_ARG;
    pthread_mutex_lock(&s->lock);
    enum trk_status st = trk_repository_index_json(s->repo, ready_only, json);
    pthread_mutex_unlock(&s->lock);
    return st;
}

enum trk_status trk_server_repository_index(struct trk_server *s, bool ready_only,
                                            struct trk_repo_entry **out, uint32_t *n)
{
    if (!s || !out || !n)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&s->lock);
    uint32_t nm = trk_repository_count(s->repo), total = 0;
    for (uint32_t i = 0; i < nm; i++) {
        const struct trk_repository_model *rm = trk_repository_model(s->repo, i);
        total += rm->nversions ? rm->nversions : 1;
    }
    struct trk_repo_entry *e = calloc(total ? total : 1, sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&s->lock);
        return TRK_ERR_NO_MEMORY;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < nm; i++) {
        const struct trk_repository_model *rm = trk_repository_model(s->repo, i);
        for (uint32_t j = 0; j < (rm->nversions ? rm->nversions : 1); j++) {
            const struct trk_model_version *v = rm->nversions ? &rm->versions[j] : NULL;
            enum trk_model_state state = v ? v->state : rm->state;
            if (ready_only && state != TRK_MODEL_STATE_READY)
                continue;
            snprintf(e[k].name, sizeof e[k].name, "%s", rm->name);
            e[k].version = v ? v->version : 0;
            e[k].state = state;
            snprintf(e[k].reason, sizeof e[k].reason, "%s",
                     v && v->reason[0] ? v->reason : rm->reason);
            k++;
        }
    }
    pthread_mutex_unlock(&s->lock);
    *out = e;
    *n = k;
    return TRK_OK;
}

enum trk_status trk_server_model_load(struct trk_server *s, const char *name, char *err,
                                      size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!s || !name || !name[0]) {
        snprintf(err, errlen, "no model name");
        return TRK_ERR_INVALID_ARG;
    }
    if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
        strlen(name) >= TRK_MODEL_NAME_MAX) {
        snprintf(err, errlen, "'%s' is not a model name", name);
        return TRK_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&s->control);
    enum trk_status st;
    if (atomic_load(&s->draining)) {
        snprintf(err, errlen, "server is shutting down");
        st = TRK_ERR_UNAVAILABLE;
    } else {
        st = load_model(s, name, true, err, errlen);
    }
    pthread_mutex_unlock(&s->control);
    return st;
}

enum trk_status trk_server_model_unload(struct trk_server *s, const char *name, char *err,
                                        size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!s || !name) {
        snprintf(err, errlen, "no model name");
        return TRK_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&s->control);
    pthread_mutex_lock(&s->lock);
    if (!trk_repository_find(s->repo, name) && count_name(s, name) == 0) {
        pthread_mutex_unlock(&s->lock);
        pthread_mutex_unlock(&s->control);
        snprintf(err, errlen, "unknown model '%s'", name);
        return TRK_ERR_NOT_FOUND;
    }
    uint32_t nact = count_name(s, name), nold = 0;
    struct trk_model **old = calloc(nact ? nact : 1, sizeof *old);
    if (!old) {
        pthread_mutex_unlock(&s->lock);
        pthread_mutex_unlock(&s->control);
        snprintf(err, errlen, "out of memory");
        return TRK_ERR_NO_MEMORY;
    }
    active_remove_name(s, name, old, &nold, nact);
    trk_repository_set_state(s->repo, name, -1, TRK_MODEL_STATE_UNAVAILABLE,
                             CORE_REASON_UNLOADED);
    pthread_mutex_unlock(&s->lock);
    retire(old, nold, false);
    free(old);
    if (nold)
        TRK_LOGI("model '%s' unloaded", name);
    pthread_mutex_unlock(&s->control);
    return TRK_OK;
}

/* ---- requests ----------------------------------------------------------------------------- */

struct trk_infer_request *trk_infer_request_alloc(uint32_t ninputs, uint32_t nrequested)
{
    struct trk_infer_request *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    atomic_init(&r->cancelled, false);
    r->model_version = -1;
    r->served_version = -1;
    r->ninputs = ninputs;
    r->nrequested = nrequested;
    if (ninputs && !(r->inputs = calloc(ninputs, sizeof *r->inputs)))
        goto fail;
    if (nrequested && !(r->requested = calloc(nrequested, sizeof *r->requested)))
        goto fail;
    return r;
fail:
    free(r->inputs);
    free(r);
    return NULL;
}

void trk_infer_request_free(struct trk_infer_request *req)
{
    if (!req)
        return;
    for (uint32_t i = 0; req->inputs && i < req->ninputs; i++)
        if (req->inputs[i].owns_data)
            free(req->inputs[i].data);
    for (uint32_t i = 0; req->outputs && i < req->noutputs; i++)
        trk_tensor_free(req->outputs[i]);
    free(req->outputs);
    free(req->inputs);
    free(req->requested);
    free(req);
}

void trk_infer_request_cancel(struct trk_infer_request *req)
{
    if (req)
        atomic_store(&req->cancelled, true);
}

static enum trk_status refuse(struct trk_infer_request *req, enum trk_status st, const char *msg)
{
    req->status = st;
    snprintf(req->error, sizeof req->error, "%s", msg);
    return st;
}

enum trk_status trk_server_infer_async(struct trk_server *s, struct trk_infer_request *req)
{
    if (!req)
        return TRK_ERR_INVALID_ARG;
    req->error[0] = '\0';
    req->status = TRK_OK;
    if (!s)
        return refuse(req, TRK_ERR_INVALID_ARG, "no server");
    if (!req->done)
        return refuse(req, TRK_ERR_INVALID_ARG, "request has no done callback");
    if (atomic_load(&s->draining))
        return refuse(req, TRK_ERR_UNAVAILABLE, "server is shutting down");
    if (req->ninputs && !req->inputs)
        return refuse(req, TRK_ERR_INVALID_ARG, "request lists inputs but has none");
    if (req->nrequested && !req->requested)
        return refuse(req, TRK_ERR_INVALID_ARG, "request lists outputs but has none");

    char name[TRK_MODEL_NAME_MAX];
    snprintf(name, sizeof name, "%.*s", (int)sizeof req->model_name - 1, req->model_name);
    struct trk_model *m;
    enum trk_status st =
        trk_server_model_acquire(s, name, req->model_version, &m, req->error, sizeof req->error);
    if (st != TRK_OK) {
        req->status = st;
        return st;
    }
    uint32_t rows = 1;
    if ((st = core_validate(m, req, &rows)) != TRK_OK) {
        req->status = st;
        trk_model_release(m);
        return st;
    }
    const struct trk_model_config *cfg = m->cfg;
    uint64_t now = core_now_ns();
    uint64_t timeout_us = 0;
    bool delay_action = false;
    const struct trk_dynamic_batching *db = &cfg->dynamic_batching;
    if (db->present && db->has_default_queue_policy) {
        const struct trk_queue_policy *qp = &db->default_queue_policy;
        timeout_us = qp->default_timeout_microseconds;
        if (req->timeout_us && qp->allow_timeout_override)
            timeout_us = req->timeout_us;
        delay_action = qp->timeout_action == TRK_TIMEOUT_ACTION_DELAY;
    } else {
        timeout_us = req->timeout_us;
    }
    struct core_item it = {.req = req, .enq_ns = now, .rows = rows};
    if (timeout_us && !delay_action)
        it.expire_ns = now + timeout_us * 1000u;
    if (req->deadline_ns && (!it.expire_ns || req->deadline_ns < it.expire_ns))
        it.expire_ns = req->deadline_ns;

    pthread_mutex_lock(&m->mu);
    if (m->stopping) {
        pthread_mutex_unlock(&m->mu);
        if (m->abort || atomic_load(&s->draining))
            refuse(req, TRK_ERR_UNAVAILABLE, "server is shutting down");
        else
            snprintf(req->error, sizeof req->error, "model '%s' is not ready: %s", name,
                     CORE_REASON_UNLOADED);
        req->status = TRK_ERR_UNAVAILABLE;
        trk_model_release(m);
        return TRK_ERR_UNAVAILABLE;
    }
    if (m->n >= m->queue_cap) {
        pthread_mutex_unlock(&m->mu);
        snprintf(req->error, sizeof req->error,
                 "the queue of model '%s' is full (%u requests); retry later or raise "
                 "queue_capacity in its config.cfg",
                 name, m->queue_cap);
        req->status = TRK_ERR_UNAVAILABLE;
        core_stats_record_fail(m, FAIL_REJECTED, 0);
        trk_model_release(m);
        return TRK_ERR_UNAVAILABLE;
    }
    m->ring[(m->head + m->n) % m->queue_cap] = it;
    m->n++;
    atomic_fetch_add(&m->pending, 1);
    pthread_cond_signal(&m->work_cv);
    pthread_mutex_unlock(&m->mu);
    trk_model_release(m);
    return TRK_OK;
}

struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

static void sync_done(struct trk_infer_request *req, void *user)
{
    (void)req;
    struct sync_wait *w = user;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

enum trk_status trk_server_infer(struct trk_server *s, struct trk_infer_request *req)
{
    if (!req)
        return TRK_ERR_INVALID_ARG;
    struct sync_wait w = {.done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    req->done = sync_done;
    req->user = &w;
    enum trk_status st = trk_server_infer_async(s, req);
    if (st == TRK_OK) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        st = req->status;
    }
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return st;
}

/* ---- status mapping ------------------------------------------------------------------------ */

int trk_status_http_code(enum trk_status st)
{
    switch (st) {
    case TRK_OK:
        return 200;
    case TRK_ERR_INVALID_ARG:
    case TRK_ERR_PARSE:
    case TRK_ERR_OVERFLOW:
    case TRK_ERR_TIMEOUT:
        return 400;
    case TRK_ERR_NOT_FOUND:
        return 404;
    case TRK_ERR_UNAVAILABLE:
        return 503;
    case TRK_ERR_UNSUPPORTED:
        return 501;
    default:
        return 500;
    }
}

int trk_status_grpc_code(enum trk_status st)
{
    switch (st) {
    case TRK_OK:
        return 0;
    case TRK_ERR_INVALID_ARG:
    case TRK_ERR_PARSE:
    case TRK_ERR_OVERFLOW:
        return 3;
    case TRK_ERR_NOT_FOUND:
        return 5;
    case TRK_ERR_UNAVAILABLE:
        return 14;
    case TRK_ERR_UNSUPPORTED:
        return 12;
    case TRK_ERR_TIMEOUT:
        return 4;
    default:
        return 13;
    }
}
