/* HTTP range requests through libcurl's multi interface, many in flight from one thread
 * (see fetch.h). GDAL's /vsicurl/ issues one request per block read, so a worker thread has
 * one request in flight at a time; GDAL's VSIFReadMultiRangeL runs ranges of one file in
 * parallel but a caller still waits file after file. Here every range of every file a work
 * item needs is in flight together, and a connection is kept alive from one to the next.
 *
 * GDAL's configuration stays the one place for settings: the options below are read from it
 * (environment, --config, CPLSetConfigOption), and a path with an option this file does not
 * apply is left to GDAL (st_fetch_handles). */
#include "source/fetch.h"

#include <cpl_conv.h>
#include <cpl_string.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum { ST_REQ_QUEUED, ST_REQ_RUNNING, ST_REQ_RETRY, ST_REQ_DONE, ST_REQ_FAILED };

struct st_fetch_req {
    char *url;
    uint64_t off;
    size_t len, min_len, got;
    unsigned char *data;
    size_t cap; /* bytes at data */
    int state;
    bool released;    /* the caller gave it back while it ran: freed when it ends */
    bool not_partial; /* the server answered a range request with the whole file */
    int tries;
    double not_before; /* monotonic seconds: a retry waits until then */
    long http;         /* last HTTP status, 0 when none came */
    uint64_t total;    /* the file's size from the answer's Content-Range, 0 when none */
    CURLcode cc;       /* last libcurl result */
    char curl_err[CURL_ERROR_SIZE];
    CURL *easy;
    st_fetch_req *prev, *next; /* in the queue or the retry list */
};

typedef struct req_list {
    st_fetch_req *head, *tail;
} req_list;

