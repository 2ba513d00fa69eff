/* trkserve config — the model repository: model folders, their configs and version
 * folders, per-model state, Triton's repository index. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_internal.h"
#include "trk/log.h"
#include "trk/model_repository.h"

#define CONFIG_FILE "config.cfg"
#define REASON_MAX 1024

struct trk_repository {
    char *dir;
    uint32_t n, cap;
    struct trk_repository_model **models; /* sorted by name; entries never move */
};

static const char *const state_names[] = {"UNKNOWN", "READY", "UNAVAILABLE", "LOADING",
                                          "UNLOADING"};

const char *trk_model_state_name(enum trk_model_state s)
{
    return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "UNKNOWN";
}

/* "a/b" from "a" and "b"; "a/" + "b" does not double the slash. NULL on no memory. */
static char *join(const char *a, const char *b)
{
    size_t la = strlen(a);
    while (la > 1 && a[la - 1] == '/')
        la--;
    size_t lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A version folder name: a positive integer without leading zeros that fits int64. */
static bool parse_version(const char *s, int64_t *v)
{
    size_t n = strlen(s);
    if (n == 0 || n > 18 || s[0] == '0')
        return false;
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void free_versions(struct trk_repository_model *m)
{
    for (uint32_t i = 0; i < m->nversions; i++) {
        free(m->versions[i].path);
        free(m->versions[i].reason);
    }
    free(m->versions);
    m->versions = NULL;
    m->nversions = 0;
}

/* Frees what the entry owns, leaving it zeroed. */
static void free_contents(struct trk_repository_model *m)
{
    free(m->name);
    free(m->dir);
    trk_model_config_free(m->config);
    free(m->reason);
    free_versions(m);
    memset(m, 0, sizeof *m);
}

static bool set_reason(char **dst, const char *reason)
{
    char *p = strdup(reason ? reason : "");
    if (!p)
        return false;
    free(*dst);
    *dst = p;
    return true;
}

/* Lists the version folders of dir, ascending. */
static enum trk_status list_versions(const char *dir, int64_t **out, uint32_t *n, char *why,
                                     size_t whylen)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(why, whylen, "%s: cannot list: %s", dir, strerror(errno));
        return TRK_ERR_IO;
    }
    uint32_t cap = 0;
    int64_t *v = NULL;
    struct dirent *e;
    enum trk_status st = TRK_OK;
    while ((e = readdir(d))) {
        int64_t ver;
        if (!parse_version(e->d_name, &ver))
            continue;
        char *p = join(dir, e->d_name);
        if (!p) {
            st = TRK_ERR_NO_MEMORY;
            break;
        }
        bool ok = is_dir(p);
        free(p);
        if (!ok)
            continue;
        if (*n == cap) {
            uint32_t nc = cap ? cap * 2 : 8;
            int64_t *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                st = TRK_ERR_NO_MEMORY;
                break;
            }
            v = nv;
            cap = nc;
        }
        v[(*n)++] = ver;
    }
    closedir(d);
    if (st != TRK_OK) {
        free(v);
        *n = 0;
        snprintf(why, whylen, "out of memory");
        return st;
    }
    if (*n)
        qsort(v, *n, sizeof *v, cmp_i64);
    *out = v;
    return TRK_OK;
}

static bool add_version(struct trk_repository_model *m, int64_t ver, bool present)
{
    struct trk_model_version *v = &m->versions[m->nversions];
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)ver);
    v->version = ver;
    v->path = join(m->dir, num);
    if (!v->path)
        return false;
    v->state = present ? TRK_MODEL_STATE_READY : TRK_MODEL_STATE_UNAVAILABLE;
    char reason[REASON_MAX] = "";
    if (!present)
        snprintf(reason, sizeof reason, "version folder %s not found", v->path);
    v->reason = strdup(reason);
    if (!v->reason) {
        free(v->path);
        return false;
    }
    m->nversions++;
    return true;
}

