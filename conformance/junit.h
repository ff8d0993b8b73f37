/*
 * junit.h: the JUnit XML file of --junit FILE, in the common layout that Jenkins, GitLab and
 * pytest's junitxml use (conformance/tests/junit.xsd is the schema CI validates it with): one
 * <testsuite name="conformance"> inside <testsuites>, one <testcase classname="conformance.
 * <backend>" name="<case>"> per case and backend, a <failure>, <error> or <skipped> child where
 * the verdict is not a pass, the case's rows in <system-out>, times in seconds with 3 decimals.
 *
 * The file is rewritten (to FILE.tmp, then renamed) after every result, and before every case
 * with that case marked as an error "did not finish", so that a crash or a kill still leaves a
 * complete report that names the case it died in.
 */
#ifndef CONF_JUNIT_H
#define CONF_JUNIT_H

/* A case's verdict on one backend. ERROR: the case could not be checked (its folder did not
 * load, an output could not be read); FAIL: it was checked and something was wrong. */
typedef enum conf_verdict { CONF_PASS, CONF_FAIL, CONF_ERROR, CONF_SKIP } conf_verdict_t;

typedef struct conf_junit_entry conf_junit_entry_t;

typedef struct conf_junit {
    const char *path; /* NULL: no file */
    conf_junit_entry_t *entries;
    int count, cap;
    char timestamp[32]; /* when the run started, ISO 8601 */
    char hostname[256];
} conf_junit_t;

/* Creates the file (an empty report). -1 when it cannot be written (message on stderr). */
int junit_open(conf_junit_t *j, const char *path);

/* Adds a result and rewrites the file; -1 when the file could not be written. */
int junit_add(conf_junit_t *j, const char *backend, const char *case_name, conf_verdict_t verdict,
              const char *message, const char *rows, double seconds);

/* Rewrites the file with `case_name` on `backend` marked as an error that did not finish (the
 * next junit_add replaces the mark). */
int junit_mark_running(conf_junit_t *j, const char *backend, const char *case_name);

void junit_close(conf_junit_t *j);

#endif /* CONF_JUNIT_H */
