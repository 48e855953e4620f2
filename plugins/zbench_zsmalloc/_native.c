// SPDX-License-Identifier: GPL-2.0-only
/*
 * zbench_zsmalloc._native: the pool of zspool.c (zs_malloc / zs_free placement with the
 * state in C) as a Python type, SizedPool, and as the C face a native front end calls
 * (engine.capsule: struct zbench_sized_ops, zbench_sized.h).  A pool made with
 * payload=True keeps the objects' bytes in its frames; without, it keeps sizes only and
 * counts the copies it would make.
 */
#include "zspool.h"
#include "zbench_sized.h"

typedef struct {
	PyObject_HEAD
	struct zs_pool pool;
	struct zbench_sized_ops ops; /* what engine.capsule hands a native front end */
} SizedPool;

/* the C face: zspool.c's calls on the pool the ops point at */
static int64_t op_malloc(void *p, int64_t size)
{
	return zs_malloc(p, size);
}

static int op_free(void *p, int64_t handle)
{
	return zs_free(p, handle);
}

static int op_write(void *p, int64_t handle)
{
	return zs_obj_write(p, handle, NULL, 0);
}

static int op_read(void *p, int64_t handle)
{
	return zs_obj_read(p, handle, NULL, 1) < 0 ? -1 : 0;
}

static int64_t op_pool_pages(void *p)
{
	return ((struct zs_pool *)p)->pages_allocated;
}

static int op_write_bytes(void *p, int64_t handle, const void *src, int64_t len)
{
	return zs_obj_write(p, handle, src, len);
}

static int64_t op_read_bytes(void *p, int64_t handle, void *dst, int count)
{
	return zs_obj_read(p, handle, dst, count);
}

static int64_t op_compact(void *p)
{
	return zs_compact(p);
}

