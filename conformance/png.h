/*
 * png.h: writing an 8-bit RGB image as a PNG file, with no library: the pixel rows go into
 * zlib "stored" (uncompressed) deflate blocks, with the CRC-32 and Adler-32 checksums the
 * format requires. Enough for the heat maps of --plot, which are small.
 */
#ifndef CONF_PNG_H
#define CONF_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* rgb holds height rows of width pixels, 3 bytes each (red, green, blue). */
int png_write_rgb(const char *path, int width, int height, const uint8_t *rgb, conf_error_t *err);

/* The CRC-32 of PNG chunks (ISO 3309, as zlib's crc32), for the writer and its tests. */
uint32_t png_crc32(uint32_t crc, const uint8_t *data, size_t size);

#endif /* CONF_PNG_H */
