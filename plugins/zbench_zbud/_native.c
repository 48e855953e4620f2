// SPDX-License-Identifier: GPL-2.0-only
/*
 * zbench_zbud._native: zbud_alloc / zbud_free placement with the state in C, for runs
 * that keep no object bytes (sizes only), as pool.py and page.py do it (mm/zbud.c from
 * 6.5, "mm: zswap: remove page reclaim logic from zbud": no pool LRU, no reclaim):
 *   - pool->unbuddied[NCHUNKS] (a page with one buddy, by its free chunks) and
 *     pool->buddied, each a list with list_add at the head; zbud_alloc takes the head
 *     of the first non-empty unbuddied[i], i = size_to_chunks(size) .. NCHUNKS-1, else a
 *     new page; the first buddy is filled when free, else the last;
 *   - zbud_free clears the buddy; a page with no buddy left is freed, any other filed
 *     again (unbuddied[num_free_chunks]);
 *   - sizes above the largest zbud_alloc accepts: -ENOSPC, below 1: -EINVAL (no
 *     exception: the caller counts them, as zswap does);
 *   - counted as pool.py counts: pages, objects, live chunks, list operations, the
 *     bytes written and read.
 * Handles name the page (an id reused after the page is freed) and the buddy; no frames
 * are allocated: the pool counts them.  tests/test_zbud_native.py holds it equal to the
 * Python model.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>

#include "zbench_sized.h"
#include "zbench_util.h"

typedef struct {
	int first, last;	   /* first_chunks, last_chunks */
	int first_size, last_size; /* the objects' lengths */
	int on;			   /* the list: 0..nchunks-1 unbuddied, nchunks buddied, -1 off */
} zb_page;

typedef struct {
	PyObject_HEAD
	int chunk_shift, chunk_size, nchunks, max_size;
	/* list nodes: 0..nchunks (the heads: unbuddied[], then buddied), page p is
	 * node nchunks + 1 + p */
	int32_t *prev, *next;
	Py_ssize_t nodes_cap;
	zb_page *pages;
	Py_ssize_t nr_ids, pages_cap;
	int32_t *free_ids;
	Py_ssize_t nr_free_ids, free_ids_cap;
	int64_t pages_nr, nr_objects, live_chunks, list_ops, bytes_written, bytes_read;
	int64_t list_len_buddied, list_len_unbuddied;
	int64_t frames_allocated, frames_freed, frames_peak;
	struct zbench_sized_ops ops;
} ZbudPool;

static inline int node_of(const ZbudPool *z, Py_ssize_t p)
{
	return (int)(z->nchunks + 1 + p);
}

/* file_page: list_add to unbuddied[num_free_chunks] (one buddy) or buddied */
static void file_page(ZbudPool *z, Py_ssize_t p)
{
	zb_page *pg = &z->pages[p];
	int head = pg->first == 0 || pg->last == 0 ? z->nchunks - pg->first - pg->last :
		z->nchunks;
	int node = node_of(z, p), nxt = z->next[head];

	z->prev[node] = head;
	z->next[node] = nxt;
	z->prev[nxt] = node;
	z->next[head] = node;
	pg->on = head;
	if (head == z->nchunks)
		z->list_len_buddied++;
	else
		z->list_len_unbuddied++;
	z->list_ops++;
}

/* unfile_page: list_del(&zhdr->buddy) */
static void unfile_page(ZbudPool *z, Py_ssize_t p)
{
	zb_page *pg = &z->pages[p];
	int node = node_of(z, p);

	if (pg->on < 0)
		return;
	z->next[z->prev[node]] = z->next[node];
	z->prev[z->next[node]] = z->prev[node];
	if (pg->on == z->nchunks)
		z->list_len_buddied--;
	else
		z->list_len_unbuddied--;
	pg->on = -1;
	z->list_ops++;
}