static PyObject *SizedPool_malloc(SizedPool *pool, PyObject *arg)
{
	long long size = PyLong_AsLongLong(arg);
	int64_t handle;

	if (size == -1 && PyErr_Occurred())
		return NULL;
	handle = zs_malloc(&pool->pool, size);
	if (handle == ZBENCH_EINVAL)
		PyErr_Format(PyExc_ValueError, "zsmalloc: size %lld out of range 1..%d", size,
			     pool->pool.max_size);
	return handle < 0 ? NULL : PyLong_FromLongLong(handle);
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

static PyObject *SizedPool_free(SizedPool *pool, PyObject *arg)
{
	int64_t handle;

	if (arg_handle(arg, &handle) || zs_free(&pool->pool, handle))
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *SizedPool_write(SizedPool *pool, PyObject *arg)
{
	int64_t handle;

	if (arg_handle(arg, &handle) || zs_obj_write(&pool->pool, handle, NULL, 0))
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *SizedPool_read(SizedPool *pool, PyObject *arg)
{
	int64_t handle;

	if (arg_handle(arg, &handle) || zs_obj_read(&pool->pool, handle, NULL, 1) < 0)
		return NULL;
	Py_RETURN_NONE;
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
	return PyLong_FromLongLong(pool->pool.pages_allocated);
}

/* per distinct class: (obj_allocated, obj_used, list_ops, (group counts...)) */
static PyObject *SizedPool_class_counters(SizedPool *pool, PyObject *unused)
{
	PyObject *out = PyList_New(pool->pool.nr_classes);
	int i, g;

	if (!out)
		return NULL;
	for (i = 0; i < pool->pool.nr_classes; i++) {
		zs_class *c = &pool->pool.classes[i];
		PyObject *groups = PyTuple_New(pool->pool.nr_groups), *row;

		if (!groups) {
			Py_DECREF(out);
			return NULL;
		}
		for (g = 0; g < pool->pool.nr_groups; g++)
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
	return Py_BuildValue("{sLsLsLsLsLsLsLsLsLsLsLsL}",
			     "pages_allocated", (long long)pool->pool.pages_allocated,
			     "nr_zspages", (long long)pool->pool.nr_zspages,
			     "bytes_written", (long long)pool->pool.bytes_written,
			     "bytes_read", (long long)pool->pool.bytes_read,
			     "page_crossing_copies", (long long)pool->pool.page_crossing_copies,
			     "frames_allocated", (long long)pool->pool.frames_allocated,
			     "frames_freed", (long long)pool->pool.frames_freed,
			     "frames_peak", (long long)pool->pool.frames_peak,
			     "live_handles", (long long)pool->pool.live_handles,
			     "pages_compacted", (long long)pool->pool.pages_compacted,
			     "objs_moved", (long long)pool->pool.objs_moved,
			     "bytes_moved", (long long)pool->pool.bytes_moved);
}

/*
 * SizedPool(page_size, classes, class_of, fullness, insert, alloc_order, payload=False,
 *           compaction=-1, src_order=b"", dst_order=b"")
 *   classes: bytes of int32 (size, pages_per_zspage, objs_per_zspage, huge) per class
 *   class_of: bytes of int32, the distinct class of each size 0..page_size
 *   compaction: zspool.h's COMPACT_* (-1: none), with zs_compact's list orders
 */
static int SizedPool_init(SizedPool *pool, PyObject *args, PyObject *kwds)
{
	static char *kw[] = {"page_size", "classes", "class_of", "fullness", "insert",
			     "alloc_order", "payload", "compaction", "src_order", "dst_order",
			     NULL};
	Py_buffer cls_buf, of_buf, order_buf, src_buf = {0}, dst_buf = {0};
	int page_size, fullness, insert, payload = 0, compaction = COMPACT_NONE, rc = -1;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "iy*y*iiy*|piy*y*", kw, &page_size,
					 &cls_buf, &of_buf, &fullness, &insert, &order_buf,
					 &payload, &compaction, &src_buf, &dst_buf))
		return -1;
	zs_pool_release(&pool->pool);
	if (page_size < 4096 ||
	    of_buf.len != (Py_ssize_t)((page_size + 1) * sizeof(int32_t)) ||
	    cls_buf.len % (4 * sizeof(int32_t))) {
		PyErr_SetString(PyExc_ValueError, "SizedPool: inconsistent class table");
		goto out;
	}
	if (zs_pool_init(&pool->pool, page_size, cls_buf.buf,
			 (int)(cls_buf.len / (4 * sizeof(int32_t))), of_buf.buf, fullness,
			 insert, order_buf.buf, (int)order_buf.len, payload))
		goto out;
	if (compaction != COMPACT_NONE &&
	    zs_set_compaction(&pool->pool, compaction, src_buf.buf, (int)src_buf.len,
			      dst_buf.buf, (int)dst_buf.len))
		goto out;
	pool->ops.abi = ZBENCH_SIZED_ABI;
	pool->ops.pool = &pool->pool;
	pool->ops.malloc = op_malloc;
	pool->ops.free = op_free;
	pool->ops.write = op_write;
	pool->ops.read = op_read;
	pool->ops.pool_pages = op_pool_pages;
	pool->ops.payload = payload;
	pool->ops.write_bytes = op_write_bytes;
	pool->ops.read_bytes = op_read_bytes;
	pool->ops.compact = compaction == COMPACT_NONE ? NULL : op_compact;
	rc = 0;
out:
	PyBuffer_Release(&cls_buf);
	PyBuffer_Release(&of_buf);
	PyBuffer_Release(&order_buf);
	PyBuffer_Release(&src_buf);
	PyBuffer_Release(&dst_buf);
	return rc;
}

/* write_bytes(handle, data): zs_obj_write of the whole object */
static PyObject *SizedPool_write_bytes(SizedPool *pool, PyObject *args)
{
	long long handle;
	Py_buffer data;
	int rc;

	if (!PyArg_ParseTuple(args, "Ly*", &handle, &data))
		return NULL;
	rc = zs_obj_write(&pool->pool, handle, data.buf, data.len);
	PyBuffer_Release(&data);
	if (rc)
		return NULL;
	Py_RETURN_NONE;
}

/* read_bytes(handle) -> bytes: zs_obj_read_begin of the whole object, counted */
static PyObject *SizedPool_read_bytes(SizedPool *pool, PyObject *arg)
{
	int64_t handle, n;
	Py_ssize_t slot;
	PyObject *out;

	if (arg_handle(arg, &handle))
		return NULL;
	slot = zs_live_slot(&pool->pool, handle);
	if (slot < 0)
		return NULL;
	out = PyBytes_FromStringAndSize(NULL, pool->pool.h_size[slot]);
	if (!out)
		return NULL;
	n = zs_obj_read(&pool->pool, handle, PyBytes_AS_STRING(out), 1);
	if (n < 0) {
		Py_DECREF(out);
		return NULL;
	}
	return out;
}

/* compact() -> pages freed: zs_compact */
static PyObject *SizedPool_compact(SizedPool *pool, PyObject *unused)
{
	int64_t freed = zs_compact(&pool->pool);

	return freed < 0 ? NULL : PyLong_FromLongLong(freed);
}

static void SizedPool_dealloc(SizedPool *pool)
{
	zs_pool_release(&pool->pool);
	Py_TYPE(pool)->tp_free((PyObject *)pool);
}

static PyMethodDef SizedPool_methods[] = {
	{"malloc", (PyCFunction)SizedPool_malloc, METH_O, "zs_malloc(size) -> handle"},
	{"free", (PyCFunction)SizedPool_free, METH_O, "zs_free(handle)"},
	{"write", (PyCFunction)SizedPool_write, METH_O,
	 "zs_obj_write of the handle's object (counted, no bytes kept)"},
	{"read", (PyCFunction)SizedPool_read, METH_O,
	 "zs_obj_read_begin of the handle's object (counted, no bytes read)"},
	{"write_bytes", (PyCFunction)SizedPool_write_bytes, METH_VARARGS,
	 "zs_obj_write(handle, data): the object's bytes into the frames (payload=True)"},
	{"read_bytes", (PyCFunction)SizedPool_read_bytes, METH_O,
	 "zs_obj_read_begin(handle) -> the object's bytes (payload=True)"},
	{"compact", (PyCFunction)SizedPool_compact, METH_NOARGS,
	 "zs_compact() -> pages freed (the rules given as compaction=...)"},
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
	.tp_doc = "zs_malloc / zs_free placement with the state in C, bytes kept or not",
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
	"zsmalloc placement with the state in C, for batch runs (docs/scale.md)", -1, NULL,
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
