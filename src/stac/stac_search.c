/* STAC API search: finds the API's search endpoint and conformance classes from its landing
 * page, sends the search (POST when the API offers it, else GET), follows "next" links and
 * gathers the items into one ItemCollection. Requests go through GDAL's HTTP client so that
 * proxies and GDAL_HTTP_* settings apply; retries are done here, because GDAL 3.6 neither
 * honours Retry-After nor tells the HTTP status apart from the message. */
#include "common/opts.h"
#include "stac/stac_search.h"

#include <cpl_conv.h>
#include <cpl_http.h>
#include <cpl_string.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define URL_FMT "%.300s"
/* Waits longer than this for one Retry-After are cut: a search is interactive. */
#define MAX_RETRY_AFTER 60.0
#define DEFAULT_PAGE_CAP ((size_t)64 << 20)

void strata_stac_search_opts_init(strata_stac_search_opts *opts) {
    if (opts) {
        memset(opts, 0, sizeof *opts);
        opts->size = sizeof *opts;
    }
}

/* ---- growing strings --------------------------------------------------------------------- */

typedef struct buf {
    char *s;
    size_t len, cap;
    bool nomem;
} buf;

static void buf_add(buf *b, const char *s, size_t n) {
    if (b->nomem) {
        return;
    }
    if (!st_grow(&b->s, &b->cap, b->len + n + 1, 1, 256)) {
        b->nomem = true;
        return;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void buf_str(buf *b, const char *s) {
    buf_add(b, s, strlen(s));
}

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static void buf_encoded(buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            buf_add(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_add(b, e, 3);
        }
    }
}

/* ---- the request context ----------------------------------------------------------------- */

typedef struct search_ctx {
    const strata_stac_search_opts *o;
    char origin[512]; /* scheme://host[:port] of the API: only it is sent the headers */
    buf headers;      /* the user's headers, "A: b\r\nC: d" */
    size_t page_cap;
    int max_retry;
    double delay;
} search_ctx;

static size_t origin_len(const char *url) {
    const char *p = strstr(url, "://");
    return p ? (size_t)(p + 3 - url) + strcspn(p + 3, "/?#") : 0;
}

static bool same_origin(const search_ctx *c, const char *url) {
    size_t n = origin_len(url);
    return n && n == strlen(c->origin) && strncasecmp(url, c->origin, n) == 0;
}

/* One header "Name: value": a token name, no line breaks (they would start another). */
static strata_status add_header(search_ctx *c, const char *h, size_t n) {
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t' || h[n - 1] == '\r')) {
        n--;
    }
    if (n == 0) {
        return STRATA_OK;
    }
    size_t name = 0;
    while (name < n && h[name] > ' ' && h[name] < 127 && h[name] != ':') {
        name++;
    }
    if (name == 0 || name >= n || h[name] != ':' || memchr(h, '\n', n) || memchr(h, '\r', n)) {
        /* The value may be a secret: only the name is shown. */
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "STAC search: header '%.*s' is not 'Name: value' (value not shown)",
                       (int)(name < 64 ? name : 64), h);
    }
    if (c->headers.len) {
        buf_str(&c->headers, "\r\n");
    }
    buf_add(&c->headers, h, n);
    return c->headers.nomem ? st_nomem("STAC headers") : STRATA_OK;
}

