// SPDX-License-Identifier: GPL-2.0
/*
 * The floor of a native store path: zram's write path over zsmalloc's object placement,
 * in C, on the operations zbench's own model runs (benchmarks/native_floor.py builds this,
 * feeds it and checks its pool against the model's).  A measurement, not a model zbench
 * runs: it answers how fast the per-page loop can be when the state is native.
 *
 * What it does per store (drivers/block/zram/zram_drv.c zram_write_page, mm/zsmalloc.c
 * zs_malloc / obj_malloc / fix_fullness_group, the >= 6.4 rules: inuse-ratio fullness
 * groups, insert at the list head, find_get_zspage from ZS_INUSE_RATIO_99 down):
 *   same-filled page -> a slot, no object; compressed size >= huge_class_size -> the page
 *   as is; else zs_malloc(size) in the class the model's class table names (given, not
 *   recomputed here), the object's header and bytes copied into its frames (possibly
 *   over a page boundary).  A load copies the object out and decompresses it, and is
 *   checked against the page stored.
 *
 * Modes (argv[1]):
 *   sizes FILE   the model's fill as compressed sizes (0: same-filled); prints the pool
 *   bytes FILE PASSES   the dump's pages stored (lz4, liblz4.so.1) and loaded, PASSES times
 *
 * FILE (little-endian int32 words): page_size, huge_min, nr_classes, then per class
 * (size, pages_per_zspage, objs_per_zspage, huge), then class_of[0..page_size], then the
 * count of items and the items (sizes mode: one size each; bytes mode: the pages'
 * bytes follow as page_size-byte records).
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NR_GROUPS 12 /* ZS_INUSE_RATIO_0 .. ZS_INUSE_RATIO_100 */
#define RATIO_100 11
#define HANDLE_SIZE 8 /* ZS_HANDLE_SIZE */
#define MAX_CHAIN 16

struct klass {
	int size, ppz, objs, huge;
	int head[NR_GROUPS]; /* first zspage of each fullness list, -1 if empty */
	long obj_used, obj_allocated;
};

struct zspage {
	int cls, inuse, freeobj, fullness, prev, next;
	int pfn[MAX_CHAIN];
	int *link; /* the free list (link_free), objs_per_zspage entries */
};

struct pool {
	int page_size, huge_min, nr_classes;
	struct klass *cls;
	int *class_of;
	struct zspage *zs;
	int nr_zs, cap_zs;
	unsigned char **frame;
	int nr_frames, cap_frames;
	long pages_allocated;
	int *h_zs, *h_idx, *h_size, nr_handles, cap_handles; /* handle -> location, size */
	int bytes; /* objects carry bytes */
};

static int group(int inuse, int objs)
{
	if (inuse == 0)
		return 0;
	if (inuse == objs)
		return RATIO_100;
	return 100 * inuse / objs / 10 + 1;
}

static void list_del(struct pool *p, int z)
{
	struct zspage *s = &p->zs[z];
	struct klass *c = &p->cls[s->cls];
	if (s->prev >= 0)
		p->zs[s->prev].next = s->next;
	else
		c->head[s->fullness] = s->next;
	if (s->next >= 0)
		p->zs[s->next].prev = s->prev;
	s->prev = s->next = -1;
}

static void list_add_head(struct pool *p, int z, int fg)
{
	struct zspage *s = &p->zs[z];
	struct klass *c = &p->cls[s->cls];
	s->fullness = fg;
	s->prev = -1;
	s->next = c->head[fg];
	if (s->next >= 0)
		p->zs[s->next].prev = z;
	c->head[fg] = z;
}

static int alloc_frame(struct pool *p)
{
	if (p->nr_frames == p->cap_frames) {
		p->cap_frames = p->cap_frames ? 2 * p->cap_frames : 1024;
		p->frame = realloc(p->frame, sizeof(*p->frame) * p->cap_frames);
	}
	p->frame[p->nr_frames] = p->bytes ? malloc(p->page_size) : NULL;
	return p->nr_frames++;
}

static int alloc_zspage(struct pool *p, int ci)
{
	struct klass *c = &p->cls[ci];
	if (p->nr_zs == p->cap_zs) {
		p->cap_zs = p->cap_zs ? 2 * p->cap_zs : 1024;
		p->zs = realloc(p->zs, sizeof(*p->zs) * p->cap_zs);
	}
	int z = p->nr_zs++;
	struct zspage *s = &p->zs[z];
	s->cls = ci;
	s->inuse = s->freeobj = 0;
	s->prev = s->next = -1;
	s->fullness = 0;
	for (int i = 0; i < c->ppz; i++)
		s->pfn[i] = alloc_frame(p);
	s->link = malloc(sizeof(int) * c->objs); /* init_zspage: each slot to the next */
	for (int i = 0; i < c->objs; i++)
		s->link[i] = i + 1 < c->objs ? i + 1 : -1;
	p->pages_allocated += c->ppz;
	c->obj_allocated += c->objs;
	return z;
}

