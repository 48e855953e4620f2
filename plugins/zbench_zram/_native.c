// SPDX-License-Identifier: GPL-2.0-only
/*
 * zbench_zram._native: zram's write and read paths over a batch, in C, calling the
 * allocator's native engine through its struct zbench_sized_ops (zbench_sized.h), as
 * drivers/block/zram/zram_drv.c calls zs_malloc / zs_free, and the compressor's C face
 * (struct zbench_codec_ops) as it calls zcomp_compress / zcomp_decompress.
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
 * With the pages' bytes (a batch of payload, sizedbatch.run_bytes) every store runs
 * page_same_filled on the page and compresses it (live, as zram_write_page does, or
 * the case's cached compressed page), checks both against the batch's fill code and
 * size (the Python model's figures), and copies the object into the engine's frames; a
 * load copies it out and decompresses it into a page; with verify every load, and every
 * live slot at the end (read uncounted, as the Python verifier's reads are taken out),
 * must equal the page stored there, byte for byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zbench_sized.h"
#include "zbench_util.h"

/* zbench_zram._native.Mismatch: a load returned other bytes than were stored */
static PyObject *Mismatch;

/* the batch's kind and fill codes (zbench.api.sized) */
enum { K_STORE = 0, K_LOAD = 1, K_INVALIDATE = 2, K_COMPACT = 3, K_PHASE = 5,
       K_STORE_CLEAN = 6 };
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

/* the pages' bytes of a batch of payload: NULL for sizes only */
typedef struct {
	const unsigned char *pages; /* source page s < nr_pages at pages + s * page_size */
	const unsigned char *extra; /* source page nr_pages + k at extra + k * page_size */
	Py_ssize_t nr_pages;
	const int64_t *sources;     /* per op: its source page */
	Py_ssize_t nr_sources;
	const unsigned char *blobs; /* the cached compressed pages, or NULL: compress */
	const int64_t *blob_offs;   /* source s: blobs[blob_offs[s] .. blob_offs[s+1]] */
	const struct zbench_codec_ops *codec;
	int verify;
	int64_t *slot_src;          /* per offset: the source page stored there */
	uint64_t *slot_word;        /* per offset: a same-filled slot's word */
	unsigned char *cbuf, *out;  /* zram's compression buffer (2 pages), a page read */
	int64_t verified;
	int clocked;                /* per-op clocks asked for: codec_ns sums the codec's time */
	int64_t codec_ns;
} payload_t;

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* the bytes of source page s */
static inline const unsigned char *src_page(const payload_t *p, int64_t s, int page_size)
{
	return s < p->nr_pages ? p->pages + s * page_size :
		p->extra + (s - p->nr_pages) * page_size;
}

/* page_same_filled */
static int page_same_filled(const unsigned char *page, int page_size, uint64_t *word)
{
	uint64_t w, v;
	int k;

	memcpy(&w, page, sizeof(w));
	for (k = sizeof(w); k < page_size; k += sizeof(w)) {
		memcpy(&v, page + k, sizeof(v));
		if (v != w)
			return 0;
	}
	*word = w;
	return 1;
}

/* the object a store of source page src makes: its bytes and length; -1 on error */
static int64_t compress_page(payload_t *p, Py_ssize_t i, int64_t src, int page_size,
			     int32_t size, const unsigned char **obj)
{
	const unsigned char *page = src_page(p, src, page_size);
	int64_t len;

	if (p->blobs) {
		*obj = p->blobs + p->blob_offs[src];
		len = p->blob_offs[src + 1] - p->blob_offs[src];
	} else {
		int64_t t = p->clocked ? now_ns() : 0;

		len = p->codec->compress(p->codec->ctx, (const char *)page, (char *)p->cbuf,
					 page_size, 2 * page_size);
		if (p->clocked)
			p->codec_ns += now_ns() - t;
		*obj = p->cbuf;
	}
	if (len != size) {
		PyErr_Format(PyExc_ValueError, "zram batch: op %zd: page %lld compressed to %lld "
			     "bytes, the batch says %d", i, (long long)src, (long long)len, size);
		return -1;
	}
	return len;
}

