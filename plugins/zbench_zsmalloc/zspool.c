// SPDX-License-Identifier: GPL-2.0-only
/*
 * zspool.c: zs_malloc / zs_free placement with the state in C.  The Python model
 * (pool.py, zspage.py, fullness.py, handle.py) is the reference; this file follows it
 * rule for rule and counter for counter, and tests/test_zs_native.py holds the two equal.
 *
 * What it keeps is what mm/zsmalloc.c's placement reads:
 *   - per size class (struct size_class): the fullness lists, the per-group zspage
 *     counts, objects allocated and in use;
 *   - per zspage (struct zspage): class, inuse, the free-object list (init_zspage links
 *     every slot to the next; obj_free pushes, obj_malloc pops: LIFO), fullness group
 *     and, when the pool keeps bytes, its page frames;
 *   - per handle (the zs_handle cache): zspage, obj_idx, size; freed handles are reused
 *     last-freed-first, as handle.py's table does.
 * The rules that changed between versions come in as numbers from the Python pool:
 * the class table (zs_create_pool), the fullness scheme (get_fullness_group: quarters
 * before 6.4, inuse ratio from 6.4) and the insert_zspage policy (head / inuse-tail /
 * inuse-second).  With bytes, obj_malloc writes the handle (with OBJ_ALLOCATED_TAG) at
 * the head of a non-huge slot and the object follows it, as zspage.py's frames hold it;
 * a free slot's link stays in link[], not in the frame.
 * zs_compact is zscompact.c's.  Not here: page migration (the Python model's).
 */
#include <stdlib.h>
#include <string.h>

#include "zspool.h"
#include "zbench_sized.h"
#include "zbench_util.h"

int zs_grow(void **p, Py_ssize_t *cap, Py_ssize_t need, size_t elem)
{
	return zbench_grow(p, cap, need, elem);
}

int zs_get_group(const struct zs_pool *pool, int inuse, int objs)
{
	if (pool->fullness == FULLNESS_INUSE_RATIO) {
		if (inuse == 0)
			return 0;
		if (inuse == objs)
			return 11;
		return 100 * inuse / objs / 10 + 1;
	}
	if (inuse == 0)
		return 0; /* ZS_EMPTY */
	if (inuse == objs)
		return 3; /* ZS_FULL */
	if (inuse <= 3 * objs / 4)
		return 1; /* ZS_ALMOST_EMPTY */
	return 2; /* ZS_ALMOST_FULL */
}

int zs_head_of(const struct zs_pool *pool, int cls, int group)
{
	return cls * pool->nr_groups + group;
}

int zs_node_of(const struct zs_pool *pool, int z)
{
	return pool->nr_classes * pool->nr_groups + z;
}

static void list_add_after(struct zs_pool *pool, int node, int at)
{
	int nxt = pool->next[at];

	pool->prev[node] = at;
	pool->next[node] = nxt;
	pool->prev[nxt] = node;
	pool->next[at] = node;
}

static void list_del_init(struct zs_pool *pool, int node)
{
	pool->next[pool->prev[node]] = pool->next[node];
	pool->prev[pool->next[node]] = pool->prev[node];
	pool->prev[node] = node;
	pool->next[node] = node;
}

/* insert_zspage (fullness.py's INSERT_POLICIES) */
void zs_insert_zspage(struct zs_pool *pool, int z, int fullness)
{
	zs_zspage *zp = &pool->zspages[z];
	zs_class *c = &pool->classes[zp->cls];
	int head = zs_head_of(pool, zp->cls, fullness), node = zs_node_of(pool, z);
	int first = pool->next[head];
	int first_inuse = first == head ? -1 : pool->zspages[first - zs_node_of(pool, 0)].inuse;

	c->group_count[fullness]++;
	c->list_ops++;
	switch (pool->insert) {
	case INSERT_INUSE_TAIL:
		if (first == head || zp->inuse >= first_inuse)
			list_add_after(pool, node, head);
		else
			list_add_after(pool, node, pool->prev[head]);
		break;
	case INSERT_INUSE_SECOND:
		if (first != head && zp->inuse < first_inuse)
			list_add_after(pool, node, first);
		else
			list_add_after(pool, node, head);
		break;
	default:
		list_add_after(pool, node, head);
	}
	zp->fullness = fullness;
}

