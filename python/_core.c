/* strata._core: the CPython face of libstrata. A thin layer: one Collection type over a
 * strata_collection, and functions that release the GIL around every call into the engine.
 * The pure-Python package (python/strata/) builds the seed's API on top of it. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "strata.h"

/* ---- the library's log ------------------------------------------------------------------- */

/* strata calls its log function from its worker threads, while the calling thread waits with
 * the GIL released: calling into Python there would contend for the GIL with every worker,
 * and a worker started by a call that holds the GIL would deadlock. So messages wait in a
 * bounded queue, and the thread that made the call hands them to the logging module
 * (logger "strata") when it takes the GIL back (retake_gil). */
enum { LOG_QUEUE_MAX = 256 };
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    strata_log_level level;
    char *message;
} log_queue[LOG_QUEUE_MAX];
static int log_len;
static unsigned long log_dropped;

static void queue_log(strata_log_level level, const char *message, void *user) {
    (void)user;
    char *copy = strdup(message);
    pthread_mutex_lock(&log_lock);
    if (copy && log_len < LOG_QUEUE_MAX) {
        log_queue[log_len].level = level;
        log_queue[log_len++].message = copy;
        copy = NULL;
    } else {
        log_dropped++;
    }
    pthread_mutex_unlock(&log_lock);
    free(copy);
}

/* Hands the queued messages to logging.getLogger("strata"); a Python error raised meanwhile
 * is kept as it was. Needs the GIL. */