/* zram_read_page of a valid slot into p->out, and with verify its check */
static int read_page(const struct zbench_sized_ops *ops, payload_t *p, int64_t offset,
		     const slot_t *s, int page_size, int count)
{
	const unsigned char *want = src_page(p, p->slot_src[offset], page_size);
	int64_t n;
	int k;

	if (s->state == S_SAME) {
		for (k = 0; k < page_size; k += 8)
			memcpy(p->out + k, &p->slot_word[offset], 8);
	} else {
		n = ops->read_bytes(ops->pool, s->handle, p->cbuf, count);
		if (n < 0)
			return -1;
		int64_t t = p->clocked ? now_ns() : 0;
		int got = s->huge ? page_size :
			p->codec->decompress(p->codec->ctx, (const char *)p->cbuf,
					     (char *)p->out, (int)n, page_size);

		if (p->clocked)
			p->codec_ns += now_ns() - t;
		if (s->huge) {
			memcpy(p->out, p->cbuf, (size_t)page_size);
		} else if (got != page_size) {
			PyErr_Format(p->verify ? Mismatch : PyExc_ValueError,
				     "load of offset %lld (source page %lld) failed: the object "
				     "does not decompress to a page", (long long)offset,
				     (long long)p->slot_src[offset]);
			return -1;
		}
	}
	if (p->verify) {
		if (memcmp(p->out, want, (size_t)page_size)) {
			PyErr_Format(Mismatch, "load of offset %lld (source page %lld) returned "
				     "different bytes", (long long)offset,
				     (long long)p->slot_src[offset]);
			return -1;
		}
		p->verified++;
	}
	return 0;
}

/* every live slot read back, uncounted, and checked (the Python verifier's check_all) */
static int check_all(const struct zbench_sized_ops *ops, payload_t *p, const slot_t *table,
		     int64_t max_off, int page_size)
{
	int64_t off;

	for (off = 0; off <= max_off; off++)
		if (table[off].state != S_EMPTY &&
		    read_page(ops, p, off, &table[off], page_size, 0))
			return -1;
	return 0;
}

static int get_array(PyObject *o, Py_buffer *b, const char *fmt, const char *name,
		     Py_ssize_t n)
{
	if (PyObject_GetBuffer(o, b, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS))
		return -1;
	return n < 0 ? 0 : zbench_need_format(b, fmt, "zram", name, n);
}

/*
 * run(kinds, offsets, sizes, fill, capsule, same_any, huge_min, page_size, on_phase,
 *     progress, *, pages=None, sources=None, blobs=None, blob_offs=None, codec=None,
 *     live=False, verify=False, clocks=None, codec_clocks=None, extra=None)
 *     -> (counters, verified, compacted)
 *   a compact op runs the engine's compaction (compacted: the pages it freed, in all);
 *   on_phase(index, operations, counters) at each phase op; progress(operations) every
 *   4096 operations, or None; counters: (stored, same, huge, huge_since, compr, obj,
 *   used_max), the front end's.  With pages (the bytes of the source pages, in order;
 *   extra: those after them, kept apart so a dump's pages need no copy) the batch
 *   carries payload: sources[i] is a store's source page, blobs and
 *   blob_offs the cached compressed pages, codec the compressor's C face (a
 *   zbench.codec_ops capsule) that decompresses each load and, with live (or no blobs),
 *   compresses each store; clocks and codec_clocks (array('q') of len(kinds)) take
 *   each op's nanoseconds and the codec's share of them (a phase's stay as they were).
 */
