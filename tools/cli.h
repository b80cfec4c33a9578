/* Shared pieces of the strata command-line tool. The tool uses the public API only. */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include "strata.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

/* Exit codes: 0 success, 1 the data or the run failed, 2 the command line is wrong. */
enum { EXIT_RUN = 1, EXIT_USAGE = 2 };

typedef struct string_list {
    char **items;
    size_t n, cap;
} string_list;

void sl_free(string_list *l);
bool sl_push(string_list *l, const char *s);
/* Adds one argument: a path, or @LIST naming a file of paths (one per line; blank lines
 * and lines starting with '#' skipped; relative paths are relative to the list file). */
bool sl_add_arg(string_list *l, const char *arg);
/* Splits "a,b,c", or reads @FILE one item per line. */
bool sl_split(string_list *l, const char *arg);

/* Options every command that reads a stack takes. */
typedef struct source_opts {
    string_list files;
    const char *times;        /* --times list or @FILE */
    const char *time_pattern; /* --time-pattern */
    int threads;
    int cache;
    int io_concurrency; /* --io-concurrency N: range requests in flight (0: default) */
    bool quiet;
    /* STAC input instead of files (--stac ITEMS); nothing here is allocated */
    const char *stac;       /* a file, an http(s) URL or "-" */
    const char *assets[16]; /* --asset KEY[,KEY...], repeatable */
    int nassets;
    bool keep_order; /* --keep-order */
    bool has_bbox;   /* --bbox minx,miny,maxx,maxy (lon/lat) */
    double bbox[4];
    int max_items;               /* --max-items N; 0: all */
    const char *href_replace[8]; /* --href-replace FROM=TO, repeatable, first match wins */
    int nhref_replace;
    int fail_code; /* set when open_source fails: EXIT_USAGE or EXIT_RUN */
    /* Output grid and same-day mosaics (cli_grid.c); nothing here is allocated */
    struct {
        const char *like, *crs, *bounds_crs, *resampling, *mosaic, *mosaic_op, *max_error;
        double res[2];
        bool has_res, has_bounds;
        double bounds[4];
    } grid;
    /* STAC API search instead (--stac-search URL and its filters, cmd_stac.c) */
    struct {
        const char *url, *collections, *datetime, *query, *filter, *sortby;
        int limit;
        const char *headers[16]; /* --header 'Name: value', repeatable */
        int nheaders;
    } search;
} source_opts;

/* Returns true when it consumed option opt (getopt_long's value), with optarg. */
enum {
    OPT_TIMES = 1000,
    OPT_TIME_PATTERN,
    OPT_THREADS,
    OPT_CACHE,
    OPT_QUIET,
    OPT_STAC,
    OPT_ASSET,
    OPT_KEEP_ORDER,
    OPT_BBOX,
    OPT_MAX_ITEMS,
    OPT_HREF_REPLACE,
    OPT_STAC_SEARCH,
    OPT_COLLECTIONS,
    OPT_DATETIME,
    OPT_QUERY,
    OPT_FILTER,
    OPT_LIMIT,
    OPT_SORTBY,
    OPT_HEADER,
    OPT_GRID,
    OPT_CRS,
    OPT_RESOLUTION,
    OPT_BOUNDS,
    OPT_BOUNDS_CRS,
    OPT_RESAMPLING,
    OPT_MOSAIC,
    OPT_MOSAIC_OP,
    OPT_WARP_ERROR,
    OPT_IO_CONCURRENCY,
    OPT_FIRST_COMMAND /* commands number their own options from here */
};
// clang-format off
#define SOURCE_LONG_OPTIONS                                                                        \
    {"times", required_argument, NULL, OPT_TIMES},                                                 \
        {"time-pattern", required_argument, NULL, OPT_TIME_PATTERN},                               \
        {"threads", required_argument, NULL, OPT_THREADS},                                         \
        {"cache", required_argument, NULL, OPT_CACHE}, {"quiet", no_argument, NULL, 'q'},          \
        {"io-concurrency", required_argument, NULL, OPT_IO_CONCURRENCY},                           \
        {"stac", required_argument, NULL, OPT_STAC},                                               \
        {"asset", required_argument, NULL, OPT_ASSET},                                             \
        {"keep-order", no_argument, NULL, OPT_KEEP_ORDER},                                         \
        {"bbox", required_argument, NULL, OPT_BBOX},                                               \
        {"max-items", required_argument, NULL, OPT_MAX_ITEMS},                                     \
        {"href-replace", required_argument, NULL, OPT_HREF_REPLACE}, STAC_SEARCH_LONG_OPTIONS, \
        GRID_LONG_OPTIONS
