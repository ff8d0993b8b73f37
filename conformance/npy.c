/*
 * npy.c: the NumPy .npy reader and writer (npy.h). The header is a Python dict literal,
 * {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }, parsed here by a small
 * recursive-descent reader that accepts its keys in any order.
 */
#define _POSIX_C_SOURCE 200809L
#include "npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dtype.h"

static const struct {
    npy_dtype_t dtype;
    const char *descr;
    size_t size;
} DTYPES[] = {{NPY_F4, "<f4", 4}, {NPY_F8, "<f8", 8}, {NPY_I4, "<i4", 4}, {NPY_I8, "<i8", 8},
              {NPY_U2, "<u2", 2}, {NPY_U1, "|u1", 1}, {NPY_B1, "|b1", 1}, {NPY_F2, "<f2", 2},
              {NPY_U4, "<u4", 4}, {NPY_U8, "<u8", 8}};
#define NUM_DTYPES (sizeof DTYPES / sizeof DTYPES[0])
#define DTYPE_LIST "<f2 <f4 <f8 <i4 <i8 |u1 <u2 <u4 <u8 |b1"
static const char MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

size_t npy_item_size(npy_dtype_t dtype) { return DTYPES[dtype].size; }
const char *npy_descr(npy_dtype_t dtype) { return DTYPES[dtype].descr; }

const char *npy_format_shape(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < ndim && used < size; ++d)
        used += (size_t)snprintf(buf + used, size - used, d ? ", %lld" : "%lld",
                                 (long long)shape[d]);
    if (used < size)
        snprintf(buf + used, size - used, ndim == 1 ? ",)" : ")");
    return buf;
}

const char *npy_format_index(int ndim, const int64_t *shape, int64_t i, char *buf, size_t size)
{
    int64_t idx[NPY_MAX_DIMS];
    for (int d = ndim - 1; d >= 0; --d) {
        idx[d] = shape[d] ? i % shape[d] : 0;
        i = shape[d] ? i / shape[d] : 0;
    }
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && used < size; ++d)
        used += (size_t)snprintf(buf + used, size - used, d ? ",%lld" : "%lld", (long long)idx[d]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

/* Product of a shape, or -1 when a dimension is negative or the product overflows. */
static int64_t shape_count(int ndim, const int64_t *shape, size_t item)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) {
        if (shape[d] < 0 || (shape[d] > 0 && n > INT64_MAX / (int64_t)item / shape[d]))
            return -1;
        n *= shape[d];
    }
    return n;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

/* ---------------------------------------------------------------- header parsing */
typedef struct header_cursor {
    const char *p, *end;
    const char *path;
    conf_error_t *err;
} header_cursor_t;

static void skip_space(header_cursor_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        ++c->p;
}

static int expect_char(header_cursor_t *c, char ch, const char *where)
{
    skip_space(c);
    if (c->p >= c->end || *c->p != ch)
        return conf_fail(c->err, "%s: malformed .npy header: expected '%c' %s, found '%.12s'",
                         c->path, ch, where, c->p < c->end ? c->p : "<end of header>");
    ++c->p;
    return 0;
}

/* A quoted Python string (no escapes) into out. */
static int parse_string(header_cursor_t *c, char *out, size_t size, const char *what)
{
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return conf_fail(c->err, "%s: malformed .npy header: expected a quoted string for %s",
                         c->path, what);
    char quote = *c->p++;
    const char *start = c->p;
    while (c->p < c->end && *c->p != quote)
        ++c->p;
    if (c->p >= c->end)
        return conf_fail(c->err, "%s: malformed .npy header: unterminated string in %s", c->path,
                         what);
    size_t len = (size_t)(c->p - start);
    ++c->p;
    if (len >= size)
        return conf_fail(c->err, "%s: malformed .npy header: %s '%.*s...' is too long", c->path,
                         what, 16, start);
    memcpy(out, start, len);
    out[len] = '\0';
    return 0;
}

static int parse_bool(header_cursor_t *c, int *value)
{
    skip_space(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
        *value = 1;
        c->p += 4;
        return 0;
    }
    if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
        *value = 0;
        c->p += 5;
        return 0;
    }
    return conf_fail(c->err, "%s: header field 'fortran_order' = '%.8s': expected True or False",
                     c->path, c->p);
}

