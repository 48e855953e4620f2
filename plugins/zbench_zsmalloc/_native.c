// SPDX-License-Identifier: GPL-2.0-only
/*
 * zbench_zsmalloc._native: zs_malloc / zs_free placement with the state in C, for runs
 * that keep no object bytes (sizes only).  The Python model (pool.py, zspage.py,
 * fullness.py, handle.py) is the reference; this module follows it rule for rule and
 * counter for counter, and tests/test_zs_native.py holds the two equal.
 *
 * What it keeps is what mm/zsmalloc.c's placement reads:
 *   - per size class (struct size_class): the fullness lists, the per-group zspage
 *     counts, objects allocated and in use;
 *   - per zspage (struct zspage): class, inuse, the free-object list (init_zspage links
 *     every slot to the next; obj_free pushes, obj_malloc pops: LIFO), fullness group;
 *   - per handle (the zs_handle cache): zspage, obj_idx, size; freed handles are reused
 *     last-freed-first, as handle.py's table does.
 * The rules that changed between versions come in as numbers from the Python pool:
 * the class table (zs_create_pool), the fullness scheme (get_fullness_group: quarters
 * before 6.4, inuse ratio from 6.4) and the insert_zspage policy (head / inuse-tail /
 * inuse-second).  No frames are allocated: the pool counts them, as SizeFrames would.
 * Not here: compaction, page migration, object bytes (the Python model does those).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zbench_sized.h"

#define ZS_HANDLE_SIZE 8
#define HANDLE_SHIFT 3
#define LINK_END (-1)
#define MAX_GROUPS 12

enum { FULLNESS_QUARTER = 0, FULLNESS_INUSE_RATIO = 1 };
enum { INSERT_HEAD = 0, INSERT_INUSE_TAIL = 1, INSERT_INUSE_SECOND = 2 };

typedef struct {
	int size, ppz, objs, huge;
	int64_t obj_allocated, obj_used, list_ops;
	int64_t group_count[MAX_GROUPS];
} zs_class;

typedef struct {
	int cls, inuse, freeobj, fullness;
	int32_t *link; /* link[k]: the free slot after k (struct link_free), LINK_END */
} zs_zspage;

typedef struct {
	PyObject_HEAD
	int page_size, nr_classes, nr_groups, fullness, insert, max_size;
	zs_class *classes;
	int32_t *class_of; /* size -> distinct class, for 0..max_size */
	int alloc_order[MAX_GROUPS], nr_alloc_order;
	/* list nodes: 0 .. nr_classes*nr_groups-1 are the list heads, zspage z is node
	 * heads + z; prev/next grow with the zspages */
	int32_t *prev, *next;
	Py_ssize_t nodes_cap;
	zs_zspage *zspages;
	Py_ssize_t nr_zspage_ids, zspages_cap;
	int32_t *free_ids;
	Py_ssize_t nr_free_ids, free_ids_cap;
	/* handles: slot 0 unused (handle 0 means none) */
	int32_t *h_zspage, *h_idx, *h_size;
	Py_ssize_t nr_slots, slots_cap;
	int32_t *h_free;
	Py_ssize_t nr_h_free, h_free_cap;
	int64_t live_handles;
	int64_t pages_allocated, nr_zspages, bytes_written, bytes_read, page_crossing_copies;
	int64_t frames_allocated, frames_freed, frames_peak;
	struct zbench_sized_ops ops; /* what engine.capsule hands a native front end */
} SizedPool;

static int grow(void **p, Py_ssize_t *cap, Py_ssize_t need, size_t elem)
{
	Py_ssize_t n = *cap ? *cap : 64;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, (size_t)n * elem);
	if (!q) {
		PyErr_NoMemory();
		return -1;
	}
	*p = q;
	*cap = n;
	return 0;
}

static int get_group(const SizedPool *pool, int inuse, int objs)
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

static inline int head_of(const SizedPool *pool, int cls, int group)
{
	return cls * pool->nr_groups + group;
}

static inline int node_of(const SizedPool *pool, int z)
{
	return pool->nr_classes * pool->nr_groups + z;
}

