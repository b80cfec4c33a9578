/* strata's data types and their GDAL and numpy names. */
#include "common/common.h"

#include <math.h>
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

double st_dtype_min(strata_dtype dtype) {
    switch (dtype) {
    case STRATA_INT8:
        return -128;
    case STRATA_INT16:
        return -32768;
    case STRATA_INT32:
        return -2147483648.0;
    case STRATA_INT64:
        return -9223372036854775808.0;
    default:
        return 0;
    }
}

double st_dtype_max(strata_dtype dtype) {
    switch (dtype) {
    case STRATA_UINT8:
        return 255;
    case STRATA_INT8:
        return 127;
    case STRATA_UINT16:
        return 65535;
    case STRATA_INT16:
        return 32767;
    case STRATA_UINT32:
        return 4294967295.0;
    case STRATA_INT32:
        return 2147483647.0;
    default:
        return 9223372036854775807.0; /* as a double: 2^63, which st_dtype_holds excludes */
    }
}

bool st_dtype_holds(strata_dtype dtype, double v) {
    if (dtype == STRATA_FLOAT32) {
        return isnan(v) || (double)(float)v == v;
    }
    if (dtype == STRATA_FLOAT64 || dtype == STRATA_DTYPE_UNKNOWN) {
        return true;
    }
    bool below_max = dtype == STRATA_INT64 ? v < 9223372036854775808.0 : v <= st_dtype_max(dtype);
    return v >= st_dtype_min(dtype) && below_max && v == floor(v);
}

double st_dtype_sentinel(strata_dtype dtype) {
    return st_dtype_min(dtype) < 0 ? st_dtype_min(dtype) : st_dtype_max(dtype);
}
