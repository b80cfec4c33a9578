/* Remote files for the kerchunk indexer (see kerchunk.h): headers through the fetch stage.
 *
 * Indexing a file reads its header, a few kilobytes at its start. Read one file after another,
 * a stack of remote files waits one round trip (two with GDAL's HEAD) per file; here the
 * headers of the next files are asked for ahead of the indexer, and the fetch stage keeps
 * many in flight, in the order the indexer reads them. The chunks the TIFF reader reads (a
 * strip to pad, ZSTD frames to re-encode, chunks small enough to inline) are announced and
 * fetched together; any other bytes past a header are fetched when asked for. */
#include "kerchunk/kerchunk.h"
#include "source/fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A header is first read as this many bytes: GDAL's first read of a /vsicurl/ file too.
 * Headers are asked for this many files ahead of the one read: enough to keep the fetch
 * stage busy, few enough that a list of a million files holds 4 MB of headers, not 16 GB. */
enum { KC_HEAD_BYTES = 16384, KC_AHEAD = 256 };

typedef struct kc_rfile {
    char *gdal_path; /* /vsicurl/URL */
    const char *url; /* in gdal_path */
    st_fetch_req *head;
    unsigned char *own; /* the first file's header, read through GDAL */
} kc_rfile;

struct kc_remote {
    st_fetch *fetch;
    size_t n;
    kc_rfile *files;
    size_t next; /* the next file whose header is to be asked for */
};

/* Asks for the headers of the files up to KC_AHEAD after file i. */
static strata_status ask_ahead(kc_remote *r, size_t i) {
    for (; r->next < r->n && r->next <= i + KC_AHEAD; r->next++) {
        kc_rfile *f = &r->files[r->next];
        if (!(f->head = st_fetch_submit(r->fetch, f->url, 0, KC_HEAD_BYTES, 8))) {
            return st_nomem("request");
        }
    }
    return STRATA_OK;
}

/* Announced reads of a file merged as netread.c merges blocks: ranges at most 4 KB apart, in
 * requests of at most 4 MB. */
enum { KC_MERGE_GAP = 4096, KC_MERGE_MAX = 4 << 20 };

typedef struct kc_run {
    uint64_t off, end;
    st_fetch_req *req;
} kc_run;

/* A source's reads past its header: from the announced runs, else one request each. */
typedef struct kc_more {
    st_fetch *fetch;
    const char *url;
    kc_run *runs;
    size_t nruns, pos; /* runs before pos were read and given back */
} kc_more;

static void drop_runs(kc_more *m) {
    for (size_t k = m->pos; k < m->nruns; k++) {
        st_fetch_release(m->fetch, m->runs[k].req);
    }
    free(m->runs);
    m->runs = NULL;
    m->nruns = m->pos = 0;
}

static void announce(void *ctx, const uint64_t *off, const uint64_t *len, size_t n) {
    kc_more *m = ctx;
    drop_runs(m);
    if (!(m->runs = st_malloc(n * sizeof *m->runs))) {
        return; /* each read asks for its bytes alone */
    }
    for (size_t i = 0; i < n;) {
        uint64_t start = off[i], end = off[i] + len[i];
        size_t j = i + 1;
        while (j < n && off[j] >= end && off[j] - end <= KC_MERGE_GAP &&
               off[j] + len[j] - start <= KC_MERGE_MAX) {
            end = off[j] + len[j];
            j++;
        }
        st_fetch_req *r =
            st_fetch_submit(m->fetch, m->url, start, (size_t)(end - start), (size_t)(end - start));
        if (!r) {
            break;
        }
        m->runs[m->nruns++] = (kc_run){start, end, r};
        i = j;
    }
}

static strata_status read_more(void *ctx, uint64_t off, void *dst, size_t n) {
    kc_more *m = ctx;
    const unsigned char *p;
    size_t got;
    for (size_t k = m->pos; k < m->nruns; k++) {
        if (m->runs[k].off <= off && off < m->runs[k].end && n <= m->runs[k].end - off) {
            /* The reads come in the announced order: the runs before are done with. */
            for (; m->pos < k; m->pos++) {
                st_fetch_release(m->fetch, m->runs[m->pos].req);
            }
            ST_TRY(st_fetch_wait(m->fetch, m->runs[k].req, &p, &got));
            memcpy(dst, p + (off - m->runs[k].off), n);
            return STRATA_OK;
        }
    }
    st_fetch_req *r = st_fetch_submit(m->fetch, m->url, off, n, n);
    if (!r) {
        return st_nomem("request");
    }
    strata_status st = st_fetch_wait(m->fetch, r, &p, &got);
    if (st == STRATA_OK) {
        memcpy(dst, p, n);
    }
    st_fetch_release(m->fetch, r);
    return st;
}