static void emit_log(void) {
    pthread_mutex_lock(&log_lock);
    int n = log_len;
    unsigned long dropped = log_dropped;
    char *messages[LOG_QUEUE_MAX];
    strata_log_level levels[LOG_QUEUE_MAX];
    for (int i = 0; i < n; i++) {
        messages[i] = log_queue[i].message;
        levels[i] = log_queue[i].level;
    }
    log_len = 0;
    log_dropped = 0;
    pthread_mutex_unlock(&log_lock);
    if (n == 0 && dropped == 0) {
        return;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *logging = PyImport_ImportModule("logging");
    PyObject *logger = logging ? PyObject_CallMethod(logging, "getLogger", "s", "strata") : NULL;
    static const int py_level[] = {10, 20, 30}; /* logging.DEBUG, INFO, WARNING */
    for (int i = 0; i < n; i++) {
        PyObject *r =
            logger ? PyObject_CallMethod(logger, "log", "is", py_level[levels[i]], messages[i])
                   : NULL;
        Py_XDECREF(r);
        free(messages[i]);
    }
    if (logger && dropped) {
        PyObject *r =
            PyObject_CallMethod(logger, "warning", "sk", "%d more messages were dropped", dropped);
        Py_XDECREF(r);
    }
    Py_XDECREF(logger);
    Py_XDECREF(logging);
    PyErr_Clear();
    PyErr_Restore(type, value, tb);
}

static void retake_gil(PyThreadState *ts) {
    PyEval_RestoreThread(ts);
    emit_log();
}

/* ---- errors ------------------------------------------------------------------------------ */

/* Raises the Python exception matching a strata status, carrying the C message. */
static PyObject *raise_status(strata_status st) {
    const char *msg = strata_errmsg();
    if (!msg || !*msg) {
        msg = strata_status_str(st);
    }
    PyObject *type = PyExc_RuntimeError;
    switch (st) {
    case STRATA_ERR_NOMEM:
        type = PyExc_MemoryError;
        break;
    case STRATA_ERR_IO:
        /* GDAL and the C library say "No such file" for a path that is not there. */
        type = (strstr(msg, "No such file") || strstr(msg, "does not exist"))
                   ? PyExc_FileNotFoundError
                   : PyExc_OSError;
        break;
    case STRATA_ERR_WRITE:
        type = PyExc_OSError;
        break;
    case STRATA_ERR_CANCELLED:
        type = PyExc_KeyboardInterrupt;
        break;
    case STRATA_ERR_INVALID_ARG:
    case STRATA_ERR_MISALIGNED:
    case STRATA_ERR_PARSE:
    case STRATA_ERR_UNSUPPORTED:
        type = PyExc_ValueError;
        break;
    default:
        break;
    }
    PyErr_SetString(type, msg);
    return NULL;
}

/* ---- cancelling through the progress callback ------------------------------------------- */

/* The engine calls progress on the thread that called it, which holds no GIL then: take it
 * back briefly to let Python run its signal handlers (Ctrl-C raises KeyboardInterrupt). */
typedef struct cancel_ctx {
    PyThreadState *ts;
    int interrupted;
} cancel_ctx;

static int check_signals(double fraction, const char *message, void *user) {
    (void)fraction;
    (void)message;
    cancel_ctx *k = user;
    retake_gil(k->ts);
    if (!k->interrupted && PyErr_CheckSignals() < 0) {
        k->interrupted = 1;
    }
    k->ts = PyEval_SaveThread();
    return !k->interrupted; /* 0 stops the call */
}

/* Finishes a call made with the GIL released: a pending Python error (the interrupt) wins. */
static PyObject *finish_call(cancel_ctx *k, strata_status st) {
    retake_gil(k->ts);
    if (st == STRATA_OK) {
        return Py_None;
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    return raise_status(st);
}

/* ---- dtypes ------------------------------------------------------------------------------ */

static int npy_type(strata_dtype t) {
    switch (t) {
    case STRATA_UINT8:
        return NPY_UINT8;
    case STRATA_INT8:
        return NPY_INT8;
    case STRATA_UINT16:
        return NPY_UINT16;
    case STRATA_INT16:
        return NPY_INT16;
    case STRATA_UINT32:
        return NPY_UINT32;
    case STRATA_INT32:
        return NPY_INT32;
    case STRATA_INT64:
        return NPY_INT64;
    case STRATA_FLOAT32:
        return NPY_FLOAT32;
    case STRATA_FLOAT64:
        return NPY_FLOAT64;
    default:
        return -1;
    }
}

/* ---- string lists ------------------------------------------------------------------------ */

typedef struct strlist {
    Py_ssize_t n;
    const char **items;
    PyObject **refs; /* the bytes objects the items point into */
} strlist;

static void strlist_free(strlist *l) {
    for (Py_ssize_t i = 0; l->refs && i < l->n; i++) {
        Py_XDECREF(l->refs[i]);
    }
    PyMem_Free(l->refs);
    PyMem_Free(l->items);
    l->refs = NULL;
    l->items = NULL;
    l->n = 0;
}

/* A sequence of str (or os.PathLike) as UTF-8 C strings, kept alive by l. */
static int strlist_from(PyObject *seq, const char *what, strlist *l) {
    memset(l, 0, sizeof *l);
    PyObject *fast = PySequence_Fast(seq, what);
    if (!fast) {
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    l->items = PyMem_Calloc((size_t)n + 1, sizeof *l->items);
    l->refs = PyMem_Calloc((size_t)n + 1, sizeof *l->refs);
    if (!l->items || !l->refs) {
        Py_DECREF(fast);
        strlist_free(l);
        PyErr_NoMemory();
        return -1;
    }
    l->n = n;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, i), *b = NULL;
        if (!PyUnicode_Check(item) && !PyObject_HasAttrString(item, "__fspath__")) {
            PyErr_Format(PyExc_TypeError, "%s: item %zd is a %.80s, not a str or path", what, i,
                         Py_TYPE(item)->tp_name);
        } else if (PyUnicode_FSConverter(item, &b)) {
            l->refs[i] = b;
            l->items[i] = PyBytes_AS_STRING(b);
            continue;
        }
        Py_DECREF(fast);
        strlist_free(l);
        return -1;
    }
    Py_DECREF(fast);
    return 0;
}

/* ---- the Collection type ----------------------------------------------------------------- */

typedef struct CollObject {
    PyObject_HEAD strata_collection *c;
} CollObject;

static PyTypeObject CollType;

static PyObject *wrap(strata_collection *c) {
    CollObject *o = PyObject_New(CollObject, &CollType);
    if (!o) {
        strata_collection_free(c);
        return NULL;
    }
    o->c = c;
    return (PyObject *)o;
}

static void coll_dealloc(PyObject *self) {
    strata_collection_free(((CollObject *)self)->c);
    PyObject_Free(self);
}

static PyObject *core_from_files(PyObject *mod, PyObject *args) {
    (void)mod;
    PyObject *seq;
    if (!PyArg_ParseTuple(args, "O", &seq)) {
        return NULL;
    }
    strlist l;
    if (strlist_from(seq, "files", &l) < 0) {
        return NULL;
    }
    strata_collection *c = NULL;
    strata_status st;
    PyThreadState *ts = PyEval_SaveThread();
    st = strata_collection_from_files(l.items, (size_t)l.n, &c);
    retake_gil(ts);
    strlist_free(&l);
    return st == STRATA_OK ? wrap(c) : raise_status(st);
}

static PyObject *core_from_json(PyObject *mod, PyObject *args) {
    (void)mod;
    const char *json;
    if (!PyArg_ParseTuple(args, "s", &json)) {
        return NULL;
    }
    strata_collection *c = NULL;
    strata_status st = strata_collection_from_json(json, &c);
    return st == STRATA_OK ? wrap(c) : raise_status(st);
}

/* The output grid from Python's tuple (like, crs, res_x, res_y, bounds or None, bounds_crs,
 * resampling name, max_error); strings point into the tuple. */
static int grid_from_tuple(PyObject *t, strata_grid_opts *g) {
    PyObject *bounds;
    const char *resampling;
    strata_grid_opts_init(g);
    if (!PyArg_ParseTuple(t, "zzddOzsd", &g->like, &g->crs, &g->res_x, &g->res_y, &bounds,
                          &g->bounds_crs, &resampling, &g->max_error)) {
        return -1;
    }
    if (bounds != Py_None) {
        if (!PyArg_ParseTuple(bounds, "dddd", &g->bounds[0], &g->bounds[1], &g->bounds[2],
                              &g->bounds[3])) {
            return -1;
        }
        g->has_bounds = 1;
    }
    strata_status st = strata_resampling_from_name(resampling, &g->resampling);
    if (st != STRATA_OK) {
        raise_status(st);
        return -1;
    }
    return 0;
}

/* set_grid(grid tuple): puts the collection on an output grid (opens every file). */
static PyObject *coll_set_grid(PyObject *self, PyObject *args) {
    PyObject *t;
    strata_grid_opts g;
    if (!PyArg_ParseTuple(args, "O!", &PyTuple_Type, &t) || grid_from_tuple(t, &g) < 0) {
        return NULL;
    }
    strata_status st;
    PyThreadState *ts = PyEval_SaveThread();
    st = strata_collection_set_grid(((CollObject *)self)->c, &g);
    retake_gil(ts);
    if (st != STRATA_OK) {
        return raise_status(st);
    }
    Py_RETURN_NONE;
}

/* mosaic(by, op) with GDAL-free names: "day" or "solar_day"; "first", "last", ... */
static PyObject *coll_mosaic(PyObject *self, PyObject *args) {
    const char *by_name, *op_name;
    strata_mosaic by;
    strata_mosaic_op op;
    if (!PyArg_ParseTuple(args, "ss", &by_name, &op_name)) {
        return NULL;
    }
    strata_status st = strata_mosaic_from_name(by_name, &by);
    if (st == STRATA_OK) {
        st = strata_mosaic_op_from_name(op_name, &op);
    }
    if (st == STRATA_OK) {
        PyThreadState *ts = PyEval_SaveThread();
        st = strata_collection_mosaic(((CollObject *)self)->c, by, op);
        retake_gil(ts);
    }
    if (st != STRATA_OK) {
        return raise_status(st);
    }
    Py_RETURN_NONE;
}

/* set_times([utc seconds]) */
static PyObject *coll_set_times(PyObject *self, PyObject *args) {
    PyObject *seq;
    if (!PyArg_ParseTuple(args, "O", &seq)) {
        return NULL;
    }
    strata_collection *c = ((CollObject *)self)->c;
    PyObject *fast = PySequence_Fast(seq, "times must be a sequence");
    if (!fast) {
        return NULL;
    }
    size_t n = (size_t)PySequence_Fast_GET_SIZE(fast);
    if (n != strata_collection_size(c)) {
        Py_DECREF(fast);
        return PyErr_Format(PyExc_ValueError, "%zu times for %zu timesteps", n,
                            strata_collection_size(c));
    }
    int64_t *t = PyMem_Calloc(n ? n : 1, sizeof *t);
    for (size_t i = 0; t && i < n; i++) {
        t[i] = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(fast, (Py_ssize_t)i));
    }
    Py_DECREF(fast);
    if (!t || PyErr_Occurred()) {
        PyMem_Free(t);
        return t ? NULL : PyErr_NoMemory();
    }
    strata_status st = strata_collection_set_times(c, t);
    PyMem_Free(t);
    if (st != STRATA_OK) {
        return raise_status(st);
    }
    Py_RETURN_NONE;
}

