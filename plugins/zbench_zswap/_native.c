// SPDX-License-Identifier: GPL-2.0-only
/*
 * zbench_zswap._native: zswap's store, load, invalidate and shrink paths over a
 * sizes-only batch, in C, calling the allocator's native engine through its struct
 * zbench_sized_ops (zbench_sized.h) as mm/zswap.c calls zpool_malloc / zpool_free.
 *
 * The rules of frontend.py for the kernels from 6.5 to 6.11 ("mm: zswap: shrink until
 * can accept" up to the second-chance shrinker of 6.12), with writeback on, no swap
 * slots cache and no large folios; sizedbatch.py declines any other configuration
 * (tests/test_zswap_native.py holds the two equal):
 *   zswap_store: a clean swap-cache page whose copy is valid is dropped; the old entry
 *     at the offset is invalidated (duplicate_entry, up to 6.8); the pool limit
 *     (zswap_is_full: the pool above max_pages; the hysteresis band up to the accept
 *     threshold) rejects, queueing the shrink worker, which writes entries back from
 *     zswap's LRU, oldest first, until the pool is below the accept threshold or
 *     MAX_RECLAIM_RETRIES failures; a same-filled page is an entry with no object; an
 *     output larger than a page fails (6.9+, reject_compress_fail); zpool_malloc's
 *     -ENOSPC is reject_compress_poor, any other error reject_alloc_fail; a rejected
 *     page goes to the swap device;
 *   zswap_load: the object is read; an exclusive load (6.9+, or the option) frees the
 *     entry, any other moves it to the LRU's tail;
 *   zswap_invalidate frees the entry (or forgets the swapped copy);
 *   a compact op runs the allocator's compaction.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>

#include "zbench_sized.h"
#include "zbench_util.h"

enum { K_STORE = 0, K_LOAD = 1, K_INVALIDATE = 2, K_COMPACT = 3, K_PHASE = 5,
       K_STORE_CLEAN = 6 };
enum { F_NOT = 0, F_ZERO = 1, F_WORD = 2 };
enum { S_EMPTY = 0, S_SAME = 1, S_OBJECT = 2, S_SWAP = 3 };
#define MAX_RECLAIM_RETRIES 14

/* the counters frontend.py keeps, in the order of sizedbatch._COUNTERS */
enum { C_STORED, C_SAME, C_COMPR, C_OBJ, C_POOL_MAX, C_SWAPPED, C_LIMIT_HIT,
       C_RECLAIM_FAIL, C_ALLOC_FAIL, C_COMPRESS_POOR, C_COMPRESS_FAIL, C_WRITTEN_BACK,
       C_DUPLICATE, C_REACHED_FULL, NR_COUNTERS };

typedef struct {
	const struct zbench_sized_ops *ops;
	int8_t *state;
	int64_t *handle, *prev, *next; /* prev/next: zswap's LRU, head at lru; -1: off it */
	int32_t *length;
	int64_t lru, lru_len;
	int64_t max_pages, accept_pages;
	int hlen, psize, same_any, dup_counter, exclusive, dst_limit, compress_fail_counter,
		poor_on_overflow;
	int64_t c[NR_COUNTERS];
} zswap_t;

static PyObject *counters_tuple(const zswap_t *z)
{
	PyObject *t = PyTuple_New(NR_COUNTERS);
	int k;

	if (!t)
		return NULL;
	for (k = 0; k < NR_COUNTERS; k++) {
		PyObject *v = PyLong_FromLongLong(z->c[k]);

		if (!v) {
			Py_DECREF(t);
			return NULL;
		}
		PyTuple_SET_ITEM(t, k, v);
	}
	return t;
}

static void lru_add_tail(zswap_t *z, int64_t off)
{
	int64_t tail = z->prev[z->lru];

	z->prev[off] = tail;
	z->next[off] = z->lru;
	z->next[tail] = off;
	z->prev[z->lru] = off;
	z->lru_len++;
}

static void lru_del(zswap_t *z, int64_t off)
{
	if (z->prev[off] < 0)
		return;
	z->next[z->prev[off]] = z->next[off];
	z->prev[z->next[off]] = z->prev[off];
	z->prev[off] = z->next[off] = -1;
	z->lru_len--;
}

static int64_t pool_pages(const zswap_t *z)
{
	return z->ops->pool_pages(z->ops->pool);
}

/* zswap_invalidate_entry (frontend.py _drop): the entry out of the tree and the LRU,
 * its object freed; an offset with no entry forgets its swapped copy */
static int drop(zswap_t *z, int64_t off)
{
	switch (z->state[off]) {
	case S_SWAP:
		z->c[C_SWAPPED]--;
		break;
	case S_SAME:
		z->c[C_SAME]--;
		z->c[C_STORED]--;
		break;
	case S_OBJECT:
		lru_del(z, off);
		if (z->ops->free(z->ops->pool, z->handle[off]))
			return -1;
		z->c[C_COMPR] -= z->length[off];
		z->c[C_OBJ] -= z->length[off] + z->hlen;
		z->c[C_STORED]--;
		break;
	default:
		break;
	}
	z->state[off] = S_EMPTY;
	return 0;
}

