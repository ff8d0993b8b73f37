/*
 * png.c: the PNG writer of png.h. Chunks: IHDR (RGB, 8 bits), one IDAT holding a zlib stream
 * of stored blocks (each at most 65535 bytes; every row starts with filter byte 0), IEND.
 */
#define _POSIX_C_SOURCE 200809L
#include "png.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint32_t png_crc32(uint32_t crc, const uint8_t *data, size_t size)
{
    crc = ~crc;
    for (size_t i = 0; i < size; ++i) {
        crc ^= data[i];
        for (int k = 0; k < 8; ++k)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes one chunk: length, type, data, CRC over type and data. */
static int write_chunk(FILE *f, const char type[4], const uint8_t *data, size_t size)
{
    uint8_t head[8], tail[4];
    put32(head, (uint32_t)size);
    memcpy(head + 4, type, 4);
    uint32_t crc = png_crc32(png_crc32(0, head + 4, 4), data, size);
    put32(tail, crc);
    return fwrite(head, 1, 8, f) == 8 && (size == 0 || fwrite(data, 1, size, f) == size) &&
                   fwrite(tail, 1, 4, f) == 4
               ? 0
               : -1;
}

/* The zlib stream of raw (the filtered rows) in stored blocks; *size receives its length. */
static uint8_t *zlib_stored(const uint8_t *raw, size_t raw_size, size_t *size)
{
    size_t blocks = raw_size / 65535 + 1;
    uint8_t *z = malloc(2 + blocks * 5 + raw_size + 4), *p = z;
    if (!z)
        return NULL;
    *p++ = 0x78; /* deflate, 32K window */
    *p++ = 0x01; /* no dictionary, fastest; (0x78 << 8 | 0x01) % 31 == 0 */
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < raw_size; ++i) {
        a = (a + raw[i]) % 65521;
        b = (b + a) % 65521;
    }
    size_t at = 0;
    do {
        size_t n = raw_size - at < 65535 ? raw_size - at : 65535;
        *p++ = at + n == raw_size; /* BFINAL on the last block, BTYPE 00 */
        *p++ = (uint8_t)n;
        *p++ = (uint8_t)(n >> 8);
        *p++ = (uint8_t)~n;
        *p++ = (uint8_t)(~n >> 8);
        memcpy(p, raw + at, n);
        p += n;
        at += n;
    } while (at < raw_size);
    put32(p, b << 16 | a);
    *size = (size_t)(p + 4 - z);
    return z;
}

int png_write_rgb(const char *path, int width, int height, const uint8_t *rgb, conf_error_t *err)
{
    size_t row = (size_t)width * 3, raw_size = (row + 1) * (size_t)height, z_size = 0;
    uint8_t *raw = malloc(raw_size ? raw_size : 1), *z = NULL;
    if (!raw)
        return conf_fail(err, "%s: out of memory for a %dx%d image", path, width, height);
    for (int y = 0; y < height; ++y) {
        raw[(row + 1) * (size_t)y] = 0; /* filter: none */
        memcpy(raw + (row + 1) * (size_t)y + 1, rgb + row * (size_t)y, row);
    }
    z = zlib_stored(raw, raw_size, &z_size);
    free(raw);
    if (!z)
        return conf_fail(err, "%s: out of memory for a %dx%d image", path, width, height);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(z);
        return conf_fail(err, "%s: cannot create: %s", path, strerror(errno));
    }
    static const uint8_t SIGNATURE[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t ihdr[13] = {0};
    put32(ihdr, (uint32_t)width);
    put32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8; /* bits per sample */
    ihdr[9] = 2; /* RGB; compression, filter and interlace methods 0 */
    int rc = fwrite(SIGNATURE, 1, 8, f) == 8 && !write_chunk(f, "IHDR", ihdr, 13) &&
                     !write_chunk(f, "IDAT", z, z_size) && !write_chunk(f, "IEND", NULL, 0)
                 ? 0
                 : -1;
    free(z);
    if (fclose(f) != 0 || rc)
        return conf_fail(err, "%s: write failed", path);
    return 0;
}