static PyObject *coll_grid(PyObject *self, PyObject *unused) {
    (void)unused;
    const strata_collection *c = ((CollObject *)self)->c;
    int r = strata_collection_resampling(c);
    if (r < 0) {
        Py_RETURN_NONE;
    }
    return Py_BuildValue("(sn)", strata_resampling_name((strata_resampling)r),
                         (Py_ssize_t)strata_collection_warped(c));
}

/* from_stac(json, base, assets[, grid tuple]) with the items already filtered and ordered by
 * Python. */
static PyObject *core_from_stac(PyObject *mod, PyObject *args) {
    (void)mod;
    const char *json, *base;
    PyObject *assets, *grid = Py_None;
    if (!PyArg_ParseTuple(args, "szO|O", &json, &base, &assets, &grid)) {
        return NULL;
    }
    strata_grid_opts g;
    if (grid != Py_None && (!PyTuple_Check(grid) || grid_from_tuple(grid, &g) < 0)) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_TypeError, "grid must be a tuple");
        }
        return NULL;
    }
    strlist l;
    if (strlist_from(assets, "assets", &l) < 0) {
        return NULL;
    }
    strata_stac_opts o;
    strata_stac_opts_init(&o);
    o.assets = l.items;
    o.nassets = (size_t)l.n;
    o.keep_order = 1;
    o.grid = grid != Py_None ? &g : NULL;
    strata_collection *c = NULL;
    strata_status st;
    PyThreadState *ts = PyEval_SaveThread();
    st = strata_collection_from_stac(json, base, &o, &c);
    retake_gil(ts);
    strlist_free(&l);
    return st == STRATA_OK ? wrap(c) : raise_status(st);
}

/* stac_search(url, collections or None, bbox or None, datetime, query, filter, sortby, limit,
 * max_items) -> the items found, as ItemCollection JSON text (strata_stac_search). */
