// SPDX-License-Identifier: GPL-2.0-only
/*
 * zscompact.c: zs_compact on zspool.c's pool, as compaction.py does it (mm/zsmalloc.c
 * __zs_compact, zs_can_compact, migrate_zspage; classes from the largest index down):
 *   4.1-4.2: sources from the first source group only, no zs_can_compact test;
 *   4.3-6.3: source from the source groups while zs_can_compact, destinations pulled
 *     one after another until the source is empty (the source cursor kept across them);
 *   6.4+ ("zsmalloc: rework compaction algorithm"): one destination (fullest first) kept
 *     until full, the emptiest source migrated until the destination is full or the
 *     source empty, the source put back and freed when empty.
 * Objects are found in a zspage in index order (find_alloced_obj over its pages); a
 * move is obj_malloc in the destination, the whole slot copied (the handle heading it
 * included) when the pool keeps bytes, record_obj, obj_free in the source.  Counted as
 * compaction.py counts: objs_moved, bytes_moved (the slot), page_crossing_copies (either
 * slot straddling a page), pages_compacted (emptied sources freed).
 */
#include <string.h>

#include "zspool.h"

int zs_set_compaction(struct zs_pool *pool, int algo, const unsigned char *src, int nr_src,
		      const unsigned char *dst, int nr_dst)
{
	int g;

	if (algo < COMPACT_V4_1 || algo > COMPACT_V6_4 || nr_src < 1 || nr_dst < 1 ||
	    nr_src > MAX_GROUPS || nr_dst > MAX_GROUPS) {
		PyErr_SetString(PyExc_ValueError, "SizedPool: bad compaction rules");
		return -1;
	}
	for (g = 0; g < nr_src; g++)
		pool->src_order[g] = src[g];
	for (g = 0; g < nr_dst; g++)
		pool->dst_order[g] = dst[g];
	for (g = 0; g < MAX_GROUPS; g++) {
		if ((g < nr_src && pool->src_order[g] >= pool->nr_groups) ||
		    (g < nr_dst && pool->dst_order[g] >= pool->nr_groups)) {
			PyErr_SetString(PyExc_ValueError, "SizedPool: bad compaction group");
			return -1;
		}
	}
	pool->nr_src = nr_src;
	pool->nr_dst = nr_dst;
	pool->compact_algo = algo;
	return 0;
}

/* zs_can_compact: pages freeable in the class */
static int64_t can_compact(const zs_class *c)
{
	if (c->obj_allocated <= c->obj_used)
		return 0;
	return (c->obj_allocated - c->obj_used) / c->objs * c->ppz;
}

/* isolate_zspage: the first zspage of the first non-empty list among groups, off it */
static int isolate(struct zs_pool *pool, int cls, const int *groups, int n)
{
	int g;

	for (g = 0; g < n; g++) {
		int head = zs_head_of(pool, cls, groups[g]);

		if (pool->next[head] != head) {
			int z = pool->next[head] - zs_node_of(pool, 0);

			zs_remove_zspage(pool, z);
			return z;
		}
	}
	return -1;
}

/* putback_zspage: back on the list of its group, which is returned */
static int putback(struct zs_pool *pool, int z)
{
	zs_zspage *zp = &pool->zspages[z];
	int fg = zs_get_group(pool, zp->inuse, pool->classes[zp->cls].objs);

	zs_insert_zspage(pool, z, fg);
	return fg;
}

/* one step of migrate_zspage: object k of src to a free slot of dst */
static void move_object(struct zs_pool *pool, int src, int k, int dst)
{
	zs_zspage *s = &pool->zspages[src], *d = &pool->zspages[dst];
	const zs_class *c = &pool->classes[s->cls];
	int32_t slot = s->slot_of[k];
	int di = d->freeobj;
	int64_t size = c->size;

	d->freeobj = d->link[di]; /* obj_malloc */
	d->inuse++;
	d->slot_of[di] = slot;
	if (d->mem && s->mem) /* zs_object_copy of the whole slot */
		memcpy(d->mem + (size_t)di * size, s->mem + (size_t)k * size, (size_t)size);
	pool->h_zspage[slot] = dst; /* record_obj */
	pool->h_idx[slot] = di;
	s->slot_of[k] = 0; /* obj_free */
	s->link[k] = s->freeobj;
	s->freeobj = k;
	s->inuse--;
	pool->objs_moved++;
	pool->bytes_moved += size;
	if ((k * size) % pool->page_size + size > pool->page_size ||
	    (di * size) % pool->page_size + size > pool->page_size)
		pool->page_crossing_copies++;
}