static strata_status ctx_init(search_ctx *c, const char *url, const strata_stac_search_opts *o) {
    memset(c, 0, sizeof *c);
    c->o = o;
    size_t n = origin_len(url);
    if (n >= sizeof c->origin) {
        return st_fail(STRATA_ERR_INVALID_ARG, "STAC search " URL_FMT ": host name too long", url);
    }
    memcpy(c->origin, url, n);
    c->origin[n] = '\0';
    for (size_t i = 0; i < o->nheaders; i++) {
        ST_TRY(add_header(c, o->headers[i] ? o->headers[i] : "",
                          strlen(o->headers[i] ? o->headers[i] : "")));
    }
    const char *env = getenv("STRATA_STAC_HEADERS");
    for (const char *p = env; p && *p;) {
        size_t len = strcspn(p, "\n");
        ST_TRY(add_header(c, p, len));
        p += len + (p[len] == '\n');
    }
    const char *cap = getenv("STRATA_STAC_MAX_PAGE_BYTES");
    c->page_cap = o->max_page_bytes       ? o->max_page_bytes
                  : cap && atoll(cap) > 0 ? (size_t)atoll(cap)
                                          : DEFAULT_PAGE_CAP;
    st_remote_configure(); /* the retry defaults of data requests */
    c->max_retry = atoi(CPLGetConfigOption("GDAL_HTTP_MAX_RETRY", "4"));
    c->delay = CPLAtof(CPLGetConfigOption("GDAL_HTTP_RETRY_DELAY", "0.5"));
    c->max_retry = c->max_retry < 0 ? 0 : c->max_retry;
    c->delay = c->delay > 0 && c->delay < MAX_RETRY_AFTER ? c->delay : 0.5;
    return STRATA_OK;
}

/* ---- one request, with retries ----------------------------------------------------------- */

typedef struct response {
    buf body;
    size_t cap;
    bool over; /* the body outgrew the page cap */
    int code;  /* HTTP status; 0 when the request failed before one */
    int curl;  /* libcurl's error code */
    char err[256];
    double retry_after; /* seconds, -1 when not given */
} response;

static size_t on_data(void *data, size_t size, size_t n, void *user) {
    response *r = user;
    size_t len = size * n;
    if (r->body.len + len > r->cap) {
        r->over = true;
        return 0; /* libcurl stops the transfer */
    }
    buf_add(&r->body, data, len);
    return r->body.nomem ? 0 : len;
}

static double retry_after(char **headers) {
    const char *v = CSLFetchNameValue(headers, "Retry-After");
    char *end;
    double s = v ? strtod(v, &end) : -1;
    /* An HTTP date instead of seconds is left to the backoff. */
    return v && end != v && isfinite(s) && s >= 0 ? s : -1;
}

static char **request_options(const search_ctx *c, const char *url, const char *body) {
    buf h = {0};
    buf_str(&h, "Accept: application/geo+json, application/json");
    if (body) {
        buf_str(&h, "\r\nContent-Type: application/json");
    }
    if (c->headers.len && same_origin(c, url)) {
        buf_str(&h, "\r\n");
        buf_str(&h, c->headers.s);
    }
    char **opts = NULL;
    opts = CSLSetNameValue(opts, "MAX_RETRY", "0");
    opts = CSLSetNameValue(opts, "HEADERS", h.nomem ? "" : h.s);
    if (body) {
        opts = CSLSetNameValue(opts, "POSTFIELDS", body);
    }
    free(h.s);
    return opts;
}

static void fetch_once(const search_ctx *c, const char *url, const char *body, response *r) {
    free(r->body.s);
    memset(r, 0, sizeof *r);
    r->cap = c->page_cap;
    r->retry_after = -1;
    char **opts = request_options(c, url, body);
    st_gdal_quiet_begin();
    CPLHTTPResult *res = CPLHTTPFetchEx(url, (CSLConstList)opts, NULL, NULL, on_data, r);
    st_gdal_quiet_end();
    CSLDestroy(opts);
    if (!res) {
        snprintf(r->err, sizeof r->err, "request failed");
        return;
    }
    r->curl = res->nStatus;
    int code = 0;
    if (res->pszErrBuf && sscanf(res->pszErrBuf, "HTTP error code : %d", &code) == 1) {
        r->code = code;
    } else if (res->nStatus == 0) {
        r->code = 200;
    }
    if (res->pszErrBuf) {
        snprintf(r->err, sizeof r->err, "%s", res->pszErrBuf);
    }
    r->retry_after = retry_after(res->papszHeaders);
    CPLHTTPDestroyResult(res);
}

