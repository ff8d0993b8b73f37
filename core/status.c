/*
 * status.c: status-code text, names of enums, and the per-thread last-error message.
 */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[1024];

const char *pattnGetErrorString(pattnResult_t result)
{
    switch (result) {
    case pattnSuccess:
        return "success";
    case pattnInvalidArgument:
        return "invalid argument (pattnGetLastError names it)";
    case pattnUnsupported:
        return "unsupported by the selected backend (pattnGetLastError says what)";
    case pattnSystemError:
        return "system error (out of memory or I/O)";
    case pattnCudaError:
        return "CUDA error";
    case pattnNcclError:
        return "NCCL error";
    case pattnTimeout:
        return "timed out waiting for a ring peer";
    case pattnMismatch:
        return "ring members disagree";
    case pattnInternalError:
        return "internal error";
    default:
        return "unknown status code";
    }
}

const char *pattnGetLastError(void) { return last_error; }

pattnResult_t pattn_error(pattnResult_t result, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return result;
}

void pattn_clear_error(void) { last_error[0] = '\0'; }

const char *pattnDtypeName(pattnDtype_t dtype)
{
    switch (dtype) {
    case PATTN_FP32:
        return "fp32";
    case PATTN_FP16:
        return "fp16";
    case PATTN_BF16:
        return "bf16";
    default:
        return "?";
    }
}

const char *pattnBackendName(pattnBackend_t backend)
{
    switch (backend) {
    case PATTN_BACKEND_AUTO:
        return "auto";
    case PATTN_BACKEND_REFERENCE:
        return "reference";
    case PATTN_BACKEND_CUDA:
        return "cuda";
    default:
        return "?";
    }
}
