/*
 * philox.h: FlashAttention-2's dropout mask, usable on the host and on the device.
 *
 * The mask is a pure function of (seed, offset, unit b, query head h, Hq, global query position
 * i, global key position j, p) (SPEC section 4), bit-identical to FlashAttention-2 and to
 * ../shared/tools/fa2_dropout_model.py:
 *   Philox-4x32 with 7 rounds (6 key-bumped, then one more),
 *   key     = (seed lo, seed hi)
 *   counter = (off lo, off hi, i / 16, j / 32), off = offset + (b*Hq + h)*32 + lane
 *   lane    = (i % 8) * 4 + (j % 8) / 2
 *   byte    = ((j%32)/16)*8 + ((j%16)/8)*4 + ((i%16)/8)*2 + (j%2) of the 16 output bytes
 * An element is kept when its byte <= floor((1 - p) * 255).
 */
#ifndef PATTN_CORE_PHILOX_H
#define PATTN_CORE_PHILOX_H

#include <stdint.h>

#include "hd.h"

typedef struct pattn_philox_out {
    uint32_t w[4]; /* x, y, z, w; byte k of the output is byte k % 4 of w[k / 4] */
} pattn_philox_out_t;

PATTN_HD pattn_philox_out_t pattn_philox7(uint64_t seed, uint64_t off, uint32_t c2, uint32_t c3)
{
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    uint32_t c0 = (uint32_t)off, c1 = (uint32_t)(off >> 32);
    for (int round = 0; round < 7; ++round) {
        uint64_t p0 = (uint64_t)c0 * 0xD2511F53u;
        uint64_t p1 = (uint64_t)c2 * 0xCD9E8D57u;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n1 = (uint32_t)p1;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        uint32_t n3 = (uint32_t)p0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    pattn_philox_out_t r = {{c0, c1, c2, c3}};
    return r;
}

/* The dropout threshold: a byte <= this is kept. */
PATTN_HD uint8_t pattn_dropout_threshold(double p)
{
    double t = (1.0 - p) * 255.0;
    return (uint8_t)(t >= 255.0 ? 255 : (t <= 0.0 ? 0 : (int)t));
}

/* Philox lane and byte of element (i, j) within its 16 x 32 tile. */
PATTN_HD uint32_t pattn_dropout_lane(int64_t i, int64_t j)
{
    return (uint32_t)((i % 8) * 4 + (j % 8) / 2);
}
PATTN_HD uint32_t pattn_dropout_byte(int64_t i, int64_t j)
{
    return (uint32_t)(((j % 32) / 16) * 8 + ((j % 16) / 8) * 4 + ((i % 16) / 8) * 2 + (j % 2));
}

/* The random byte of element (i, j) for unit b, query head h of Hq. */
PATTN_HD uint8_t pattn_dropout_rand(uint64_t seed, uint64_t offset, int64_t b, int64_t h,
                                    int64_t Hq, int64_t i, int64_t j)
{
    uint64_t off = offset + (uint64_t)(b * Hq + h) * 32u + pattn_dropout_lane(i, j);
    pattn_philox_out_t r = pattn_philox7(seed, off, (uint32_t)(i / 16), (uint32_t)(j / 32));
    uint32_t byte = pattn_dropout_byte(i, j);
    return (uint8_t)(r.w[byte / 4] >> (8 * (byte % 4)));
}

PATTN_HD int pattn_dropout_keep(uint64_t seed, uint64_t offset, int64_t b, int64_t h, int64_t Hq,
                                int64_t i, int64_t j, uint8_t threshold)
{
    return pattn_dropout_rand(seed, offset, b, h, Hq, i, j) <= threshold;
}

/* All 512 random bytes of the 16 x 32 tile (i0, j0 multiples of 16 and 32) at once, 16x fewer
 * Philox calls than element by element: bytes[di][dj] for rows i0 + di, columns j0 + dj. */
PATTN_HD void pattn_dropout_tile(uint64_t seed, uint64_t offset, int64_t b, int64_t h, int64_t Hq,
                                 int64_t i0, int64_t j0, uint8_t bytes[16][32])
{
    uint64_t base = offset + (uint64_t)(b * Hq + h) * 32u;
    for (uint32_t lane = 0; lane < 32; ++lane) {
        pattn_philox_out_t r =
            pattn_philox7(seed, base + lane, (uint32_t)(i0 / 16), (uint32_t)(j0 / 32));
        for (uint32_t byte = 0; byte < 16; ++byte) {
            /* Invert lane/byte: byte = js*8 + jh*4 + ih*2 + jo, lane = ir*4 + jp. */
            uint32_t ir = lane / 4, jp = lane % 4;
            uint32_t js = byte / 8, jh = (byte / 4) % 2, ih = (byte / 2) % 2, jo = byte % 2;
            uint32_t di = ih * 8 + ir;
            uint32_t dj = js * 16 + jh * 8 + jp * 2 + jo;
            bytes[di][dj] = (uint8_t)(r.w[byte / 4] >> (8 * (byte % 4)));
        }
    }
}

#endif /* PATTN_CORE_PHILOX_H */
