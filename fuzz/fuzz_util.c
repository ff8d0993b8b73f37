/*
 * fuzz_util.c: the helpers of the fuzz targets (fuzz_util.h).
 */
#define _GNU_SOURCE
#include "fuzz_util.h"

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char folder[256];
static char path[512];

FILE *fuzz_open(const unsigned char *data, size_t size)
{
    return size ? fmemopen((void *)data, size, "rb") : NULL;
}

static int remove_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag;
    return ftw->level == 0 ? 0 : remove(p);
}

void fuzz_clear_temp(void)
{
    if (folder[0])
        nftw(folder, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_folder(void)
{
    fuzz_clear_temp();
    rmdir(folder);
}

const char *fuzz_temp_path(const char *name)
{
    if (!folder[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(folder, sizeof folder, "%s/pattn-fuzz-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(folder)) {
            perror("fuzz_temp_path: mkdtemp");
            abort();
        }
        atexit(remove_folder);
    }
    snprintf(path, sizeof path, "%s/%s", folder, name);
    return path;
}