struct st_fetch {
    pthread_mutex_t lock;
    pthread_cond_t done; /* a request ended */
    pthread_t thread;
    bool started, stop;
    CURLM *multi;
    req_list queue, retry, active; /* active: running */
    int running, concurrency;
    /* Requests allowed in flight now: halved at each failure that calls for a retry, grown at
     * each success up to the concurrency, as object stores ask of a client that overloads
     * them (S3's SlowDown, 503). */
    double window;
    double last_failure; /* monotonic seconds */
    int nretry;          /* requests failed once and not done: queued, waiting or running */
    bool limits_changed;
    atomic_int pending; /* queued, waiting to retry or running */
    size_t held, max_bytes;
    struct pooled {
        unsigned char *p;
        size_t cap;
    } pool[32]; /* buffers of ended requests, for the next ones (take_buffer) */
    int npool;
    size_t pool_bytes;
    CURL **idle; /* easy handles kept for reuse */
    int nidle, idle_cap;
    int max_retry;
    double retry_delay;
    atomic_uint_fast64_t received;
    atomic_int in_flight;
    /* GDAL's options, read once when the thread starts */
    long timeout, connect_timeout;
    bool unsafe_ssl;
    char *user_agent, *proxy, *proxy_userpwd, *userpwd, *ca_bundle;
    long http_version;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void list_push(req_list *l, st_fetch_req *r, bool front) {
    r->prev = r->next = NULL;
    if (!l->head) {
        l->head = l->tail = r;
    } else if (front) {
        r->next = l->head;
        l->head->prev = r;
        l->head = r;
    } else {
        r->prev = l->tail;
        l->tail->next = r;
        l->tail = r;
    }
}

static void list_remove(req_list *l, st_fetch_req *r) {
    if (r->prev) {
        r->prev->next = r->next;
    } else {
        l->head = r->next;
    }
    if (r->next) {
        r->next->prev = r->prev;
    } else {
        l->tail = r->prev;
    }
    r->prev = r->next = NULL;
}

static void req_free(st_fetch_req *r) {
    if (r) {
        free(r->url);
        free(r->data);
        free(r);
    }
}

/* Buffers of ended requests are kept, up to this many bytes, for the next requests: a fresh
 * buffer of megabytes is fresh pages, each faulted in and zeroed by the kernel as the answer
 * is copied in, and unmapped again when freed. */
#define POOL_BYTES ((size_t)64 << 20)

/* A buffer of at least len bytes, not much more, and its size in *cap. Under the lock. */
static unsigned char *take_buffer(st_fetch *f, size_t len, size_t *cap) {
    int best = -1;
    for (int i = 0; i < f->npool; i++) {
        size_t c = f->pool[i].cap;
        if (c >= len && c <= 2 * len + 65536 && (best < 0 || c < f->pool[best].cap)) {
            best = i;
        }
    }
    if (best < 0) {
        *cap = len ? len : 1;
        return malloc(*cap);
    }
    unsigned char *p = f->pool[best].p;
    *cap = f->pool[best].cap;
    f->pool_bytes -= *cap;
    f->pool[best] = f->pool[--f->npool];
    return p;
}

/* Frees r, keeping its buffer for another request if there is room. Under the lock. */
static void req_done(st_fetch *f, st_fetch_req *r) {
    int slots = (int)(sizeof f->pool / sizeof f->pool[0]);
    if (r->data && f->npool < slots && f->pool_bytes + r->cap <= POOL_BYTES) {
        f->pool[f->npool++] = (struct pooled){r->data, r->cap};
        f->pool_bytes += r->cap;
        r->data = NULL;
    }
    req_free(r);
}

static char *dup_option(const char *key) {
    const char *v = CPLGetConfigOption(key, NULL);
    return v && v[0] ? strdup(v) : NULL;
}

static void read_options(st_fetch *f) {
    f->max_retry = atoi(CPLGetConfigOption("GDAL_HTTP_MAX_RETRY", "4"));
    f->retry_delay = CPLAtof(CPLGetConfigOption("GDAL_HTTP_RETRY_DELAY", "0.5"));
    f->timeout = atol(CPLGetConfigOption("GDAL_HTTP_TIMEOUT", "0"));
    f->connect_timeout = atol(CPLGetConfigOption("GDAL_HTTP_CONNECTTIMEOUT", "0"));
    f->unsafe_ssl = CPLTestBool(CPLGetConfigOption("GDAL_HTTP_UNSAFESSL", "NO"));
    f->user_agent = dup_option("GDAL_HTTP_USERAGENT");
    f->proxy = dup_option("GDAL_HTTP_PROXY");
    f->proxy_userpwd = dup_option("GDAL_HTTP_PROXYUSERPWD");
    f->userpwd = dup_option("GDAL_HTTP_USERPWD");
    f->ca_bundle = dup_option("CURL_CA_BUNDLE");
    if (!f->ca_bundle) {
        f->ca_bundle = dup_option("SSL_CERT_FILE");
    }
    const char *v = CPLGetConfigOption("GDAL_HTTP_VERSION", "");
    f->http_version = strcmp(v, "1.0") == 0   ? CURL_HTTP_VERSION_1_0
                      : strcmp(v, "1.1") == 0 ? CURL_HTTP_VERSION_1_1
                      : strcmp(v, "2") == 0   ? CURL_HTTP_VERSION_2_0
                                              : CURL_HTTP_VERSION_2TLS;
    if (f->max_retry < 0) {
        f->max_retry = 0;
    }
    if (!(f->retry_delay >= 0)) {
        f->retry_delay = 0.5;
    }
}

/* GDAL options that change what a request sends or how it authenticates, which this file
 * does not apply: a path read while one is set goes through GDAL. */
static const char *const unhandled_options[] = {
    "GDAL_HTTP_HEADERS",    "GDAL_HTTP_HEADER_FILE",    "GDAL_HTTP_AUTH",
    "GDAL_HTTP_COOKIE",     "GDAL_HTTP_COOKIEFILE",     "GDAL_HTTP_COOKIEJAR",
    "GDAL_HTTP_NETRC_FILE", "GDAL_HTTP_SSLCERT",        "GDAL_HTTP_SSLKEY",
    "GDAL_HTTP_PROXYAUTH",  "GDAL_HTTP_BEARER",         "GDAL_HTTP_SSL_VERIFYSTATUS",
    "GDAL_HTTPS_PROXY",     "CPL_CURL_VERBOSE",         "GDAL_HTTP_CAPATH",
    "GDAL_PROXY_AUTH",      "GDAL_HTTP_USE_CAPI_STORE",
};

bool st_fetch_handles(const char *path, const char **url) {
    static const char prefix[] = "/vsicurl/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0) {
        return false;
    }
    const char *u = path + sizeof prefix - 1;
    if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0) {
        return false;
    }
    if (CPLTestBool(CPLGetConfigOption("STRATA_GDAL_HTTP", "NO"))) {
        return false;
    }
    for (size_t i = 0; i < sizeof unhandled_options / sizeof unhandled_options[0]; i++) {
        if (CPLGetConfigOption(unhandled_options[i], NULL)) {
            return false;
        }
    }
    *url = u;
    return true;
}

