/* strata's data types and their GDAL and numpy names. */
#include "internal.h"

#include <string.h>
#include <strings.h>

static const struct {
    strata_dtype dtype;
    const char *name;
    GDALDataType gdal;
    size_t size;
} dtypes[] = {
    {STRATA_UINT8, "uint8", GDT_Byte, 1},        {STRATA_INT8, "int8", GDT_Byte, 1},
    {STRATA_UINT16, "uint16", GDT_UInt16, 2},    {STRATA_INT16, "int16", GDT_Int16, 2},
    {STRATA_UINT32, "uint32", GDT_UInt32, 4},    {STRATA_INT32, "int32", GDT_Int32, 4},
    {STRATA_INT64, "int64", GDT_Int64, 8},       {STRATA_FLOAT32, "float32", GDT_Float32, 4},
    {STRATA_FLOAT64, "float64", GDT_Float64, 8},
};
#define NDTYPES (sizeof dtypes / sizeof dtypes[0])

const char *strata_dtype_name(strata_dtype dtype) {
    for (size_t i = 0; i < NDTYPES; i++) {
        if (dtypes[i].dtype == dtype) {
            return dtypes[i].name;
        }
    }
    return "unknown";
}

strata_dtype strata_dtype_from_name(const char *name) {
    if (!name) {
        return STRATA_DTYPE_UNKNOWN;
    }
    for (size_t i = 0; i < NDTYPES; i++) {
        if (strcasecmp(name, dtypes[i].name) == 0 ||
            (dtypes[i].dtype != STRATA_INT8 &&
             strcasecmp(name, GDALGetDataTypeName(dtypes[i].gdal)) == 0)) {
            return dtypes[i].dtype;
        }
    }
    return STRATA_DTYPE_UNKNOWN;
}

size_t strata_dtype_size(strata_dtype dtype) {
    for (size_t i = 0; i < NDTYPES; i++) {
        if (dtypes[i].dtype == dtype) {
            return dtypes[i].size;
        }
    }
    return 0;
}

/* GDAL 3.6 has no Int8 type: signed bytes are Byte with PIXELTYPE=SIGNEDBYTE, which
 * strata does not read (st_dtype_from_gdal never returns INT8). Int8 buffers are only
 * a conversion target, done through Int16 by the callers that need it. */
GDALDataType st_dtype_to_gdal(strata_dtype dtype) {
    for (size_t i = 0; i < NDTYPES; i++) {
        if (dtypes[i].dtype == dtype && dtype != STRATA_INT8) {
            return dtypes[i].gdal;
        }
    }
    return GDT_Unknown;
}

strata_dtype st_dtype_from_gdal(GDALDataType type) {
    for (size_t i = 0; i < NDTYPES; i++) {
        if (dtypes[i].gdal == type && dtypes[i].dtype != STRATA_INT8) {
            return dtypes[i].dtype;
        }
    }
    return STRATA_DTYPE_UNKNOWN;
}

bool st_dtype_is_float(strata_dtype dtype) {
    return dtype == STRATA_FLOAT32 || dtype == STRATA_FLOAT64;
}