static PyObject *core_stac_search(PyObject *mod, PyObject *args) {
    (void)mod;
    const char *url, *datetime, *query, *filter, *sortby;
    PyObject *collections, *bbox;
    Py_ssize_t limit, max_items;
    if (!PyArg_ParseTuple(args, "sOOzzzznn", &url, &collections, &bbox, &datetime, &query, &filter,
                          &sortby, &limit, &max_items)) {
        return NULL;
    }
    strata_stac_search_opts o;
    strata_stac_search_opts_init(&o);
    strlist cols = {0, NULL, NULL};
    if (collections != Py_None) {
        if (strlist_from(collections, "collections", &cols) < 0) {
            return NULL;
        }
        o.collections = (const char *const *)cols.items;
        o.ncollections = (size_t)cols.n;
    }
    if (bbox != Py_None) {
        if (!PyArg_ParseTuple(bbox, "dddd", &o.bbox[0], &o.bbox[1], &o.bbox[2], &o.bbox[3])) {
            strlist_free(&cols);
            return NULL;
        }
        o.has_bbox = 1;
    }
    o.datetime = datetime;
    o.query = query;
    o.filter = filter;
    o.sortby = sortby;
    o.limit = (size_t)(limit > 0 ? limit : 0);
    o.max_items = (size_t)(max_items > 0 ? max_items : 0);
    char *json = NULL;
    PyThreadState *ts = PyEval_SaveThread();
    strata_status st = strata_stac_search(url, &o, &json);
    retake_gil(ts);
    strlist_free(&cols);
    if (st != STRATA_OK) {
        return raise_status(st);
    }
    PyObject *out = PyUnicode_FromString(json);
    strata_free(json);
    return out;
}

static PyObject *coll_to_json(PyObject *self, PyObject *unused) {
    (void)unused;
    char *json = NULL;
    strata_status st = strata_collection_to_json(((CollObject *)self)->c, &json);
    if (st != STRATA_OK) {
        return raise_status(st);
    }
    PyObject *s = PyUnicode_FromString(json);
    strata_free(json);
    return s;
}

static Py_ssize_t coll_len(PyObject *self) {
    return (Py_ssize_t)strata_collection_size(((CollObject *)self)->c);
}

static PyObject *str_or_empty(const char *s) {
    return PyUnicode_DecodeFSDefault(s ? s : "");
}

/* The template's geobox as plain Python values; RasterMeta is built from them. */
static PyObject *coll_meta(PyObject *self, PyObject *unused) {
    (void)unused;
    const strata_meta *m = strata_collection_meta(((CollObject *)self)->c);
    int bands = strata_meta_bands(m), bx = 0, by = 0;
    double gt[6], cx = 0, cy = 0;
    strata_meta_geotransform(m, gt);
    strata_meta_block_size(m, &bx, &by);
    strata_meta_cell_size(m, &cx, &cy);
    /* The CRS is built on first use (it may open the template again). */
    const char *wkt = strata_meta_crs_wkt(m);
    PyObject *nodata = PyTuple_New(bands), *names = PyTuple_New(bands);
    if (!nodata || !names) {
        Py_XDECREF(nodata);
        Py_XDECREF(names);
        return NULL;
    }
    for (int b = 0; b < bands; b++) {
        double v;
        PyObject *nd = strata_meta_nodata(m, b, &v) ? PyFloat_FromDouble(v) : Py_NewRef(Py_None);
        PyObject *nm = str_or_empty(strata_meta_band_name(m, b));
        if (!nd || !nm) {
            Py_XDECREF(nd);
            Py_XDECREF(nm);
            Py_DECREF(nodata);
            Py_DECREF(names);
            return NULL;
        }
        PyTuple_SET_ITEM(nodata, b, nd);
        PyTuple_SET_ITEM(names, b, nm);
    }
    return Py_BuildValue("{s:i,s:i,s:i,s:s,s:(dddddd),s:i,s:s,s:N,s:N,s:(ii),s:(dd),s:s}", "rows",
                         strata_meta_rows(m), "cols", strata_meta_cols(m), "bands", bands, "dtype",
                         strata_dtype_name(strata_meta_dtype(m)), "geotransform", gt[0], gt[1],
                         gt[2], gt[3], gt[4], gt[5], "epsg", strata_meta_epsg(m), "crs_wkt",
                         wkt ? wkt : "", "nodata", nodata, "band_names", names, "block", bx, by,
                         "cell_size", cx, cy, "driver", strata_meta_driver(m));
}

/* The source type alone: unlike meta(), it never builds the CRS. */
static PyObject *coll_dtype(PyObject *self, PyObject *unused) {
    (void)unused;
    const strata_meta *m = strata_collection_meta(((CollObject *)self)->c);
    return PyUnicode_FromString(strata_dtype_name(strata_meta_dtype(m)));
}