static PyObject *zram_run(PyObject *self, PyObject *args, PyObject *kwds)
{
	static char *kw[] = {"kinds", "offsets", "sizes", "fill", "capsule", "same_any",
			     "huge_min", "page_size", "on_phase", "progress", "pages", "sources",
			     "blobs", "blob_offs", "codec", "live", "verify", "clocks",
			     "codec_clocks", "extra", NULL};
	PyObject *ko, *oo, *so, *fo, *capsule, *on_phase, *progress, *res = NULL;
	PyObject *pgo = Py_None, *srco = Py_None, *blo = Py_None, *bofo = Py_None;
	PyObject *codeco = Py_None, *clko = Py_None, *cclko = Py_None, *exo = Py_None;
	Py_buffer kb = {0}, ob = {0}, sb = {0}, fb = {0}, pgb = {0}, srcb = {0}, blb = {0};
	Py_buffer bofb = {0}, clkb = {0}, cclkb = {0}, exb = {0};
	int64_t *clocks = NULL, *codec_clocks = NULL, t_op = 0;
	int same_any, huge_min, page_size, live = 0, verify = 0;
	const struct zbench_sized_ops *ops;
	slot_t *table = NULL;
	counters_t c = {0};
	int64_t compacted = 0;
	payload_t pl = {0}, *p = NULL;
	Py_ssize_t n, i, ops_done = 0;
	int64_t max_off = -1;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOpiiOO|$OOOOOppOOO", kw, &ko, &oo,
					 &so, &fo, &capsule, &same_any, &huge_min, &page_size,
					 &on_phase, &progress, &pgo, &srco, &blo, &bofo, &codeco,
					 &live, &verify, &clko, &cclko, &exo))
		return NULL;
	if (get_array(ko, &kb, "b", "kinds", -1))
		goto out;
	n = kb.len;
	if (zbench_need_format(&kb, "b", "zram", "kinds", n) ||
	    get_array(oo, &ob, "q", "offsets", n) ||
	    get_array(so, &sb, "i", "sizes", n) || get_array(fo, &fb, "b", "fill", n))
		goto out;
	ops = zbench_get_ops(capsule, "zram", 1);
	if (!ops)
		goto out;
	if (pgo != Py_None) { /* a batch of payload */
		p = &pl;
		if (ops->abi < 2 || !ops->payload) {
			PyErr_SetString(PyExc_ValueError, "zram batch: the engine keeps no bytes");
			goto out;
		}
		if (PyObject_GetBuffer(pgo, &pgb, PyBUF_C_CONTIGUOUS) ||
		    get_array(srco, &srcb, "q", "sources", n))
			goto out;
		p->pages = pgb.buf;
		if (exo != Py_None) {
			if (PyObject_GetBuffer(exo, &exb, PyBUF_C_CONTIGUOUS))
				goto out;
			p->extra = exb.buf;
		}
		p->sources = srcb.buf;
		p->nr_pages = pgb.len / page_size;
		p->nr_sources = (pgb.len + exb.len) / page_size;
		p->codec = PyCapsule_GetPointer(codeco, ZBENCH_CODEC_CAPSULE);
		if (!p->codec)
			goto out;
		if (p->codec->abi != ZBENCH_CODEC_ABI) {
			PyErr_SetString(PyExc_ValueError, "zram batch: codec of another ABI");
			goto out;
		}
		if (blo != Py_None && !live) {
			if (PyObject_GetBuffer(blo, &blb, PyBUF_C_CONTIGUOUS) ||
			    get_array(bofo, &bofb, "q", "blob_offs", p->nr_sources + 1))
				goto out;
			p->blobs = blb.buf;
			p->blob_offs = bofb.buf;
			for (i = 0; i < p->nr_sources; i++) {
				if (p->blob_offs[i] < 0 || p->blob_offs[i] > p->blob_offs[i + 1] ||
				    p->blob_offs[i + 1] > blb.len) {
					PyErr_SetString(PyExc_ValueError, "zram batch: bad blob_offs");
					goto out;
				}
			}
		}
		if (pgb.len % page_size || exb.len % page_size) {
			PyErr_SetString(PyExc_ValueError, "zram batch: a partial page");
			goto out;
		}
		p->verify = verify;
		if (clko != Py_None) { /* ns per op, and of it the codec's */
			if (get_array(clko, &clkb, "q", "clocks", n) ||
			    get_array(cclko, &cclkb, "q", "codec_clocks", n))
				goto out;
			if (clkb.readonly || cclkb.readonly) {
				PyErr_SetString(PyExc_TypeError, "zram batch: read-only clocks");
				goto out;
			}
			clocks = clkb.buf;
			codec_clocks = cclkb.buf;
			p->clocked = 1;
		}
		p->cbuf = malloc(2 * (size_t)page_size);
		p->out = malloc((size_t)page_size);
		if (!p->cbuf || !p->out) {
			PyErr_NoMemory();
			goto out;
		}
	}
	const int8_t *kinds = kb.buf, *fill = fb.buf;
	const int64_t *offsets = ob.buf;
	const int32_t *sizes = sb.buf;

	max_off = zbench_max_offset(offsets, n, "zram");
	if (max_off < 0 && PyErr_Occurred())
		goto out;
	for (i = 0; i < n; i++) {
		if (p && (kinds[i] == K_STORE || kinds[i] == K_STORE_CLEAN) &&
		    (p->sources[i] < 0 || p->sources[i] >= p->nr_sources)) {
			PyErr_SetString(PyExc_ValueError, "zram batch: source page out of range");
			goto out;
		}
	}
	table = calloc((size_t)max_off + 1, sizeof(slot_t));
	if (!table) {
		PyErr_NoMemory();
		goto out;
	}
	if (p) {
		p->slot_src = calloc((size_t)max_off + 1, sizeof(int64_t));
		p->slot_word = calloc((size_t)max_off + 1, sizeof(uint64_t));
		if (!p->slot_src || !p->slot_word) {
			PyErr_NoMemory();
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		int kind = kinds[i];

		if (clocks) {
			t_op = now_ns();
			p->codec_ns = 0;
		}
		int64_t off = offsets[i];
		slot_t *s = &table[off];

		if (kind == K_PHASE) {
			if (zbench_call_phase(on_phase, i, ops_done, counters_tuple(&c)))
				goto out;
			continue;
		}
		if (kind == K_COMPACT) { /* zs_compact, not an operation the run counts */
			int64_t freed;

			if (ops->abi < 2 || !ops->compact) {
				PyErr_SetString(PyExc_ValueError, "zram batch: the engine has no "
						"compaction");
				goto out;
			}
			freed = ops->compact(ops->pool);
			if (freed < 0)
				goto out;
			compacted += freed;
			/* with verify every live slot is read back after a compaction */
			if (p && p->verify && check_all(ops, p, table, max_off, page_size))
				goto out;
			if (clocks) {
				clocks[i] = now_ns() - t_op;
				codec_clocks[i] = p->codec_ns;
			}
			continue;
		}
		if (kind == K_LOAD) {
			if (p) {
				if (s->state != S_EMPTY && read_page(ops, p, off, s, page_size, 1))
					goto out;
			} else if (s->state == S_OBJECT && ops->read(ops->pool, s->handle)) {
				goto out;
			}
		} else if (kind == K_INVALIDATE) {
			if (s->state != S_EMPTY && free_slot(ops, s, &c))
				goto out;
		} else if (kind == K_STORE || kind == K_STORE_CLEAN) {
			if (!(kind == K_STORE_CLEAN && s->state != S_EMPTY)) {
				slot_t fresh = {0, 0, S_SAME, 0};
				const unsigned char *obj = NULL;
				uint64_t word = 0;
				int code = fill[i];

				if (p) { /* page_same_filled on the page itself */
					int same = page_same_filled(src_page(p, p->sources[i],
									     page_size),
								    page_size, &word);
					int got = !same ? F_NOT : word ? F_WORD : F_ZERO;

					if (got != code) {
						PyErr_Format(PyExc_ValueError, "zram batch: op %zd: "
							     "page %lld's fill code is %d, the "
							     "batch says %d", i,
							     (long long)p->sources[i], got, code);
						goto out;
					}
				}
				if (!(code == F_ZERO || (code == F_WORD && same_any))) {
					int64_t size = sizes[i], handle, used;

					if (p) {
						size = compress_page(p, i, p->sources[i], page_size,
								     sizes[i], &obj);
						if (size < 0)
							goto out;
					}
					fresh.huge = size >= huge_min;
					if (fresh.huge) {
						size = page_size;
						if (p)
							obj = src_page(p, p->sources[i],
								       page_size);
					}
					handle = ops->malloc(ops->pool, size);
					if (handle < 0) {
						if (!PyErr_Occurred())
							PyErr_Format(PyExc_ValueError, "zram "
								     "batch: the engine refused "
								     "%lld bytes", (long long)size);
						goto out;
					}
					used = ops->pool_pages(ops->pool);
					if (used > c.used_max) /* update_used_max */
						c.used_max = used;
					if (p ? ops->write_bytes(ops->pool, handle, obj, size) :
						ops->write(ops->pool, handle))
						goto out;
					fresh.handle = handle;
					fresh.size = (int32_t)size;
					fresh.state = S_OBJECT;
				}
				if (s->state != S_EMPTY && free_slot(ops, s, &c))
					goto out;
				*s = fresh;
				if (p) {
					p->slot_src[off] = p->sources[i];
					p->slot_word[off] = word;
				}
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
		if (clocks) {
			clocks[i] = now_ns() - t_op;
			codec_clocks[i] = p->codec_ns;
		}
		if (zbench_call_progress(progress, ++ops_done))
			goto out;
	}
	if (p && p->verify && check_all(ops, p, table, max_off, page_size))
		goto out;
	res = Py_BuildValue("(NLL)", counters_tuple(&c), (long long)pl.verified,
			    (long long)compacted);
out:
	free(table);
	free(pl.slot_src);
	free(pl.slot_word);
	free(pl.cbuf);
	free(pl.out);
	PyBuffer_Release(&kb);
	PyBuffer_Release(&ob);
	PyBuffer_Release(&sb);
	PyBuffer_Release(&fb);
	PyBuffer_Release(&pgb);
	PyBuffer_Release(&srcb);
	PyBuffer_Release(&blb);
	PyBuffer_Release(&bofb);
	PyBuffer_Release(&clkb);
	PyBuffer_Release(&cclkb);
	PyBuffer_Release(&exb);
	return res;
}

static PyMethodDef methods[] = {
	{"run", (PyCFunction)(void (*)(void))zram_run, METH_VARARGS | METH_KEYWORDS,
	 "zram's write and read paths over a batch, on an engine's zbench_sized_ops"},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
	PyModuleDef_HEAD_INIT, "zbench_zram._native",
	"zram's write and read paths over a batch in C (docs/scale.md)", -1, methods,
};

PyMODINIT_FUNC PyInit__native(void)
{
	PyObject *m = PyModule_Create(&module);

	if (!m)
		return NULL;
	Mismatch = PyErr_NewException("zbench_zram._native.Mismatch", NULL, NULL);
	if (!Mismatch || PyModule_AddObject(m, "Mismatch", Mismatch) < 0) {
		Py_XDECREF(Mismatch);
		Py_DECREF(m);
		return NULL;
	}
	Py_INCREF(Mismatch);
	return m;
}