void zs_remove_zspage(struct zs_pool *pool, int z)
{
	zs_zspage *zp = &pool->zspages[z];
	zs_class *c = &pool->classes[zp->cls];

	list_del_init(pool, zs_node_of(pool, z));
	c->group_count[zp->fullness]--;
	c->list_ops++;
}

/* a zspage's free list, objects' handles and frames given back */
static void release_zspage(zs_zspage *zp)
{
	free(zp->link);
	free(zp->slot_of);
	free(zp->mem);
	zp->link = NULL;
	zp->slot_of = NULL;
	zp->mem = NULL;
}

/* alloc_zspage + init_zspage: -1 with an exception set */
static int alloc_zspage(struct zs_pool *pool, int cls)
{
	zs_class *c = &pool->classes[cls];
	zs_zspage *zp;
	int z, k;

	if (pool->nr_free_ids) {
		z = pool->free_ids[--pool->nr_free_ids];
	} else {
		z = (int)pool->nr_zspage_ids;
		if (zs_grow((void **)&pool->zspages, &pool->zspages_cap, z + 1, sizeof(zs_zspage)))
			return -1;
		Py_ssize_t need = zs_node_of(pool, z) + 1, cap = pool->nodes_cap;
		if (zs_grow((void **)&pool->prev, &cap, need, sizeof(int32_t)))
			return -1;
		cap = pool->nodes_cap;
		if (zs_grow((void **)&pool->next, &cap, need, sizeof(int32_t)))
			return -1;
		pool->nodes_cap = cap;
		pool->zspages[z].link = NULL;
		pool->zspages[z].slot_of = NULL;
		pool->zspages[z].mem = NULL;
		pool->nr_zspage_ids++;
	}
	zp = &pool->zspages[z];
	zp->link = malloc((size_t)c->objs * sizeof(int32_t));
	zp->slot_of = calloc((size_t)c->objs, sizeof(int32_t));
	zp->mem = pool->payload ? malloc((size_t)c->ppz * pool->page_size) : NULL;
	if (!zp->link || !zp->slot_of || (pool->payload && !zp->mem)) {
		release_zspage(zp);
		PyErr_NoMemory();
		return -1;
	}
	for (k = 0; k < c->objs; k++)
		zp->link[k] = k + 1 < c->objs ? k + 1 : LINK_END;
	zp->cls = cls;
	zp->inuse = 0;
	zp->freeobj = 0;
	zp->fullness = 0;
	pool->prev[zs_node_of(pool, z)] = zs_node_of(pool, z);
	pool->next[zs_node_of(pool, z)] = zs_node_of(pool, z);
	pool->pages_allocated += c->ppz;
	pool->frames_allocated += c->ppz;
	if (pool->pages_allocated > pool->frames_peak)
		pool->frames_peak = pool->pages_allocated;
	c->obj_allocated += c->objs;
	pool->nr_zspages++;
	return z;
}

void zs_free_zspage(struct zs_pool *pool, int z)
{
	zs_zspage *zp = &pool->zspages[z];
	zs_class *c = &pool->classes[zp->cls];
	int node = zs_node_of(pool, z);

	if (pool->next[node] != node)
		zs_remove_zspage(pool, z);
	release_zspage(zp);
	c->obj_allocated -= c->objs;
	pool->pages_allocated -= c->ppz;
	pool->frames_freed += c->ppz;
	pool->nr_zspages--;
	pool->free_ids[pool->nr_free_ids++] = z; /* room reserved in SizedPool_free */
}