#define GRID_LONG_OPTIONS                                                                          \
    {"grid", required_argument, NULL, OPT_GRID}, {"crs", required_argument, NULL, OPT_CRS},        \
        {"resolution", required_argument, NULL, OPT_RESOLUTION},                                   \
        {"bounds", required_argument, NULL, OPT_BOUNDS},                                           \
        {"bounds-crs", required_argument, NULL, OPT_BOUNDS_CRS},                                   \
        {"resampling", required_argument, NULL, OPT_RESAMPLING},                                   \
        {"mosaic", required_argument, NULL, OPT_MOSAIC},                                           \
        {"mosaic-op", required_argument, NULL, OPT_MOSAIC_OP},                                     \
        {"warp-error", required_argument, NULL, OPT_WARP_ERROR}
#define STAC_SEARCH_LONG_OPTIONS                                                                   \
    {"stac-search", required_argument, NULL, OPT_STAC_SEARCH},                                     \
        {"collections", required_argument, NULL, OPT_COLLECTIONS},                                 \
        {"datetime", required_argument, NULL, OPT_DATETIME},                                       \
        {"query", required_argument, NULL, OPT_QUERY},                                             \
        {"filter", required_argument, NULL, OPT_FILTER},                                           \
        {"limit", required_argument, NULL, OPT_LIMIT},                                             \
        {"sortby", required_argument, NULL, OPT_SORTBY},                                           \
        {"header", required_argument, NULL, OPT_HEADER}
/* Help lines for the output grid and mosaic options. */
#define GRID_HELP                                                                                  \
    "  --grid like:FILE  read every file on FILE's grid (warped when on another one)\n"       \
    "  --crs CRS --resolution R[,RY] [--bounds XMIN,YMIN,XMAX,YMAX [--bounds-crs CRS]]\n"     \
    "                  read on this grid (default bounds: the union of the footprints,\n"     \
    "                  snapped to whole multiples of the resolution; CRS: EPSG:N, WKT, ...)\n" \
    "  --resampling R  nearest (default), bilinear, cubic, cubicspline, lanczos, average,\n"  \
    "                  mode, min, max, med, q1, q3 (as gdalwarp -r)\n"                        \
    "  --warp-error P  error threshold of the approximate transformer, in pixels (as\n"     \
    "                  gdalwarp -et; default 0.125; 0: exact)\n"                               \
    "  --mosaic day|solar_day  fuse timesteps of the same (solar) day into one\n"             \
    "  --mosaic-op OP  first (default: first valid in item order), last, mean, max, min,\n"  \
    "                  median\n"
/* Help lines for the STAC source options, for the commands' --help. */
#define SOURCE_STAC_HELP                                                                           \
    "  --stac ITEMS    read STAC items instead of files: an Item, ItemCollection, array of\n"      \
    "                  items or API search response, from a file, an http(s) URL or -\n"           \
    "  --asset K[,K]   asset key(s); several keys become the bands, in order (default:\n"          \
    "                  the first asset of the first item)\n"                                       \
    "  --keep-order    keep the items' order (default: by properties.datetime)\n"                  \
    "  --bbox BOX      minx,miny,maxx,maxy (lon/lat): drop items whose bbox misses it\n"           \
    "  --max-items N   at most N items, after filtering\n"                                         \
    "  --href-replace FROM=TO  rewrite hrefs starting with FROM (mirrors, signed URLs)\n"      \
    "  --stac-search URL  search the STAC API at URL (landing page or /search) instead;\n"     \
    "                  --bbox and --max-items go to the search too\n" STAC_SEARCH_HELP
