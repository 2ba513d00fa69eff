/* trkserve — status codes shared by every part of libtrk. */
#ifndef TRK_STATUS_H
#define TRK_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Every fallible libtrk function returns one of these; 0 is success. Detail about
 * the failure goes to the log (trk/log.h) with the function name. */
enum trk_status {
    TRK_OK = 0,
    TRK_ERR_INVALID_ARG,   /* a NULL, out-of-range or inconsistent argument */
    TRK_ERR_NO_MEMORY,     /* host or device allocation failed */
    TRK_ERR_NOT_FOUND,     /* a named device, module, model or file does not exist */
    TRK_ERR_UNSUPPORTED,   /* the device or build lacks the feature */
    TRK_ERR_DEVICE,        /* the vendor runtime reported an error */
    TRK_ERR_IO,            /* reading or writing a file or socket failed */
    TRK_ERR_ABI,           /* a device module was built for another ABI version */
    TRK_ERR_OVERFLOW,      /* an explicit capacity was exceeded (counted, not written past) */
    TRK_ERR_PARSE,         /* malformed input data */
    TRK_ERR_UNAVAILABLE,   /* busy or not ready; retrying later may succeed */
    TRK_ERR_TIMEOUT,       /* a deadline passed */
    TRK_ERR_INTERNAL,      /* a bug in libtrk: please report it */
    TRK_STATUS_COUNT
};

/* Returns a static, human-readable message for s; never NULL (unknown codes get a
 * generic text). Thread-safe. */
const char *trk_status_str(enum trk_status s);

#ifdef __cplusplus
}
#endif
#endif
