#include "trk/status.h"

const char *trk_status_str(enum trk_status s)
{
    switch (s) {
    case TRK_OK: return "ok";
    case TRK_ERR_INVALID_ARG: return "invalid argument";
    case TRK_ERR_NO_MEMORY: return "out of memory";
    case TRK_ERR_NOT_FOUND: return "not found";
    case TRK_ERR_UNSUPPORTED: return "not supported by this device or build";
    case TRK_ERR_DEVICE: return "device error";
    case TRK_ERR_IO: return "input/output error";
    case TRK_ERR_ABI: return "ABI version mismatch";
    case TRK_ERR_OVERFLOW: return "capacity exceeded";
    case TRK_ERR_PARSE: return "malformed input";
    case TRK_ERR_UNAVAILABLE: return "unavailable, try again later";
    case TRK_ERR_TIMEOUT: return "deadline exceeded";
    case TRK_ERR_INTERNAL: return "internal error (a bug in trkserve)";
    case TRK_STATUS_COUNT: break;
    }
    return "unknown status";
}
