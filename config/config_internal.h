/* trkserve config — helpers shared by the files of libtrkconfig; not installed. */
#ifndef TRK_CONFIG_INTERNAL_H
#define TRK_CONFIG_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "trk/model_config.h"

#if defined(__GNUC__)
#define TRK_CFG_HIDDEN __attribute__((visibility("hidden")))
#define TRK_CFG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TRK_CFG_HIDDEN
#define TRK_CFG_PRINTF(a, b)
#endif

/* A growing string. Appends after an allocation failure are no-ops; finish reports it. */
struct trk_cfg_buf {
    char *p;
    size_t len, cap;
    bool oom;
};

TRK_CFG_HIDDEN void trk_cfg_buf_putn(struct trk_cfg_buf *b, const char *s, size_t n);
TRK_CFG_HIDDEN void trk_cfg_buf_puts(struct trk_cfg_buf *b, const char *s);
TRK_CFG_HIDDEN void trk_cfg_buf_printf(struct trk_cfg_buf *b, const char *fmt, ...)
    TRK_CFG_PRINTF(2, 3);
/* Appends s as a JSON string literal with quotes: ", \ and control characters escaped,
 * invalid UTF-8 bytes replaced by U+FFFD so the output is always valid JSON. */
TRK_CFG_HIDDEN void trk_cfg_buf_json_string(struct trk_cfg_buf *b, const char *s);
/* Returns the NUL-terminated string (caller frees), or NULL after an allocation failure
 * (the buffer is freed either way). */
TRK_CFG_HIDDEN char *trk_cfg_buf_finish(struct trk_cfg_buf *b);
TRK_CFG_HIDDEN void trk_cfg_buf_free(struct trk_cfg_buf *b);

/* The candidate that word most likely misspells, or NULL: the closest within an edit
 * distance of len/3 (at most 2; a swap of neighbours counts one), else the shortest
 * candidate word is a prefix of (or that is a prefix of word), else the shortest
 * word is a subsequence of ("dtype" → "data_type"). Case-insensitive. */
TRK_CFG_HIDDEN const char *trk_cfg_suggest(const char *word, const char *const *cands,
                                           size_t ncands);

/* True when s is a valid model name: 1..TRK_MODEL_NAME_MAX-1 characters of
 * [A-Za-z0-9_.-], not starting with '.'. Such a name is also a safe folder name. */
TRK_CFG_HIDDEN bool trk_cfg_model_name_ok(const char *s);

/* trk_model_config_load with a repository check: when expected_name is not NULL the
 * config's `name`, if given, must equal it. */
TRK_CFG_HIDDEN enum trk_status trk_cfg_load(const char *path, const char *expected_name,
                                            struct trk_model_config **out, char *err,
                                            size_t errlen);

#endif