static size_t on_data(char *p, size_t size, size_t n, void *user) {
    st_fetch_req *r = user;
    size_t k = size * n;
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 206) {
        if (code >= 200 && code < 300) {
            r->not_partial = true;
            return 0; /* stops the transfer: the whole file is not what was asked */
        }
        return k; /* an error page: its status says it all */
    }
    if (k > r->len - r->got) {
        k = r->len - r->got; /* a server may send past the range's end: keep what was asked */
    }
    memcpy(r->data + r->got, p, k);
    r->got += k;
    return size * n;
}

/* Keeps the file's size that a 206 answer's Content-Range gives ("bytes a-b/size"). */
static size_t on_header(char *p, size_t size, size_t n, void *user) {
    st_fetch_req *r = user;
    size_t k = size * n;
    static const char name[] = "content-range:";
    if (k > sizeof name && strncasecmp(p, name, sizeof name - 1) == 0) {
        const char *slash = memchr(p, '/', k);
        if (slash && slash + 1 < p + k && slash[1] >= '0' && slash[1] <= '9') {
            r->total = strtoull(slash + 1, NULL, 10);
        }
    }
    return k;
}

static CURL *take_easy(st_fetch *f) {
    CURL *e = f->nidle ? f->idle[--f->nidle] : curl_easy_init();
    if (e) {
        curl_easy_reset(e);
    }
    return e;
}

static void give_easy(st_fetch *f, CURL *e) {
    if (f->nidle == f->idle_cap) {
        int cap = f->idle_cap ? 2 * f->idle_cap : 64;
        CURL **grown = realloc(f->idle, (size_t)cap * sizeof *grown);
        if (!grown) {
            curl_easy_cleanup(e);
            return;
        }
        f->idle = grown;
        f->idle_cap = cap;
    }
    f->idle[f->nidle++] = e;
}

static bool start(st_fetch *f, st_fetch_req *r) {
    /* The buffer comes when the request starts, so that what waits in the queue holds no
     * memory and the cap bounds what does. */
    if (!r->data && !(r->data = take_buffer(f, r->len, &r->cap))) {
        return false;
    }
    CURL *e = take_easy(f);
    if (!e) {
        return false;
    }
    char range[64];
    snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)r->off,
             (unsigned long long)(r->off + r->len - 1));
    r->easy = e;
    r->got = 0;
    r->http = 0;
    r->not_partial = false;
    r->total = 0;
    r->curl_err[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_RANGE, range);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_err);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, f->http_version);
    /* Over TLS a server may offer HTTP/2: then waiting for the first connection to say so
     * lets every request share it. Plain HTTP is HTTP/1.1, one connection a request in
     * flight: waiting would serialise them. */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, strncasecmp(r->url, "https:", 6) == 0 ? 1L : 0L);
    if (f->timeout > 0) {
        curl_easy_setopt(e, CURLOPT_TIMEOUT, f->timeout);
    }
    if (f->connect_timeout > 0) {
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, f->connect_timeout);
    }
    if (f->unsafe_ssl) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(e, CURLOPT_USERAGENT, f->user_agent ? f->user_agent : "strata");
    if (f->proxy) {
        curl_easy_setopt(e, CURLOPT_PROXY, f->proxy);
    }
    if (f->proxy_userpwd) {
        curl_easy_setopt(e, CURLOPT_PROXYUSERPWD, f->proxy_userpwd);
    }
    if (f->userpwd) {
        curl_easy_setopt(e, CURLOPT_USERPWD, f->userpwd);
    }
    if (f->ca_bundle) {
        curl_easy_setopt(e, CURLOPT_CAINFO, f->ca_bundle);
    }
    if (curl_multi_add_handle(f->multi, e) != CURLM_OK) {
        give_easy(f, e);
        r->easy = NULL;
        return false;
    }
    r->state = ST_REQ_RUNNING;
    list_push(&f->active, r, false);
    f->running++;
    f->held += r->len;
    atomic_store(&f->in_flight, f->running);
    return true;
}

