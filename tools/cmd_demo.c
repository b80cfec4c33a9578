/* strata demo: writes a small sample stack and walks through every capability, printing
 * each command as a user would type it, then its output: a runnable cookbook. */
#include "cli.h"

#include <errno.h>
#include <cpl_conv.h>
#include <dirent.h>
#include <gdal.h>
#include <math.h>
#include <ogr_srs_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { DEMO_T = 6, DEMO_ROWS = 180, DEMO_COLS = 240, DEMO_BANDS = 2 };
static const char *const demo_dates[DEMO_T] = {"20201115", "20201215", "20210115",
                                               "20210215", "20210315", "20210415"};
static const double NODATA = -9999;

/* A smooth field, a seasonal swing, deterministic noise, and nodata: scattered pixels plus
 * a 6x6 patch that is missing at every timestep. */
static float demo_value(int t, int b, int row, int col) {
    unsigned h = (unsigned)(t * 7919 + b * 104729 + row * 613 + col * 31);
    h = (h ^ (h >> 13)) * 0x5bd1e995u;
    h ^= h >> 15;
    if ((row >= 40 && row < 46 && col >= 40 && col < 46) || h % 50 == 0) {
        return (float)NODATA;
    }
    double field = sin(row / 29.0) + cos(col / 41.0);
    return (float)(20 + 10 * field + 8 * cos(2 * M_PI * (t + 10) / 12.0) + 5 * b +
                   (h % 1000) / 1000.0);
}

static int write_demo_file(const char *path, int t) {
    char *opts[] = {"TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64", "COMPRESS=DEFLATE", NULL};
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GTiff"), path, DEMO_COLS, DEMO_ROWS,
                                 DEMO_BANDS, GDT_Float32, opts);
    if (!ds) {
        return -1;
    }
    double gt[6] = {500000, 30, 0, 3500000, 0, -30};
    GDALSetGeoTransform(ds, gt);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    char *wkt = NULL;
    OSRImportFromEPSG(srs, 32636);
    OSRExportToWkt(srs, &wkt);
    GDALSetProjection(ds, wkt);
    CPLFree(wkt);
    OSRDestroySpatialReference(srs);
    static float plane[DEMO_ROWS * DEMO_COLS];
    static const char *const names[DEMO_BANDS] = {"red", "nir"};
    int rc = 0;
    for (int b = 0; b < DEMO_BANDS; b++) {
        for (int i = 0; i < DEMO_ROWS * DEMO_COLS; i++) {
            plane[i] = demo_value(t, b, i / DEMO_COLS, i % DEMO_COLS);
        }
        GDALRasterBandH h = GDALGetRasterBand(ds, b + 1);
        GDALSetRasterNoDataValue(h, NODATA);
        GDALSetDescription(h, names[b]);
        rc |= GDALRasterIO(h, GF_Write, 0, 0, DEMO_COLS, DEMO_ROWS, plane, DEMO_COLS, DEMO_ROWS,
                           GDT_Float32, 0, 0) != CE_None;
    }
    GDALClose(ds);
    return rc ? -1 : 0;
}

static void step(const char *title) {
    printf("\n== %s\n", title);
}

/* Prints the command, then runs it in this process. */
static int run(int (*cmd)(int, char **), const char *name, int argc, char **argv) {
    printf("$ strata %s", name);
    for (int i = 1; i < argc; i++) {
        printf(" %s", argv[i]);
    }
    printf("\n");
    fflush(stdout);
    int rc = cmd(argc, argv);
    fflush(stdout);
    fflush(stderr);
    if (rc) {
        printf("(exit code %d)\n", rc);
    }
    return rc;
}

/* argv for a command: fixed options followed by the sample files as one @LIST. */
typedef struct demo {
    char dir[1024];
    char list[1100];
    char files[DEMO_T][1100];
} demo;

static int make_stack(demo *d) {
    FILE *f = fopen(d->list, "w");
    if (!f) {
        return -1;
    }
    for (int t = 0; t < DEMO_T; t++) {
        snprintf(d->files[t], sizeof d->files[t], "%s/sample_%s.tif", d->dir, demo_dates[t]);
        if (write_demo_file(d->files[t], t) != 0) {
            fclose(f);
            return -1;
        }
        fprintf(f, "%s\n", d->files[t]);
        printf("  wrote %s (%d bands, %dx%d float32, nodata %g)\n", d->files[t], DEMO_BANDS,
               DEMO_COLS, DEMO_ROWS, NODATA);
    }
    fclose(f);
    return 0;
}

