/*
 * test_npy.c: the harness's .npy reader and writer. Round trips of every dtype and shape kind,
 * files written by numpy (fixtures/make_fixtures.py, Fortran order and format 3.0 included),
 * malformed or unsupported files rejected with a message naming the file and the header field,
 * and a failed write that leaves no truncated file.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "harness_util.h"
#include "npy.h"

static const npy_dtype_t ALL_DTYPES[] = {NPY_F4, NPY_F8, NPY_I4, NPY_I8, NPY_U2,
                                         NPY_U1, NPY_B1, NPY_F2, NPY_U4, NPY_U8};

static void fixture_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", PATTN_TEST_FIXTURES, name);
}

static npy_array_t read_ok(const char *name)
{
    char path[4096];
    fixture_path(path, sizeof path, name);
    npy_array_t a;
    conf_error_t err;
    cr_assert_eq(npy_read(path, &a, &err), 0, "%s: %s", name, err.text);
    return a;
}

static void assert_shape(const npy_array_t *a, int ndim, const int64_t *shape)
{
    cr_assert_eq(a->ndim, ndim);
    int64_t count = 1;
    for (int d = 0; d < ndim; ++d) {
        cr_assert_eq(a->shape[d], shape[d], "dimension %d", d);
        count *= shape[d];
    }
    cr_assert_eq(a->count, count);
}

Test(npy, round_trip_of_every_dtype_and_shape)
{
    uint64_t rng = harness_seed();
    char dir[4096], path[4200];
    harness_tmpdir(dir, sizeof dir);
    const struct {
        int ndim;
        int64_t shape[3];
    } shapes[] = {{0, {0}}, {1, {7}}, {2, {0, 3}}, {3, {2, 3, 5}}};
    for (size_t t = 0; t < sizeof ALL_DTYPES / sizeof ALL_DTYPES[0]; ++t)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
            npy_array_t a, b;
            conf_error_t err;
            cr_assert_eq(npy_alloc(&a, ALL_DTYPES[t], shapes[s].ndim, shapes[s].shape, &err), 0);
            unsigned char *bytes = a.data;
            size_t nbytes = (size_t)a.count * npy_item_size(a.dtype);
            for (size_t i = 0; i < nbytes; ++i) /* bool items must be 0 or 1 */
                bytes[i] = (unsigned char)(harness_next(&rng) & (a.dtype == NPY_B1 ? 1 : 0xff));
            snprintf(path, sizeof path, "%s/a%zu_%zu.npy", dir, t, s);
            cr_assert_eq(npy_write(path, &a, &err), 0, "%s", err.text);
            cr_assert_eq(npy_read(path, &b, &err), 0, "%s", err.text);
            cr_assert_eq(b.dtype, a.dtype, "%s", npy_descr(a.dtype));
            assert_shape(&b, a.ndim, a.shape);
            if (nbytes)
                cr_assert_eq(memcmp(a.data, b.data, nbytes), 0, "%s data", npy_descr(a.dtype));

            /* Format 1.0 with the header padded to 64 bytes and ended by '\n'. */
            FILE *f = fopen(path, "rb");
            unsigned char pre[10];
            cr_assert_eq(fread(pre, 1, 10, f), 10);
            cr_assert_eq(memcmp(pre, "\x93NUMPY\x01\x00", 8), 0);
            size_t hlen = pre[8] | (size_t)pre[9] << 8;
            cr_assert_eq((10 + hlen) % 64, 0, "header of %zu bytes", hlen);
            fseek(f, (long)(10 + hlen - 1), SEEK_SET);
            cr_assert_eq(fgetc(f), '\n');
            fseek(f, 0, SEEK_END);
            cr_assert_eq((size_t)ftell(f), 10 + hlen + nbytes);
            fclose(f);
            npy_free(&a);
            npy_free(&b);
        }
    harness_remove_tree(dir);
}

