/* The codecs' names and which outputs take which (strata_codec in strata.h), shared by the
 * GeoTIFF and Zarr writers. */
#include "common/common.h"

#include <strings.h>

static const char *const codec_names[] = {"blosc-lz4", "blosc-zstd", "zstd", "zlib", "none", "lzw"};

const char *strata_codec_name(strata_codec codec) {
    if ((unsigned)codec < sizeof codec_names / sizeof codec_names[0]) {
        return codec_names[codec];
    }
    return "unknown";
}

strata_status strata_codec_from_name(const char *name, strata_codec *codec) {
    st_clear_error();
    /* GeoTIFF calls zlib's stream DEFLATE (GDAL's COMPRESS=DEFLATE). */
    const char *known = name && strcasecmp(name, "deflate") == 0 ? "zlib" : name;
    for (size_t i = 0; known && codec && i < sizeof codec_names / sizeof codec_names[0]; i++) {
        if (strcasecmp(known, codec_names[i]) == 0) {
            *codec = (strata_codec)i;
            return STRATA_OK;
        }
    }
    return st_fail(STRATA_ERR_INVALID_ARG,
                   "unknown codec '%s' (one of blosc-lz4, blosc-zstd, zstd, zlib, none, lzw)",
                   name ? name : "(null)");
}

int strata_codec_for_gtiff(strata_codec codec) {
    return codec == STRATA_CODEC_ZSTD || codec == STRATA_CODEC_ZLIB || codec == STRATA_CODEC_LZW ||
           codec == STRATA_CODEC_NONE;
}

int strata_codec_for_zarr(strata_codec codec) {
    return (unsigned)codec <= STRATA_CODEC_NONE;
}