/* Applies the version policy to the folders found. */
static enum trk_status select_versions(struct trk_repository_model *m, const int64_t *found,
                                       uint32_t nfound)
{
    const struct trk_version_policy *vp = &m->config->version_policy;
    uint32_t first = 0, count = nfound;
    if (vp->kind == TRK_VERSION_POLICY_LATEST && nfound > vp->num_versions) {
        first = nfound - vp->num_versions;
        count = vp->num_versions;
    }
    uint32_t cap = vp->kind == TRK_VERSION_POLICY_SPECIFIC ? vp->nversions : count;
    m->versions = calloc(cap ? cap : 1, sizeof *m->versions);
    if (!m->versions)
        return TRK_ERR_NO_MEMORY;
    if (vp->kind == TRK_VERSION_POLICY_SPECIFIC) {
        for (uint32_t i = 0; i < vp->nversions; i++) {
            bool present =
                nfound && bsearch(&vp->versions[i], found, nfound, sizeof *found, cmp_i64);
            if (!add_version(m, vp->versions[i], present))
                return TRK_ERR_NO_MEMORY;
        }
    } else {
        for (uint32_t i = 0; i < count; i++)
            if (!add_version(m, found[first + i], true))
                return TRK_ERR_NO_MEMORY;
    }
    return TRK_OK;
}

/* Fills a zeroed entry for the model folder `name` of repository `repo_dir`. Every
 * problem of the model ends up as its state and reason; only running out of memory is
 * returned. */
static enum trk_status scan_model(const char *repo_dir, const char *name,
                                  struct trk_repository_model *m)
{
    char reason[REASON_MAX] = "";
    m->state = TRK_MODEL_STATE_UNAVAILABLE;
    if (!(m->name = strdup(name)) || !(m->dir = join(repo_dir, name)))
        goto oom;
    if (!trk_cfg_model_name_ok(name)) {
        snprintf(reason, sizeof reason,
                 "%s: '%s' is not a valid model name (letters, digits, '_', '.', '-', up to %d "
                 "characters); rename the folder",
                 m->dir, name, TRK_MODEL_NAME_MAX - 1);
        goto done;
    }
    char *cfg_path = join(m->dir, CONFIG_FILE);
    if (!cfg_path)
        goto oom;
    enum trk_status st = trk_cfg_load(cfg_path, name, &m->config, reason, sizeof reason);
    free(cfg_path);
    if (st == TRK_ERR_NO_MEMORY)
        goto oom;
    if (st == TRK_ERR_NOT_FOUND) {
        char *pbtxt = join(m->dir, "config.pbtxt");
        struct stat sb;
        bool has_pbtxt = pbtxt && stat(pbtxt, &sb) == 0;
        free(pbtxt);
        snprintf(reason, sizeof reason, "%s: no " CONFIG_FILE " in the model folder%s", m->dir,
                 has_pbtxt ? " (config.pbtxt found: trkserve reads the same fields from "
                             "config.cfg in libconfig syntax; see config/examples)"
                           : "");
        goto done;
    }
    if (st != TRK_OK)
        goto done;

    int64_t *found;
    uint32_t nfound;
    st = list_versions(m->dir, &found, &nfound, reason, sizeof reason);
    if (st == TRK_ERR_NO_MEMORY)
        goto oom;
    if (st != TRK_OK)
        goto done;
    if (nfound == 0 && m->config->version_policy.kind != TRK_VERSION_POLICY_SPECIFIC) {
        free(found);
        snprintf(reason, sizeof reason,
                 "%s: no version folder (1, 2, ...): weights and conditions live in "
                 "numbered folders; create at least %s/1",
                 m->dir, m->dir);
        goto done;
    }
    st = select_versions(m, found, nfound);
    free(found);
    if (st != TRK_OK)
        goto oom;
    for (uint32_t i = 0; i < m->nversions; i++)
        if (m->versions[i].state == TRK_MODEL_STATE_READY)
            m->state = TRK_MODEL_STATE_READY;
    if (m->state != TRK_MODEL_STATE_READY)
        snprintf(reason, sizeof reason,
                 "%s: none of the versions in version_policy.specific has a folder", m->dir);
done:
    if (!set_reason(&m->reason, reason))
        goto oom;
    return TRK_OK;
oom:
    free_contents(m);
    return TRK_ERR_NO_MEMORY;
}

