/*
 * npy.h: a small reader and writer of NumPy .npy files, enough for what np.save writes.
 *
 * Reads format 1.0, 2.0 and 3.0 (header keys in any order), C or Fortran order (a Fortran-order
 * array is reordered to C order on reading); writes format 1.0, C order, with the header padded
 * to a multiple of 64 bytes, through a temporary file renamed into place. Little-endian; dtypes
 * <f2 <f4 <f8 <i4 <i8 |u1 <u2 <u4 <u8 |b1. Anything else is rejected with a message naming the
 * file and the header field.
 */
#ifndef CONF_NPY_H
#define CONF_NPY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

#define NPY_MAX_DIMS 8

typedef enum npy_dtype {
    NPY_F4, /* <f4 float32 */
    NPY_F8, /* <f8 float64 */
    NPY_I4, /* <i4 int32 */
    NPY_I8, /* <i8 int64 */
    NPY_U2, /* <u2 uint16 */
    NPY_U1, /* |u1 uint8 */
    NPY_B1, /* |b1 bool, one byte 0 or 1 */
    NPY_F2, /* <f2 float16 */
    NPY_U4, /* <u4 uint32 */
    NPY_U8  /* <u8 uint64 */
} npy_dtype_t;

typedef struct npy_array {
    npy_dtype_t dtype;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    int64_t count; /* product of shape (1 for ndim 0) */
    void *data;    /* count items, C order; NULL for an empty array or one never loaded */
} npy_array_t;

/* Bytes per item and the header descr ("<f4", ...) of a dtype. */
size_t npy_item_size(npy_dtype_t dtype);
const char *npy_descr(npy_dtype_t dtype);

/* Loads path into a (a->data is malloc'd, C order; release with npy_free). */
int npy_read(const char *path, npy_array_t *a, conf_error_t *err);
/* The same from an open stream (the rest of it must be the file); name is for messages. */
int npy_read_stream(FILE *f, const char *name, npy_array_t *a, conf_error_t *err);

/* Writes a to path in format 1.0. */
int npy_write(const char *path, const npy_array_t *a, conf_error_t *err);

/* Allocates a zeroed array of the given dtype and shape. */
int npy_alloc(npy_array_t *a, npy_dtype_t dtype, int ndim, const int64_t *shape,
              conf_error_t *err);

void npy_free(npy_array_t *a);

/* Item i as a double (64-bit integers beyond 2^53 lose precision: use npy_get_i64). */
double npy_get_f64(const npy_array_t *a, int64_t i);
/* Item i as int64: integers exactly (a uint64 as its two's-complement int64, the rng_state
 * convention for seeds of 2^63 and more), floats truncated and saturated, NaN as 0. */
int64_t npy_get_i64(const npy_array_t *a, int64_t i);

/* "(3, 4)" into buf. */
const char *npy_format_shape(int ndim, const int64_t *shape, char *buf, size_t size);
/* "[1, 3]": the multi-index of flat (C-order) item i of an array of that shape, into buf. */
const char *npy_format_index(int ndim, const int64_t *shape, int64_t i, char *buf, size_t size);

#endif /* CONF_NPY_H */