Test(npy, reads_files_written_by_numpy)
{
    npy_array_t a = read_ok("f4_2x3.npy");
    cr_assert_eq(a.dtype, NPY_F4);
    assert_shape(&a, 2, (int64_t[]){2, 3});
    for (int i = 0; i < 6; ++i)
        cr_assert_eq(((float *)a.data)[i], (float)i * 0.5f - 1.0f, "item %d", i);
    npy_free(&a);

    a = read_ok("f8_4.npy");
    assert_shape(&a, 1, (int64_t[]){4});
    for (int i = 0; i < 4; ++i)
        cr_assert_eq(((double *)a.data)[i], (double)i / 3.0);
    npy_free(&a);

    a = read_ok("i4_3x1x2.npy");
    cr_assert_eq(a.dtype, NPY_I4);
    assert_shape(&a, 3, (int64_t[]){3, 1, 2});
    for (int i = 0; i < 6; ++i)
        cr_assert_eq(((int32_t *)a.data)[i], -7 * i);
    npy_free(&a);

    a = read_ok("i8_2.npy");
    cr_assert_eq(npy_get_i64(&a, 0), ((int64_t)1 << 40) + 3);
    cr_assert_eq(npy_get_i64(&a, 1), -5);
    npy_free(&a);

    a = read_ok("u2_5.npy");
    cr_assert_eq(a.dtype, NPY_U2);
    for (int i = 0; i < 5; ++i)
        cr_assert_eq(((uint16_t *)a.data)[i], (uint16_t)(13000 * i));
    npy_free(&a);

    a = read_ok("u1_2x2.npy");
    cr_assert_eq(a.dtype, NPY_U1);
    const uint8_t u1[4] = {0, 255, 7, 128};
    cr_assert_eq(memcmp(a.data, u1, 4), 0);
    npy_free(&a);

    a = read_ok("b1_4.npy");
    cr_assert_eq(a.dtype, NPY_B1);
    const uint8_t b1[4] = {1, 0, 0, 1};
    cr_assert_eq(memcmp(a.data, b1, 4), 0);
    npy_free(&a);

    a = read_ok("f4_scalar.npy");
    cr_assert_eq(a.ndim, 0);
    cr_assert_eq(a.count, 1);
    cr_assert_eq(npy_get_f64(&a, 0), 2.5);
    npy_free(&a);

    a = read_ok("f4_empty_0x3.npy");
    assert_shape(&a, 2, (int64_t[]){0, 3});
    npy_free(&a);
}

Test(npy, reads_format_2_and_keys_in_any_order)
{
    npy_array_t a = read_ok("f4_v2_3.npy");
    assert_shape(&a, 1, (int64_t[]){3});
    cr_assert_eq(npy_get_f64(&a, 0), 1.5);
    cr_assert_eq(npy_get_f64(&a, 1), -2.0);
    cr_assert_eq(npy_get_f64(&a, 2), 4.25);
    npy_free(&a);

    a = read_ok("i4_reordered_2.npy");
    cr_assert_eq(a.dtype, NPY_I4);
    assert_shape(&a, 1, (int64_t[]){2});
    cr_assert_eq(npy_get_i64(&a, 0), 11);
    cr_assert_eq(npy_get_i64(&a, 1), -12);
    npy_free(&a);
}

/* What np.save writes by default besides the basics (fixtures/make_fixtures.py): float16,
 * uint32 and uint64, Fortran order (read back in C order), format 3.0. */
