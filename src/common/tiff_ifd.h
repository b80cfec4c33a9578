/* The header and first IFD of a TIFF or BigTIFF file, read from bytes that come from outside:
 * the one IFD walk behind the GeoTIFF tag comparison (source/geokeys.c) and the kerchunk
 * indexer (kerchunk/kerchunk_tiff.c). The caller supplies the bytes through a read function,
 * so the walk serves a file, a memory buffer or the head of a file alike. */
#ifndef STRATA_COMMON_TIFF_IFD_H
#define STRATA_COMMON_TIFF_IFD_H

#include "strata.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct st_tiff {
    bool be;      /* "MM": big-endian */
    bool big;     /* BigTIFF: 8-byte counts and offsets */
    uint64_t ifd; /* offset of the first IFD */
} st_tiff;

typedef enum st_tiff_header_check {
    ST_TIFF_HEADER_OK = 0,
    ST_TIFF_NOT_TIFF,   /* no TIFF byte-order mark and magic number */
    ST_TIFF_BAD_BIGTIFF /* BigTIFF, but the offset size is not 8 or the header is short */
} st_tiff_header_check;

/* Whether the first n bytes start with a TIFF or BigTIFF byte-order mark and magic number. */
bool st_tiff_magic(const unsigned char *head, size_t n);
/* Reads the header from the first n bytes of a file (8 are enough for TIFF, BigTIFF needs
 * 16). */
st_tiff_header_check st_tiff_header(const unsigned char *head, size_t n, st_tiff *t);

/* Bytes of one value of a TIFF field type; 0 for an unknown type. */
size_t st_tiff_type_size(unsigned type);

typedef struct st_tiff_entry {
    unsigned tag, type;
    uint64_t count;
    unsigned char value[8];     /* the value field: the values themselves, or their offset */
    const unsigned char *bytes; /* the whole entry as stored (12 or 20 bytes) */
} st_tiff_entry;

/* Where an entry's values (bytes of them) are: false when they fit in e->value, else true
 * and *off, their offset in the file. */
bool st_tiff_values_offset(const st_tiff *t, const st_tiff_entry *e, uint64_t bytes, uint64_t *off);

/* Reads exactly n bytes at off into dst. */
typedef strata_status (*st_tiff_read_fn)(void *ctx, uint64_t off, void *dst, size_t n);
/* Called once per entry, in file order; a status other than STRATA_OK stops the walk. */
typedef strata_status (*st_tiff_entry_fn)(void *ctx, const st_tiff *t, const st_tiff_entry *e);

/* Reads the IFD at t->ifd of a file of size bytes and hands each entry to visit. An entry
 * count of 0, above 65535 or larger than the file fails with STRATA_ERR_IO, with a message
 * naming name unless name is NULL (then the failure is silent). Returns the first failure of
 * read or visit. */
strata_status st_tiff_walk_ifd(const st_tiff *t, uint64_t size, const char *name,
                               st_tiff_read_fn read, st_tiff_entry_fn visit, void *ctx);

#endif