/* Starts what the limits allow, retries whose wait is over first (someone waits for them). */
static void start_queued(st_fetch *f) {
    double now = now_s();
    for (st_fetch_req *r = f->retry.head, *next; r; r = next) {
        next = r->next;
        if (r->not_before <= now) {
            list_remove(&f->retry, r);
            r->state = ST_REQ_QUEUED;
            list_push(&f->queue, r, true);
        }
    }
    /* Two requests may always run, so that blocks held by readers that stopped early cannot
     * stall the others: the cap is passed by two requests at most. A server that keeps
     * failing (the window below four) gets one request at a time while retries are pending,
     * retries first, so that they are not crowded out by new requests that fail in turn. */
    while (f->queue.head && f->running < (int)f->window &&
           (f->running < 2 || f->held + f->queue.head->len <= f->max_bytes)) {
        st_fetch_req *r = f->queue.head;
        if (f->window < 4 && f->nretry > 0 && (r->tries == 0 || f->running > 0)) {
            break;
        }
        list_remove(&f->queue, r);
        if (!start(f, r)) {
            atomic_fetch_sub(&f->pending, 1);
            r->cc = CURLE_OUT_OF_MEMORY;
            r->state = ST_REQ_FAILED;
            snprintf(r->curl_err, sizeof r->curl_err, "cannot start a request");
            pthread_cond_broadcast(&f->done);
        }
    }
}

static bool transient(const st_fetch_req *r) {
    if (r->not_partial) {
        return false;
    }
    if (r->cc == CURLE_OK) {
        return r->http == 429 || r->http >= 500 || (r->http == 206 && r->got < r->min_len);
    }
    switch (r->cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_COULDNT_RESOLVE_HOST:
        return true;
    default:
        return false;
    }
}

/* One transfer ended: done, retried later, or failed for good. Under the lock. */
static void finish(st_fetch *f, CURL *e, CURLcode cc) {
    st_fetch_req *r = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->http);
    curl_multi_remove_handle(f->multi, e);
    give_easy(f, e);
    list_remove(&f->active, r);
    r->easy = NULL;
    r->cc = cc;
    f->running--;
    f->held -= r->len;
    atomic_store(&f->in_flight, f->running);
    atomic_fetch_add(&f->received, r->got);
    if (r->released) {
        req_done(f, r);
        return;
    }
    bool ok = cc == CURLE_OK && r->http == 206 && r->got >= r->min_len;
    bool retry = !ok && transient(r) && r->tries < f->max_retry;
    if (r->tries > 0 && !retry) {
        f->nretry--;
    } else if (r->tries == 0 && retry) {
        f->nretry++;
    }
    if (ok) {
        /* Back to full speed quickly once failures stopped for a second, slowly while they
         * go on: a server failing every other request is then asked one request at a time,
         * each retry before anything new. */
        double w = now_s() - f->last_failure > 1 ? 2 * f->window : f->window + 1 / f->window;
        f->window = w < f->concurrency ? w : f->concurrency;
        atomic_fetch_sub(&f->pending, 1);
        r->state = ST_REQ_DONE;
        f->held += r->len;
    } else if (retry) {
        f->window = f->window / 2 > 1 ? f->window / 2 : 1;
        f->last_failure = now_s();
        r->tries++;
        r->state = ST_REQ_RETRY;
        double delay = f->retry_delay;
        for (int i = 1; i < r->tries && delay < 30; i++) {
            delay *= 2;
        }
        r->not_before = now_s() + delay;
        list_push(&f->retry, r, false);
        return;
    } else {
        atomic_fetch_sub(&f->pending, 1);
        r->state = ST_REQ_FAILED;
    }
    pthread_cond_broadcast(&f->done);
}