static int cmp_model(const void *a, const void *b)
{
    const struct trk_repository_model *x = *(const struct trk_repository_model *const *)a;
    const struct trk_repository_model *y = *(const struct trk_repository_model *const *)b;
    return strcmp(x->name, y->name);
}

static bool grow(struct trk_repository *r)
{
    if (r->n < r->cap)
        return true;
    uint32_t nc = r->cap ? r->cap * 2 : 16;
    struct trk_repository_model **p = realloc(r->models, nc * sizeof *p);
    if (!p)
        return false;
    r->models = p;
    r->cap = nc;
    return true;
}

static void log_unavailable(const struct trk_repository_model *m)
{
    if (m->state != TRK_MODEL_STATE_READY)
        TRK_LOGW("model '%s' is unavailable: %s", m->name, m->reason);
}

enum trk_status trk_repository_scan(const char *dir, struct trk_repository **out)
{
    if (!out)
        return TRK_ERR_INVALID_ARG;
    *out = NULL;
    if (!dir || !*dir)
        return TRK_ERR_INVALID_ARG;
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        TRK_LOGE("cannot list the model repository %s: %s", dir, strerror(e));
        return e == ENOENT || e == ENOTDIR ? TRK_ERR_NOT_FOUND : TRK_ERR_IO;
    }
    struct trk_repository *r = calloc(1, sizeof *r);
    enum trk_status st = TRK_ERR_NO_MEMORY;
    if (!r || !(r->dir = strdup(dir)))
        goto fail;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *p = join(dir, e->d_name);
        if (!p)
            goto fail;
        bool ok = is_dir(p);
        free(p);
        if (!ok)
            continue;
        struct trk_repository_model *m = calloc(1, sizeof *m);
        if (!m || !grow(r)) {
            free(m);
            goto fail;
        }
        if (scan_model(dir, e->d_name, m) != TRK_OK) {
            free(m);
            goto fail;
        }
        r->models[r->n++] = m;
    }
    closedir(d);
    d = NULL;
    if (r->n)
        qsort(r->models, r->n, sizeof *r->models, cmp_model);
    for (uint32_t i = 0; i < r->n; i++)
        log_unavailable(r->models[i]);
    *out = r;
    return TRK_OK;
fail:
    if (d)
        closedir(d);
    trk_repository_free(r);
    TRK_LOGE("out of memory scanning %s", dir);
    return st;
}

void trk_repository_free(struct trk_repository *repo)
{
    if (!repo)
        return;
    for (uint32_t i = 0; i < repo->n; i++) {
        free_contents(repo->models[i]);
        free(repo->models[i]);
    }
    free(repo->models);
    free(repo->dir);
    free(repo);
}

const char *trk_repository_dir(const struct trk_repository *repo)
{
    return repo ? repo->dir : NULL;
}

uint32_t trk_repository_count(const struct trk_repository *repo)
{
    return repo ? repo->n : 0;
}

const struct trk_repository_model *trk_repository_model(const struct trk_repository *repo,
                                                        uint32_t i)
{
    return repo && i < repo->n ? repo->models[i] : NULL;
}