/* zs_malloc: find_get_zspage (else alloc_zspage), obj_malloc, fix_fullness_group */
static int zs_malloc(struct pool *p, int size)
{
	int ci = p->class_of[size];
	struct klass *c = &p->cls[ci];
	int z = -1;
	for (int fg = RATIO_100 - 1; fg >= 0; fg--)
		if (c->head[fg] >= 0) {
			z = c->head[fg];
			break;
		}
	int fresh = z < 0;
	if (fresh)
		z = alloc_zspage(p, ci);
	struct zspage *s = &p->zs[z];
	int idx = s->freeobj;
	s->freeobj = s->link[idx];
	s->inuse++;
	int fg = group(s->inuse, c->objs);
	if (fresh) {
		list_add_head(p, z, fg);
	} else if (fg != s->fullness) {
		list_del(p, z);
		list_add_head(p, z, fg);
	}
	c->obj_used++;
	if (p->nr_handles == p->cap_handles) {
		p->cap_handles = p->cap_handles ? 2 * p->cap_handles : 4096;
		p->h_zs = realloc(p->h_zs, sizeof(int) * p->cap_handles);
		p->h_idx = realloc(p->h_idx, sizeof(int) * p->cap_handles);
		p->h_size = realloc(p->h_size, sizeof(int) * p->cap_handles);
	}
	int h = p->nr_handles++;
	p->h_zs[h] = z;
	p->h_idx[h] = idx;
	p->h_size[h] = size;
	return h;
}

/* copy n bytes at byte offset off of a zspage's chain from/to buf (two pages at most) */
static void chain_copy(struct pool *p, struct zspage *s, long off, unsigned char *buf, int n,
		       int out)
{
	int ps = p->page_size;
	while (n > 0) {
		int page = off / ps, in = off % ps;
		int k = ps - in < n ? ps - in : n;
		unsigned char *f = p->frame[s->pfn[page]] + in;
		if (out)
			memcpy(buf, f, k);
		else
			memcpy(f, buf, k);
		buf += k;
		off += k;
		n -= k;
	}
}

static void obj_write(struct pool *p, int h, const unsigned char *data, int n)
{
	struct zspage *s = &p->zs[p->h_zs[h]];
	struct klass *c = &p->cls[s->cls];
	long off = (long)p->h_idx[h] * c->size;
	if (!c->huge) {
		uint64_t tag = ((uint64_t)h << 1) | 1; /* handle | OBJ_ALLOCATED_TAG */
		chain_copy(p, s, off, (unsigned char *)&tag, HANDLE_SIZE, 0);
		off += HANDLE_SIZE;
	}
	chain_copy(p, s, off, (unsigned char *)data, n, 0);
}

static void obj_read(struct pool *p, int h, unsigned char *buf)
{
	struct zspage *s = &p->zs[p->h_zs[h]];
	struct klass *c = &p->cls[s->cls];
	long off = (long)p->h_idx[h] * c->size + (c->huge ? 0 : HANDLE_SIZE);
	chain_copy(p, s, off, buf, p->h_size[h], 1);
}

static int32_t *read_words(const char *path, long *n)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	long bytes = ftell(f);
	fseek(f, 0, SEEK_SET);
	int32_t *w = malloc(bytes);
	if (fread(w, 1, bytes, f) != (size_t)bytes) {
		perror(path);
		exit(2);
	}
	fclose(f);
	*n = bytes / 4;
	return w;
}

static const int32_t *setup(struct pool *p, const int32_t *w, int bytes)
{
	memset(p, 0, sizeof(*p));
	p->bytes = bytes;
	p->page_size = *w++;
	p->huge_min = *w++;
	p->nr_classes = *w++;
	p->cls = calloc(p->nr_classes, sizeof(*p->cls));
	for (int i = 0; i < p->nr_classes; i++) {
		struct klass *c = &p->cls[i];
		c->size = *w++;
		c->ppz = *w++;
		c->objs = *w++;
		c->huge = *w++;
		for (int g = 0; g < NR_GROUPS; g++)
			c->head[g] = -1;
	}
	p->class_of = malloc(sizeof(int) * (p->page_size + 1));
	for (int i = 0; i <= p->page_size; i++)
		p->class_of[i] = *w++;
	return w;
}

