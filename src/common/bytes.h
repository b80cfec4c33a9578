/* Integers stored in a stated byte order (TIFF headers and tags, NetCDF3 headers, numpy's "<"
 * and ">" dtypes), read and written without regard to the host's order, and a view of a buffer that
 * checks every read against the end of its buffer, for bytes that come from outside. */
#ifndef STRATA_COMMON_BYTES_H
#define STRATA_COMMON_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The unsigned integer of the n (at most 8) bytes at p, big-endian when be. */
uint64_t st_load_uint(const unsigned char *p, size_t n, bool be);
/* Writes the low n (at most 8) bytes of v to p, big-endian when be. */
void st_store_uint(unsigned char *p, size_t n, uint64_t v, bool be);

static inline uint16_t st_load_u16(const unsigned char *p, bool be) {
    return (uint16_t)st_load_uint(p, 2, be);
}
static inline uint32_t st_load_u32(const unsigned char *p, bool be) {
    return (uint32_t)st_load_uint(p, 4, be);
}
static inline uint64_t st_load_u64(const unsigned char *p, bool be) {
    return st_load_uint(p, 8, be);
}

/* Reads from a buffer of n bytes; a read that would pass its end fails and reads nothing. */
typedef struct st_bytes {
    const unsigned char *p;
    size_t n;
    bool be;
} st_bytes;

/* The integer of len bytes at off; false when they are not all inside the buffer. */
bool st_bytes_uint(const st_bytes *c, uint64_t off, size_t len, uint64_t *out);
/* Copies len bytes at off to dst; false when they are not all inside the buffer. */
bool st_bytes_copy(const st_bytes *c, uint64_t off, void *dst, size_t len);

#endif
