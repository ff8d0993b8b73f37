/*
 * error.c: formatting of harness error messages (error.h).
 */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

int conf_fail(conf_error_t *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->text, sizeof err->text, fmt, ap);
        va_end(ap);
    }
    return -1;
}
