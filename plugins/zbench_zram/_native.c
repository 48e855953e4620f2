// SPDX-License-Identifier: GPL-2.0-only
/*
 * zbench_zram._native: zram's write path over a batch of sizes, in C, calling the
 * allocator's native engine through its struct zbench_sized_ops (zbench_sized.h), as
 * drivers/block/zram/zram_drv.c calls zs_malloc / zs_free.
 *
 * The same rules, in the same order, as sizedbatch.py's Python loop and frontend.py's
 * Zram._write_page / _free_slot (tests/test_zs_native.py holds all three equal):
 *   zram_write_page: a same-filled page takes a slot and no object (a zero page in every
 *     version, any repeated word from 4.11); any other is zs_malloc'd at its compressed
 *     size, or PAGE_SIZE at or above the huge cut-off (ZRAM_HUGE); update_used_max reads
 *     zs_get_total_pages; the object is written; then the offset's old slot is freed;
 *   zram_free_page: a same-filled slot gives back its count, any other its object, its
 *     bytes and, when huge, its huge count;
 *   a clean store (the page unchanged since it was read) of a valid slot is skipped;
 *   zram_read_page: a same-filled slot is filled in, no object read; any other object
 *     is read (zs_obj_read_begin) and, unless huge, decompressed (nothing to decompress
 *     on the sizes-only path).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>

#include "zbench_sized.h"

/* the batch's kind and fill codes (zbench.api.sized) */
enum { K_STORE = 0, K_LOAD = 1, K_INVALIDATE = 2, K_PHASE = 5, K_STORE_CLEAN = 6 };
enum { F_NOT = 0, F_ZERO = 1, F_WORD = 2 };
enum { S_EMPTY = 0, S_SAME = 1, S_OBJECT = 2 };

typedef struct {
	int64_t handle;
	int32_t size;
	int8_t state, huge;
} slot_t;

typedef struct {
	int64_t stored, same, huge, huge_since, compr, obj, used_max;
} counters_t;

static PyObject *counters_tuple(const counters_t *c)
{
	return Py_BuildValue("(LLLLLLL)", (long long)c->stored, (long long)c->same,
			     (long long)c->huge, (long long)c->huge_since, (long long)c->compr,
			     (long long)c->obj, (long long)c->used_max);
}

static int need_format(Py_buffer *b, const char *fmt, const char *name, Py_ssize_t n)
{
	if (!b->format || b->format[0] != fmt[0] || b->format[1] || b->len / b->itemsize != n) {
		PyErr_Format(PyExc_TypeError, "zram batch: %s must be an array('%s') of %zd",
			     name, fmt, n);
		return -1;
	}
	return 0;
}

/* zram_free_page of a valid slot */
static int free_slot(const struct zbench_sized_ops *ops, slot_t *s, counters_t *c)
{
	c->stored--;
	if (s->state == S_SAME) {
		c->same--;
	} else {
		if (ops->free(ops->pool, s->handle))
			return -1;
		c->compr -= s->size;
		c->obj -= s->size;
		if (s->huge)
			c->huge--;
	}
	s->state = S_EMPTY;
	return 0;
}

/*
 * run(kinds, offsets, sizes, fill, capsule, same_any, huge_min, page_size, on_phase,
 *     progress) -> counters
 *   on_phase(index, operations, counters) at each phase op; progress(operations) every
 *   4096 operations, or None; counters: (stored, same, huge, huge_since, compr, obj,
 *   used_max), the front end's
 */