/* 429, 5xx and the network errors GDAL retries for data (timeouts, connection resets). */
static bool transient(const response *r) {
    if (r->over || r->body.nomem) {
        return false;
    }
    if (r->code == 429 || (r->code >= 500 && r->code <= 599)) {
        return true;
    }
    return r->code == 0 && (r->curl == 28 || r->curl == 52 || r->curl == 55 || r->curl == 56);
}

static void sleep_seconds(double s) {
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static strata_status fetch(const search_ctx *c, const char *url, const char *body, response *r) {
    double delay = c->delay;
    int tries = 0;
    for (;;) {
        fetch_once(c, url, body, r);
        tries++;
        if (!transient(r) || tries > c->max_retry) {
            break;
        }
        double wait = r->retry_after >= 0 ? fmin(r->retry_after, MAX_RETRY_AFTER) : delay;
        sleep_seconds(wait);
        delay *= 2;
    }
    const char *what = body ? "POST" : "GET";
    if (r->body.nomem) {
        return st_nomem("STAC search response");
    }
    if (r->over) {
        return st_fail(STRATA_ERR_IO, "STAC search " URL_FMT ": the response is over %zu bytes",
                       url, c->page_cap);
    }
    if (r->code == 0 || r->curl != 0 || r->code >= 300) {
        char tried[48] = "";
        if (tries > 1) {
            snprintf(tried, sizeof tried, " after %d tries", tries);
        }
        if (r->code >= 300) {
            return st_fail(STRATA_ERR_IO, "STAC search " URL_FMT ": %s answered HTTP %d%s", url,
                           what, r->code, tried);
        }
        return st_fail(STRATA_ERR_IO, "STAC search " URL_FMT ": %s failed%s: %s", url, what, tried,
                       r->err[0] ? r->err : "no answer");
    }
    return STRATA_OK;
}

/* A JSON object from url, or a message saying why it is not one. */
static strata_status fetch_object(const search_ctx *c, const char *url, const char *what,
                                  json_t **out) {
    response r = {0};
    *out = NULL;
    strata_status st = fetch(c, url, NULL, &r);
    if (st == STRATA_OK) {
        const char *s = r.body.s ? r.body.s : "";
        s += strspn(s, " \t\r\n");
        json_error_t err;
        *out = json_loadb(r.body.s ? r.body.s : "", r.body.len, 0, &err);
        if (!json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            st = st_fail(STRATA_ERR_PARSE, "STAC search " URL_FMT ": not a STAC API: the %s is %s",
                         url, what,
                         s[0] == '<' ? "HTML, not JSON"
                         : !s[0]     ? "empty"
                                     : "not a JSON object");
        }
    }
    free(r.body.s);
    return st;
}

/* ---- the API: landing page, conformance, search link ------------------------------------- */

typedef struct api {
    char *search; /* the search endpoint */
    bool post;
    json_t *classes; /* conformsTo */
} api;

static bool conforms(const api *a, const char *suffix) {
    size_t i;
    const json_t *v;
    size_t n = strlen(suffix);
    json_array_foreach(a->classes, i, v) {
        const char *s = json_string_value(v);
        size_t len = s ? strlen(s) : 0;
        /* https://api.stacspec.org/v1.0.0[-rc.N]/item-search[#ext] */
        if (s && strncmp(s, "https://api.stacspec.org/", 25) == 0 && len >= n &&
            strcmp(s + len - n, suffix) == 0) {
            return true;
        }
    }
    return false;
}

static const json_t *link_of(const json_t *landing, const char *rel, bool want_post) {
    size_t i;
    const json_t *l, *found = NULL;
    json_array_foreach(json_object_get(landing, "links"), i, l) {
        const char *r = json_string_value(json_object_get(l, "rel"));
        const char *m = json_string_value(json_object_get(l, "method"));
        if (r && strcmp(r, rel) == 0 && json_string_value(json_object_get(l, "href"))) {
            bool post = m && strcasecmp(m, "POST") == 0;
            if (!found || post == want_post) {
                found = l;
            }
        }
    }
    return found;
}

static strata_status joined(const char *base, const json_t *link, char **out) {
    *out = st_stac_join(base, json_string_value(json_object_get(link, "href")));
    return *out ? STRATA_OK : st_nomem("STAC link");
}

static strata_status read_conformance(const search_ctx *c, const char *root, const json_t *landing,
                                      api *a) {
    const json_t *classes = json_object_get(landing, "conformsTo");
    const json_t *link = link_of(landing, "conformance", false);
    if (!json_is_array(classes) && link) {
        char *url;
        json_t *conf;
        ST_TRY(joined(root, link, &url));
        strata_status st = fetch_object(c, url, "conformance document", &conf);
        free(url);
        ST_TRY(st);
        a->classes = json_incref(json_object_get(conf, "conformsTo"));
        json_decref(conf);
    } else {
        a->classes = json_incref((json_t *)classes);
    }
    if (!json_is_array(a->classes)) {
        return st_fail(STRATA_ERR_PARSE,
                       "STAC search " URL_FMT ": not a STAC API: no conformance classes "
                       "(\"conformsTo\")",
                       root);
    }
    if (!conforms(a, "/item-search")) {
        return st_fail(STRATA_ERR_UNSUPPORTED,
                       "STAC search " URL_FMT ": the API does not conform to STAC API - Item "
                       "Search",
                       root);
    }
    return STRATA_OK;
}

static strata_status check_extensions(const search_ctx *c, const char *root, const api *a) {
    static const struct {
        size_t off;
        const char *suffix, *what;
    } ext[] = {
        {offsetof(strata_stac_search_opts, query), "/item-search#query", "--query (the query"},
        {offsetof(strata_stac_search_opts, filter), "/item-search#filter", "--filter (the filter"},
        {offsetof(strata_stac_search_opts, sortby), "/item-search#sort", "--sortby (the sort"},
    };
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        const char *v = *(const char *const *)((const char *)c->o + ext[i].off);
        if (v && v[0] && !conforms(a, ext[i].suffix)) {
            return st_fail(STRATA_ERR_UNSUPPORTED,
                           "STAC search " URL_FMT ": the API does not support %s extension)", root,
                           ext[i].what);
        }
    }
    return STRATA_OK;
}