static void teardown(struct pool *p)
{
	for (int i = 0; i < p->nr_frames; i++)
		free(p->frame[i]);
	for (int i = 0; i < p->nr_zs; i++)
		free(p->zs[i].link);
	free(p->frame);
	free(p->zs);
	free(p->h_zs);
	free(p->h_idx);
	free(p->h_size);
	free(p->cls);
	free(p->class_of);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static void print_pool(struct pool *p)
{
	printf("\"pool_pages\": %ld, \"classes\": [", p->pages_allocated);
	int first = 1;
	for (int i = 0; i < p->nr_classes; i++) {
		struct klass *c = &p->cls[i];
		if (!c->obj_allocated)
			continue;
		printf("%s[%d, %ld, %ld]", first ? "" : ", ", c->size, c->obj_allocated, c->obj_used);
		first = 0;
	}
	printf("]");
}

static int mode_sizes(const char *path)
{
	long nw;
	int32_t *w = read_words(path, &nw);
	struct pool p;
	const int32_t *it = setup(&p, w, 0);
	long n = *it++;
	long same = 0, huge = 0;
	double t0 = now();
	for (long i = 0; i < n; i++) {
		int size = it[i];
		if (size == 0) { /* ZRAM_SAME: the slot keeps the word, no object */
			same++;
			continue;
		}
		if (size >= p.huge_min) { /* ZRAM_HUGE: the page as is */
			size = p.page_size;
			huge++;
		}
		zs_malloc(&p, size);
	}
	double t = now() - t0;
	printf("{\"stores\": %ld, \"same\": %ld, \"huge\": %ld, \"seconds\": %.6f, ", n, same, huge, t);
	print_pool(&p);
	printf("}\n");
	teardown(&p);
	free(w);
	return 0;
}

typedef int (*lz4_compress_fn)(const char *, char *, int, int);
typedef int (*lz4_decompress_fn)(const char *, char *, int, int);

/* zram_read_page: a same-filled slot's word repeated (zram_fill_page), a huge object
 * copied out as is, any other copied out and decompressed */
static void load_page(struct pool *p, int h, uint64_t word, unsigned char *obj,
		      unsigned char *out, lz4_decompress_fn decompress)
{
	int ps = p->page_size;
	if (h < 0) {
		for (int k = 0; k < ps / 8; k++)
			((uint64_t *)out)[k] = word;
	} else if (p->h_size[h] == ps) {
		obj_read(p, h, out);
	} else {
		obj_read(p, h, obj);
		decompress((const char *)obj, (char *)out, p->h_size[h], ps);
	}
}

static int mode_bytes(const char *path, int passes)
{
	void *lib = dlopen("liblz4.so.1", RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "liblz4.so.1: %s\n", dlerror());
		return 2;
	}
	lz4_compress_fn compress = (lz4_compress_fn)dlsym(lib, "LZ4_compress_default");
	lz4_decompress_fn decompress = (lz4_decompress_fn)dlsym(lib, "LZ4_decompress_safe");
	long nw;
	int32_t *w = read_words(path, &nw);
	struct pool p;
	const int32_t *it = setup(&p, w, 1);
	teardown(&p); /* only to find where the pages start */
	long n = *it++;
	const unsigned char *pages = (const unsigned char *)it;
	int ps = p.page_size;
	unsigned char *dst = malloc(2 * ps), *obj = malloc(ps), *out = malloc(ps);
	int *handle = malloc(sizeof(int) * n);
	uint64_t *fill = malloc(sizeof(uint64_t) * n); /* a same-filled slot's word */
	printf("{\"pages\": %ld, \"passes\": [", n);
	for (int pass = 0; pass < passes; pass++) {
		setup(&p, w, 1);
		double t0 = now();
		for (long i = 0; i < n; i++) {
			const unsigned char *page = pages + i * ps;
			const uint64_t *word = (const uint64_t *)page;
			int same = 1;
			for (int k = 1; k < ps / 8; k++)
				if (word[k] != word[0]) {
					same = 0;
					break;
				}
			if (same) {
				handle[i] = -1;
				fill[i] = word[0];
				continue;
			}
			int clen = compress((const char *)page, (char *)dst, ps, 2 * ps);
			if (clen <= 0 || clen >= p.huge_min) {
				handle[i] = zs_malloc(&p, ps);
				obj_write(&p, handle[i], page, ps);
			} else {
				handle[i] = zs_malloc(&p, clen);
				obj_write(&p, handle[i], dst, clen);
			}
		}
		double t_store = now() - t0;
		long bad = 0;
		double t_load = 0;
		t0 = now();
		for (long i = 0; i < n; i++)
			load_page(&p, handle[i], fill[i], obj, out, decompress);
		t_load = now() - t0;
		for (long i = 0; i < n; i++) { /* checked after the clock: every page back */
			load_page(&p, handle[i], fill[i], obj, out, decompress);
			bad += memcmp(out, pages + i * ps, ps) != 0;
		}
		printf("%s{\"store_s\": %.6f, \"load_s\": %.6f, \"mismatches\": %ld, ", pass ? ", " : "",
		       t_store, t_load, bad);
		print_pool(&p);
		printf("}");
		teardown(&p);
	}
	printf("]}\n");
	free(dst);
	free(obj);
	free(out);
	free(handle);
	free(fill);
	free(w);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "sizes"))
		return mode_sizes(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "bytes"))
		return mode_bytes(argv[2], atoi(argv[3]));
	fprintf(stderr, "usage: %s sizes FILE | bytes FILE PASSES\n", argv[0]);
	return 2;
}