static long poll_ms(st_fetch *f) {
    if (!f->retry.head) {
        return 200;
    }
    double now = now_s(), first = f->retry.head->not_before;
    for (st_fetch_req *r = f->retry.head; r; r = r->next) {
        first = r->not_before < first ? r->not_before : first;
    }
    long ms = (long)((first - now) * 1000) + 1;
    return ms < 1 ? 1 : ms > 200 ? 200 : ms;
}

static void *fetch_main(void *arg) {
    st_fetch *f = arg;
    pthread_mutex_lock(&f->lock);
    while (!f->stop) {
        if (f->limits_changed) {
            f->limits_changed = false;
            curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)f->concurrency);
            curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)f->concurrency);
        }
        start_queued(f);
        long wait = poll_ms(f);
        pthread_mutex_unlock(&f->lock);
        int still = 0;
        curl_multi_perform(f->multi, &still);
        pthread_mutex_lock(&f->lock);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(f->multi, &left))) {
            if (m->msg == CURLMSG_DONE) {
                finish(f, m->easy_handle, m->data.result);
            }
        }
        start_queued(f);
        pthread_mutex_unlock(&f->lock);
        curl_multi_poll(f->multi, NULL, 0, (int)wait, NULL);
        pthread_mutex_lock(&f->lock);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

