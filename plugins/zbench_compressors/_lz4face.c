// SPDX-License-Identifier: GPL-2.0-only
/*
 * zbench_compressors._lz4face: the lz4 compressor's C face (struct zbench_codec_ops,
 * zbench_sized.h) over python-lz4's own liblz4 functions, whose addresses lz4_native.py
 * takes from python-lz4's extension module.  A page is compressed as lz4.block.compress
 * compresses it in mode "fast" (python-lz4's lz4_compress_generic): a fresh stream
 * (LZ4_resetStream), then LZ4_compress_fast_continue; it is decompressed with
 * LZ4_decompress_safe.  The same functions of the same library: the same bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>

#include "zbench_sized.h"

typedef void (*reset_fn)(void *stream);
typedef int (*continue_fn)(void *stream, const char *src, char *dst, int src_size,
			   int dst_capacity, int acceleration);
typedef int (*decompress_fn)(const char *src, char *dst, int src_size, int dst_capacity);

typedef struct {
	struct zbench_codec_ops ops;
	reset_fn reset;
	continue_fn compress;
	decompress_fn decompress;
	int acceleration;
	void *stream; /* LZ4_stream_t */
} lz4face;

static int face_compress(void *ctx, const char *src, char *dst, int n, int cap)
{
	lz4face *f = ctx;

	f->reset(f->stream);
	return f->compress(f->stream, src, dst, n, cap, f->acceleration);
}

static int face_decompress(void *ctx, const char *src, char *dst, int n, int cap)
{
	return ((lz4face *)ctx)->decompress(src, dst, n, cap);
}

static void face_release(PyObject *capsule)
{
	lz4face *f = PyCapsule_GetPointer(capsule, ZBENCH_CODEC_CAPSULE);

	if (f) {
		free(f->stream);
		free(f);
	}
}

/* codec(reset, compress_continue, decompress, state_size, acceleration) -> capsule */
static PyObject *face_codec(PyObject *self, PyObject *args)
{
	unsigned long long reset, cont, dec;
	Py_ssize_t state_size;
	int acceleration;
	lz4face *f;
	PyObject *cap;

	if (!PyArg_ParseTuple(args, "KKKni", &reset, &cont, &dec, &state_size, &acceleration))
		return NULL;
	if (!reset || !cont || !dec || state_size < 64 || state_size > (1 << 20)) {
		PyErr_SetString(PyExc_ValueError, "lz4face: no functions or a bad state size");
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f || !(f->stream = calloc(1, (size_t)state_size))) {
		free(f);
		return PyErr_NoMemory();
	}
	f->reset = (reset_fn)(uintptr_t)reset;
	f->compress = (continue_fn)(uintptr_t)cont;
	f->decompress = (decompress_fn)(uintptr_t)dec;
	f->acceleration = acceleration;
	f->ops.abi = ZBENCH_CODEC_ABI;
	f->ops.ctx = f;
	f->ops.compress = face_compress;
	f->ops.decompress = face_decompress;
	cap = PyCapsule_New(&f->ops, ZBENCH_CODEC_CAPSULE, face_release);
	if (!cap) {
		free(f->stream);
		free(f);
	}
	return cap;
}

static PyMethodDef methods[] = {
	{"codec", face_codec, METH_VARARGS,
	 "codec(reset, compress_continue, decompress, state_size, acceleration): the capsule"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "zbench_compressors._lz4face",
	"lz4's C face over python-lz4's liblz4 (docs/scale.md)", -1, methods,
};

PyMODINIT_FUNC PyInit__lz4face(void)
{
	return PyModule_Create(&module);
}