/* url is the landing page, or its /search endpoint (the landing page is then its parent). */
static strata_status discover(const search_ctx *c, const char *url, api *a) {
    size_t end = strcspn(url, "?#");
    while (end > 0 && url[end - 1] == '/') {
        end--;
    }
    bool is_search = end >= 7 && strncmp(url + end - 7, "/search", 7) == 0;
    char *root = strndup(url, is_search ? end - 7 : strlen(url));
    if (!root) {
        return st_nomem("STAC search");
    }
    json_t *landing = NULL;
    strata_status st = fetch_object(c, root, "landing page", &landing);
    if (st == STRATA_OK) {
        st = read_conformance(c, root, landing, a);
    }
    if (st == STRATA_OK) {
        st = check_extensions(c, root, a);
    }
    const json_t *link = landing ? link_of(landing, "search", true) : NULL;
    if (st == STRATA_OK) {
        const char *m = json_string_value(json_object_get(link, "method"));
        a->post = m && strcasecmp(m, "POST") == 0;
        if (is_search) {
            a->search = st_strdup(url);
            st = a->search ? STRATA_OK : st_nomem("STAC search");
        } else if (link) {
            st = joined(root, link, &a->search);
        } else {
            char *s = st_malloc(strlen(root) + 8);
            if (s) {
                sprintf(s, "%s%s", root,
                        root[0] && root[strlen(root) - 1] == '/' ? "search" : "/search");
            }
            a->search = s;
            st = s ? STRATA_OK : st_nomem("STAC search");
        }
    }
    json_decref(landing);
    free(root);
    return st;
}

/* ---- the search request ------------------------------------------------------------------ */