/* A tuple of non-negative integers: (), (5,), (3, 4). */
static int parse_shape(header_cursor_t *c, npy_array_t *a)
{
    if (expect_char(c, '(', "to open the 'shape' tuple"))
        return -1;
    a->ndim = 0;
    for (;;) {
        skip_space(c);
        if (c->p < c->end && *c->p == ')') {
            ++c->p;
            return 0;
        }
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return conf_fail(c->err, "%s: header field 'shape': expected a non-negative integer, "
                             "found '%.8s'", c->path, c->p < c->end ? c->p : "<end>");
        if (a->ndim == NPY_MAX_DIMS)
            return conf_fail(c->err, "%s: header field 'shape' has more than %d dimensions",
                             c->path, NPY_MAX_DIMS);
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return conf_fail(c->err, "%s: header field 'shape': dimension too large", c->path);
            v = v * 10 + (*c->p++ - '0');
        }
        a->shape[a->ndim++] = v;
        skip_space(c);
        if (c->p < c->end && *c->p == ',')
            ++c->p;
        else if (c->p >= c->end || *c->p != ')')
            return conf_fail(c->err, "%s: header field 'shape': expected ',' or ')' after a "
                             "dimension", c->path);
    }
}

static int set_dtype(header_cursor_t *c, const char *descr, npy_array_t *a)
{
    for (size_t i = 0; i < NUM_DTYPES; ++i)
        if (strcmp(descr, DTYPES[i].descr) == 0) {
            a->dtype = DTYPES[i].dtype;
            return 0;
        }
    if (descr[0] == '>')
        return conf_fail(c->err, "%s: header field 'descr' = '%s': big-endian arrays are not "
                         "supported (expected little-endian, one of " DTYPE_LIST ")",
                         c->path, descr);
    return conf_fail(c->err, "%s: header field 'descr' = '%s': unsupported dtype (expected one "
                     "of " DTYPE_LIST ")", c->path, descr);
}

static int parse_header(header_cursor_t *c, npy_array_t *a, int *fortran)
{
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (expect_char(c, '{', "at the start of the header"))
        return -1;
    for (;;) {
        skip_space(c);
        if (c->p < c->end && *c->p == '}') {
            ++c->p;
            break;
        }
        char key[32];
        if (parse_string(c, key, sizeof key, "a header key") ||
            expect_char(c, ':', "after a header key"))
            return -1;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            char descr[16];
            if (parse_string(c, descr, sizeof descr, "header field 'descr'") ||
                set_dtype(c, descr, a))
                return -1;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_order) {
            if (parse_bool(c, fortran))
                return -1;
            have_order = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (parse_shape(c, a))
                return -1;
            have_shape = 1;
        } else {
            return conf_fail(c->err, "%s: header field '%s': %s (expected 'descr', "
                             "'fortran_order' and 'shape' once each)", c->path, key,
                             strcmp(key, "descr") && strcmp(key, "fortran_order") &&
                                     strcmp(key, "shape")
                                 ? "unknown key"
                                 : "repeated key");
        }
        skip_space(c);
        if (c->p < c->end && *c->p == ',')
            ++c->p;
        else if (c->p >= c->end || *c->p != '}')
            return conf_fail(c->err, "%s: malformed .npy header: expected ',' or '}' after "
                             "field '%s'", c->path, key);
    }
    skip_space(c);
    if (c->p != c->end)
        return conf_fail(c->err, "%s: malformed .npy header: unexpected text after '}'", c->path);
    const char *missing = !have_descr ? "descr" : !have_order ? "fortran_order"
                                                : !have_shape ? "shape" : NULL;
    if (missing)
        return conf_fail(c->err, "%s: .npy header has no '%s' field", c->path, missing);
    return 0;
}

/* ---------------------------------------------------------------- reading */
static uint32_t little_u32(const unsigned char *b, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; --i)
        v = (v << 8) | b[i];
    return v;
}

static int read_header(FILE *f, const char *path, npy_array_t *a, int *fortran,
                       conf_error_t *err)
{
    unsigned char pre[8];
    if (fread(pre, 1, 8, f) != 8 || memcmp(pre, MAGIC, 6) != 0)
        return conf_fail(err, "%s: not a .npy file (no \\x93NUMPY magic string)", path);
    /* 3.0 differs from 2.0 only in allowing UTF-8 in the header. */
    if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0)
        return conf_fail(err, "%s: .npy format version %d.%d: expected 1.0, 2.0 or 3.0", path,
                         pre[6], pre[7]);
    int len_bytes = pre[6] == 1 ? 2 : 4;
    unsigned char lb[4];
    if (fread(lb, 1, (size_t)len_bytes, f) != (size_t)len_bytes)
        return conf_fail(err, "%s: truncated .npy header length", path);
    uint32_t hlen = little_u32(lb, len_bytes);
    if (hlen > (1u << 20))
        return conf_fail(err, "%s: .npy header length %u is implausibly large", path, hlen);
    /* NUL-terminated, so that messages quoting the text near the cursor stop at its end. */
    char *header = malloc((size_t)hlen + 1);
    if (!header)
        return conf_fail(err, "%s: out of memory reading the header", path);
    int rc = 0;
    if (fread(header, 1, hlen, f) != hlen) {
        rc = conf_fail(err, "%s: truncated .npy header (expected %u bytes)", path, hlen);
    } else {
        header[hlen] = '\0';
        header_cursor_t c = {header, header + hlen, path, err};
        rc = parse_header(&c, a, fortran);
    }
    free(header);
    return rc;
}

