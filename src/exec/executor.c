/* A pool of threads pulling work items from one counter. pthreads rather than OpenMP: the
 * pool must stay clean under ThreadSanitizer, which cannot see libgomp's barriers. */
#include "exec/exec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct pool {
    st_exec *ex;
    atomic_size_t next;
    atomic_size_t done;
    atomic_int failed; /* sticky: once set, workers stop taking items */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int running;
    strata_status status;
    char message[2048];
    struct timespec start; /* for the read rate in progress messages */
} pool;

int st_thread_count(int requested, size_t nitems) {
    long n = requested > 0 ? requested : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) {
        n = 1;
    }
    if ((size_t)n > nitems) {
        n = nitems ? (long)nitems : 1;
    }
    return n > 256 ? 256 : (int)n;
}

static void record_failure(pool *p, strata_status st) {
    pthread_mutex_lock(&p->lock);
    if (p->status == STRATA_OK) {
        p->status = st;
        snprintf(p->message, sizeof p->message, "%s", strata_errmsg());
    }
    pthread_mutex_unlock(&p->lock);
    atomic_store(&p->failed, 1);
}

typedef struct worker_arg {
    pool *p;
    void *state; /* the worker's worker_size bytes */
} worker_arg;

static void *worker_main(void *arg) {
    worker_arg *wa = arg;
    pool *p = wa->p;
    st_gdal_quiet_begin();
    if (p->ex->start) {
        strata_status st = p->ex->start(p->ex->ctx, wa->state);
        if (st != STRATA_OK) {
            record_failure(p, st);
        }
    }
    while (!atomic_load(&p->failed)) {
        size_t item = atomic_fetch_add(&p->next, 1);
        if (item >= p->ex->nitems) {
            break;
        }
        strata_status st = p->ex->fn(p->ex->ctx, wa->state, item);
        if (st != STRATA_OK) {
            record_failure(p, st);
            break;
        }
        atomic_fetch_add(&p->done, 1);
    }
    if (p->ex->stop) {
        p->ex->stop(p->ex->ctx, wa->state);
    }
    st_gdal_quiet_end();
    pthread_mutex_lock(&p->lock);
    p->running--;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* Calls the caller's progress function with the fraction of items done and a message of
 * items and read rate; a 0 from it (GDAL's sense) cancels the run. */
static void report_progress(pool *p) {
    st_exec *ex = p->ex;
    if (!ex->progress || atomic_load(&p->failed)) {
        return;
    }
    size_t done = atomic_load(&p->done);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - p->start.tv_sec) + 1e-9 * (now.tv_nsec - p->start.tv_nsec);
    double rate = dt > 0 ? (double)atomic_load(&ex->bytes_read) / dt / 1e6 : 0;
    char msg[128];
    snprintf(msg, sizeof msg, "%zu/%zu %s  %.0f MB/s", done, ex->nitems,
             ex->unit ? ex->unit : "items", rate);
    double fraction = ex->nitems ? (double)done / (double)ex->nitems : 1.0;
    if (!ex->progress(fraction, msg, ex->progress_user)) {
        pthread_mutex_lock(&p->lock);
        if (p->status == STRATA_OK) {
            p->status = STRATA_ERR_CANCELLED;
            snprintf(p->message, sizeof p->message, "cancelled by the progress callback");
        }
        pthread_mutex_unlock(&p->lock);
        atomic_store(&p->failed, 1);
    }
}

/* The calling thread waits, reporting progress every 100 ms, until every worker ended. */
static void wait_for_workers(pool *p) {
    pthread_mutex_lock(&p->lock);
    while (p->running > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_cond_timedwait(&p->wake, &p->lock, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->lock);
            report_progress(p);
            pthread_mutex_lock(&p->lock);
        }
    }
    pthread_mutex_unlock(&p->lock);
}

strata_status st_exec_run(st_exec *ex) {
    pool p;
    memset(&p, 0, sizeof p);
    p.ex = ex;
    pthread_mutex_init(&p.lock, NULL);
    pthread_cond_init(&p.wake, NULL);
    clock_gettime(CLOCK_MONOTONIC, &p.start);
    int n = st_thread_count(ex->threads, ex->nitems);
    size_t state_size = (ex->worker_size + 63) & ~(size_t)63; /* no false sharing */
    char *states = st_calloc((size_t)n, state_size);
    if (!states) {
        pthread_cond_destroy(&p.wake);
        pthread_mutex_destroy(&p.lock);
        return st_nomem("worker states");
    }
    pthread_t tids[256];
    worker_arg args[256];
    int started = 0;
    for (; started < n; started++) {
        args[started] = (worker_arg){&p, states + (size_t)started * state_size};
        pthread_mutex_lock(&p.lock);
        p.running++;
        pthread_mutex_unlock(&p.lock);
        if (pthread_create(&tids[started], NULL, worker_main, &args[started]) != 0) {
            pthread_mutex_lock(&p.lock);
            p.running--;
            pthread_mutex_unlock(&p.lock);
            break;
        }
    }
    if (started == 0) {
        record_failure(&p, st_fail(STRATA_ERR_NOMEM, "cannot start a worker thread"));
    }
    wait_for_workers(&p);
    for (int i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
    }
    report_progress(&p);
    free(states);
    pthread_cond_destroy(&p.wake);
    pthread_mutex_destroy(&p.lock);
    if (p.status != STRATA_OK) {
        st_set_errmsg(p.message);
    }
    return p.status;
}
