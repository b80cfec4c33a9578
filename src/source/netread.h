/* Window reads of remote GeoTIFFs through the fetcher (netread.c). Internal.
 *
 * A reader announces what it is about to read (st_net_prefetch: a rectangle over a list of
 * timesteps and a range of bands); every block of it is requested at once, adjacent blocks
 * of a file merged into one request, and the reads that follow (st_net_read, called by
 * st_read_rect) decode what arrived. Files the fetcher cannot read (object-store paths it
 * cannot sign, layouts GDAL decodes differently, files whose tags differ from the template)
 * are read by GDAL as before. */
#ifndef STRATA_NETREAD_H
#define STRATA_NETREAD_H

#include "source/source.h"

typedef struct st_net st_net;

/* Blocks of a file at most ST_NET_MERGE_GAP bytes apart are fetched in one request of at
 * most ST_NET_MERGE_MAX bytes; a header is first read as its ST_NET_HEAD_BYTES bytes. */
enum { ST_NET_MERGE_MAX = 4 << 20, ST_NET_MERGE_GAP = 4096, ST_NET_HEAD_BYTES = 16384 };

/* Frees c's remote state (collection.c, when the collection is freed). */
void st_net_free(st_net *n);
/* Requests in flight at most for c's remote reads (0: the default, 64). Called as a job
 * starts, it also requests the headers of the first files, which its first items read. */
void st_net_set_concurrency(const strata_collection *c, int io_concurrency);
/* Starts fetching every block of rect in bands [b0, b0 + nb) of timesteps steps[0..nt)
 * (or t0 .. t0 + nt when steps is NULL) that is not requested yet, for reads by any thread.
 * Headers not yet read are requested together first. A no-op for local stacks. Errors
 * surface in the reads. */
void st_net_prefetch(const strata_collection *c, const st_rect *rect, const size_t *steps,
                     size_t t0, size_t nt, int b0, int nb);
/* Between these, the calling thread's st_net_prefetch calls for c collect their blocks, and
 * st_net_batch_end requests them together, a file's blocks in file order, so that adjacent
 * blocks announced for different items are merged into one request. */
void st_net_batch_begin(const strata_collection *c);
/* Blocks collected by the calling thread's batch so far. */
size_t st_net_batch_blocks(void);
void st_net_batch_end(const strata_collection *c);
/* True when c is remote and its fetcher has room for more requests: a reader then announces
 * the next work item's blocks. */
bool st_net_hungry(const strata_collection *c);
/* Forgets every requested block nobody read (end of a job). */
void st_net_drop(const strata_collection *c);
/* Reads rect of sample (0-based) of file f into dst as st_read_rect does, when the fetcher
 * reads f (*done true); else *done is false and nothing happened. */
strata_status st_net_read(st_thread_cache *tc, size_t f, int sample, const st_rect *rect,
                          strata_dtype dtype, void *dst, bool *done);

#endif