static PyObject *coll_paths(PyObject *self, PyObject *unused) {
    (void)unused;
    const strata_collection *c = ((CollObject *)self)->c;
    size_t n = strata_collection_size(c), k = strata_collection_sources(c);
    PyObject *out = PyList_New((Py_ssize_t)n);
    for (size_t t = 0; out && t < n; t++) {
        PyObject *row = PyList_New((Py_ssize_t)k);
        if (!row) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)t, row);
        for (size_t j = 0; j < k; j++) {
            PyObject *s = str_or_empty(strata_collection_source(c, t, j));
            if (!s) {
                Py_CLEAR(out);
                break;
            }
            PyList_SET_ITEM(row, (Py_ssize_t)j, s);
        }
    }
    return out;
}

/* Times as UTC seconds, or None when any timestep has none. */
static PyObject *coll_times(PyObject *self, PyObject *unused) {
    (void)unused;
    const strata_collection *c = ((CollObject *)self)->c;
    size_t n = strata_collection_size(c);
    PyObject *out = PyList_New((Py_ssize_t)n);
    for (size_t t = 0; out && t < n; t++) {
        int64_t utc;
        if (!strata_collection_time(c, t, &utc)) {
            Py_DECREF(out);
            Py_RETURN_NONE;
        }
        PyObject *v = PyLong_FromLongLong((long long)utc);
        if (!v) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)t, v);
    }
    return out;
}

static PyObject *coll_chunks(PyObject *self, PyObject *unused) {
    (void)unused;
    strata_chunks ch;
    strata_collection_chunks(((CollObject *)self)->c, &ch);
    return Py_BuildValue("(iiii)", ch.t, ch.b, ch.y, ch.x);
}

static PyObject *coll_validate(PyObject *self, PyObject *unused) {
    (void)unused;
    strata_status st;
    PyThreadState *ts = PyEval_SaveThread();
    st = strata_collection_validate(((CollObject *)self)->c);
    retake_gil(ts);
    if (st != STRATA_OK) {
        return raise_status(st);
    }
    Py_RETURN_NONE;
}

/* read(t0, nt, b0, nb, row0, nrows, col0, ncols) -> ndarray (nt, nb, nrows, ncols) of the
 * source type, read with the GIL released (many Python threads may read at once). */
static PyObject *coll_read(PyObject *self, PyObject *args) {
    strata_collection *c = ((CollObject *)self)->c;
    Py_ssize_t t0, nt;
    strata_window w;
    if (!PyArg_ParseTuple(args, "nniiiiii", &t0, &nt, &w.b0, &w.nb, &w.row0, &w.nrows, &w.col0,
                          &w.ncols)) {
        return NULL;
    }
    if (t0 < 0 || nt < 0 || w.nb < 0 || w.nrows < 0 || w.ncols < 0) {
        PyErr_SetString(PyExc_ValueError, "read: negative window");
        return NULL;
    }
    w.t0 = (size_t)t0;
    w.nt = (size_t)nt;
    strata_dtype dt = strata_meta_dtype(strata_collection_meta(c));
    npy_intp dims[4] = {nt, w.nb, w.nrows, w.ncols};
    PyArrayObject *a = (PyArrayObject *)PyArray_SimpleNew(4, dims, npy_type(dt));
    if (!a) {
        return NULL;
    }
    void *buf = PyArray_DATA(a);
    strata_status st = STRATA_OK;
    if (PyArray_SIZE(a) > 0) {
        PyThreadState *ts = PyEval_SaveThread();
        st = strata_collection_read(c, &w, dt, buf);
        retake_gil(ts);
    }
    if (st != STRATA_OK) {
        Py_DECREF(a);
        return raise_status(st);
    }
    return (PyObject *)a;
}

/* A copy of one result array as a new ndarray (B, R, C). */
static void free_result_capsule(PyObject *capsule) {
    strata_result_free(PyCapsule_GetPointer(capsule, "strata.result"));
}

/* An ndarray over the result's own memory: no copy, and no second set of pages to fault in
 * (results are as large as the outputs). owner, a capsule holding the result, is the
 * array's base: the result is freed when the last of its arrays is. */