static PyObject *zram_run(PyObject *self, PyObject *args)
{
	PyObject *ko, *oo, *so, *fo, *capsule, *on_phase, *progress, *res = NULL;
	Py_buffer kb = {0}, ob = {0}, sb = {0}, fb = {0};
	int same_any, huge_min, page_size;
	const struct zbench_sized_ops *ops;
	slot_t *table = NULL;
	counters_t c = {0};
	Py_ssize_t n, i, ops_done = 0;
	int64_t max_off = -1;

	if (!PyArg_ParseTuple(args, "OOOOOpiiOO", &ko, &oo, &so, &fo, &capsule, &same_any,
			      &huge_min, &page_size, &on_phase, &progress))
		return NULL;
	if (PyObject_GetBuffer(ko, &kb, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) ||
	    PyObject_GetBuffer(oo, &ob, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) ||
	    PyObject_GetBuffer(so, &sb, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) ||
	    PyObject_GetBuffer(fo, &fb, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS))
		goto out;
	n = kb.len;
	if (need_format(&kb, "b", "kinds", n) || need_format(&ob, "q", "offsets", n) ||
	    need_format(&sb, "i", "sizes", n) || need_format(&fb, "b", "fill", n))
		goto out;
	ops = PyCapsule_GetPointer(capsule, ZBENCH_SIZED_CAPSULE);
	if (!ops)
		goto out;
	if (ops->abi != ZBENCH_SIZED_ABI) {
		PyErr_SetString(PyExc_ValueError, "zram batch: engine of another ABI");
		goto out;
	}
	const int8_t *kinds = kb.buf, *fill = fb.buf;
	const int64_t *offsets = ob.buf;
	const int32_t *sizes = sb.buf;

	for (i = 0; i < n; i++) {
		if (offsets[i] < 0) {
			PyErr_SetString(PyExc_ValueError, "zram batch: negative offset");
			goto out;
		}
		if (offsets[i] > max_off)
			max_off = offsets[i];
	}
	table = calloc((size_t)max_off + 1, sizeof(slot_t));
	if (!table) {
		PyErr_NoMemory();
		goto out;
	}
	for (i = 0; i < n; i++) {
		int kind = kinds[i];
		slot_t *s = &table[offsets[i]];

		if (kind == K_PHASE) {
			PyObject *t = counters_tuple(&c), *r;

			if (!t)
				goto out;
			r = PyObject_CallFunction(on_phase, "nnN", i, ops_done, t);
			if (!r)
				goto out;
			Py_DECREF(r);
			continue;
		}
		if (kind == K_LOAD) {
			if (s->state == S_OBJECT && ops->read(ops->pool, s->handle))
				goto out;
		} else if (kind == K_INVALIDATE) {
			if (s->state != S_EMPTY && free_slot(ops, s, &c))
				goto out;
		} else if (kind == K_STORE || kind == K_STORE_CLEAN) {
			if (!(kind == K_STORE_CLEAN && s->state != S_EMPTY)) {
				slot_t fresh = {0, 0, S_SAME, 0};

				if (!(fill[i] == F_ZERO || (fill[i] == F_WORD && same_any))) {
					int64_t size = sizes[i], handle, used;

					fresh.huge = size >= huge_min;
					if (fresh.huge)
						size = page_size;
					handle = ops->malloc(ops->pool, size);
					if (handle < 0)
						goto out;
					used = ops->pool_pages(ops->pool);
					if (used > c.used_max) /* update_used_max */
						c.used_max = used;
					if (ops->write(ops->pool, handle))
						goto out;
					fresh.handle = handle;
					fresh.size = (int32_t)size;
					fresh.state = S_OBJECT;
				}
				if (s->state != S_EMPTY && free_slot(ops, s, &c))
					goto out;
				*s = fresh;
				c.stored++;
				if (fresh.state == S_SAME) {
					c.same++;
				} else {
					c.compr += fresh.size;
					c.obj += fresh.size;
					if (fresh.huge) {
						c.huge++;
						c.huge_since++;
					}
				}
			}
		} else {
			PyErr_Format(PyExc_ValueError, "zram batch: kind %d", kind);
			goto out;
		}
		ops_done++;
		if (!(ops_done & 4095) && progress != Py_None) {
			PyObject *r = PyObject_CallFunction(progress, "n", ops_done);

			if (!r)
				goto out;
			Py_DECREF(r);
		}
	}
	res = counters_tuple(&c);
out:
	free(table);
	PyBuffer_Release(&kb);
	PyBuffer_Release(&ob);
	PyBuffer_Release(&sb);
	PyBuffer_Release(&fb);
	return res;
}

static PyMethodDef methods[] = {
	{"run", zram_run, METH_VARARGS,
	 "zram's write path over a sizes-only batch, on an engine's zbench_sized_ops"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "zbench_zram._native",
	"zram's write path over a sizes-only batch in C (docs/scale.md)", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void)
{
	return PyModule_Create(&module);
}