static strata_status query_term(json_t *q, const char *term, size_t n) {
    static const char *const ops[][2] = {{"<=", "lte"}, {">=", "gte"}, {"!=", "neq"},
                                         {"<", "lt"},   {">", "gt"},   {"=", "eq"}};
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
            size_t ol = strlen(ops[k][0]);
            if (i == 0 || strncmp(term + i, ops[k][0], ol) != 0 || i + ol >= n) {
                continue;
            }
            char *prop = strndup(term, i), *val = strndup(term + i + ol, n - i - ol);
            char *end = NULL;
            double d = val ? strtod(val, &end) : 0;
            json_t *v = end && end != val && !*end ? json_real(d) : json_string(val ? val : "");
            if (end && end != val && !*end && d == floor(d) && fabs(d) < 9e15) {
                json_decref(v);
                v = json_integer((json_int_t)d);
            }
            json_t *ops_obj = json_object_get(q, prop ? prop : "");
            if (!ops_obj && prop) {
                json_object_set_new(q, prop, ops_obj = json_object());
            }
            bool ok =
                prop && val && v && ops_obj && json_object_set_new(ops_obj, ops[k][1], v) == 0;
            free(prop);
            free(val);
            return ok ? STRATA_OK : st_nomem("STAC query");
        }
    }
    return st_fail(STRATA_ERR_INVALID_ARG,
                   "STAC search: query term '%.*s' is not 'property OP value' with OP one of "
                   "< <= > >= = !=",
                   (int)(n < 200 ? n : 200), term);
}

static strata_status parse_query(const char *text, json_t **out) {
    const char *p = text + strspn(text, " \t\r\n");
    if (*p == '{') {
        json_error_t err;
        *out = json_loads(p, 0, &err);
        if (!json_is_object(*out)) {
            json_decref(*out);
            *out = NULL;
            return st_fail(STRATA_ERR_INVALID_ARG,
                           "STAC search: --query is not a JSON object: %.120s", err.text);
        }
        return STRATA_OK;
    }
    if (!(*out = json_object())) {
        return st_nomem("STAC query");
    }
    while (*p) {
        size_t n = strcspn(p, ",");
        ST_TRY(query_term(*out, p, n));
        p += n + (p[n] == ',');
    }
    return STRATA_OK;
}

static strata_status check_datetime(const char *dt) {
    const char *slash = strchr(dt, '/');
    size_t n = slash ? (size_t)(slash - dt) : strlen(dt);
    for (int side = 0; side < (slash ? 2 : 1); side++) {
        const char *s = side ? slash + 1 : dt;
        size_t len = side ? strlen(s) : n;
        char part[64];
        int64_t t;
        bool open = slash && (len == 0 || (len == 2 && strncmp(s, "..", 2) == 0));
        if (!open && (len == 0 || len >= sizeof part)) {
            goto bad;
        }
        memcpy(part, s, len < sizeof part ? len : 0);
        part[len < sizeof part ? len : 0] = '\0';
        if (!open && st_parse_iso8601(part, &t) != STRATA_OK) {
            goto bad;
        }
    }
    return STRATA_OK;
bad:
    return st_fail(STRATA_ERR_INVALID_ARG,
                   "STAC search: --datetime '%.80s' is not an RFC 3339 time or interval "
                   "(A/B, '..' for an open end)",
                   dt);
}

