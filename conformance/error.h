/*
 * error.h: the harness's error message buffer. Harness functions return 0 on success or -1
 * after writing a message that names the file, line, key or field that was wrong.
 */
#ifndef CONF_ERROR_H
#define CONF_ERROR_H

#if defined(__GNUC__)
#define CONF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CONF_PRINTF(a, b)
#endif

typedef struct conf_error {
    char text[1024];
} conf_error_t;

/* Writes the message into err (which may be NULL) and returns -1. */
int conf_fail(conf_error_t *err, const char *fmt, ...) CONF_PRINTF(2, 3);

#endif /* CONF_ERROR_H */