/* zbud_alloc: a handle > 0, -ENOSPC / -EINVAL (no exception), or -1 (an exception) */
static int64_t zb_malloc(void *pp, int64_t size)
{
	ZbudPool *z = pp;
	int chunks, i, first;
	Py_ssize_t p = -1;

	if (size < 1)
		return ZBENCH_EINVAL;
	if (size > z->max_size)
		return ZBENCH_ENOSPC;
	chunks = (int)((size + z->chunk_size - 1) >> z->chunk_shift);
	for (i = chunks; i < z->nchunks; i++) { /* first fit */
		if (z->next[i] != i) {
			p = z->next[i] - node_of(z, 0);
			break;
		}
	}
	if (p >= 0) {
		unfile_page(z, p);
		first = z->pages[p].first == 0;
	} else {
		if (zbench_grow((void **)&z->free_ids, &z->free_ids_cap, z->nr_ids + 1, sizeof(int32_t)))
			return -1;
		if (z->nr_free_ids) {
			p = z->free_ids[--z->nr_free_ids];
		} else {
			Py_ssize_t cap = z->nodes_cap;

			p = z->nr_ids;
			if (zbench_grow((void **)&z->pages, &z->pages_cap, p + 1, sizeof(zb_page)) ||
			    zbench_grow((void **)&z->prev, &cap, node_of(z, p) + 1, sizeof(int32_t)))
				return -1;
			cap = z->nodes_cap;
			if (zbench_grow((void **)&z->next, &cap, node_of(z, p) + 1, sizeof(int32_t)))
				return -1;
			z->nodes_cap = cap;
			z->nr_ids++;
		}
		z->pages[p] = (zb_page){0, 0, 0, 0, -1};
		z->pages_nr++;
		z->frames_allocated++;
		if (z->pages_nr > z->frames_peak)
			z->frames_peak = z->pages_nr;
		first = 1;
	}
	if (first) {
		z->pages[p].first = chunks;
		z->pages[p].first_size = (int)size;
	} else {
		z->pages[p].last = chunks;
		z->pages[p].last_size = (int)size;
	}
	file_page(z, p);
	z->nr_objects++;
	z->live_chunks += chunks;
	return ((int64_t)(p + 1) << 1) | !first;
}

/* the page of a live handle, or -1 with ValueError */
static Py_ssize_t live_page(ZbudPool *z, int64_t handle, int *last)
{
	Py_ssize_t p = (Py_ssize_t)(handle >> 1) - 1;

	*last = (int)(handle & 1);
	if (handle <= 0 || p >= z->nr_ids || !(*last ? z->pages[p].last : z->pages[p].first)) {
		PyErr_Format(PyExc_ValueError, "not a live zbud handle: %lld", (long long)handle);
		return -1;
	}
	return p;
}

/* zbud_free */
static int zb_free(void *pp, int64_t handle)
{
	ZbudPool *z = pp;
	int last;
	Py_ssize_t p = live_page(z, handle, &last);
	zb_page *pg;

	if (p < 0)
		return -1;
	pg = &z->pages[p];
	if (last) {
		z->live_chunks -= pg->last;
		pg->last = pg->last_size = 0;
	} else {
		z->live_chunks -= pg->first;
		pg->first = pg->first_size = 0;
	}
	z->nr_objects--;
	unfile_page(z, p);
	if (pg->first == 0 && pg->last == 0) { /* free_zbud_page */
		z->free_ids[z->nr_free_ids++] = (int32_t)p; /* room reserved at its alloc */
		z->pages_nr--;
		z->frames_freed++;
	} else {
		file_page(z, p);
	}
	return 0;
}

static int zb_copy(ZbudPool *z, int64_t handle, int64_t *bytes)
{
	int last;
	Py_ssize_t p = live_page(z, handle, &last);

	if (p < 0)
		return -1;
	*bytes += last ? z->pages[p].last_size : z->pages[p].first_size;
	return 0;
}

static int zb_write(void *pp, int64_t handle)
{
	return zb_copy(pp, handle, &((ZbudPool *)pp)->bytes_written);
}

static int zb_read(void *pp, int64_t handle)
{
	return zb_copy(pp, handle, &((ZbudPool *)pp)->bytes_read);
}

static int64_t zb_pool_pages(void *pp)
{
	return ((ZbudPool *)pp)->pages_nr;
}

static int64_t zb_compact(void *pp)
{
	return 0; /* zbud has no compaction */
}

/* -- the Python type ------------------------------------------------------------- */

static PyObject *ZbudPool_malloc(ZbudPool *z, PyObject *arg)
{
	long long size = PyLong_AsLongLong(arg);
	int64_t h;

	if (size == -1 && PyErr_Occurred())
		return NULL;
	h = zb_malloc(z, size);
	if (h == ZBENCH_ENOSPC || h == ZBENCH_EINVAL)
		return PyLong_FromLongLong(h); /* the errno, negative: the caller counts it */
	return h < 0 ? NULL : PyLong_FromLongLong(h);
}

#define HANDLE_METHOD(name, fn)                                                 \
	static PyObject *ZbudPool_##name(ZbudPool *z, PyObject *arg)            \
	{                                                                       \
		long long h = PyLong_AsLongLong(arg);                           \
		if ((h == -1 && PyErr_Occurred()) || fn(z, h))                  \
			return NULL;                                            \
		Py_RETURN_NONE;                                                 \
	}

HANDLE_METHOD(free, zb_free)
HANDLE_METHOD(write, zb_write)
HANDLE_METHOD(read, zb_read)

static PyObject *ZbudPool_pool_pages(ZbudPool *z, PyObject *unused)
{
	return PyLong_FromLongLong(z->pages_nr);
}