/* zswap_writeback_entry of the LRU's oldest entry: decompressed (read), to swap */
static int writeback_oldest(zswap_t *z)
{
	int64_t off = z->next[z->lru];

	if (z->ops->read(z->ops->pool, z->handle[off]) || drop(z, off))
		return -1;
	z->state[off] = S_SWAP;
	z->c[C_SWAPPED]++;
	z->c[C_WRITTEN_BACK]++;
	return 0;
}

/* shrink_worker (6.5+): until the pool can accept, or MAX_RECLAIM_RETRIES failures */
static int shrink_worker(zswap_t *z)
{
	int failures = 0;

	for (;;) {
		if (!z->lru_len) { /* zswap_reclaim_entry: nothing on the LRU */
			z->c[C_RECLAIM_FAIL]++;
			failures++;
			if (!z->lru_len || failures == MAX_RECLAIM_RETRIES)
				break;
		} else if (writeback_oldest(z)) {
			return -1;
		}
		if (z->accept_pages > pool_pages(z))
			break;
	}
	return 0;
}

/* the pool-limit part of zswap_store: 1 admitted, 0 rejected, -1 error */
static int admit(zswap_t *z)
{
	if (z->max_pages < pool_pages(z)) { /* zswap_is_full */
		z->c[C_LIMIT_HIT]++;
		z->c[C_REACHED_FULL] = 1;
		return shrink_worker(z) ? -1 : 0;
	}
	if (z->c[C_REACHED_FULL]) {
		if (!(z->accept_pages > pool_pages(z))) /* zswap_can_accept */
			return shrink_worker(z) ? -1 : 0;
		z->c[C_REACHED_FULL] = 0;
	}
	return 1;
}

/* the store past the limit check: 1 stored, 0 failed (counted), -1 error */
static int store_page(zswap_t *z, int64_t off, int fill, int32_t size)
{
	int64_t h, used;

	if (fill == F_ZERO || (fill == F_WORD && z->same_any)) {
		z->state[off] = S_SAME;
		z->c[C_SAME]++;
		z->c[C_STORED]++;
		return 1;
	}
	if (size > z->psize && z->dst_limit) {
		if (z->compress_fail_counter)
			z->c[z->poor_on_overflow ? C_COMPRESS_POOR : C_COMPRESS_FAIL]++;
		return 0;
	}
	h = z->ops->malloc(z->ops->pool, size + z->hlen);
	if (h == -1)
		return -1;
	if (h < 0) { /* zpool_malloc's error */
		z->c[h == ZBENCH_ENOSPC ? C_COMPRESS_POOR : C_ALLOC_FAIL]++;
		return 0;
	}
	if (z->ops->write(z->ops->pool, h))
		return -1;
	z->state[off] = S_OBJECT;
	z->handle[off] = h;
	z->length[off] = size;
	lru_add_tail(z, off);
	z->c[C_STORED]++;
	z->c[C_COMPR] += size;
	z->c[C_OBJ] += size + z->hlen;
	used = pool_pages(z);
	if (used > z->c[C_POOL_MAX])
		z->c[C_POOL_MAX] = used;
	return 1;
}

/* zswap_store (frontend.py Zswap.store) */
static int store(zswap_t *z, int kind, int64_t off, int fill, int32_t size)
{
	int rc;

	if (kind == K_STORE_CLEAN && z->state[off] != S_EMPTY)
		return 0;
	if ((z->state[off] == S_SAME || z->state[off] == S_OBJECT) && z->dup_counter)
		z->c[C_DUPLICATE]++;
	if (drop(z, off))
		return -1;
	rc = admit(z);
	if (rc > 0)
		rc = store_page(z, off, fill, size);
	if (rc < 0)
		return -1;
	if (!rc) { /* rejected: to the swap device */
		z->state[off] = S_SWAP;
		z->c[C_SWAPPED]++;
	}
	return 0;
}

static int load(zswap_t *z, int64_t off)
{
	int st = z->state[off];

	if (st == S_OBJECT && z->ops->read(z->ops->pool, z->handle[off]))
		return -1;
	if (st != S_SAME && st != S_OBJECT)
		return 0;
	if (z->exclusive)
		return drop(z, off);
	if (st == S_OBJECT) { /* list_move to the tail: the newest */
		lru_del(z, off);
		lru_add_tail(z, off);
	}
	return 0;
}