/* Bytes from the current position of f to its end, or -1 when f cannot seek (a pipe). */
static int64_t bytes_left(FILE *f)
{
    long here = ftell(f);
    if (here < 0 || fseek(f, 0, SEEK_END) != 0)
        return -1;
    long end = ftell(f);
    if (end < 0 || fseek(f, here, SEEK_SET) != 0)
        return -1;
    return (int64_t)end - here;
}

/* Reorders a Fortran-order array's items into C order. */
static int fortran_to_c(npy_array_t *a, const char *path, conf_error_t *err)
{
    size_t item = npy_item_size(a->dtype);
    if (a->ndim < 2 || a->count == 0)
        return 0; /* the same bytes in either order */
    unsigned char *c_order = malloc((size_t)a->count * item);
    if (!c_order)
        return conf_fail(err, "%s: out of memory for the Fortran-order array", path);
    int64_t idx[NPY_MAX_DIMS] = {0};
    for (int64_t i = 0; i < a->count; ++i) { /* i runs in C order; idx is its multi-index */
        int64_t f = 0;
        for (int d = a->ndim - 1; d >= 0; --d)
            f = f * a->shape[d] + idx[d];
        memcpy(c_order + (size_t)i * item, (unsigned char *)a->data + (size_t)f * item, item);
        for (int d = a->ndim - 1; d >= 0 && ++idx[d] == a->shape[d]; --d)
            idx[d] = 0;
    }
    free(a->data);
    a->data = c_order;
    return 0;
}

int npy_read_stream(FILE *f, const char *path, npy_array_t *a, conf_error_t *err)
{
    memset(a, 0, sizeof *a);
    if (!host_is_little_endian())
        return conf_fail(err, "%s: this reader needs a little-endian host", path);
    int fortran = 0;
    int rc = read_header(f, path, a, &fortran, err);
    size_t item = npy_item_size(a->dtype);
    if (rc == 0 && (a->count = shape_count(a->ndim, a->shape, item)) < 0)
        rc = conf_fail(err, "%s: header field 'shape' describes too many elements", path);
    if (rc == 0 && a->count > 0) {
        size_t bytes = (size_t)a->count * item;
        int64_t left = bytes_left(f);
        size_t got = 0;
        if (left >= 0 && (uint64_t)left < bytes) /* truncated: fail before a large allocation */
            got = (size_t)left;
        else if (!(a->data = malloc(bytes)))
            rc = conf_fail(err, "%s: out of memory for %zu bytes of data", path, bytes);
        else
            got = fread(a->data, 1, bytes, f);
        if (rc == 0 && got != bytes)
            rc = conf_fail(err, "%s: truncated data: expected %zu bytes (%lld items of %s), "
                           "found %zu", path, bytes, (long long)a->count, npy_descr(a->dtype),
                           got);
    }
    if (rc == 0 && fgetc(f) != EOF)
        rc = conf_fail(err, "%s: trailing bytes after the %lld items the header describes", path,
                       (long long)a->count);
    if (rc == 0 && a->dtype == NPY_B1)
        for (int64_t i = 0; i < a->count && rc == 0; ++i)
            if (((const unsigned char *)a->data)[i] > 1)
                rc = conf_fail(err, "%s: item %lld of a |b1 array is %d: expected 0 or 1", path,
                               (long long)i, ((const unsigned char *)a->data)[i]);
    if (rc == 0 && fortran)
        rc = fortran_to_c(a, path, err);
    if (rc)
        npy_free(a);
    return rc;
}

int npy_read(const char *path, npy_array_t *a, conf_error_t *err)
{
    memset(a, 0, sizeof *a);
    FILE *f = fopen(path, "rb");
    if (!f)
        return conf_fail(err, "%s: cannot open: %s", path, strerror(errno));
    int rc = npy_read_stream(f, path, a, err);
    fclose(f);
    return rc;
}