/* the first allocated object of src at index >= k, or -1 */
static int next_alloced(const struct zs_pool *pool, int src, int k)
{
	const zs_zspage *s = &pool->zspages[src];
	int objs = pool->classes[s->cls].objs;

	for (; k < objs; k++)
		if (s->slot_of[k])
			return k;
	return -1;
}

/* free_zspage of an emptied, put-back source: room for its id first */
static int free_source(struct zs_pool *pool, int z, int64_t *freed)
{
	if (zs_grow((void **)&pool->free_ids, &pool->free_ids_cap, pool->nr_free_ids + 1,
		    sizeof(int32_t)))
		return -1;
	*freed += pool->classes[pool->zspages[z].cls].ppz;
	zs_free_zspage(pool, z);
	return 0;
}

static int64_t compact_class_v64(struct zs_pool *pool, int cls)
{
	zs_class *c = &pool->classes[cls];
	int full = pool->nr_groups - 1, dst = -1, src, k;
	int64_t freed = 0;

	while (can_compact(c)) {
		if (dst < 0 && (dst = isolate(pool, cls, pool->dst_order, pool->nr_dst)) < 0)
			break;
		src = isolate(pool, cls, pool->src_order, pool->nr_src);
		if (src < 0)
			break;
		k = next_alloced(pool, src, 0); /* migrate_zspage */
		if (k < 0) {
			PyErr_SetString(PyExc_RuntimeError, "zsmalloc engine: nothing to migrate");
			return -1;
		}
		for (; k >= 0; k = next_alloced(pool, src, k + 1)) {
			move_object(pool, src, k, dst);
			if (pool->zspages[dst].inuse == c->objs || pool->zspages[src].inuse == 0)
				break;
		}
		if (putback(pool, src) == 0 && free_source(pool, src, &freed))
			return -1;
		if (zs_get_group(pool, pool->zspages[dst].inuse, c->objs) == full) {
			putback(pool, dst);
			dst = -1;
		}
	}
	if (dst >= 0)
		putback(pool, dst);
	return freed;
}

/* <= 6.3 migrate_zspage from the cursor *k: 1 (-ENOMEM) when dst is full; 0 when src
 * has no object left; -1 on a broken invariant */
static int migrate_legacy(struct zs_pool *pool, int src, int dst, int *k)
{
	int objs = pool->classes[pool->zspages[src].cls].objs;

	for (;;) {
		*k = next_alloced(pool, src, *k);
		if (*k < 0) {
			if (pool->zspages[src].inuse) {
				PyErr_SetString(PyExc_RuntimeError,
						"zsmalloc engine: live objects not found");
				return -1;
			}
			return 0;
		}
		if (pool->zspages[dst].inuse == objs) /* "Stop if there is no more space" */
			return 1;
		move_object(pool, src, *k, dst);
		(*k)++;
	}
}

static int64_t compact_class_legacy(struct zs_pool *pool, int cls, int check, int nr_src)
{
	zs_class *c = &pool->classes[cls];
	int src, dst = -1, k, rc;
	int64_t freed = 0;

	while ((src = isolate(pool, cls, pool->src_order, nr_src)) >= 0) {
		if (check && !can_compact(c))
			break;
		k = 0;
		while ((dst = isolate(pool, cls, pool->dst_order, pool->nr_dst)) >= 0) {
			rc = migrate_legacy(pool, src, dst, &k);
			if (rc < 0)
				return -1;
			if (!rc)
				break;
			putback(pool, dst);
		}
		if (dst < 0) /* "Stop if we couldn't find slot" */
			break;
		putback(pool, dst);
		if (putback(pool, src) == 0 && free_source(pool, src, &freed))
			return -1;
		src = -1;
	}
	if (src >= 0)
		putback(pool, src);
	return freed;
}

int64_t zs_compact(struct zs_pool *pool)
{
	int64_t freed = 0, f;
	int cls;

	if (pool->compact_algo == COMPACT_NONE) {
		PyErr_SetString(PyExc_ValueError, "zsmalloc engine: no compaction rules set");
		return -1;
	}
	for (cls = pool->nr_classes - 1; cls >= 0; cls--) {
		if (pool->compact_algo == COMPACT_V6_4)
			f = compact_class_v64(pool, cls);
		else
			f = compact_class_legacy(pool, cls, pool->compact_algo == COMPACT_V4_3,
						 pool->compact_algo == COMPACT_V4_3 ? pool->nr_src : 1);
		if (f < 0)
			return -1;
		freed += f;
	}
	pool->pages_compacted += freed;
	return freed;
}
