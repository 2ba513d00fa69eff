#include "trk/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

static pthread_once_t level_once = PTHREAD_ONCE_INIT;
static int current_level = TRK_LOG_WARN;
static trk_log_sink sink_fn;
static void *sink_user;

int trk_log_level_parse(const char *s)
{
    if (!s || !*s)
        return -1;
    for (int i = 0; i < 5; i++)
        if (!strcasecmp(s, level_names[i]) || (s[0] == '0' + i && s[1] == '\0'))
            return i;
    if (!strcasecmp(s, "warning"))
        return TRK_LOG_WARN;
    return -1;
}

static void level_init(void)
{
    const char *env = getenv("TRK_LOG_LEVEL");
    int l = trk_log_level_parse(env);
    if (l >= 0)
        __atomic_store_n(&current_level, l, __ATOMIC_RELAXED);
    else if (env && *env)
        fprintf(stderr, "trk warn: TRK_LOG_LEVEL=%s is not one of error, warn, info, debug, "
                        "trace (or 0-4); using warn\n", env);
}

enum trk_log_level trk_log_level(void)
{
    pthread_once(&level_once, level_init);
    return (enum trk_log_level)__atomic_load_n(&current_level, __ATOMIC_RELAXED);
}

void trk_log_set_level(enum trk_log_level level)
{
    pthread_once(&level_once, level_init);
    __atomic_store_n(&current_level, (int)level, __ATOMIC_RELAXED);
}

void trk_log_set_sink(trk_log_sink sink, void *user)
{
    sink_fn = sink;
    sink_user = user;
}

void trk_logv(enum trk_log_level level, const char *func, const char *fmt, va_list ap)
{
    if ((int)level > (int)trk_log_level())
        return;
    char line[1024];
    int off = snprintf(line, sizeof line, "trk %s %s: ", level_names[level < 5 ? level : 4],
                       func ? func : "?");
    if (off < 0)
        return;
    if ((size_t)off < sizeof line)
        vsnprintf(line + off, sizeof line - (size_t)off, fmt, ap);
    if (sink_fn) {
        sink_fn(level, line, sink_user);
        return;
    }
    /* One fputs per line keeps lines from different threads whole. */
    size_t len = strlen(line);
    if (len + 1 < sizeof line) {
        line[len] = '\n';
        line[len + 1] = '\0';
    }
    fputs(line, stderr);
}

void trk_log(enum trk_log_level level, const char *func, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    trk_logv(level, func, fmt, ap);
    va_end(ap);
}
