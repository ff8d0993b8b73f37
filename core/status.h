/*
 * status.h: setting the per-thread error message that pattnGetLastError() returns.
 */
#ifndef PATTN_CORE_STATUS_H
#define PATTN_CORE_STATUS_H

#include "parallel_attn.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define PATTN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define PATTN_PRINTF(a, b)
#endif

/* Records a formatted message for this thread and returns result, so that a check reads
 * `return pattn_error(pattnInvalidArgument, "head_dim = %d: expected ...", d);` */
pattnResult_t pattn_error(pattnResult_t result, const char *fmt, ...) PATTN_PRINTF(2, 3);

/* Clears the message (a successful call leaves "" behind). */
void pattn_clear_error(void);

#ifdef __cplusplus
}
#endif

#endif /* PATTN_CORE_STATUS_H */