static PyObject *array_of(const strata_array *ar, PyObject *owner) {
    npy_intp dims[3] = {ar->bands, ar->rows, ar->cols};
    PyObject *a = PyArray_SimpleNewFromData(3, dims, npy_type(ar->dtype), (void *)ar->data);
    if (!a) {
        return NULL;
    }
    Py_INCREF(owner);
    if (PyArray_SetBaseObject((PyArrayObject *)a, owner) < 0) {
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

/* reduce(ops, skipna, ddof, labels or None, part_index, part_count, threads[, quantiles,
 * method, float32]) -> [(label or None, group size, {op: (ndarray, nodata)}), ...], groups in
 * first-seen order. Quantile k of quantiles (each in [0, 1]) is keyed "quantile:k". float32:
 * the float ops' arrays in float32 (else float64). */
static PyObject *coll_reduce(PyObject *self, PyObject *args) {
    strata_collection *c = ((CollObject *)self)->c;
    PyObject *opnames, *labels, *qseq = NULL;
    const char *method = "linear";
    int float32 = 0;
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    if (!PyArg_ParseTuple(args, "OiiOiii|Osp", &opnames, &o.kernel.skipna, &o.kernel.ddof, &labels,
                          &o.partition.index, &o.partition.count, &o.run.threads, &qseq, &method,
                          &float32)) {
        return NULL;
    }
    o.output.float_dtype = float32 ? STRATA_FLOAT32 : STRATA_FLOAT64;
    double q[64];
    Py_ssize_t nq = qseq && qseq != Py_None ? PySequence_Size(qseq) : 0;
    if (nq < 0 || nq > (Py_ssize_t)(sizeof q / sizeof q[0])) {
        PyErr_SetString(PyExc_ValueError, "reduce: at most 64 quantiles, as a sequence");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nq; i++) {
        PyObject *item = PySequence_GetItem(qseq, i);
        q[i] = item ? PyFloat_AsDouble(item) : -1.0;
        Py_XDECREF(item);
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    if (nq > 0) {
        strata_status qst = strata_quantile_method_from_name(method, &o.kernel.quantile_method);
        if (qst != STRATA_OK) {
            return raise_status(qst);
        }
        o.kernel.quantiles = q;
        o.kernel.nquantiles = (size_t)nq;
    }
    strlist names, lab = {0, NULL, NULL};
    if (strlist_from(opnames, "ops", &names) < 0) {
        return NULL;
    }
    strata_op ops[STRATA_OP_COUNT_OF_OPS + 1];
    if (names.n + (nq > 0) < 1 || names.n > STRATA_OP_COUNT_OF_OPS) {
        strlist_free(&names);
        PyErr_SetString(PyExc_ValueError, "reduce: at least one op, each at most once");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < names.n; i++) {
        strata_status st = strata_op_from_name(names.items[i], &ops[i]);
        if (st != STRATA_OK) {
            strlist_free(&names);
            return raise_status(st);
        }
    }
    if (labels != Py_None) {
        if (strlist_from(labels, "labels", &lab) < 0) {
            strlist_free(&names);
            return NULL;
        }
        if ((size_t)lab.n != strata_collection_size(c)) {
            PyErr_Format(PyExc_ValueError, "labels: %zd labels for %zu timesteps", lab.n,
                         strata_collection_size(c));
            strlist_free(&names);
            strlist_free(&lab);
            return NULL;
        }
    }
    size_t nops = (size_t)names.n;
    if (nq > 0) {
        ops[nops++] = STRATA_OP_QUANTILE;
    }
    cancel_ctx k = {NULL, 0};
    o.run.progress = check_signals;
    o.run.progress_user = &k;
    strata_result *r = NULL;
    k.ts = PyEval_SaveThread();
    strata_status st = labels == Py_None ? strata_reduce(c, ops, nops, &o, &r)
                                         : strata_groupby(c, lab.items, ops, nops, &o, &r);
    PyObject *out = finish_call(&k, st);
    strlist_free(&lab);
    if (!out) {
        strata_result_free(r);
        strlist_free(&names);
        return NULL;
    }
    PyObject *owner = PyCapsule_New(r, "strata.result", free_result_capsule);
    if (!owner) {
        strata_result_free(r);
        strlist_free(&names);
        return NULL;
    }
    size_t ng = strata_result_groups(r);
    out = PyList_New((Py_ssize_t)ng);
    for (size_t g = 0; out && g < ng; g++) {
        PyObject *arrays = PyDict_New(), *item = NULL;
        for (Py_ssize_t i = 0; arrays && i < names.n + nq; i++) {
            strata_array ar;
            PyObject *a = NULL;
            char qkey[32];
            snprintf(qkey, sizeof qkey, "quantile:%zd", i - names.n);
            const char *key = i < names.n ? names.items[i] : qkey;
            strata_status ast =
                i < names.n ? strata_result_array(r, g, ops[i], &ar)
                            : strata_result_quantile_array(r, g, (size_t)(i - names.n), &ar);
            if (ast != STRATA_OK) {
                raise_status(STRATA_ERR_INVALID_ARG);
            } else {
                a = array_of(&ar, owner);
            }
            /* (array, nodata of its missing pixels or None) */
            PyObject *pair = a ? (ar.has_nodata ? Py_BuildValue("(Od)", a, ar.nodata)
                                                : Py_BuildValue("(OO)", a, Py_None))
                               : NULL;
            Py_XDECREF(a);
            a = pair;
            if (!a || PyDict_SetItemString(arrays, key, a) < 0) {
                Py_XDECREF(a);
                Py_CLEAR(arrays);
                break;
            }
            Py_DECREF(a);
        }
        if (arrays) {
            const char *label = strata_result_label(r, g);
            item =
                Py_BuildValue("(znN)", label, (Py_ssize_t)strata_result_group_size(r, g), arrays);
        }
        if (!item) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)g, item);
    }
    Py_DECREF(owner);
    strlist_free(&names);
    return out;
}

/* to_zarr(store, mode, step, part_index, part_count): mode 0 "w", 1 "w-", 2 "a". */
static PyObject *coll_to_zarr(PyObject *self, PyObject *args) {
    PyObject *store_obj;
    strata_zarr_opts o;
    strata_zarr_opts_init(&o);
    int mode, step;
    if (!PyArg_ParseTuple(args, "O&iiii", PyUnicode_FSConverter, &store_obj, &mode, &step,
                          &o.partition.index, &o.partition.count)) {
        return NULL;
    }
    o.mode = (strata_zarr_mode)mode;
    o.step = (strata_zarr_step)step;
    cancel_ctx k = {NULL, 0};
    o.run.progress = check_signals;
    o.run.progress_user = &k;
    const char *store = PyBytes_AS_STRING(store_obj);
    k.ts = PyEval_SaveThread();
    strata_status st = strata_to_zarr(((CollObject *)self)->c, store, &o);
    PyObject *out = finish_call(&k, st);
    Py_DECREF(store_obj);
    Py_XINCREF(out);
    return out;
}

/* groupby_to_zarr(ops, skipna, ddof, labels, dim, store, mode, quantiles): one Zarr store of
 * the groups, sorted by label (numerically when every label is an integer). mode 0 "w", 1
 * "w-". */
static PyObject *coll_groupby_to_zarr(PyObject *self, PyObject *args) {
    PyObject *opnames, *labels, *store_obj, *qseq;
    const char *dim;
    int mode;
    strata_reduce_opts o;
    strata_reduce_opts_init(&o);
    if (!PyArg_ParseTuple(args, "OiiOsO&iO", &opnames, &o.kernel.skipna, &o.kernel.ddof, &labels,
                          &dim, PyUnicode_FSConverter, &store_obj, &mode, &qseq)) {
        return NULL;
    }
    double q[64];
    Py_ssize_t nq = PySequence_Size(qseq);
    strlist names = {0, NULL, NULL}, lab = {0, NULL, NULL};
    strata_op ops[STRATA_OP_COUNT_OF_OPS + 1];
    int bad = nq < 0 || nq > 64 || strlist_from(opnames, "ops", &names) < 0 ||
              strlist_from(labels, "labels", &lab) < 0;
    for (Py_ssize_t i = 0; !bad && i < nq; i++) {
        PyObject *item = PySequence_GetItem(qseq, i);
        q[i] = item ? PyFloat_AsDouble(item) : -1.0;
        Py_XDECREF(item);
        bad = PyErr_Occurred() != NULL;
    }
    bad = bad || names.n > STRATA_OP_COUNT_OF_OPS;
    for (Py_ssize_t i = 0; !bad && i < names.n; i++) {
        strata_status st = strata_op_from_name(names.items[i], &ops[i]);
        bad = st != STRATA_OK && !raise_status(st);
    }
    if (bad) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "groupby_to_zarr: bad ops, labels or quantiles");
        }
        strlist_free(&names);
        strlist_free(&lab);
        Py_DECREF(store_obj);
        return NULL;
    }
    size_t nops = (size_t)names.n;
    if (nq > 0) {
        o.kernel.quantiles = q;
        o.kernel.nquantiles = (size_t)nq;
        ops[nops++] = STRATA_OP_QUANTILE;
    }
    o.groups.sort = 1;
    strata_zarr_opts zo;
    strata_zarr_opts_init(&zo);
    zo.mode = mode ? STRATA_ZARR_CREATE : STRATA_ZARR_OVERWRITE;
    cancel_ctx k = {NULL, 0};
    o.run.progress = check_signals;
    o.run.progress_user = &k;
    strata_result *r = NULL;
    const char *store = PyBytes_AS_STRING(store_obj);
    k.ts = PyEval_SaveThread();
    strata_status st =
        strata_groupby_to_zarr(((CollObject *)self)->c, (const char *const *)lab.items, ops, nops,
                               &o, dim, store, &zo, &r);
    PyObject *out = finish_call(&k, st);
    strata_result_free(r);
    strlist_free(&names);
    strlist_free(&lab);
    Py_DECREF(store_obj);
    Py_XINCREF(out);
    return out;
}

