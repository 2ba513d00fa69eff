/* trkserve — levelled logging to stderr. */
#ifndef TRK_LOG_H
#define TRK_LOG_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

enum trk_log_level {
    TRK_LOG_ERROR = 0,
    TRK_LOG_WARN = 1,
    TRK_LOG_INFO = 2,
    TRK_LOG_DEBUG = 3,
    TRK_LOG_TRACE = 4
};

/* The active level. Initialised once from $TRK_LOG_LEVEL (error|warn|info|debug|trace
 * or 0-4; default warn). Thread-safe. */
enum trk_log_level trk_log_level(void);

/* Overrides the level for the whole process. Thread-safe. */
void trk_log_set_level(enum trk_log_level level);

/* Parses "error".."trace" or "0".."4"; returns -1 when s is not a level. */
int trk_log_level_parse(const char *s);

/* Signature of a log sink: receives one formatted line without trailing newline. */
typedef void (*trk_log_sink)(enum trk_log_level level, const char *line, void *user);

/* Replaces the sink (NULL restores stderr). Not thread-safe against concurrent logging:
 * call at start-up or in tests. */
void trk_log_set_sink(trk_log_sink sink, void *user);

/* Writes one line "LEVEL func: message" when level <= trk_log_level(). Thread-safe;
 * lines from different threads never interleave. */
void trk_log(enum trk_log_level level, const char *func, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void trk_logv(enum trk_log_level level, const char *func, const char *fmt, va_list ap);

#define TRK_LOGE(...) trk_log(TRK_LOG_ERROR, __func__, __VA_ARGS__)
#define TRK_LOGW(...) trk_log(TRK_LOG_WARN, __func__, __VA_ARGS__)
#define TRK_LOGI(...) trk_log(TRK_LOG_INFO, __func__, __VA_ARGS__)
#define TRK_LOGD(...) trk_log(TRK_LOG_DEBUG, __func__, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