st_fetch *st_fetch_new(void) {
    pthread_once(&curl_once, curl_init_once);
    st_fetch *f = st_calloc(1, sizeof *f);
    if (!f) {
        return NULL;
    }
    f->multi = curl_multi_init();
    if (!f->multi) {
        free(f);
        return NULL;
    }
    pthread_mutex_init(&f->lock, NULL);
    pthread_cond_init(&f->done, NULL);
    f->concurrency = ST_FETCH_CONCURRENCY;
    f->window = f->concurrency;
    f->limits_changed = true;
    f->max_bytes = ST_FETCH_MAX_BYTES;
    curl_multi_setopt(f->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return f;
}

void st_fetch_set_limits(st_fetch *f, int concurrency, size_t max_bytes) {
    pthread_mutex_lock(&f->lock);
    f->concurrency = concurrency > 0 ? concurrency : ST_FETCH_CONCURRENCY;
    f->window = f->concurrency;
    f->max_bytes = max_bytes ? max_bytes : ST_FETCH_MAX_BYTES;
    f->limits_changed = true; /* the multi handle is the fetch thread's: it applies them */
    pthread_mutex_unlock(&f->lock);
    curl_multi_wakeup(f->multi);
}

static void free_list(req_list *l) {
    while (l->head) {
        st_fetch_req *r = l->head;
        list_remove(l, r);
        req_free(r);
    }
}

void st_fetch_free(st_fetch *f) {
    if (!f) {
        return;
    }
    pthread_mutex_lock(&f->lock);
    f->stop = true;
    bool started = f->started;
    pthread_mutex_unlock(&f->lock);
    if (started) {
        curl_multi_wakeup(f->multi);
        pthread_join(f->thread, NULL);
    }
    /* What still runs was given back (released): the owner releases every request before
     * freeing the fetcher. */
    while (f->active.head) {
        st_fetch_req *r = f->active.head;
        list_remove(&f->active, r);
        curl_multi_remove_handle(f->multi, r->easy);
        curl_easy_cleanup(r->easy);
        req_free(r);
    }
    free_list(&f->queue);
    free_list(&f->retry);
    for (int i = 0; i < f->nidle; i++) {
        curl_easy_cleanup(f->idle[i]);
    }
    free(f->idle);
    for (int i = 0; i < f->npool; i++) {
        free(f->pool[i].p);
    }
    curl_multi_cleanup(f->multi);
    free(f->user_agent);
    free(f->proxy);
    free(f->proxy_userpwd);
    free(f->userpwd);
    free(f->ca_bundle);
    pthread_cond_destroy(&f->done);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

st_fetch_req *st_fetch_submit(st_fetch *f, const char *url, uint64_t off, size_t len,
                              size_t min_len) {
    st_fetch_req *r = st_calloc(1, sizeof *r);
    if (!r || !(r->url = strdup(url))) {
        req_free(r);
        return NULL;
    }
    r->off = off;
    r->len = len;
    r->min_len = min_len;
    r->state = ST_REQ_QUEUED;
    pthread_mutex_lock(&f->lock);
    if (!f->started) {
        read_options(f);
        if (pthread_create(&f->thread, NULL, fetch_main, f) != 0) {
            pthread_mutex_unlock(&f->lock);
            req_free(r);
            return NULL;
        }
        f->started = true;
    }
    list_push(&f->queue, r, false);
    atomic_fetch_add(&f->pending, 1);
    pthread_mutex_unlock(&f->lock);
    curl_multi_wakeup(f->multi);
    return r;
}

strata_status st_fetch_wait(st_fetch *f, st_fetch_req *r, const unsigned char **data, size_t *n) {
    pthread_mutex_lock(&f->lock);
    while (r->state != ST_REQ_DONE && r->state != ST_REQ_FAILED) {
        pthread_cond_wait(&f->done, &f->lock);
    }
    pthread_mutex_unlock(&f->lock);
    if (r->state == ST_REQ_DONE) {
        *data = r->data;
        *n = r->got;
        return STRATA_OK;
    }
    int tries = r->tries + 1;
    if (r->not_partial) {
        return st_fail(STRATA_ERR_IO,
                       "%s: the server does not support HTTP range requests (it answered a "
                       "request for bytes %llu-%llu with the whole file)",
                       r->url, (unsigned long long)r->off,
                       (unsigned long long)(r->off + r->len - 1));
    }
    if (r->cc != CURLE_OK) {
        return st_fail(STRATA_ERR_IO, "%s: bytes %llu-%llu: %s (after %d tr%s)", r->url,
                       (unsigned long long)r->off, (unsigned long long)(r->off + r->len - 1),
                       r->curl_err[0] ? r->curl_err : curl_easy_strerror(r->cc), tries,
                       tries == 1 ? "y" : "ies");
    }
    if (r->http == 206) {
        return st_fail(STRATA_ERR_IO, "%s: bytes %llu-%llu: the server sent %zu bytes of %zu",
                       r->url, (unsigned long long)r->off,
                       (unsigned long long)(r->off + r->len - 1), r->got, r->min_len);
    }
    return st_fail(STRATA_ERR_IO, "%s: bytes %llu-%llu: HTTP status %ld (after %d tr%s)", r->url,
                   (unsigned long long)r->off, (unsigned long long)(r->off + r->len - 1), r->http,
                   tries, tries == 1 ? "y" : "ies");
}

void st_fetch_release(st_fetch *f, st_fetch_req *r) {
    if (!r) {
        return;
    }
    pthread_mutex_lock(&f->lock);
    if (r->tries > 0 && r->state != ST_REQ_DONE && r->state != ST_REQ_FAILED) {
        f->nretry--;
    }
    switch (r->state) {
    case ST_REQ_QUEUED:
        list_remove(&f->queue, r);
        atomic_fetch_sub(&f->pending, 1);
        req_free(r);
        break;
    case ST_REQ_RETRY:
        list_remove(&f->retry, r);
        atomic_fetch_sub(&f->pending, 1);
        req_free(r);
        break;
    case ST_REQ_RUNNING:
        r->released = true;
        atomic_fetch_sub(&f->pending, 1);
        break;
    case ST_REQ_DONE:
        f->held -= r->len;
        req_done(f, r);
        break;
    default:
        req_free(r);
        break;
    }
    pthread_mutex_unlock(&f->lock);
    curl_multi_wakeup(f->multi);
}

bool st_fetch_hungry(st_fetch *f) {
    pthread_mutex_lock(&f->lock);
    bool hungry = atomic_load(&f->pending) < 2 * f->concurrency && f->held < f->max_bytes / 2;
    pthread_mutex_unlock(&f->lock);
    return hungry;
}

void st_fetch_stats(st_fetch *f, uint64_t *bytes, int *running) {
    *bytes = atomic_load(&f->received);
    *running = atomic_load(&f->in_flight);
}

uint64_t st_fetch_file_size(const st_fetch_req *r) {
    return r->state == ST_REQ_DONE ? r->total : 0;
}