/* anomaly_to_zarr(labels, clim, var, store, name, mode): mode 0 "w", 1 "w-". */
static PyObject *coll_anomaly_to_zarr(PyObject *self, PyObject *args) {
    PyObject *labels, *clim_obj, *store_obj;
    const char *var, *name;
    int mode;
    if (!PyArg_ParseTuple(args, "OO&sO&si", &labels, PyUnicode_FSConverter, &clim_obj, &var,
                          PyUnicode_FSConverter, &store_obj, &name, &mode)) {
        return NULL;
    }
    strlist lab = {0, NULL, NULL};
    if (strlist_from(labels, "labels", &lab) < 0) {
        Py_DECREF(clim_obj);
        Py_DECREF(store_obj);
        return NULL;
    }
    strata_zarr_opts zo;
    strata_zarr_opts_init(&zo);
    zo.mode = mode ? STRATA_ZARR_CREATE : STRATA_ZARR_OVERWRITE;
    zo.name = name;
    cancel_ctx k = {NULL, 0};
    zo.run.progress = check_signals;
    zo.run.progress_user = &k;
    const char *clim = PyBytes_AS_STRING(clim_obj), *store = PyBytes_AS_STRING(store_obj);
    k.ts = PyEval_SaveThread();
    strata_status st = strata_anomaly_to_zarr(
        ((CollObject *)self)->c, (const char *const *)lab.items, clim, var, store, &zo);
    PyObject *out = finish_call(&k, st);
    strlist_free(&lab);
    Py_DECREF(clim_obj);
    Py_DECREF(store_obj);
    Py_XINCREF(out);
    return out;
}