/*
 * run(kinds, offsets, sizes, fill, capsule, rules, on_phase, progress)
 *     -> (counters, compacted)
 *   rules: (hlen, page_size, max_pages, accept_pages, same_any, duplicate_counter,
 *   exclusive, dst_limit_page, compress_fail_counter, poor_on_overflow);
 *   on_phase(index, operations, counters) at each phase op; progress(operations)
 *   every 4096 operations, or None
 */
static PyObject *zswap_run(PyObject *self, PyObject *args)
{
	PyObject *ko, *oo, *so, *fo, *capsule, *on_phase, *progress, *res = NULL;
	Py_buffer kb = {0}, ob = {0}, sb = {0}, fb = {0};
	long long max_pages, accept_pages;
	zswap_t z = {0};
	Py_ssize_t n, i, ops_done = 0;
	int64_t max_off = -1, compacted = 0;

	if (!PyArg_ParseTuple(args, "OOOOO(iiLLpppppp)OO", &ko, &oo, &so, &fo, &capsule,
			      &z.hlen, &z.psize, &max_pages, &accept_pages, &z.same_any,
			      &z.dup_counter, &z.exclusive, &z.dst_limit,
			      &z.compress_fail_counter, &z.poor_on_overflow, &on_phase,
			      &progress))
		return NULL;
	z.max_pages = max_pages;
	z.accept_pages = accept_pages;
	if (PyObject_GetBuffer(ko, &kb, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) ||
	    PyObject_GetBuffer(oo, &ob, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) ||
	    PyObject_GetBuffer(so, &sb, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) ||
	    PyObject_GetBuffer(fo, &fb, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS))
		goto out;
	n = kb.len;
	if (zbench_need_format(&kb, "b", "zswap", "kinds", n) ||
	    zbench_need_format(&ob, "q", "zswap", "offsets", n) ||
	    zbench_need_format(&sb, "i", "zswap", "sizes", n) ||
	    zbench_need_format(&fb, "b", "zswap", "fill", n))
		goto out;
	z.ops = zbench_get_ops(capsule, "zswap", 2);
	if (!z.ops)
		goto out;
	const int8_t *kinds = kb.buf, *fill = fb.buf;
	const int64_t *offsets = ob.buf;
	const int32_t *sizes = sb.buf;

	max_off = zbench_max_offset(offsets, n, "zswap");
	if (max_off < 0 && PyErr_Occurred())
		goto out;
	z.lru = max_off + 1; /* the LRU's head */
	z.state = calloc((size_t)z.lru + 1, 1);
	z.handle = calloc((size_t)z.lru + 1, sizeof(int64_t));
	z.length = calloc((size_t)z.lru + 1, sizeof(int32_t));
	z.prev = malloc(((size_t)z.lru + 1) * sizeof(int64_t));
	z.next = malloc(((size_t)z.lru + 1) * sizeof(int64_t));
	if (!z.state || !z.handle || !z.length || !z.prev || !z.next) {
		PyErr_NoMemory();
		goto out;
	}
	for (i = 0; i < z.lru; i++)
		z.prev[i] = z.next[i] = -1;
	z.prev[z.lru] = z.next[z.lru] = z.lru;
	for (i = 0; i < n; i++) {
		int kind = kinds[i];
		int64_t off = offsets[i];

		if (kind == K_PHASE) {
			if (zbench_call_phase(on_phase, i, ops_done, counters_tuple(&z)))
				goto out;
			continue;
		}
		if (kind == K_COMPACT) {
			int64_t freed;

			if (!z.ops->compact) {
				PyErr_SetString(PyExc_ValueError, "zswap batch: no compaction");
				goto out;
			}
			freed = z.ops->compact(z.ops->pool);
			if (freed < 0)
				goto out;
			compacted += freed;
			continue;
		}
		if (kind == K_STORE || kind == K_STORE_CLEAN) {
			if (store(&z, kind, off, fill[i], sizes[i]))
				goto out;
		} else if (kind == K_LOAD) {
			if (load(&z, off))
				goto out;
		} else if (kind == K_INVALIDATE) {
			if (drop(&z, off))
				goto out;
		} else {
			PyErr_Format(PyExc_ValueError, "zswap batch: kind %d", kind);
			goto out;
		}
		if (zbench_call_progress(progress, ++ops_done))
			goto out;
	}
	res = Py_BuildValue("(NL)", counters_tuple(&z), (long long)compacted);
out:
	free(z.state);
	free(z.handle);
	free(z.length);
	free(z.prev);
	free(z.next);
	PyBuffer_Release(&kb);
	PyBuffer_Release(&ob);
	PyBuffer_Release(&sb);
	PyBuffer_Release(&fb);
	return res;
}

static PyMethodDef methods[] = {
	{"run", zswap_run, METH_VARARGS,
	 "zswap's paths over a sizes-only batch, on an engine's zbench_sized_ops"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "zbench_zswap._native",
	"zswap's store, load and shrink paths over a batch in C (docs/scale.md)", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void)
{
	return PyModule_Create(&module);
}