/* The search parameters as a JSON object: the POST body, or the source of the GET query. */
static strata_status search_body(const strata_stac_search_opts *o, json_t **out) {
    json_t *b = json_object(), *v = NULL;
    *out = b;
    if (!b) {
        return st_nomem("STAC search");
    }
    if (o->ncollections) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < o->ncollections; i++) {
            json_array_append_new(a, json_string(o->collections[i] ? o->collections[i] : ""));
        }
        json_object_set_new(b, "collections", a);
    }
    if (o->has_bbox) {
        json_object_set_new(b, "bbox",
                            json_pack("[ffff]", o->bbox[0], o->bbox[1], o->bbox[2], o->bbox[3]));
    }
    if (o->datetime && o->datetime[0]) {
        ST_TRY(check_datetime(o->datetime));
        json_object_set_new(b, "datetime", json_string(o->datetime));
    }
    if (o->query && o->query[0]) {
        strata_status st = parse_query(o->query, &v);
        json_object_set_new(b, "query", v); /* also on failure: freed with b */
        ST_TRY(st);
    }
    if (o->filter && o->filter[0]) {
        json_error_t err;
        v = json_loads(o->filter, 0, &err); /* json_is_object evaluates its argument twice */
        if (!json_is_object(v)) {
            json_decref(v);
            return st_fail(STRATA_ERR_INVALID_ARG,
                           "STAC search: --filter is not a CQL2-JSON object: %.120s", err.text);
        }
        json_object_set_new(b, "filter", v);
        json_object_set_new(b, "filter-lang", json_string("cql2-json"));
    }
    if (o->sortby && o->sortby[0]) {
        json_t *a = json_array();
        for (const char *p = o->sortby; a && *p;) {
            size_t n = strcspn(p, ",");
            bool desc = *p == '-';
            size_t skip = *p == '-' || *p == '+';
            char *f = strndup(p + skip, n - (n ? skip : 0));
            json_array_append_new(
                a, json_pack("{s:s,s:s}", "field", f ? f : "", "direction", desc ? "desc" : "asc"));
            free(f);
            p += n + (p[n] == ',');
        }
        json_object_set_new(b, "sortby", a);
    }
    if (o->limit) {
        json_object_set_new(b, "limit", json_integer((json_int_t)o->limit));
    }
    return STRATA_OK;
}

/* The GET form of the search: url?name=value&... with JSON values (query, filter) as text. */
static strata_status get_url(const char *search, const json_t *body, char **out) {
    buf u = {0};
    buf_str(&u, search);
    const char *key;
    json_t *v;
    char sep = strchr(search, '?') ? '&' : '?';
    json_object_foreach((json_t *)body, key, v) {
        char *text = NULL;
        if (strcmp(key, "collections") == 0 || strcmp(key, "bbox") == 0) {
            buf list = {0};
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                char num[40];
                snprintf(num, sizeof num, "%.17g", json_number_value(e));
                buf_str(&list, i ? "," : "");
                buf_str(&list, json_is_string(e) ? json_string_value(e) : num);
            }
            text = list.s ? list.s : strdup("");
        } else if (strcmp(key, "sortby") == 0) {
            buf list = {0};
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                const char *dir = json_string_value(json_object_get(e, "direction"));
                buf_str(&list, i ? "," : "");
                buf_str(&list, dir && strcmp(dir, "desc") == 0 ? "-" : "+");
                buf_str(&list, json_string_value(json_object_get(e, "field")));
            }
            text = list.s ? list.s : strdup("");
        } else if (json_is_string(v)) {
            text = strdup(json_string_value(v));
        } else {
            text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        }
        if (!text) {
            free(u.s);
            return st_nomem("STAC search URL");
        }
        buf_add(&u, &sep, 1);
        buf_encoded(&u, key);
        buf_str(&u, "=");
        buf_encoded(&u, text);
        free(text);
        sep = '&';
    }
    *out = u.s;
    return u.nomem || !u.s ? (free(u.s), st_nomem("STAC search URL")) : STRATA_OK;
}

/* ---- pages ------------------------------------------------------------------------------- */

typedef struct hashes {
    uint64_t *v;
    size_t n, cap;
} hashes;

/* Adds h; false when it was there already. */
static bool hash_add(hashes *s, uint64_t h, bool *nomem) {
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i] == h) {
            return false;
        }
    }
    if (!st_grow(&s->v, &s->cap, s->n + 1, sizeof *s->v, 64)) {
        *nomem = true;
        return true;
    }
    s->v[s->n++] = h;
    return true;
}

/* Relative asset hrefs become absolute (against the item's self link, else the page), so
 * that the ItemCollection reads the same from anywhere. */