void kc_remote_free(kc_remote *r) {
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->n; i++) {
        st_fetch_release(r->fetch, r->files[i].head);
        free(r->files[i].gdal_path);
        free(r->files[i].own);
    }
    st_fetch_free(r->fetch);
    free(r->files);
    free(r);
}

/* GDAL's path of an http(s) URL (or of /vsicurl/ and one), NULL for anything else. */
static char *gdal_path(const char *path) {
    const char *u = strncmp(path, "/vsicurl/", 9) == 0 ? path + 9 : path;
    if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0) {
        return NULL;
    }
    size_t len = strlen(u) + 10;
    char *g = st_malloc(len);
    if (g) {
        snprintf(g, len, "/vsicurl/%s", u);
    }
    return g;
}

strata_status kc_remote_new(const char *const *paths, size_t n, kc_remote **out) {
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        char *g = gdal_path(paths[i]);
        const char *url;
        bool handled = g && st_fetch_handles(g, &url);
        free(g);
        if (!handled) {
            return STRATA_OK;
        }
    }
    st_remote_configure();
    kc_remote *r = st_calloc(1, sizeof *r);
    if (!r || !(r->files = st_calloc(n, sizeof *r->files)) || !(r->fetch = st_fetch_new())) {
        kc_remote_free(r);
        return st_nomem("remote files");
    }
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        kc_rfile *f = &r->files[i];
        if (!(f->gdal_path = gdal_path(paths[i]))) {
            kc_remote_free(r);
            return st_nomem("remote files");
        }
        st_fetch_handles(f->gdal_path, &f->url);
    }
    /* The first file is opened by GDAL for its geobox, which reads its header. */
    r->next = 1;
    strata_status st = ask_ahead(r, 0);
    if (st != STRATA_OK) {
        kc_remote_free(r);
        return st;
    }
    *out = r;
    return STRATA_OK;
}

const char *kc_remote_url(const kc_remote *r, size_t i) {
    return r->files[i].url;
}

const char *kc_remote_gdal_path(const kc_remote *r, size_t i) {
    return r->files[i].gdal_path;
}

strata_status kc_remote_open(kc_remote *r, size_t i, kc_src *s) {
    kc_rfile *f = &r->files[i];
    const unsigned char *p;
    size_t len;
    uint64_t size;
    ST_TRY(ask_ahead(r, i));
    if (i == 0 && (f->own = st_remote_head(f->gdal_path, KC_HEAD_BYTES, &len, &size)) && size) {
        /* GDAL read it into its cache, where its open for the geobox finds it. */
        p = f->own;
    } else {
        if (i == 0) {
            /* GDAL could not read it: the fetch stage tries, and names what went wrong. */
            free(f->own);
            f->own = NULL;
            f->head = st_fetch_submit(r->fetch, f->url, 0, KC_HEAD_BYTES, 8);
            if (!f->head) {
                return st_nomem("request");
            }
        }
        ST_TRY(st_fetch_wait(r->fetch, f->head, &p, &len));
        if (!(size = st_fetch_file_size(f->head))) {
            return st_fail(STRATA_ERR_IO, "%s: the server did not say the file's size", f->url);
        }
    }
    kc_more *m = st_malloc(sizeof *m);
    if (!m) {
        return st_nomem("remote file");
    }
    *m = (kc_more){.fetch = r->fetch, .url = f->url};
    kc_src_mem(s, f->url, p, len);
    s->size = size;
    s->more = read_more;
    s->announce = announce;
    s->more_ctx = m;
    return STRATA_OK;
}

void kc_remote_close(kc_remote *r, size_t i, kc_src *s) {
    kc_rfile *f = &r->files[i];
    st_fetch_release(r->fetch, f->head);
    f->head = NULL;
    free(f->own);
    f->own = NULL;
    if (s->more_ctx) {
        drop_runs(s->more_ctx);
    }
    free(s->more_ctx);
    s->more_ctx = NULL;
}
