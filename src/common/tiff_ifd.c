/* One walk of a TIFF or BigTIFF IFD (common/tiff_ifd.h). Every count and offset comes from the
 * file: the entry count is checked against the file's size before it sizes an allocation. */
#include "common/tiff_ifd.h"

#include "common/bytes.h"
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

bool st_tiff_magic(const unsigned char *head, size_t n) {
    if (n < 4) {
        return false;
    }
    bool le = head[0] == 'I' && head[1] == 'I' && (head[2] == 42 || head[2] == 43) && !head[3];
    bool be = head[0] == 'M' && head[1] == 'M' && !head[2] && (head[3] == 42 || head[3] == 43);
    return le || be;
}

st_tiff_header_check st_tiff_header(const unsigned char *head, size_t n, st_tiff *t) {
    if (n < 8 || !st_tiff_magic(head, n)) {
        return ST_TIFF_NOT_TIFF;
    }
    t->be = head[0] == 'M';
    t->big = st_load_u16(head + 2, t->be) == 43;
    if (t->big && (n < 16 || st_load_u16(head + 4, t->be) != 8)) {
        return ST_TIFF_BAD_BIGTIFF;
    }
    t->ifd = t->big ? st_load_u64(head + 8, t->be) : st_load_u32(head + 4, t->be);
    return ST_TIFF_HEADER_OK;
}

size_t st_tiff_type_size(unsigned type) {
    /* BYTE ASCII SHORT LONG RATIONAL SBYTE UNDEFINED SSHORT SLONG SRATIONAL FLOAT DOUBLE IFD,
     * then (BigTIFF) LONG8 SLONG8 IFD8. */
    static const size_t sizes[] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8};
    return type < sizeof sizes / sizeof sizes[0] ? sizes[type] : 0;
}

bool st_tiff_values_offset(const st_tiff *t, const st_tiff_entry *e, uint64_t bytes,
                           uint64_t *off) {
    size_t field = t->big ? 8 : 4;
    if (bytes <= field) {
        return false;
    }
    *off = st_load_uint(e->value, field, t->be);
    return true;
}

strata_status st_tiff_walk_ifd(const st_tiff *t, uint64_t size, const char *name,
                               st_tiff_read_fn read, st_tiff_entry_fn visit, void *ctx) {
    size_t nsize = t->big ? 8 : 2, esize = t->big ? 20 : 12, field = t->big ? 8 : 4;
    unsigned char head[8];
    ST_TRY(read(ctx, t->ifd, head, nsize));
    uint64_t n = st_load_uint(head, nsize, t->be);
    if (n == 0 || n > 0xFFFF || n * esize > size) {
        return name ? st_fail(STRATA_ERR_IO, "%s: corrupt TIFF: bad IFD entry count", name)
                    : STRATA_ERR_IO;
    }
    unsigned char *raw = st_malloc((size_t)(n * esize));
    if (!raw) {
        return st_nomem("TIFF IFD");
    }
    strata_status st = read(ctx, t->ifd + nsize, raw, (size_t)(n * esize));
    for (size_t i = 0; st == STRATA_OK && i < n; i++) {
        const unsigned char *p = raw + i * esize;
        st_tiff_entry e = {.tag = st_load_u16(p, t->be),
                           .type = st_load_u16(p + 2, t->be),
                           .count = st_load_uint(p + 4, field, t->be),
                           .bytes = p};
        memcpy(e.value, p + esize - field, field);
        st = visit(ctx, t, &e);
    }
    free(raw);
    return st;
}