#define STAC_SEARCH_HELP                                                                           \
    "  --collections C[,C]  collection ids\n"                                                      \
    "  --datetime T    RFC 3339 time or interval A/B ('..' for an open end)\n"                     \
    "  --query Q       query extension: 'eo:cloud_cover<20[,prop>=v...]' or a JSON object\n"       \
    "  --filter CQL2   filter extension: a CQL2-JSON object\n"                                     \
    "  --limit N       page size asked of the API\n"                                               \
    "  --sortby F      [+|-]field[,...]\n"                                                         \
    "  --header 'Name: value'  request header (API keys; repeatable; also\n"                       \
    "                  STRATA_STAC_HEADERS, one a line); values are never printed\n"
// clang-format on
/* Handles a source option; returns 1 when consumed, 0 when not a source option, -1 on a
 * bad value (message printed). */
int source_opt(source_opts *so, int opt, const char *arg);
/* Runs getopt_long over argv: source options go to so, every other option to
 * handle(ctx, opt, optarg) (a non-zero return stops and is returned), operands to so->files
 * (paths or @LIST). Short options: -h, -o VALUE, -q. */
int parse_command_line(int argc, char **argv, const struct option *longopts, source_opts *so,
                       int (*handle)(void *ctx, int opt, const char *arg), void *ctx);
/* Builds the collection from so (files, times, cache size). Prints the error and sets
 * so->fail_code. */
strata_collection *open_source(const char *cmd, source_opts *so);
/* Exit code for a failed open_source: EXIT_USAGE when the command line was wrong. */
int source_fail_code(const source_opts *so);

/* As open_source; under MPI rank 0 opens it and the others rebuild it from its JSON form. */
strata_collection *open_shared_source(const char *cmd, source_opts *so);
/* Parses a non-negative integer; false on junk. */
bool parse_int(const char *s, int *out);
/* Parses "mean,std" into ops. Prints the error. */
bool parse_ops(const char *cmd, const char *arg, strata_op *ops, size_t *nops);

/* A progress line on stderr when it is a terminal (and not quiet). */
typedef struct progress_line {
    const char *what;
    bool enabled;
    double start;
    const strata_collection *c; /* when set: its network figures, for remote stacks */
} progress_line;
void progress_init(progress_line *p, const char *what, bool quiet);
int progress_cb(double fraction, const char *message, void *user);
void progress_end(progress_line *p);

/* Per-timestep labels from --by KEY (derived from the times) or --labels LIST, exactly one a
 * timestep: 0, or the error printed and an exit code. */
int cli_labels(const char *cmd, strata_collection *c, const char *by, const char *list,
               string_list *labels);
/* --zarr-version V and --codec C of a Zarr store, as every command that writes one takes them:
 * 0, or the error printed and EXIT_USAGE. */
int zarr_version_opt(const char *cmd, const char *arg, strata_zarr_opts *zo);
int zarr_codec_opt(const char *cmd, const char *arg, strata_zarr_opts *zo);

void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints strata's last error, prefixed with the command; returns EXIT_RUN, or 128 + the
 * signal when SIGINT/SIGTERM cancelled the run. */
int cli_fail(const char *cmd);
/* While a job runs: SIGINT and SIGTERM make progress_cb cancel it (the library then removes
 * what it wrote) instead of killing the process. cli_release_signals restores the default. */
void cli_catch_signals(void);
void cli_release_signals(void);

int cmd_info(int argc, char **argv);
int cmd_reduce(int argc, char **argv);
int cmd_groupby(int argc, char **argv);
int cmd_read_all(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_to_zarr(int argc, char **argv);
int cmd_anomaly(int argc, char **argv);
int cmd_kerchunk(int argc, char **argv);
int cmd_stac(int argc, char **argv);

/* Output grid and mosaic options (cli_grid.c): grid_opt handles an option as source_opt
 * does; apply_grid puts the collection on the grid and makes the mosaic (prints the error,
 * sets so->fail_code). */
int grid_opt(source_opts *so, int opt, const char *arg);
/* The output grid the options ask for; false when none. */
bool grid_from_opts(const source_opts *so, strata_grid_opts *g);
bool apply_grid(const char *cmd, strata_collection *c, source_opts *so);

/* STAC API search (cmd_stac.c): handles a search option as source_opt does; true when a
 * search filter is given; the collection the search finds (prints the error). */
int stac_search_opt(source_opts *so, int opt, const char *arg);
bool stac_search_filters_given(const source_opts *so);
strata_collection *open_stac_search(const char *cmd, source_opts *so, const strata_stac_opts *o);

#endif