/* Mean and range of the valid pixels of band 1 of a written output. */
static void describe_output(const char *path) {
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    if (!ds) {
        printf("  %s: cannot open\n", path);
        return;
    }
    GDALRasterBandH h = GDALGetRasterBand(ds, 1);
    int has = 0, n = GDALGetRasterXSize(ds) * GDALGetRasterYSize(ds), valid = 0;
    double nd = GDALGetRasterNoDataValue(h, &has), sum = 0, lo = INFINITY, hi = -INFINITY;
    double *v = malloc((size_t)n * sizeof *v);
    if (v && GDALRasterIO(h, GF_Read, 0, 0, GDALGetRasterXSize(ds), GDALGetRasterYSize(ds), v,
                          GDALGetRasterXSize(ds), GDALGetRasterYSize(ds), GDT_Float64, 0,
                          0) == CE_None) {
        for (int i = 0; i < n; i++) {
            if (v[i] == v[i] && !(has && v[i] == nd)) {
                valid++;
                sum += v[i];
                lo = v[i] < lo ? v[i] : lo;
                hi = v[i] > hi ? v[i] : hi;
            }
        }
    }
    const char *base = strrchr(path, '/');
    printf("  %-22s %-8s band 1: mean %8.3f  range [%8.3f, %8.3f]  missing %d px\n",
           base ? base + 1 : path, GDALGetDataTypeName(GDALGetRasterDataType(h)),
           valid ? sum / valid : NAN, lo, hi, n - valid);
    free(v);
    GDALClose(ds);
}

static int show_meta_and_reads(const demo *d) {
    const char *paths[DEMO_T];
    for (int t = 0; t < DEMO_T; t++) {
        paths[t] = d->files[t];
    }
    strata_collection *c = NULL, *back = NULL;
    char *json = NULL;
    if (strata_collection_from_files(paths, DEMO_T, &c) || strata_collection_to_json(c, &json) ||
        strata_collection_from_json(json, &back)) {
        strata_free(json);
        strata_collection_free(c);
        return cli_fail("demo");
    }
    printf("  strata_collection_to_json -> %zu bytes; rebuilt without opening a file; "
           "meta equal after the round trip: %s\n",
           strlen(json),
           strata_meta_equal(strata_collection_meta(c), strata_collection_meta(back)) ? "yes"
                                                                                      : "NO");
    float px[DEMO_T][5];
    strata_window w = {0, DEMO_T, 0, 1, 100, 1, 100, 5};
    int rc = strata_collection_read(back, &w, STRATA_FLOAT32, px) ? cli_fail("demo") : 0;
    for (int t = 0; !rc && t < DEMO_T; t++) {
        printf("  t=%d %s  band red, row 100, cols 100..104: %7.3f %7.3f %7.3f %7.3f %7.3f\n", t,
               demo_dates[t], px[t][0], px[t][1], px[t][2], px[t][3], px[t][4]);
    }
    strata_free(json);
    strata_collection_free(back);
    strata_collection_free(c);
    return rc;
}

static int show_bad_file(const demo *d) {
    char bad[1200];
    snprintf(bad, sizeof bad, "%s/misaligned.tif", d->dir);
    GDALDatasetH src = GDALOpen(d->files[0], GA_ReadOnly);
    GDALDatasetH ds =
        src ? GDALCreateCopy(GDALGetDriverByName("GTiff"), bad, src, 0, NULL, NULL, NULL) : NULL;
    if (ds) {
        double gt[6] = {500015, 30, 0, 3500000, 0, -30}; /* half a pixel east */
        GDALSetGeoTransform(ds, gt);
        GDALClose(ds);
    }
    if (src) {
        GDALClose(src);
    }
    char *argv[] = {"info", "--check", (char *)d->files[0], (char *)d->files[1], bad, NULL};
    run(cmd_info, "info", 5, argv);
    remove(bad);
    return 0;
}

/* Files in a folder, dot files (metadata) counted apart. */
static void count_files(const char *dir, int *chunks, int *meta) {
    *chunks = *meta = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            ++*(e->d_name[0] == '.' ? meta : chunks);
        }
    }
    if (d) {
        closedir(d);
    }
}