/* ---------------------------------------------------------------- writing */
int npy_write(const char *path, const npy_array_t *a, conf_error_t *err)
{
    if (a->ndim < 0 || a->ndim > NPY_MAX_DIMS)
        return conf_fail(err, "%s: cannot write an array of %d dimensions", path, a->ndim);
    char shape[NPY_MAX_DIMS * 24 + 8], header[512];
    npy_format_shape(a->ndim, a->shape, shape, sizeof shape);
    int len = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, "
                       "'shape': %s, }", npy_descr(a->dtype), shape);
    /* Pad with spaces so that magic (6) + version (2) + length (2) + header ends on a
     * multiple of 64 bytes, the last header byte being '\n'. */
    int total = (10 + len + 1 + 63) / 64 * 64;
    int hlen = total - 10;
    memset(header + len, ' ', (size_t)(hlen - 1 - len));
    header[hlen - 1] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    /* Written beside the target and renamed over it, so a failed write leaves no truncated
     * file behind (a target that is not a regular file, a device say, is written in place). */
    char tmp[4200];
    struct stat st;
    int in_place = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
    if (snprintf(tmp, sizeof tmp, "%s.partial-XXXXXX", path) >= (int)sizeof tmp)
        return conf_fail(err, "%s: path too long", path);
    int fd = in_place ? -1 : mkstemp(tmp);
    FILE *f = in_place ? fopen(path, "wb") : fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        return conf_fail(err, "%s: cannot create: %s", path, strerror(e));
    }
    size_t bytes = (size_t)a->count * npy_item_size(a->dtype);
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(header, 1, (size_t)hlen, f) == (size_t)hlen &&
             (bytes == 0 || fwrite(a->data, 1, bytes, f) == bytes);
    int e = errno;
    if (fclose(f) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && !in_place && rename(tmp, path) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok && !in_place)
        unlink(tmp);
    return ok ? 0 : conf_fail(err, "%s: write failed: %s", path, strerror(e));
}

int npy_alloc(npy_array_t *a, npy_dtype_t dtype, int ndim, const int64_t *shape,
              conf_error_t *err)
{
    memset(a, 0, sizeof *a);
    if (ndim < 0 || ndim > NPY_MAX_DIMS)
        return conf_fail(err, "npy_alloc: %d dimensions (at most %d)", ndim, NPY_MAX_DIMS);
    a->dtype = dtype;
    a->ndim = ndim;
    memcpy(a->shape, shape, (size_t)ndim * sizeof *shape);
    if ((a->count = shape_count(ndim, shape, npy_item_size(dtype))) < 0)
        return conf_fail(err, "npy_alloc: shape too large");
    if (a->count > 0 && !(a->data = calloc((size_t)a->count, npy_item_size(dtype))))
        return conf_fail(err, "npy_alloc: out of memory for %lld items", (long long)a->count);
    return 0;
}

void npy_free(npy_array_t *a)
{
    free(a->data);
    a->data = NULL;
}

double npy_get_f64(const npy_array_t *a, int64_t i)
{
    switch (a->dtype) {
    case NPY_F2:
        return (double)pattn_fp16_to_f32(((const uint16_t *)a->data)[i]);
    case NPY_F4:
        return ((const float *)a->data)[i];
    case NPY_F8:
        return ((const double *)a->data)[i];
    case NPY_U8:
        return (double)((const uint64_t *)a->data)[i];
    default:
        return (double)npy_get_i64(a, i);
    }
}

int64_t npy_get_i64(const npy_array_t *a, int64_t i)
{
    switch (a->dtype) {
    case NPY_F2:
    case NPY_F4:
    case NPY_F8: { /* truncated toward 0, saturated, NaN read as 0 */
        double v = npy_get_f64(a, i);
        return v != v ? 0 : v >= 0x1p63 ? INT64_MAX : v < -0x1p63 ? INT64_MIN : (int64_t)v;
    }
    case NPY_I4:
        return ((const int32_t *)a->data)[i];
    case NPY_I8:
        return ((const int64_t *)a->data)[i];
    case NPY_U4:
        return ((const uint32_t *)a->data)[i];
    case NPY_U8:
        return (int64_t)((const uint64_t *)a->data)[i];
    case NPY_U2:
        return ((const uint16_t *)a->data)[i];
    default:
        return ((const uint8_t *)a->data)[i];
    }
}