/* zs_malloc: the handle, or -1 with an exception set */
int64_t zs_malloc(struct zs_pool *pool, int64_t size)
{
	int cls, z = -1, g, newfg, idx;
	Py_ssize_t slot;
	zs_class *c;
	zs_zspage *zp;

	if (size < 1 || size > pool->max_size) /* -EINVAL: the caller counts it */
		return ZBENCH_EINVAL;
	cls = pool->class_of[size];
	c = &pool->classes[cls];
	/* find_get_zspage */
	for (g = 0; g < pool->nr_alloc_order; g++) {
		int head = zs_head_of(pool, cls, pool->alloc_order[g]);

		if (pool->next[head] != head) {
			z = pool->next[head] - zs_node_of(pool, 0);
			break;
		}
	}
	if (z < 0) {
		z = alloc_zspage(pool, cls);
		if (z < 0)
			return -1;
		zp = &pool->zspages[z];
		/* obj_malloc */
		idx = zp->freeobj;
		zp->freeobj = zp->link[zp->freeobj];
		zp->inuse++;
		zs_insert_zspage(pool, z, zs_get_group(pool, zp->inuse, c->objs));
	} else {
		zp = &pool->zspages[z];
		idx = zp->freeobj;
		zp->freeobj = zp->link[zp->freeobj];
		zp->inuse++;
		newfg = zs_get_group(pool, zp->inuse, c->objs);
		if (newfg != zp->fullness) { /* fix_fullness_group */
			zs_remove_zspage(pool, z);
			zs_insert_zspage(pool, z, newfg);
		}
	}
	/* cache_alloc_handle (before the zspage in zs_malloc; nothing here depends on
	 * the order) */
	if (pool->nr_h_free) {
		slot = pool->h_free[--pool->nr_h_free];
	} else {
		Py_ssize_t cap = pool->slots_cap;

		slot = pool->nr_slots;
		if (zs_grow((void **)&pool->h_zspage, &cap, slot + 1, sizeof(int32_t)))
			return -1;
		cap = pool->slots_cap;
		if (zs_grow((void **)&pool->h_idx, &cap, slot + 1, sizeof(int32_t)))
			return -1;
		cap = pool->slots_cap;
		if (zs_grow((void **)&pool->h_size, &cap, slot + 1, sizeof(int32_t)))
			return -1;
		pool->slots_cap = cap;
		pool->nr_slots++;
	}
	if (zp->mem && !c->huge) { /* obj_malloc: the handle heads the slot */
		uint64_t tagged = ((uint64_t)slot << HANDLE_SHIFT) | OBJ_ALLOCATED_TAG;

		memcpy(zp->mem + (size_t)idx * c->size, &tagged, ZS_HANDLE_SIZE);
	}
	zp->slot_of[idx] = (int32_t)slot;
	pool->h_zspage[slot] = z;
	pool->h_idx[slot] = idx;
	pool->h_size[slot] = (int32_t)size;
	pool->live_handles++;
	c->obj_used++;
	return (int64_t)slot << HANDLE_SHIFT;
}

/* the slot of a live handle, or -1 with ValueError */
Py_ssize_t zs_live_slot(struct zs_pool *pool, int64_t handle)
{
	Py_ssize_t slot = (Py_ssize_t)(handle >> HANDLE_SHIFT);

	if (handle <= 0 || handle & (ZS_HANDLE_SIZE - 1) || slot >= pool->nr_slots ||
	    !pool->h_size[slot]) {
		PyErr_Format(PyExc_ValueError, "not a live zsmalloc handle: %lld",
			     (long long)handle);
		return -1;
	}
	return slot;
}