/* Step 8: the cube as a Zarr store, and what is in it. */
static int show_zarr(const demo *d, char *at_list) {
    char store[1200];
    snprintf(store, sizeof store, "%s/cube.zarr", d->dir);
    step("8. The cube to a Zarr store, chunks written in parallel (xarray, rioxarray, GDAL read "
         "it)");
    char *argv[] = {"to-zarr", "--time-pattern", "%Y%m%d", "-o", store, at_list, NULL};
    if (run(cmd_to_zarr, "to-zarr", 6, argv)) {
        return EXIT_RUN;
    }
    static const char *const entries[] = {".zmetadata", "data", "time",       "band",
                                          "y",          "x",    "spatial_ref"};
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        char path[1400];
        int chunks, meta;
        snprintf(path, sizeof path, "%s/%s", store, entries[i]);
        count_files(path, &chunks, &meta);
        if (i == 0) {
            printf("  %-12s consolidated metadata: xr.open_zarr reads it in one go\n", entries[i]);
        } else {
            printf("  %-12s %d chunk file(s), %d metadata file(s)\n", entries[i], chunks, meta);
        }
    }
    return 0;
}

/* Step 9: the same files as STAC items (relative hrefs; the projection and raster extensions
 * describe the grid, so no file is opened until the reduction reads it). */