/* Index of name in the sorted list, or where it would go (*found false). */
static uint32_t find_index(const struct trk_repository *r, const char *name, bool *found)
{
    uint32_t lo = 0, hi = r->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(r->models[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const struct trk_repository_model *trk_repository_find(const struct trk_repository *repo,
                                                       const char *name)
{
    if (!repo || !name)
        return NULL;
    bool found;
    uint32_t i = find_index(repo, name, &found);
    return found ? repo->models[i] : NULL;
}

enum trk_status trk_repository_reload(struct trk_repository *repo, const char *name,
                                      const struct trk_repository_model **out)
{
    if (out)
        *out = NULL;
    if (!repo || !name)
        return TRK_ERR_INVALID_ARG;
    if (!trk_cfg_model_name_ok(name)) {
        TRK_LOGE("'%s' is not a model name", name);
        return TRK_ERR_INVALID_ARG;
    }
    bool found;
    uint32_t idx = find_index(repo, name, &found);
    struct trk_repository_model *old = found ? repo->models[idx] : NULL;
    char *dir = join(repo->dir, name);
    if (!dir)
        return TRK_ERR_NO_MEMORY;
    bool exists = is_dir(dir);
    if (!exists) {
        TRK_LOGE("model folder %s not found", dir);
        if (old) {
            char reason[REASON_MAX];
            snprintf(reason, sizeof reason, "%s: model folder not found", dir);
            if (!set_reason(&old->reason, reason)) {
                free(dir);
                return TRK_ERR_NO_MEMORY;
            }
            trk_model_config_free(old->config);
            old->config = NULL;
            free_versions(old);
            old->state = TRK_MODEL_STATE_UNAVAILABLE;
            if (out)
                *out = old;
        }
        free(dir);
        return TRK_ERR_NOT_FOUND;
    }
    free(dir);
    struct trk_repository_model fresh = {0};
    if (scan_model(repo->dir, name, &fresh) != TRK_OK)
        return TRK_ERR_NO_MEMORY;
    struct trk_repository_model *m = old;
    if (!m) {
        if (!grow(repo) || !(m = calloc(1, sizeof *m))) {
            free_contents(&fresh);
            return TRK_ERR_NO_MEMORY;
        }
        memmove(&repo->models[idx + 1], &repo->models[idx],
                (repo->n - idx) * sizeof *repo->models);
        repo->models[idx] = m;
        repo->n++;
    } else {
        free_contents(m);
    }
    *m = fresh;
    log_unavailable(m);
    if (out)
        *out = m;
    return m->state == TRK_MODEL_STATE_READY ? TRK_OK : TRK_ERR_PARSE;
}

enum trk_status trk_repository_set_state(struct trk_repository *repo, const char *name,
                                         int64_t version, enum trk_model_state state,
                                         const char *reason)
{
    if (!repo || !name || (unsigned)state >= sizeof state_names / sizeof state_names[0])
        return TRK_ERR_INVALID_ARG;
    bool found;
    uint32_t idx = find_index(repo, name, &found);
    if (!found)
        return TRK_ERR_NOT_FOUND;
    struct trk_repository_model *m = repo->models[idx];
    if (version < 0) {
        if (!set_reason(&m->reason, reason))
            return TRK_ERR_NO_MEMORY;
        m->state = state;
        for (uint32_t i = 0; i < m->nversions; i++) {
            if (!set_reason(&m->versions[i].reason, reason))
                return TRK_ERR_NO_MEMORY;
            m->versions[i].state = state;
        }
        return TRK_OK;
    }
    struct trk_model_version *v = NULL;
    for (uint32_t i = 0; i < m->nversions; i++)
        if (m->versions[i].version == version)
            v = &m->versions[i];
    if (!v)
        return TRK_ERR_NOT_FOUND;
    if (!set_reason(&v->reason, reason))
        return TRK_ERR_NO_MEMORY;
    v->state = state;
    bool any_ready = false;
    for (uint32_t i = 0; i < m->nversions; i++)
        any_ready |= m->versions[i].state == TRK_MODEL_STATE_READY;
    if (any_ready) {
        m->state = TRK_MODEL_STATE_READY;
        return set_reason(&m->reason, "") ? TRK_OK : TRK_ERR_NO_MEMORY;
    }
    m->state = state;
    return set_reason(&m->reason, reason) ? TRK_OK : TRK_ERR_NO_MEMORY;
}

static void put_entry(struct trk_cfg_buf *b, bool *first, const char *name,
                      const int64_t *version, enum trk_model_state state, const char *reason)
{
    trk_cfg_buf_puts(b, *first ? "{\"name\":" : ",{\"name\":");
    *first = false;
    trk_cfg_buf_json_string(b, name);
    if (version)
        trk_cfg_buf_printf(b, ",\"version\":\"%lld\"", (long long)*version);
    trk_cfg_buf_printf(b, ",\"state\":\"%s\"", trk_model_state_name(state));
    if (reason && reason[0]) {
        trk_cfg_buf_puts(b, ",\"reason\":");
        trk_cfg_buf_json_string(b, reason);
    }
    trk_cfg_buf_putn(b, "}", 1);
}

enum trk_status trk_repository_index_json(const struct trk_repository *repo, bool ready_only,
                                          char **json)
{
    if (!json)
        return TRK_ERR_INVALID_ARG;
    *json = NULL;
    if (!repo)
        return TRK_ERR_INVALID_ARG;
    struct trk_cfg_buf b = {0};
    bool first = true;
    trk_cfg_buf_putn(&b, "[", 1);
    for (uint32_t i = 0; i < repo->n; i++) {
        const struct trk_repository_model *m = repo->models[i];
        if (m->nversions == 0) {
            if (!ready_only || m->state == TRK_MODEL_STATE_READY)
                put_entry(&b, &first, m->name, NULL, m->state, m->reason);
            continue;
        }
        for (uint32_t k = 0; k < m->nversions; k++) {
            const struct trk_model_version *v = &m->versions[k];
            if (!ready_only || v->state == TRK_MODEL_STATE_READY)
                put_entry(&b, &first, m->name, &v->version, v->state, v->reason);
        }
    }
    trk_cfg_buf_putn(&b, "]", 1);
    *json = trk_cfg_buf_finish(&b);
    return *json ? TRK_OK : TRK_ERR_NO_MEMORY;
}

enum trk_status trk_repository_check(const char *dir, FILE *out, uint32_t *nmodels,
                                     uint32_t *nbad)
{
    if (nmodels)
        *nmodels = 0;
    if (nbad)
        *nbad = 0;
    if (!out)
        return TRK_ERR_INVALID_ARG;
    struct trk_repository *r;
    enum trk_status st = trk_repository_scan(dir, &r);
    if (st != TRK_OK)
        return st;
    uint32_t bad = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        const struct trk_repository_model *m = r->models[i];
        if (m->state != TRK_MODEL_STATE_READY) {
            bad++;
            fprintf(out, "%s: ERROR %s\n", m->name, m->reason);
            continue;
        }
        uint32_t nready = 0;
        for (uint32_t k = 0; k < m->nversions; k++)
            nready += m->versions[k].state == TRK_MODEL_STATE_READY;
        fprintf(out, "%s: OK (algorithm %s, version%s ", m->name, m->config->algorithm,
                nready == 1 ? "" : "s");
        int listed = 0;
        for (uint32_t k = 0; k < m->nversions; k++)
            if (m->versions[k].state == TRK_MODEL_STATE_READY)
                fprintf(out, "%s%lld", listed++ ? ", " : "", (long long)m->versions[k].version);
        fputc(')', out);
        for (uint32_t k = 0; k < m->nversions; k++)
            if (m->versions[k].state != TRK_MODEL_STATE_READY)
                fprintf(out, "; version %lld unavailable: %s", (long long)m->versions[k].version,
                        m->versions[k].reason);
        fputc('\n', out);
    }
    if (nmodels)
        *nmodels = r->n;
    if (nbad)
        *nbad = bad;
    trk_repository_free(r);
    return bad ? TRK_ERR_PARSE : TRK_OK;
}
