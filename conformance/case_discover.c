/*
 * case_discover.c: finding the case folders under a data folder (case.h): every folder,
 * at any depth, that holds a case.txt, named by its path relative to the data folder; and
 * case_is_file, the file test the loader shares. Links are followed, but every folder is walked
 * once (by device and inode), so a link back up the tree neither loops nor lists a case twice.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "case.h"

typedef struct name_list {
    char **names;
    int count, cap;
    struct folder_id {
        dev_t dev;
        ino_t ino;
    } *seen; /* folders walked so far */
    int seen_count, seen_cap;
} name_list_t;

/* Records dir as walked; returns 1 if it was already, -1 when out of memory. */
static int seen_before(name_list_t *list, const char *dir, conf_error_t *err)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return 0; /* opendir reports the error */
    for (int i = 0; i < list->seen_count; ++i)
        if (list->seen[i].dev == st.st_dev && list->seen[i].ino == st.st_ino)
            return 1;
    if (list->seen_count == list->seen_cap) {
        int cap = list->seen_cap ? 2 * list->seen_cap : 32;
        struct folder_id *grown = realloc(list->seen, (size_t)cap * sizeof *grown);
        if (!grown)
            return conf_fail(err, "out of memory listing cases");
        list->seen = grown;
        list->seen_cap = cap;
    }
    list->seen[list->seen_count++] = (struct folder_id){st.st_dev, st.st_ino};
    return 0;
}

static int add_name(name_list_t *list, const char *name, conf_error_t *err)
{
    if (list->count == list->cap) {
        int cap = list->cap ? 2 * list->cap : 32;
        char **grown = realloc(list->names, (size_t)cap * sizeof *grown);
        if (!grown)
            return conf_fail(err, "out of memory listing cases");
        list->names = grown;
        list->cap = cap;
    }
    if (!(list->names[list->count] = strdup(name)))
        return conf_fail(err, "out of memory listing cases");
    ++list->count;
    return 0;
}

int case_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_folder(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Walks root/rel: records rel when it holds case.txt, then looks into its sub-folders. */
static int walk(const char *root, const char *rel, name_list_t *list, int depth,
                conf_error_t *err)
{
    char dir[4096], path[4400];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    int seen = seen_before(list, dir, err);
    if (seen)
        return seen < 0 ? -1 : 0;
    snprintf(path, sizeof path, "%s/case.txt", dir);
    if (*rel && case_is_file(path) && add_name(list, rel, err))
        return -1;
    if (depth > 16)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return conf_fail(err, "%s: cannot read the folder: %s", dir, strerror(errno));
    /* Real folders first, then links, so that a folder reached both ways is named by its path. */
    int rc = 0;
    for (int links = 0; rc == 0 && links < 2; ++links) {
        rewinddir(d);
        struct dirent *e;
        while (rc == 0 && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char sub_rel[4096];
            struct stat st;
            snprintf(sub_rel, sizeof sub_rel, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode) == links && is_folder(path))
                rc = walk(root, sub_rel, list, depth + 1, err);
        }
    }
    closedir(d);
    return rc;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int case_discover(const char *data_dir, char ***names, int *count, conf_error_t *err)
{
    name_list_t list = {NULL, 0, 0, NULL, 0, 0};
    if (!is_folder(data_dir))
        return conf_fail(err, "%s: not a folder (--data names the folder of case folders)",
                         data_dir);
    int rc = walk(data_dir, "", &list, 0, err);
    free(list.seen);
    if (rc) {
        case_names_free(list.names, list.count);
        return -1;
    }
    if (list.count > 1)
        qsort(list.names, (size_t)list.count, sizeof *list.names, compare_names);
    *names = list.names;
    *count = list.count;
    return 0;
}

void case_names_free(char **names, int count)
{
    for (int i = 0; i < count; ++i)
        free(names[i]);
    free(names);
}