static int write_items(const demo *d, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    fprintf(f, "{\"type\": \"FeatureCollection\", \"features\": [\n");
    for (int t = DEMO_T - 1; t >= 0; t--) { /* newest first: strata orders them by datetime */
        const char *date = demo_dates[t];
        fprintf(
            f,
            " {\"type\": \"Feature\", \"stac_version\": \"1.0.0\", \"id\": \"sample_%s\",\n"
            "  \"properties\": {\"datetime\": \"%.4s-%.2s-%.2sT00:00:00Z\", \"proj:epsg\": 32636,\n"
            "   \"proj:transform\": [30, 0, 500000, 0, -30, 3500000], \"proj:shape\": [%d, %d]},\n"
            "  \"assets\": {\"data\": {\"href\": \"%s\", \"raster:bands\": [\n"
            "   {\"data_type\": \"float32\", \"nodata\": %g}, {\"data_type\": \"float32\", "
            "\"nodata\": %g}]}}}%s\n",
            date, date, date + 4, date + 6, DEMO_ROWS, DEMO_COLS, strrchr(d->files[t], '/') + 1,
            NODATA, NODATA, t ? "," : "");
    }
    fprintf(f, "]}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* 1 when the two GeoTIFFs hold the same values (NaN equal to NaN), else 0. */
static int same_values(const char *a, const char *b) {
    GDALDatasetH da = GDALOpen(a, GA_ReadOnly), db = GDALOpen(b, GA_ReadOnly);
    size_t n = (size_t)DEMO_ROWS * DEMO_COLS * DEMO_BANDS;
    double *va = malloc(n * sizeof *va), *vb = malloc(n * sizeof *vb);
    int same = da && db && va && vb && GDALGetRasterCount(da) == DEMO_BANDS &&
               GDALGetRasterCount(db) == DEMO_BANDS;
    for (int k = 0; same && k < 2; k++) {
        same = GDALDatasetRasterIO(k ? db : da, GF_Read, 0, 0, DEMO_COLS, DEMO_ROWS, k ? vb : va,
                                   DEMO_COLS, DEMO_ROWS, GDT_Float64, DEMO_BANDS, NULL, 0, 0,
                                   0) == CE_None;
    }
    for (size_t i = 0; same && i < n; i++) {
        same = va[i] == vb[i] || (va[i] != va[i] && vb[i] != vb[i]);
    }
    free(va);
    free(vb);
    if (da) {
        GDALClose(da);
    }
    if (db) {
        GDALClose(db);
    }
    return same;
}

static int show_stac(const demo *d) {
    char items[1200], out[1300], files_mean[1300];
    snprintf(items, sizeof items, "%s/items.json", d->dir);
    snprintf(out, sizeof out, "%s/stac_mean.tif", d->dir);
    snprintf(files_mean, sizeof files_mean, "%s/time_mean.tif", d->dir);
    step("9. The same stack as STAC items (hrefs relative to items.json; http(s)://, s3:// and "
         "gs:// hrefs are read as Cloud-Optimized GeoTIFFs)");
    if (write_items(d, items) != 0) {
        cli_error("demo", "%s: cannot write", items);
        return EXIT_RUN;
    }
    printf("  wrote %s: %d items, newest first, asset \"data\" with proj: and raster: fields\n",
           items, DEMO_T);
    char *argv[] = {"reduce", "--quiet", "--stac", items, "--asset", "data",
                    "--op",   "mean",    "-o",     out,   NULL};
    if (run(cmd_reduce, "reduce", 10, argv)) {
        return EXIT_RUN;
    }
    describe_output(out);
    printf("  equal to step 5's mean from the files: %s\n",
           same_values(out, files_mean) ? "yes, value for value" : "NO");
    return 0;
}

/* A kerchunk index: the same files read in place as one Zarr cube by fsspec + xarray. */
static int show_kerchunk(const demo *d, char *at_list) {
    char refs[1200];
    snprintf(refs, sizeof refs, "%s/refs.json", d->dir);
    step("10. A kerchunk reference index: xarray reads the GeoTIFFs in place as one cube");
    char *argv[] = {"kerchunk", "-o", refs, at_list, NULL};
    if (run(cmd_kerchunk, "kerchunk", 4, argv)) {
        return EXIT_RUN;
    }
    printf("  open it with: xr.open_dataset(\"reference://\", engine=\"zarr\", backend_kwargs="
           "{\"consolidated\": False, \"storage_options\": {\"fo\": \"%s\"}})\n",
           refs);
    return 0;
}

int cmd_demo(int argc, char **argv) {
    static demo d;
    snprintf(d.dir, sizeof d.dir, "%s", argc > 1 ? argv[1] : "strata-demo");
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: strata demo [DIR]\n  Writes a sample stack into DIR (default "
               "./strata-demo) and runs every capability on it.\n");
        return 0;
    }
    if (mkdir(d.dir, 0777) != 0 && errno != EEXIST) {
        cli_error("demo", "%s: cannot create: %s", d.dir, strerror(errno));
        return EXIT_RUN;
    }
    snprintf(d.list, sizeof d.list, "%s/files.txt", d.dir);
    char at_list[1200], out[1300], seasons[1300], labels_out[1300];
    snprintf(at_list, sizeof at_list, "@%s", d.list);
    snprintf(out, sizeof out, "%s/time_{op}.tif", d.dir);
    snprintf(seasons, sizeof seasons, "%s/seasons", d.dir);
    snprintf(labels_out, sizeof labels_out, "%s/halves", d.dir);

    printf("strata %s demo: a lazy (time, band, row, col) cube over %d GeoTIFFs\n",
           strata_version(), DEMO_T);
    step("1. A sample stack: 6 aligned monthly GeoTIFFs with nodata pixels");
    if (make_stack(&d) != 0) {
        cli_error("demo", "cannot write the sample stack in %s", d.dir);
        return EXIT_RUN;
    }
    step("2. A collection from files: opens the first file only (@LIST = one path a line)");
    char *info[] = {"info", "--time-pattern", "%Y%m%d", at_list, NULL};
    if (run(cmd_info, "info", 4, info)) {
        return EXIT_RUN;
    }
    step("3. The meta snapshot travels as JSON; lazy 4-D window reads");
    if (show_meta_and_reads(&d)) {
        return EXIT_RUN;
    }
    step("4. Checking every file up front: a misaligned file is named and refused");
    show_bad_file(&d);
    step("5. Reductions over time, all ops in one pass (nodata is missing, skipna on)");
    char *reduce[] = {"reduce", "--quiet", "--op",  "mean,std,min,max,count,median",
                      "-o",     out,       at_list, NULL};
    if (run(cmd_reduce, "reduce", 7, reduce)) {
        return EXIT_RUN;
    }
    const char *ops[] = {"mean", "std", "min", "max", "count", "median"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char path[1400];
        snprintf(path, sizeof path, "%s/time_%s.tif", d.dir, ops[i]);
        describe_output(path);
    }
    step("6. Grouped reductions: seasons from the dates in the file names (DJF spans the year)");
    char *season[] = {"groupby", "--by", "season", "--time-pattern", "%Y%m%d", "--op",
                      "mean",    "-o",   seasons,  at_list,          NULL};
    if (run(cmd_groupby, "groupby", 10, season)) {
        return EXIT_RUN;
    }
    step("7. Grouped reductions with your own labels, several ops");
    char *halves[] = {"groupby", "--labels", "A,A,A,B,B,B", "--op", "mean,count",
                      "-o",      labels_out, at_list,       NULL};
    if (run(cmd_groupby, "groupby", 8, halves)) {
        return EXIT_RUN;
    }
    if (show_zarr(&d, at_list) || show_stac(&d) || show_kerchunk(&d, at_list)) {
        return EXIT_RUN;
    }
    printf("\nDone. Everything above is in %s; 'strata COMMAND --help' tells more.\n", d.dir);
    return 0;
}