static void list_add_after(SizedPool *pool, int node, int at)
{
	int nxt = pool->next[at];

	pool->prev[node] = at;
	pool->next[node] = nxt;
	pool->prev[nxt] = node;
	pool->next[at] = node;
}

static void list_del_init(SizedPool *pool, int node)
{
	pool->next[pool->prev[node]] = pool->next[node];
	pool->prev[pool->next[node]] = pool->prev[node];
	pool->prev[node] = node;
	pool->next[node] = node;
}

/* insert_zspage (fullness.py's INSERT_POLICIES) */
static void insert_zspage(SizedPool *pool, int z, int fullness)
{
	zs_zspage *zp = &pool->zspages[z];
	zs_class *c = &pool->classes[zp->cls];
	int head = head_of(pool, zp->cls, fullness), node = node_of(pool, z);
	int first = pool->next[head];
	int first_inuse = first == head ? -1 : pool->zspages[first - node_of(pool, 0)].inuse;

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

static void remove_zspage(SizedPool *pool, int z)
{
	zs_zspage *zp = &pool->zspages[z];
	zs_class *c = &pool->classes[zp->cls];

	list_del_init(pool, node_of(pool, z));
	c->group_count[zp->fullness]--;
	c->list_ops++;
}

/* alloc_zspage + init_zspage: -1 with an exception set */
static int alloc_zspage(SizedPool *pool, int cls)
{
	zs_class *c = &pool->classes[cls];
	zs_zspage *zp;
	int z, k;

	if (pool->nr_free_ids) {
		z = pool->free_ids[--pool->nr_free_ids];
	} else {
		z = (int)pool->nr_zspage_ids;
		if (grow((void **)&pool->zspages, &pool->zspages_cap, z + 1, sizeof(zs_zspage)))
			return -1;
		Py_ssize_t need = node_of(pool, z) + 1, cap = pool->nodes_cap;
		if (grow((void **)&pool->prev, &cap, need, sizeof(int32_t)))
			return -1;
		cap = pool->nodes_cap;
		if (grow((void **)&pool->next, &cap, need, sizeof(int32_t)))
			return -1;
		pool->nodes_cap = cap;
		pool->zspages[z].link = NULL;
		pool->nr_zspage_ids++;
	}
	zp = &pool->zspages[z];
	zp->link = malloc((size_t)c->objs * sizeof(int32_t));
	if (!zp->link) {
		PyErr_NoMemory();
		return -1;
	}
	for (k = 0; k < c->objs; k++)
		zp->link[k] = k + 1 < c->objs ? k + 1 : LINK_END;
	zp->cls = cls;
	zp->inuse = 0;
	zp->freeobj = 0;
	zp->fullness = 0;
	pool->prev[node_of(pool, z)] = node_of(pool, z);
	pool->next[node_of(pool, z)] = node_of(pool, z);
	pool->pages_allocated += c->ppz;
	pool->frames_allocated += c->ppz;
	if (pool->pages_allocated > pool->frames_peak)
		pool->frames_peak = pool->pages_allocated;
	c->obj_allocated += c->objs;
	pool->nr_zspages++;
	return z;
}

static void free_zspage(SizedPool *pool, int z)
{
	zs_zspage *zp = &pool->zspages[z];
	zs_class *c = &pool->classes[zp->cls];
	int node = node_of(pool, z);

	if (pool->next[node] != node)
		remove_zspage(pool, z);
	free(zp->link);
	zp->link = NULL;
	c->obj_allocated -= c->objs;
	pool->pages_allocated -= c->ppz;
	pool->frames_freed += c->ppz;
	pool->nr_zspages--;
	pool->free_ids[pool->nr_free_ids++] = z; /* room reserved in SizedPool_free */
}

/* zs_malloc: the handle, or -1 with an exception set */
static int64_t zs_malloc(void *p, int64_t size)
{
	SizedPool *pool = p;
	int cls, z = -1, g, newfg, idx;
	Py_ssize_t slot;
	zs_class *c;
	zs_zspage *zp;

	if (size < 1 || size > pool->max_size) {
		PyErr_Format(PyExc_ValueError, "zsmalloc: size %lld out of range 1..%d",
			     (long long)size, pool->max_size);
		return -1;
	}
	cls = pool->class_of[size];
	c = &pool->classes[cls];
	/* find_get_zspage */
	for (g = 0; g < pool->nr_alloc_order; g++) {
		int head = head_of(pool, cls, pool->alloc_order[g]);

		if (pool->next[head] != head) {
			z = pool->next[head] - node_of(pool, 0);
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
		insert_zspage(pool, z, get_group(pool, zp->inuse, c->objs));
	} else {
		zp = &pool->zspages[z];
		idx = zp->freeobj;
		zp->freeobj = zp->link[zp->freeobj];
		zp->inuse++;
		newfg = get_group(pool, zp->inuse, c->objs);
		if (newfg != zp->fullness) { /* fix_fullness_group */
			remove_zspage(pool, z);
			insert_zspage(pool, z, newfg);
		}
	}
	/* cache_alloc_handle (before the zspage in zs_malloc; nothing here depends on
	 * the order) */
	if (pool->nr_h_free) {
		slot = pool->h_free[--pool->nr_h_free];
	} else {
		Py_ssize_t cap = pool->slots_cap;

		slot = pool->nr_slots;
		if (grow((void **)&pool->h_zspage, &cap, slot + 1, sizeof(int32_t)))
			return -1;
		cap = pool->slots_cap;
		if (grow((void **)&pool->h_idx, &cap, slot + 1, sizeof(int32_t)))
			return -1;
		cap = pool->slots_cap;
		if (grow((void **)&pool->h_size, &cap, slot + 1, sizeof(int32_t)))
			return -1;
		pool->slots_cap = cap;
		pool->nr_slots++;
	}
	pool->h_zspage[slot] = z;
	pool->h_idx[slot] = idx;
	pool->h_size[slot] = (int32_t)size;
	pool->live_handles++;
	c->obj_used++;
	return (int64_t)slot << HANDLE_SHIFT;
}

static PyObject *SizedPool_malloc(SizedPool *pool, PyObject *arg)
{
	long long size = PyLong_AsLongLong(arg);
	int64_t handle;

	if (size == -1 && PyErr_Occurred())
		return NULL;
	handle = zs_malloc(pool, size);
	return handle < 0 ? NULL : PyLong_FromLongLong(handle);
}

/* the slot of a live handle, or -1 with ValueError */
static Py_ssize_t live_slot(SizedPool *pool, int64_t handle)
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

/* a Python int as a handle: -1 with an exception set when it is not an int */
static int arg_handle(PyObject *arg, int64_t *handle)
{
	long long h = PyLong_AsLongLong(arg);

	if (h == -1 && PyErr_Occurred())
		return -1;
	*handle = h;
	return 0;
}

/* zs_free (handle 0: zs_free(NULL), nothing) */
static int zs_free(void *p, int64_t handle)
{
	SizedPool *pool = p;
	Py_ssize_t slot;
	int z, newfg;
	zs_zspage *zp;
	zs_class *c;

	if (handle == 0)
		return 0;
	slot = live_slot(pool, handle);
	if (slot < 0)
		return -1;
	/* room for the ids this free may give back, before any state changes */
	if (grow((void **)&pool->free_ids, &pool->free_ids_cap, pool->nr_free_ids + 1,
		 sizeof(int32_t)) ||
	    grow((void **)&pool->h_free, &pool->h_free_cap, pool->nr_h_free + 1,
		 sizeof(int32_t)))
		return -1;
	z = pool->h_zspage[slot];
	zp = &pool->zspages[z];
	c = &pool->classes[zp->cls];
	c->obj_used--;
	/* obj_free */
	zp->link[pool->h_idx[slot]] = zp->freeobj;
	zp->freeobj = pool->h_idx[slot];
	zp->inuse--;
	newfg = get_group(pool, zp->inuse, c->objs);
	if (newfg != zp->fullness) {
		remove_zspage(pool, z);
		insert_zspage(pool, z, newfg);
	}
	if (newfg == 0)
		free_zspage(pool, z);
	/* cache_free_handle */
	pool->h_size[slot] = 0;
	pool->h_free[pool->nr_h_free++] = (int32_t)slot;
	pool->live_handles--;
	return 0;
}

static PyObject *SizedPool_free(SizedPool *pool, PyObject *arg)
{
	int64_t handle;

	if (arg_handle(arg, &handle) || zs_free(pool, handle))
		return NULL;
	Py_RETURN_NONE;
}

/* a copy of the handle's whole object in or out: counted in *bytes, and once more in
 * page_crossing_copies when the object straddles a page boundary; no bytes move */
static int count_copy(SizedPool *pool, int64_t handle, int64_t *bytes)
{
	Py_ssize_t slot = live_slot(pool, handle);
	zs_class *c;
	int64_t n, at;

	if (slot < 0)
		return -1;
	c = &pool->classes[pool->zspages[pool->h_zspage[slot]].cls];
	n = pool->h_size[slot];
	*bytes += n;
	at = ((int64_t)pool->h_idx[slot] * c->size) % pool->page_size;
	if (!c->huge && at + ZS_HANDLE_SIZE + n > pool->page_size)
		pool->page_crossing_copies++;
	return 0;
}

/* zs_obj_write of the handle's whole object */
static int zs_write(void *p, int64_t handle)
{
	return count_copy(p, handle, &((SizedPool *)p)->bytes_written);
}

/* zs_obj_read_begin (zs_map_object before 6.15) of the whole object */
static int zs_read(void *p, int64_t handle)
{
	return count_copy(p, handle, &((SizedPool *)p)->bytes_read);
}

static PyObject *SizedPool_write(SizedPool *pool, PyObject *arg)
{
	int64_t handle;

	if (arg_handle(arg, &handle) || zs_write(pool, handle))
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *SizedPool_read(SizedPool *pool, PyObject *arg)
{
	int64_t handle;

	if (arg_handle(arg, &handle) || zs_read(pool, handle))
		return NULL;
	Py_RETURN_NONE;
}

static int64_t zs_pool_pages(void *p)
{
	return ((SizedPool *)p)->pages_allocated;
}

static void capsule_release(PyObject *capsule)
{
	Py_XDECREF((PyObject *)PyCapsule_GetContext(capsule));
}

/* engine.capsule: the struct zbench_sized_ops of this pool (zbench_sized.h); the
 * capsule keeps the pool alive */
static PyObject *SizedPool_capsule(SizedPool *pool, void *unused)
{
	PyObject *cap = PyCapsule_New(&pool->ops, ZBENCH_SIZED_CAPSULE, capsule_release);

	if (!cap)
		return NULL;
	Py_INCREF(pool);
	if (PyCapsule_SetContext(cap, pool)) {
		Py_DECREF(pool);
		Py_DECREF(cap);
		return NULL;
	}
	return cap;
}

static PyGetSetDef SizedPool_getset[] = {
	{"capsule", (getter)SizedPool_capsule, NULL,
	 "the pool's zbench_sized_ops for a native front end (zbench_sized.h)", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyObject *SizedPool_pool_pages(SizedPool *pool, PyObject *unused)
{
	return PyLong_FromLongLong(pool->pages_allocated);
}

/* per distinct class: (obj_allocated, obj_used, list_ops, (group counts...)) */
static PyObject *SizedPool_class_counters(SizedPool *pool, PyObject *unused)
{
	PyObject *out = PyList_New(pool->nr_classes);
	int i, g;

	if (!out)
		return NULL;
	for (i = 0; i < pool->nr_classes; i++) {
		zs_class *c = &pool->classes[i];
		PyObject *groups = PyTuple_New(pool->nr_groups), *row;

		if (!groups) {
			Py_DECREF(out);
			return NULL;
		}
		for (g = 0; g < pool->nr_groups; g++)
			PyTuple_SET_ITEM(groups, g, PyLong_FromLongLong(c->group_count[g]));
		row = Py_BuildValue("(LLLN)", (long long)c->obj_allocated,
				    (long long)c->obj_used, (long long)c->list_ops, groups);
		if (!row) {
			Py_DECREF(out);
			return NULL;
		}
		PyList_SET_ITEM(out, i, row);
	}
	return out;
}

static PyObject *SizedPool_counters(SizedPool *pool, PyObject *unused)
{
	return Py_BuildValue("{sLsLsLsLsLsLsLsLsL}",
			     "pages_allocated", (long long)pool->pages_allocated,
			     "nr_zspages", (long long)pool->nr_zspages,
			     "bytes_written", (long long)pool->bytes_written,
			     "bytes_read", (long long)pool->bytes_read,
			     "page_crossing_copies", (long long)pool->page_crossing_copies,
			     "frames_allocated", (long long)pool->frames_allocated,
			     "frames_freed", (long long)pool->frames_freed,
			     "frames_peak", (long long)pool->frames_peak,
			     "live_handles", (long long)pool->live_handles);
}

/*
 * SizedPool(page_size, classes, class_of, fullness, insert, alloc_order)
 *   classes: bytes of int32 (size, pages_per_zspage, objs_per_zspage, huge) per class
 *   class_of: bytes of int32, the distinct class of each size 0..page_size
 */
static int SizedPool_init(SizedPool *pool, PyObject *args, PyObject *kwds)
{
	static char *kw[] = {"page_size", "classes", "class_of", "fullness", "insert",
			     "alloc_order", NULL};
	Py_buffer cls_buf, of_buf, order_buf;
	int page_size, fullness, insert, i, g;
	const int32_t *w;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "iy*y*iiy*", kw, &page_size, &cls_buf,
					 &of_buf, &fullness, &insert, &order_buf))
		return -1;
	pool->nr_groups = fullness == FULLNESS_INUSE_RATIO ? 12 : 4;
	pool->nr_classes = (int)(cls_buf.len / (4 * sizeof(int32_t)));
	pool->nr_alloc_order = (int)order_buf.len;
	if (page_size < 4096 || (fullness != 0 && fullness != 1) || insert < 0 || insert > 2 ||
	    pool->nr_classes < 1 || of_buf.len != (Py_ssize_t)((page_size + 1) * sizeof(int32_t)) ||
	    pool->nr_alloc_order < 1 || pool->nr_alloc_order > MAX_GROUPS) {
		PyErr_SetString(PyExc_ValueError, "SizedPool: inconsistent class table");
		goto fail;
	}
	pool->page_size = page_size;
	pool->max_size = page_size;
	pool->fullness = fullness;
	pool->insert = insert;
	for (g = 0; g < pool->nr_alloc_order; g++) {
		pool->alloc_order[g] = ((const unsigned char *)order_buf.buf)[g];
		if (pool->alloc_order[g] >= pool->nr_groups) {
			PyErr_SetString(PyExc_ValueError, "SizedPool: bad alloc order");
			goto fail;
		}
	}
	pool->classes = calloc((size_t)pool->nr_classes, sizeof(zs_class));
	pool->class_of = malloc((size_t)of_buf.len);
	pool->nodes_cap = pool->nr_classes * pool->nr_groups;
	pool->prev = malloc((size_t)pool->nodes_cap * sizeof(int32_t));
	pool->next = malloc((size_t)pool->nodes_cap * sizeof(int32_t));
	if (!pool->classes || !pool->class_of || !pool->prev || !pool->next) {
		PyErr_NoMemory();
		goto fail;
	}
	w = cls_buf.buf;
	for (i = 0; i < pool->nr_classes; i++) {
		zs_class *c = &pool->classes[i];

		c->size = w[4 * i];
		c->ppz = w[4 * i + 1];
		c->objs = w[4 * i + 2];
		c->huge = w[4 * i + 3];
		if (c->size < 1 || c->ppz < 1 || c->objs < 1) {
			PyErr_SetString(PyExc_ValueError, "SizedPool: bad class");
			goto fail;
		}
	}
	memcpy(pool->class_of, of_buf.buf, (size_t)of_buf.len);
	for (i = 0; i <= page_size; i++) {
		if (pool->class_of[i] < 0 || pool->class_of[i] >= pool->nr_classes) {
			PyErr_SetString(PyExc_ValueError, "SizedPool: bad class index");
			goto fail;
		}
	}
	for (i = 0; i < pool->nodes_cap; i++)
		pool->prev[i] = pool->next[i] = i;
	/* handle slot 0 is never used */
	if (grow((void **)&pool->h_zspage, &pool->slots_cap, 1, sizeof(int32_t)))
		goto fail;
	pool->slots_cap = 0;
	if (grow((void **)&pool->h_idx, &pool->slots_cap, 1, sizeof(int32_t)))
		goto fail;
	pool->slots_cap = 0;
	if (grow((void **)&pool->h_size, &pool->slots_cap, 1, sizeof(int32_t)))
		goto fail;
	pool->h_size[0] = 0;
	pool->nr_slots = 1;
	pool->ops.abi = ZBENCH_SIZED_ABI;
	pool->ops.pool = pool;
	pool->ops.malloc = zs_malloc;
	pool->ops.free = zs_free;
	pool->ops.write = zs_write;
	pool->ops.read = zs_read;
	pool->ops.pool_pages = zs_pool_pages;
	PyBuffer_Release(&cls_buf);
	PyBuffer_Release(&of_buf);
	PyBuffer_Release(&order_buf);
	return 0;
fail:
	PyBuffer_Release(&cls_buf);
	PyBuffer_Release(&of_buf);
	PyBuffer_Release(&order_buf);
	return -1;
}

static void SizedPool_dealloc(SizedPool *pool)
{
	Py_ssize_t z;

	for (z = 0; z < pool->nr_zspage_ids; z++)
		free(pool->zspages[z].link);
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
	Py_TYPE(pool)->tp_free((PyObject *)pool);
}

static PyMethodDef SizedPool_methods[] = {
	{"malloc", (PyCFunction)SizedPool_malloc, METH_O, "zs_malloc(size) -> handle"},
	{"free", (PyCFunction)SizedPool_free, METH_O, "zs_free(handle)"},
	{"write", (PyCFunction)SizedPool_write, METH_O,
	 "zs_obj_write of the handle's object (counted, no bytes kept)"},
	{"read", (PyCFunction)SizedPool_read, METH_O,
	 "zs_obj_read_begin of the handle's object (counted, no bytes read)"},
	{"pool_pages", (PyCFunction)SizedPool_pool_pages, METH_NOARGS,
	 "zs_get_total_pages"},
	{"class_counters", (PyCFunction)SizedPool_class_counters, METH_NOARGS,
	 "per distinct class: (obj_allocated, obj_used, list_ops, group counts)"},
	{"counters", (PyCFunction)SizedPool_counters, METH_NOARGS, "the pool's counters"},
	{NULL, NULL, 0, NULL},
};

static PyTypeObject SizedPoolType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "zbench_zsmalloc._native.SizedPool",
	.tp_doc = "zs_malloc / zs_free placement with the state in C (sizes only)",
	.tp_basicsize = sizeof(SizedPool),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)SizedPool_init,
	.tp_dealloc = (destructor)SizedPool_dealloc,
	.tp_methods = SizedPool_methods,
	.tp_getset = SizedPool_getset,
};

static struct PyModuleDef native_module = {
	PyModuleDef_HEAD_INIT, "zbench_zsmalloc._native",
	"zsmalloc placement with the state in C, for sizes-only runs (docs/scale.md)", -1, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
	PyObject *m;

	if (PyType_Ready(&SizedPoolType) < 0)
		return NULL;
	m = PyModule_Create(&native_module);
	if (!m)
		return NULL;
	Py_INCREF(&SizedPoolType);
	if (PyModule_AddObject(m, "SizedPool", (PyObject *)&SizedPoolType) < 0) {
		Py_DECREF(&SizedPoolType);
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