static PyObject *ZbudPool_counters(ZbudPool *z, PyObject *unused)
{
	return Py_BuildValue("{sLsLsLsLsLsLsLsLsLsLsL}",
			     "pages_nr", (long long)z->pages_nr,
			     "nr_objects", (long long)z->nr_objects,
			     "live_chunks", (long long)z->live_chunks,
			     "list_ops", (long long)z->list_ops,
			     "bytes_written", (long long)z->bytes_written,
			     "bytes_read", (long long)z->bytes_read,
			     "buddied_pages", (long long)z->list_len_buddied,
			     "unbuddied_pages", (long long)z->list_len_unbuddied,
			     "frames_allocated", (long long)z->frames_allocated,
			     "frames_freed", (long long)z->frames_freed,
			     "frames_peak", (long long)z->frames_peak);
}

static void capsule_release(PyObject *capsule)
{
	Py_XDECREF((PyObject *)PyCapsule_GetContext(capsule));
}

static PyObject *ZbudPool_capsule(ZbudPool *z, void *unused)
{
	PyObject *cap = PyCapsule_New(&z->ops, ZBENCH_SIZED_CAPSULE, capsule_release);

	if (!cap)
		return NULL;
	Py_INCREF(z);
	if (PyCapsule_SetContext(cap, z)) {
		Py_DECREF(z);
		Py_DECREF(cap);
		return NULL;
	}
	return cap;
}

/* ZbudPool(chunk_shift, nchunks, max_size) */
static int ZbudPool_init(ZbudPool *z, PyObject *args, PyObject *kwds)
{
	static char *kw[] = {"chunk_shift", "nchunks", "max_size", NULL};
	int i;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "iii", kw, &z->chunk_shift, &z->nchunks,
					 &z->max_size))
		return -1;
	if (z->prev || z->chunk_shift < 1 || z->chunk_shift > 20 || z->nchunks < 1 ||
	    z->nchunks > 4096 || z->max_size < 1) {
		PyErr_SetString(PyExc_ValueError, "ZbudPool: bad geometry (or initialised twice)");
		return -1;
	}
	z->chunk_size = 1 << z->chunk_shift;
	z->nodes_cap = z->nchunks + 1;
	z->prev = malloc((size_t)z->nodes_cap * sizeof(int32_t));
	z->next = malloc((size_t)z->nodes_cap * sizeof(int32_t));
	if (!z->prev || !z->next) {
		PyErr_NoMemory();
		return -1;
	}
	for (i = 0; i <= z->nchunks; i++)
		z->prev[i] = z->next[i] = i;
	z->ops.abi = ZBENCH_SIZED_ABI;
	z->ops.pool = z;
	z->ops.malloc = zb_malloc;
	z->ops.free = zb_free;
	z->ops.write = zb_write;
	z->ops.read = zb_read;
	z->ops.pool_pages = zb_pool_pages;
	z->ops.compact = zb_compact;
	return 0;
}

static void ZbudPool_dealloc(ZbudPool *z)
{
	free(z->prev);
	free(z->next);
	free(z->pages);
	free(z->free_ids);
	Py_TYPE(z)->tp_free((PyObject *)z);
}

static PyMethodDef ZbudPool_methods[] = {
	{"malloc", (PyCFunction)ZbudPool_malloc, METH_O,
	 "zbud_alloc(size) -> handle, or -ENOSPC / -EINVAL"},
	{"free", (PyCFunction)ZbudPool_free, METH_O, "zbud_free(handle)"},
	{"write", (PyCFunction)ZbudPool_write, METH_O, "the object written (counted)"},
	{"read", (PyCFunction)ZbudPool_read, METH_O, "the object read (counted)"},
	{"pool_pages", (PyCFunction)ZbudPool_pool_pages, METH_NOARGS, "pool->pages_nr"},
	{"counters", (PyCFunction)ZbudPool_counters, METH_NOARGS, "the pool's counters"},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef ZbudPool_getset[] = {
	{"capsule", (getter)ZbudPool_capsule, NULL,
	 "the pool's zbench_sized_ops for a native front end (zbench_sized.h)", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ZbudPoolType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "zbench_zbud._native.ZbudPool",
	.tp_doc = "zbud_alloc / zbud_free placement with the state in C (sizes only, >= 6.5)",
	.tp_basicsize = sizeof(ZbudPool),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)ZbudPool_init,
	.tp_dealloc = (destructor)ZbudPool_dealloc,
	.tp_methods = ZbudPool_methods,
	.tp_getset = ZbudPool_getset,
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "zbench_zbud._native",
	"zbud placement with the state in C, for batch runs (docs/scale.md)", -1, NULL,
};

PyMODINIT_FUNC PyInit__native(void)
{
	PyObject *m;

	if (PyType_Ready(&ZbudPoolType) < 0)
		return NULL;
	m = PyModule_Create(&module);
	if (!m)
		return NULL;
	Py_INCREF(&ZbudPoolType);
	if (PyModule_AddObject(m, "ZbudPool", (PyObject *)&ZbudPoolType) < 0) {
		Py_DECREF(&ZbudPoolType);
		Py_DECREF(m);
		return NULL;
	}
	return m;
}