/* kerchunk(paths, out_json, concat_dim) */
static PyObject *core_kerchunk(PyObject *mod, PyObject *args) {
    (void)mod;
    PyObject *seq, *out_obj;
    const char *dim;
    if (!PyArg_ParseTuple(args, "OO&s", &seq, PyUnicode_FSConverter, &out_obj, &dim)) {
        return NULL;
    }
    strlist l;
    if (strlist_from(seq, "files", &l) < 0) {
        Py_DECREF(out_obj);
        return NULL;
    }
    strata_kerchunk_opts o;
    strata_kerchunk_opts_init(&o);
    o.concat_dim = dim;
    strata_status st;
    PyThreadState *ts = PyEval_SaveThread();
    st = strata_kerchunk(l.items, (size_t)l.n, PyBytes_AS_STRING(out_obj), &o);
    retake_gil(ts);
    strlist_free(&l);
    Py_DECREF(out_obj);
    if (st != STRATA_OK) {
        return raise_status(st);
    }
    Py_RETURN_NONE;
}

static PyMethodDef coll_methods[] = {
    {"to_json", coll_to_json, METH_NOARGS, "The collection's JSON form."},
    {"meta", coll_meta, METH_NOARGS, "The template's geobox as a dict."},
    {"dtype", coll_dtype, METH_NOARGS, "The source type's numpy name."},
    {"paths", coll_paths, METH_NOARGS, "Files of each timestep (a list of lists)."},
    {"times", coll_times, METH_NOARGS, "UTC seconds per timestep, or None."},
    {"chunks", coll_chunks, METH_NOARGS, "The default chunk grid (t, b, y, x)."},
    {"validate", coll_validate, METH_NOARGS, "Opens every file and checks it."},
    {"read", coll_read, METH_VARARGS, "Reads a window (GIL released)."},
    {"reduce", coll_reduce, METH_VARARGS, "Reductions or groupby (GIL released)."},
    {"to_zarr", coll_to_zarr, METH_VARARGS, "Writes a Zarr store (GIL released)."},
    {"set_grid", coll_set_grid, METH_VARARGS, "Puts the collection on an output grid."},
    {"mosaic", coll_mosaic, METH_VARARGS, "Fuses same-day timesteps."},
    {"set_times", coll_set_times, METH_VARARGS, "Sets UTC seconds per timestep."},
    {"grid", coll_grid, METH_NOARGS, "(resampling, files warped), or None."},
    {"groupby_to_zarr", coll_groupby_to_zarr, METH_VARARGS, "Groupby into one Zarr store."},
    {"anomaly_to_zarr", coll_anomaly_to_zarr, METH_VARARGS, "Anomalies into a Zarr store."},
    {NULL, NULL, 0, NULL}};

static PySequenceMethods coll_seq = {.sq_length = coll_len};

static PyTypeObject CollType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "strata._core.Collection",
    .tp_basicsize = sizeof(CollObject),
    .tp_dealloc = coll_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A strata_collection handle (not picklable: pickle its JSON).",
    .tp_methods = coll_methods,
    .tp_as_sequence = &coll_seq,
};

static PyMethodDef core_methods[] = {
    {"from_files", core_from_files, METH_VARARGS, "Collection from paths."},
    {"from_json", core_from_json, METH_VARARGS, "Collection from its JSON form."},
    {"from_stac", core_from_stac, METH_VARARGS, "Collection from STAC JSON items."},
    {"kerchunk", core_kerchunk, METH_VARARGS, "Writes a kerchunk index."},
    {"stac_search", core_stac_search, METH_VARARGS, "Searches a STAC API: ItemCollection JSON."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef core_module = {PyModuleDef_HEAD_INIT, .m_name = "strata._core",
                                         .m_doc = "libstrata bindings", .m_size = -1,
                                         .m_methods = core_methods};

PyMODINIT_FUNC PyInit__core(void) {
    import_array();
    if (PyType_Ready(&CollType) < 0) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&core_module);
    if (!m) {
        return NULL;
    }
    strata_set_log(queue_log, STRATA_LOG_INFO, NULL);
    Py_INCREF(&CollType);
    if (PyModule_AddObject(m, "Collection", (PyObject *)&CollType) < 0 ||
        PyModule_AddStringConstant(m, "version", strata_version()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
