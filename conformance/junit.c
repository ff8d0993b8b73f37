/*
 * junit.c: writing the JUnit XML report (junit.h). The entries are kept in memory and the whole
 * file is written again after every change, through a temporary file and a rename, so it is
 * always complete and valid.
 */
#define _POSIX_C_SOURCE 200809L
#include "junit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct conf_junit_entry {
    char *backend, *case_name, *message, *rows;
    conf_verdict_t verdict;
    double seconds;
};

static void xml_text(FILE *f, const char *s)
{
    for (; s && *s; ++s) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
                fputc(*s, f);
        }
    }
}

static void write_entry(FILE *f, const conf_junit_entry_t *e)
{
    static const char *const CHILD[] = {NULL, "failure", "error", "skipped"};
    fprintf(f, "    <testcase classname=\"conformance.");
    xml_text(f, e->backend);
    fprintf(f, "\" name=\"");
    xml_text(f, e->case_name);
    fprintf(f, "\" time=\"%.3f\">\n", e->seconds);
    if (e->verdict != CONF_PASS) {
        fprintf(f, "      <%s message=\"", CHILD[e->verdict]);
        xml_text(f, e->message);
        fprintf(f, "\"/>\n");
    }
    if (e->rows && *e->rows) {
        fprintf(f, "      <system-out>");
        xml_text(f, e->rows);
        fprintf(f, "</system-out>\n");
    }
    fprintf(f, "    </testcase>\n");
}

/* Writes the entries (and, when running is given, that case as unfinished) to the file. */
static int write_file(const conf_junit_t *j, const conf_junit_entry_t *running)
{
    int counts[4] = {0}, tests = j->count + (running != NULL);
    double total = 0;
    for (int i = 0; i < j->count; ++i) {
        ++counts[j->entries[i].verdict];
        total += j->entries[i].seconds;
    }
    if (running)
        ++counts[CONF_ERROR];
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", j->path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "conformance: --junit %s: cannot create %s\n", j->path, tmp);
        return -1;
    }
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<testsuites name=\"conformance\" tests=\"%d\" failures=\"%d\" errors=\"%d\" "
            "time=\"%.3f\">\n", tests, counts[CONF_FAIL], counts[CONF_ERROR], total);
    fprintf(f, "  <testsuite name=\"conformance\" tests=\"%d\" failures=\"%d\" errors=\"%d\" "
            "skipped=\"%d\" time=\"%.3f\" timestamp=\"%s\" hostname=\"", tests, counts[CONF_FAIL],
            counts[CONF_ERROR], counts[CONF_SKIP], total, j->timestamp);
    xml_text(f, j->hostname);
    fprintf(f, "\">\n");
    for (int i = 0; i < j->count; ++i)
        write_entry(f, &j->entries[i]);
    if (running)
        write_entry(f, running);
    fprintf(f, "  </testsuite>\n</testsuites>\n");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, j->path) != 0) {
        fprintf(stderr, "conformance: --junit %s: write failed\n", j->path);
        remove(tmp);
        return -1;
    }
    return 0;
}

int junit_open(conf_junit_t *j, const char *path)
{
    memset(j, 0, sizeof *j);
    j->path = path;
    if (!path)
        return 0;
    time_t now = time(NULL);
    struct tm utc;
    gmtime_r(&now, &utc);
    strftime(j->timestamp, sizeof j->timestamp, "%Y-%m-%dT%H:%M:%S", &utc);
    if (gethostname(j->hostname, sizeof j->hostname) != 0)
        snprintf(j->hostname, sizeof j->hostname, "localhost");
    j->hostname[sizeof j->hostname - 1] = '\0';
    return write_file(j, NULL);
}

static char *copy(const char *s) { return strdup(s ? s : ""); }

int junit_add(conf_junit_t *j, const char *backend, const char *case_name, conf_verdict_t verdict,
              const char *message, const char *rows, double seconds)
{
    if (!j->path)
        return 0;
    if (j->count == j->cap) {
        int cap = j->cap ? 2 * j->cap : 64;
        conf_junit_entry_t *grown = realloc(j->entries, (size_t)cap * sizeof *grown);
        if (!grown) {
            fprintf(stderr, "conformance: --junit %s: out of memory\n", j->path);
            return -1;
        }
        j->entries = grown;
        j->cap = cap;
    }
    conf_junit_entry_t *e = &j->entries[j->count];
    *e = (conf_junit_entry_t){copy(backend), copy(case_name), copy(message), copy(rows),
                              verdict, seconds};
    if (!e->backend || !e->case_name || !e->message || !e->rows) {
        fprintf(stderr, "conformance: --junit %s: out of memory\n", j->path);
        return -1;
    }
    ++j->count;
    return write_file(j, NULL);
}

int junit_mark_running(conf_junit_t *j, const char *backend, const char *case_name)
{
    if (!j->path)
        return 0;
    conf_junit_entry_t running = {(char *)backend, (char *)case_name,
                                  "did not finish: the program crashed or was killed here",
                                  NULL, CONF_ERROR, 0.0};
    return write_file(j, &running);
}

void junit_close(conf_junit_t *j)
{
    for (int i = 0; i < j->count; ++i) {
        free(j->entries[i].backend);
        free(j->entries[i].case_name);
        free(j->entries[i].message);
        free(j->entries[i].rows);
    }
    free(j->entries);
    j->entries = NULL;
    j->count = j->cap = 0;
}