static strata_status absolute_hrefs(json_t *item, const char *page_url) {
    char *self = NULL;
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(item, "links"), i, l) {
        const char *rel = json_string_value(json_object_get(l, "rel"));
        const char *href = json_string_value(json_object_get(l, "href"));
        if (rel && href && href[0] && strcmp(rel, "self") == 0 && !self) {
            if (!(self = st_stac_join(page_url, href))) {
                return st_nomem("STAC href");
            }
        }
    }
    const char *key;
    json_t *a;
    strata_status st = STRATA_OK;
    json_object_foreach(json_object_get(item, "assets"), key, a) {
        const char *href = json_string_value(json_object_get(a, "href"));
        if (!href || !href[0] || strstr(href, "://") || href[0] == '/') {
            continue;
        }
        char *abs = st_stac_join(self ? self : page_url, href);
        if (!abs || json_object_set_new(a, "href", json_string(abs)) != 0) {
            st = st_nomem("STAC href");
        }
        free(abs);
        if (st != STRATA_OK) {
            break;
        }
    }
    free(self);
    return st;
}

typedef struct pager {
    const search_ctx *c;
    const char *api_url;
    json_t *items;
    size_t pages;
    long long matched;
    hashes requests, contents;
} pager;

/* Adds the page's items (up to max_items); *more is false when paging ends here. */
static strata_status take_page(pager *p, const char *url, st_stac_page *page, bool *more) {
    size_t n = json_array_size(page->features), max = p->c->o->max_items;
    char *dump = json_dumps(page->features, JSON_COMPACT | JSON_SORT_KEYS);
    bool nomem = !dump;
    if (dump && n &&
        !hash_add(&p->contents, st_stac_hash(dump, strlen(dump), ST_STAC_HASH_SEED), &nomem)) {
        free(dump);
        return st_fail(STRATA_ERR_PARSE,
                       "STAC search " URL_FMT ": page %zu repeats an earlier page (a loop of "
                       "\"next\" links)",
                       url, p->pages + 1);
    }
    free(dump);
    if (nomem) {
        return st_nomem("STAC search");
    }
    for (size_t i = 0; i < n && (!max || json_array_size(p->items) < max); i++) {
        json_t *item = json_array_get(page->features, i);
        ST_TRY(absolute_hrefs(item, url));
        if (json_array_append(p->items, item) != 0) {
            return st_nomem("STAC items");
        }
    }
    p->pages++;
    if (page->matched >= 0 && p->matched < 0) {
        p->matched = page->matched;
    }
    *more = page->next.has && n > 0 && (!max || json_array_size(p->items) < max);
    if (p->c->o->on_page &&
        !p->c->o->on_page(p->pages, json_array_size(p->items), p->matched, p->c->o->on_page_user)) {
        return st_fail(STRATA_ERR_CANCELLED, "STAC search " URL_FMT ": cancelled", p->api_url);
    }
    return STRATA_OK;
}

static strata_status request_key(pager *p, const char *url, const char *body) {
    uint64_t h = st_stac_hash(url, strlen(url), ST_STAC_HASH_SEED);
    h = st_stac_hash("\n", 1, h);
    h = body ? st_stac_hash(body, strlen(body), h) : h;
    bool nomem = false;
    if (!hash_add(&p->requests, h, &nomem)) {
        return st_fail(STRATA_ERR_PARSE,
                       "STAC search " URL_FMT ": the \"next\" link of page %zu asks for an earlier "
                       "page again (a loop of \"next\" links)",
                       url, p->pages);
    }
    return nomem ? st_nomem("STAC search") : STRATA_OK;
}

/* Fetches url (POSTing body when not NULL) and every page after it. Takes body. */
static strata_status run_pages(pager *p, char *url, json_t *body) {
    strata_status st = STRATA_OK;
    for (bool more = true; st == STRATA_OK && more;) {
        char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        response r = {0};
        st_stac_page page = {0};
        st = body && !text ? st_nomem("STAC search") : request_key(p, url, text);
        if (st == STRATA_OK) {
            st = fetch(p->c, url, text, &r);
        }
        if (st == STRATA_OK) {
            st = st_stac_page_parse(r.body.s ? r.body.s : "", r.body.len, url, &page);
        }
        if (st == STRATA_OK) {
            st = take_page(p, url, &page, &more);
        }
        free(r.body.s);
        free(text);
        if (st == STRATA_OK && more) {
            json_t *next_body = NULL;
            if (page.next.post) {
                st = st_stac_next_body(body, &page.next, &next_body);
            }
            free(url);
            url = page.next.href;
            page.next.href = NULL;
            json_decref(body);
            body = next_body;
        }
        st_stac_page_free(&page);
    }
    free(url);
    json_decref(body);
    return st;
}

