/* strata read-all: reads every pixel of a stack through strata's window reads and prints a
 * checksum. The benchmark of the reader alone, without kernels or outputs. */
#include "cli.h"

#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct read_all_args {
    source_opts so;
    int help;
} read_all_args;

static int read_all_option(void *ctx, int opt, const char *arg) {
    (void)arg;
    read_all_args *a = ctx;
    if (opt == 'h') {
        a->help = 1;
        return 0;
    }
    return EXIT_USAGE;
}

static int parse_read_all_args(int argc, char **argv, read_all_args *a) {
    static const struct option longopts[] = {
        SOURCE_LONG_OPTIONS, {"help", no_argument, NULL, 'h'}, {0}};
    memset(a, 0, sizeof *a);
    return parse_command_line(argc, argv, longopts, &a->so, read_all_option, a);
}

typedef struct read_all_job {
    const strata_collection *c;
    int tile_rows, tile_cols, tiles_x;
    size_t ntiles, nitems;
    size_t next; /* guarded by lock */
    pthread_mutex_t lock;
    double checksum;
    int failed;
} read_all_job;

static bool next_item(read_all_job *j, size_t *item) {
    pthread_mutex_lock(&j->lock);
    bool ok = !j->failed && j->next < j->nitems;
    *item = j->next++;
    pthread_mutex_unlock(&j->lock);
    return ok;
}

/* Time-major items, so a thread keeps reading the file it has open. */
static void *read_all_worker(void *arg) {
    read_all_job *j = arg;
    const strata_meta *m = strata_collection_meta(j->c);
    float *buf = malloc((size_t)j->tile_rows * j->tile_cols * sizeof(float));
    double sum = 0;
    size_t item;
    while (buf && next_item(j, &item)) {
        size_t t = item / j->ntiles, tile = item % j->ntiles;
        int row0 = (int)(tile / (size_t)j->tiles_x) * j->tile_rows;
        int col0 = (int)(tile % (size_t)j->tiles_x) * j->tile_cols;
        strata_window w = {t, 1, 0, 1, row0, j->tile_rows, col0, j->tile_cols};
        w.nrows = strata_meta_rows(m) - row0 < w.nrows ? strata_meta_rows(m) - row0 : w.nrows;
        w.ncols = strata_meta_cols(m) - col0 < w.ncols ? strata_meta_cols(m) - col0 : w.ncols;
        for (int b = 0; b < strata_meta_bands(m); b++) {
            w.b0 = b;
            if (strata_collection_read(j->c, &w, STRATA_FLOAT32, buf) != STRATA_OK) {
                pthread_mutex_lock(&j->lock);
                if (!j->failed) {
                    cli_fail("read-all");
                }
                j->failed = 1;
                pthread_mutex_unlock(&j->lock);
                break;
            }
            sum += buf[0];
        }
    }
    pthread_mutex_lock(&j->lock);
    j->checksum += sum;
    j->failed |= buf == NULL;
    pthread_mutex_unlock(&j->lock);
    free(buf);
    return NULL;
}

int cmd_read_all(int argc, char **argv) {
    read_all_args a;
    int rc = parse_read_all_args(argc, argv, &a);
    if (!rc && a.help) {
        fputs("usage: strata read-all [--threads N] [--cache N] FILE...\n"
              "  Reads every pixel of every file through strata's window reads (the reader's\n"
              "  benchmark) and prints a checksum.\n",
              stdout);
        sl_free(&a.so.files);
        return 0;
    }
    strata_collection *c = rc ? NULL : open_source("read-all", &a.so);
    if (c) {
        read_all_job j = {.c = c};
        strata_chunks ch;
        strata_collection_chunks(c, &ch);
        const strata_meta *m = strata_collection_meta(c);
        j.tile_rows = ch.y;
        j.tile_cols = ch.x;
        j.tiles_x = (strata_meta_cols(m) + ch.x - 1) / ch.x;
        j.ntiles = (size_t)j.tiles_x * ((strata_meta_rows(m) + ch.y - 1) / ch.y);
        j.nitems = j.ntiles * strata_collection_size(c);
        pthread_mutex_init(&j.lock, NULL);
        int n = a.so.threads > 0 ? a.so.threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
        pthread_t tids[256];
        n = n < 1 ? 1 : n > 256 ? 256 : n;
        for (int i = 0; i < n; i++) {
            pthread_create(&tids[i], NULL, read_all_worker, &j);
        }
        for (int i = 0; i < n; i++) {
            pthread_join(tids[i], NULL);
        }
        pthread_mutex_destroy(&j.lock);
        rc = j.failed ? EXIT_RUN : 0;
        if (!rc) {
            printf("read %zu tiles of %zu files, checksum %g\n", j.nitems,
                   strata_collection_size(c), j.checksum);
        }
        strata_collection_free(c);
    } else if (!rc) {
        rc = source_fail_code(&a.so);
    }
    sl_free(&a.so.files);
    return rc;
}
