/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * zbench_util.h: small helpers the built-in native engines and loops share (growing a
 * C array, checking a batch's arrays, calling the run's hooks).  Each returns -1 with a
 * Python exception set on failure.
 */
#ifndef ZBENCH_UTIL_H
#define ZBENCH_UTIL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>

#include "zbench_sized.h"

/* *p holds *cap elements of elem bytes: at least need after this (doubling) */
static inline int zbench_grow(void **p, Py_ssize_t *cap, Py_ssize_t need, size_t elem)
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

/* a batch array: n items of the array typecode fmt */
static inline int zbench_need_format(const Py_buffer *b, const char *fmt, const char *who,
				     const char *name, Py_ssize_t n)
{
	if (!b->format || b->format[0] != fmt[0] || b->format[1] || b->len / b->itemsize != n) {
		PyErr_Format(PyExc_TypeError, "%s batch: %s must be an array('%s') of %zd", who,
			     name, fmt, n);
		return -1;
	}
	return 0;
}

/* on_phase(index, operations, counters), counters a new reference (stolen) */
static inline int zbench_call_phase(PyObject *on_phase, Py_ssize_t i, Py_ssize_t ops,
				    PyObject *counters)
{
	PyObject *r;

	if (!counters)
		return -1;
	r = PyObject_CallFunction(on_phase, "nnN", i, ops, counters);
	if (!r)
		return -1;
	Py_DECREF(r);
	return 0;
}

/* progress(operations) every 4096 operations, when there is a hook */
static inline int zbench_call_progress(PyObject *progress, Py_ssize_t ops)
{
	PyObject *r;

	if (ops & 4095 || progress == Py_None)
		return 0;
	r = PyObject_CallFunction(progress, "n", ops);
	if (!r)
		return -1;
	Py_DECREF(r);
	return 0;
}

/* a batch's engine: its struct zbench_sized_ops, of an ABI from min_abi up */
static inline const struct zbench_sized_ops *zbench_get_ops(PyObject *capsule,
							      const char *who, int min_abi)
{
	const struct zbench_sized_ops *ops = PyCapsule_GetPointer(capsule, ZBENCH_SIZED_CAPSULE);

	if (ops && (ops->abi < min_abi || ops->abi > ZBENCH_SIZED_ABI)) {
		PyErr_Format(PyExc_ValueError, "%s batch: an engine of ABI %d to %d is needed, "
			     "not %d", who, min_abi, ZBENCH_SIZED_ABI, ops->abi);
		return NULL;
	}
	return ops;
}

/* the largest of n offsets, or -1 with ValueError when one is negative */
static inline int64_t zbench_max_offset(const int64_t *offsets, Py_ssize_t n, const char *who)
{
	int64_t max_off = -1;
	Py_ssize_t i;

	for (i = 0; i < n; i++) {
		if (offsets[i] < 0) {
			PyErr_Format(PyExc_ValueError, "%s batch: negative offset", who);
			return -1;
		}
		if (offsets[i] > max_off)
			max_off = offsets[i];
	}
	return max_off;
}

#endif