static strata_status collection_json(const pager *p, char **out) {
    json_t *root = json_pack("{s:s,s:O}", "type", "FeatureCollection", "features", p->items);
    if (root && p->matched >= 0) {
        json_object_set_new(root, "numberMatched", json_integer(p->matched));
    }
    if (root) {
        json_object_set_new(root, "numberReturned",
                            json_integer((json_int_t)json_array_size(p->items)));
    }
    *out = root ? json_dumps(root, JSON_INDENT(1)) : NULL;
    json_decref(root);
    return *out ? STRATA_OK : st_nomem("STAC ItemCollection");
}

static strata_status search(const search_ctx *c, const char *url, char **json) {
    api a = {0};
    json_t *body = NULL;
    char *first = NULL;
    pager p = {.c = c, .api_url = url, .items = json_array(), .matched = -1};
    strata_status st = p.items ? search_body(c->o, &body) : st_nomem("STAC search");
    if (st == STRATA_OK) {
        st = discover(c, url, &a);
    }
    if (st == STRATA_OK && !a.post) {
        st = get_url(a.search, body, &first);
        json_decref(body);
        body = NULL;
    } else if (st == STRATA_OK) {
        first = st_strdup(a.search);
        st = first ? STRATA_OK : st_nomem("STAC search");
    }
    if (st == STRATA_OK) {
        st = run_pages(&p, first, body);
        first = NULL;
        body = NULL;
    }
    if (st == STRATA_OK && json_array_size(p.items) == 0) {
        st = st_fail(STRATA_ERR_INVALID_ARG, "STAC search " URL_FMT ": the search matched no items",
                     a.search);
    }
    if (st == STRATA_OK) {
        st = collection_json(&p, json);
    }
    free(first);
    json_decref(body);
    free(a.search);
    json_decref(a.classes);
    json_decref(p.items);
    free(p.requests.v);
    free(p.contents.v);
    return st;
}

strata_status strata_stac_search(const char *url, const strata_stac_search_opts *opts,
                                 char **json) {
    st_clear_error();
    if (!url || !json) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_stac_search: NULL argument");
    }
    *json = NULL;
    strata_stac_search_opts full;
    strata_stac_search_opts_init(&full);
    ST_TRY(st_opts_load(&full, sizeof full, opts, "strata_stac_search_opts"));
    opts = &full;
    if (!st_stac_http_url(url)) {
        return st_fail(STRATA_ERR_INVALID_ARG,
                       "STAC search '" URL_FMT "': the API URL must be http:// or https://", url);
    }
    if ((opts->ncollections && !opts->collections) || (opts->nheaders && !opts->headers)) {
        return st_fail(STRATA_ERR_INVALID_ARG, "STAC search options: a count without its list");
    }
    st_gdal_init();
    search_ctx c;
    strata_status st = ctx_init(&c, url, opts);
    if (st == STRATA_OK) {
        st = search(&c, url, json);
    }
    free(c.headers.s);
    return st;
}

strata_status strata_collection_from_stac_search(const char *url,
                                                 const strata_stac_search_opts *search_opts,
                                                 const strata_stac_opts *opts,
                                                 strata_collection **out) {
    if (!out) {
        return st_fail(STRATA_ERR_INVALID_ARG, "strata_collection_from_stac_search: NULL argument");
    }
    *out = NULL;
    char *json;
    ST_TRY(strata_stac_search(url, search_opts, &json));
    strata_status st = strata_collection_from_stac(json, url, opts, out);
    free(json);
    return st;
}