/* zs_free (handle 0: zs_free(NULL), nothing) */
int zs_free(struct zs_pool *pool, int64_t handle)
{
	Py_ssize_t slot;
	int z, newfg;
	zs_zspage *zp;
	zs_class *c;

	if (handle == 0)
		return 0;
	slot = zs_live_slot(pool, handle);
	if (slot < 0)
		return -1;
	/* room for the ids this free may give back, before any state changes */
	if (zs_grow((void **)&pool->free_ids, &pool->free_ids_cap, pool->nr_free_ids + 1,
		 sizeof(int32_t)) ||
	    zs_grow((void **)&pool->h_free, &pool->h_free_cap, pool->nr_h_free + 1,
		 sizeof(int32_t)))
		return -1;
	z = pool->h_zspage[slot];
	zp = &pool->zspages[z];
	c = &pool->classes[zp->cls];
	c->obj_used--;
	/* obj_free */
	zp->slot_of[pool->h_idx[slot]] = 0;
	zp->link[pool->h_idx[slot]] = zp->freeobj;
	zp->freeobj = pool->h_idx[slot];
	zp->inuse--;
	newfg = zs_get_group(pool, zp->inuse, c->objs);
	if (newfg != zp->fullness) {
		zs_remove_zspage(pool, z);
		zs_insert_zspage(pool, z, newfg);
	}
	if (newfg == 0)
		zs_free_zspage(pool, z);
	/* cache_free_handle */
	pool->h_size[slot] = 0;
	pool->h_free[pool->nr_h_free++] = (int32_t)slot;
	pool->live_handles--;
	return 0;
}


/* the handle's object: its size, its first byte in the zspage's frames (after the
 * handle for a non-huge class; NULL when no bytes move, buf == NULL), and whether it
 * straddles a page boundary (zs_obj_write / zs_obj_read_begin copy it in two parts
 * then); -1: not live, or bytes to move in a pool of sizes only */
static int64_t locate(struct zs_pool *pool, int64_t handle, const void *buf,
		      unsigned char **obj, int *crosses)
{
	Py_ssize_t slot = zs_live_slot(pool, handle);
	zs_zspage *zp;
	zs_class *c;
	int64_t start, n;

	if (slot < 0)
		return -1;
	zp = &pool->zspages[pool->h_zspage[slot]];
	c = &pool->classes[zp->cls];
	n = pool->h_size[slot];
	start = (int64_t)pool->h_idx[slot] * c->size;
	*crosses = !c->huge && start % pool->page_size + ZS_HANDLE_SIZE + n > pool->page_size;
	*obj = NULL;
	if (buf) {
		if (!zp->mem) {
			PyErr_SetString(PyExc_ValueError,
					"zsmalloc: a pool of sizes only keeps no bytes");
			return -1;
		}
		*obj = zp->mem + (c->huge ? 0 : start + ZS_HANDLE_SIZE);
	}
	return n;
}

/* zs_obj_write (zs_map_object + memcpy before 6.15) of the whole object; the zspage's
 * frames are one buffer here, so the two parts of a straddling object are one copy */
int zs_obj_write(struct zs_pool *pool, int64_t handle, const void *src, int64_t len)
{
	unsigned char *obj;
	int crosses;
	int64_t n = locate(pool, handle, src, &obj, &crosses);

	if (n < 0)
		return -1;
	if (obj) {
		if (len != n) {
			PyErr_Format(PyExc_ValueError,
				     "zsmalloc: write of %lld bytes to a %lld-byte object",
				     (long long)len, (long long)n);
			return -1;
		}
		memcpy(obj, src, (size_t)n);
	}
	pool->bytes_written += n;
	pool->page_crossing_copies += crosses;
	return 0;
}

/* zs_obj_read_begin (zs_map_object before 6.15) of the whole object */
int64_t zs_obj_read(struct zs_pool *pool, int64_t handle, void *dst, int count)
{
	unsigned char *obj;
	int crosses;
	int64_t n = locate(pool, handle, dst, &obj, &crosses);

	if (n < 0)
		return -1;
	if (obj)
		memcpy(dst, obj, (size_t)n);
	if (count) {
		pool->bytes_read += n;
		pool->page_crossing_copies += crosses;
	}
	return n;
}