Test(npy, reads_what_numpy_writes_by_default)
{
    npy_array_t a = read_ok("f2_5.npy");
    cr_assert_eq(a.dtype, NPY_F2);
    for (int i = 0; i < 5; ++i)
        cr_assert_eq(npy_get_f64(&a, i), i * 0.25 - 0.5, "item %d", i);
    npy_free(&a);

    a = read_ok("u4_3.npy");
    cr_assert(a.dtype == NPY_U4 && npy_get_i64(&a, 2) == 4294967295LL);
    npy_free(&a);

    a = read_ok("u8_2.npy"); /* 2^63 + 5 reads as its two's-complement int64 */
    cr_assert(a.dtype == NPY_U8 && (uint64_t)npy_get_i64(&a, 0) == (1ull << 63) + 5 &&
              npy_get_i64(&a, 1) == 9);
    npy_free(&a);

    a = read_ok("f4_fortran_2x3.npy"); /* np.arange(6).reshape(2, 3) saved in Fortran order */
    assert_shape(&a, 2, (int64_t[]){2, 3});
    for (int i = 0; i < 6; ++i)
        cr_assert_eq(npy_get_f64(&a, i), i, "item %d of the C-order array", i);
    npy_free(&a);

    a = read_ok("f8_fortran_2x3x4.npy"); /* item (i, j, k) = 6 k + 2 j + i */
    assert_shape(&a, 3, (int64_t[]){2, 3, 4});
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 3; ++j)
            for (int k = 0; k < 4; ++k)
                cr_assert_eq(npy_get_f64(&a, (i * 3 + j) * 4 + k), 6 * k + 2 * j + i,
                             "item (%d, %d, %d)", i, j, k);
    npy_free(&a);

    a = read_ok("f4_v3_2.npy");
    cr_assert(a.count == 2 && npy_get_f64(&a, 0) == 0.5 && npy_get_f64(&a, 1) == -3.0);
    npy_free(&a);
}

/* Floats read as integers saturate and NaN reads as 0 (no undefined conversion). */
Test(npy, float_items_as_integers_are_defined)
{
    npy_array_t a;
    conf_error_t err;
    cr_assert_eq(npy_alloc(&a, NPY_F8, 1, (int64_t[]){4}, &err), 0);
    double *v = a.data;
    v[0] = 1e300, v[1] = -1e300, v[2] = NAN, v[3] = -2.7;
    cr_assert(npy_get_i64(&a, 0) == INT64_MAX && npy_get_i64(&a, 1) == INT64_MIN &&
              npy_get_i64(&a, 2) == 0 && npy_get_i64(&a, 3) == -2);
    npy_free(&a);
}

/* A write that fails midway (the file size limit here) leaves no partial file, and the file
 * that was there before stays whole. */
Test(npy, failed_write_leaves_no_truncated_file)
{
    char dir[4096], path[4200];
    harness_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/out.0.npy", dir);
    npy_array_t small, big, back;
    conf_error_t err;
    cr_assert_eq(npy_alloc(&small, NPY_F4, 1, (int64_t[]){3}, &err), 0);
    cr_assert_eq(npy_write(path, &small, &err), 0, "%s", err.text);
    cr_assert_eq(npy_alloc(&big, NPY_F4, 1, (int64_t[]){1 << 16}, &err), 0);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {16384, 16384};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &limit), 0);
    cr_assert_eq(npy_write(path, &big, &err), -1, "a 256 KiB write under a 16 KiB limit passed");
    cr_assert_not_null(strstr(err.text, "write failed"), "%s", err.text);
    cr_assert_eq(npy_read(path, &back, &err), 0, "the old file was clobbered: %s", err.text);
    cr_assert_eq(back.count, 3);
    DIR *d = opendir(dir);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert(e->d_name[0] == '.' || strcmp(e->d_name, "out.0.npy") == 0,
                  "left behind: %s", e->d_name);
    closedir(d);
    npy_free(&small);
    npy_free(&big);
    npy_free(&back);
    harness_remove_tree(dir);
}

/* Reading path fails, and the message names the file and every given fragment. */
static void assert_rejected(const char *path, const char *frag1, const char *frag2)
{
    npy_array_t a;
    conf_error_t err = {{0}};
    cr_assert_eq(npy_read(path, &a, &err), -1, "%s was accepted", path);
    cr_assert_null(a.data);
    cr_assert_not_null(strstr(err.text, path), "message does not name the file: %s", err.text);
    cr_assert_not_null(strstr(err.text, frag1), "message lacks '%s': %s", frag1, err.text);
    if (frag2)
        cr_assert_not_null(strstr(err.text, frag2), "message lacks '%s': %s", frag2, err.text);
}