int zs_pool_init(struct zs_pool *pool, int page_size, const int32_t *w, int nr_classes,
		 const int32_t *class_of, int fullness, int insert,
		 const unsigned char *order, int nr_order, int payload)
{
	int i, g;

	memset(pool, 0, sizeof(*pool));
	pool->nr_groups = fullness == FULLNESS_INUSE_RATIO ? 12 : 4;
	pool->nr_classes = nr_classes;
	pool->nr_alloc_order = nr_order;
	pool->payload = payload;
	pool->compact_algo = COMPACT_NONE;
	if (page_size < 4096 || (fullness != 0 && fullness != 1) || insert < 0 || insert > 2 ||
	    nr_classes < 1 || nr_order < 1 || nr_order > MAX_GROUPS) {
		PyErr_SetString(PyExc_ValueError, "SizedPool: inconsistent class table");
		return -1;
	}
	pool->page_size = page_size;
	pool->max_size = page_size;
	pool->fullness = fullness;
	pool->insert = insert;
	for (g = 0; g < nr_order; g++) {
		pool->alloc_order[g] = order[g];
		if (pool->alloc_order[g] >= pool->nr_groups) {
			PyErr_SetString(PyExc_ValueError, "SizedPool: bad alloc order");
			return -1;
		}
	}
	pool->classes = calloc((size_t)nr_classes, sizeof(zs_class));
	pool->class_of = malloc((size_t)(page_size + 1) * sizeof(int32_t));
	pool->nodes_cap = (Py_ssize_t)nr_classes * pool->nr_groups;
	pool->prev = malloc((size_t)pool->nodes_cap * sizeof(int32_t));
	pool->next = malloc((size_t)pool->nodes_cap * sizeof(int32_t));
	if (!pool->classes || !pool->class_of || !pool->prev || !pool->next) {
		PyErr_NoMemory();
		return -1;
	}
	for (i = 0; i < nr_classes; i++) {
		zs_class *c = &pool->classes[i];

		c->size = w[4 * i];
		c->ppz = w[4 * i + 1];
		c->objs = w[4 * i + 2];
		c->huge = w[4 * i + 3];
		if (c->size < 1 || c->ppz < 1 || c->objs < 1 ||
		    (int64_t)c->size * c->objs > (int64_t)c->ppz * page_size) {
			PyErr_SetString(PyExc_ValueError, "SizedPool: bad class");
			return -1;
		}
	}
	memcpy(pool->class_of, class_of, (size_t)(page_size + 1) * sizeof(int32_t));
	for (i = 0; i <= page_size; i++) {
		if (pool->class_of[i] < 0 || pool->class_of[i] >= nr_classes) {
			PyErr_SetString(PyExc_ValueError, "SizedPool: bad class index");
			return -1;
		}
	}
	for (i = 0; i < pool->nodes_cap; i++)
		pool->prev[i] = pool->next[i] = i;
	/* handle slot 0 is never used */
	if (zs_grow((void **)&pool->h_zspage, &pool->slots_cap, 1, sizeof(int32_t)))
		return -1;
	pool->slots_cap = 0;
	if (zs_grow((void **)&pool->h_idx, &pool->slots_cap, 1, sizeof(int32_t)))
		return -1;
	pool->slots_cap = 0;
	if (zs_grow((void **)&pool->h_size, &pool->slots_cap, 1, sizeof(int32_t)))
		return -1;
	pool->h_size[0] = 0;
	pool->nr_slots = 1;
	return 0;
}

void zs_pool_release(struct zs_pool *pool)
{
	Py_ssize_t z;

	for (z = 0; z < pool->nr_zspage_ids; z++)
		release_zspage(&pool->zspages[z]);
	free(pool->zspages);
	free(pool->classes);
	free(pool->class_of);
	free(pool->prev);
	free(pool->next);
	free(pool->free_ids);
	free(pool->h_zspage);
	free(pool->h_idx);
	free(pool->h_size);
	free(pool->h_free);
	memset(pool, 0, sizeof(*pool));
}