Test(npy, rejects_unsupported_files_from_numpy)
{
    char path[4096];
    fixture_path(path, sizeof path, "f4_bigendian.npy");
    assert_rejected(path, "'descr'", "big-endian");
    fixture_path(path, sizeof path, "c8_2.npy");
    assert_rejected(path, "'descr'", "<c8");
}

/* Writes magic + version + header (+ padding) + data bytes as a file. */
static void write_raw(const char *path, const char *magic, int major, const char *header,
                      const void *data, size_t nbytes)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    size_t hlen = strlen(header);
    unsigned char pre[10];
    memcpy(pre, magic, 6);
    pre[6] = (unsigned char)major;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);
    cr_assert_eq(fwrite(pre, 1, 10, f), 10);
    cr_assert_eq(fwrite(header, 1, hlen, f), hlen);
    if (nbytes)
        cr_assert_eq(fwrite(data, 1, nbytes, f), nbytes);
    fclose(f);
}

Test(npy, rejects_malformed_headers_with_a_message)
{
    char dir[4096], path[4200];
    harness_tmpdir(dir, sizeof dir);
    const float four[4] = {1, 2, 3, 4};
    const unsigned char two_bools[2] = {1, 2};
    const struct {
        const char *magic;
        int major;
        const char *header;
        const void *data;
        size_t nbytes;
        const char *frag1, *frag2;
    } cases[] = {
        {"\x93NUMPX", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n", four, 16,
         "not a .npy file", NULL},
        {"\x93NUMPY", 4, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n", four, 16,
         "version 4.0", NULL},
        {"\x93NUMPY", 1, "{'descr': '<f4', 'fortran_order': False, }\n", four, 16, "'shape'",
         NULL},
        {"\x93NUMPY", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}\n",
         four, 16, "'x'", "unknown key"},
        {"\x93NUMPY", 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                         "'shape': (4,)}\n", four, 16, "'descr'", "repeated key"},
        {"\x93NUMPY", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,), }\n", four,
         16, "'shape'", NULL},
        {"\x93NUMPY", 1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (4,), }\n", four,
         16, "'fortran_order'", NULL},
        {"\x93NUMPY", 1, "{'descr': '<f4, 'fortran_order': False, 'shape': (4,), }\n", four, 16,
         "header", NULL},
        {"\x93NUMPY", 1, "['descr', '<f4']\n", four, 16, "'{'", NULL},
        {"\x93NUMPY", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n", four, 12,
         "truncated", NULL},
        {"\x93NUMPY", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n", four, 16,
         "trailing", NULL},
        {"\x93NUMPY", 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }\n",
         two_bools, 2, "expected 0 or 1", NULL},
        {"\x93NUMPY", 1, "{'descr': '<i2', 'fortran_order': False, 'shape': (4,), }\n", four, 8,
         "'descr'", "<i2"},
        /* Headers that end inside a field: the message quotes the text after the cursor,
         * which must stop at the header's end (a heap over-read under ASan before). */
        {"\x93NUMPY", 1, "{'descr': '<f4', 'fortran_order': ", four, 16, "'fortran_order'",
         NULL},
        {"\x93NUMPY", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': x", four, 16,
         "'shape'", NULL},
        {"\x93NUMPY", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (x", four, 16,
         "'shape'", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        snprintf(path, sizeof path, "%s/bad%zu.npy", dir, i);
        write_raw(path, cases[i].magic, cases[i].major, cases[i].header, cases[i].data,
                  cases[i].nbytes);
        assert_rejected(path, cases[i].frag1, cases[i].frag2);
    }
    snprintf(path, sizeof path, "%s/absent.npy", dir);
    assert_rejected(path, "cannot open", NULL);
    harness_remove_tree(dir);
}
