/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * zspool.h: zs_malloc / zs_free placement with the state in C (zspool.c), and the
 * object copies (zs_obj_write, zs_obj_read_begin) into frames the pool holds when it
 * keeps bytes.  _native.c wraps it as a Python type and as a struct zbench_sized_ops.
 * Failures return -1 with a Python exception set.
 */
#ifndef ZBENCH_ZSPOOL_H
#define ZBENCH_ZSPOOL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#define ZS_HANDLE_SIZE 8
#define HANDLE_SHIFT 3
#define OBJ_ALLOCATED_TAG 1
#define LINK_END (-1)
#define MAX_GROUPS 12

enum { FULLNESS_QUARTER = 0, FULLNESS_INUSE_RATIO = 1 };
enum { INSERT_HEAD = 0, INSERT_INUSE_TAIL = 1, INSERT_INUSE_SECOND = 2 };
/* __zs_compact: 4.1-4.2, 4.3-6.3, 6.4+ (compaction.py's CompactAlgo); none: not set */
enum { COMPACT_NONE = -1, COMPACT_V4_1 = 0, COMPACT_V4_3 = 1, COMPACT_V6_4 = 2 };

typedef struct {
	int size, ppz, objs, huge;
	int64_t obj_allocated, obj_used, list_ops;
	int64_t group_count[MAX_GROUPS];
} zs_class;

typedef struct {
	int cls, inuse, freeobj, fullness;
	int32_t *link; /* link[k]: the free slot after k (struct link_free), LINK_END */
	int32_t *slot_of; /* slot_of[k]: the handle slot of object k, 0: free (obj_allocated) */
	unsigned char *mem; /* the zspage's ppz page frames, in order; NULL: sizes only */
} zs_zspage;

struct zs_pool {
	int page_size, nr_classes, nr_groups, fullness, insert, max_size;
	int payload; /* frames hold the objects' bytes */
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
	/* zs_compact (zscompact.c): the algorithm and its list orders */
	int compact_algo, src_order[MAX_GROUPS], nr_src, dst_order[MAX_GROUPS], nr_dst;
	int64_t pages_compacted, objs_moved, bytes_moved;
};

/* classes: (size, pages_per_zspage, objs_per_zspage, huge) per distinct class;
 * class_of: the class of each size 0..page_size; order: find_get_zspage's groups */
int zs_pool_init(struct zs_pool *pool, int page_size, const int32_t *classes,
		 int nr_classes, const int32_t *class_of, int fullness, int insert,
		 const unsigned char *order, int nr_order, int payload);
void zs_pool_release(struct zs_pool *pool);
int zs_grow(void **p, Py_ssize_t *cap, Py_ssize_t need, size_t elem);
int64_t zs_malloc(struct zs_pool *pool, int64_t size);
int zs_free(struct zs_pool *pool, int64_t handle);
Py_ssize_t zs_live_slot(struct zs_pool *pool, int64_t handle);
/* zs_compact (zscompact.c): the pages freed, or -1 (no algorithm set, or a broken
 * invariant) with an exception set */
int64_t zs_compact(struct zs_pool *pool);
int zs_set_compaction(struct zs_pool *pool, int algo, const unsigned char *src, int nr_src,
		      const unsigned char *dst, int nr_dst);
/* the list and zspage steps zs_compact shares with zs_malloc / zs_free (zspool.c) */
int zs_get_group(const struct zs_pool *pool, int inuse, int objs);
int zs_head_of(const struct zs_pool *pool, int cls, int group);
int zs_node_of(const struct zs_pool *pool, int z);
void zs_insert_zspage(struct zs_pool *pool, int z, int fullness);
void zs_remove_zspage(struct zs_pool *pool, int z);
void zs_free_zspage(struct zs_pool *pool, int z);
/* the object's bytes copied in (src NULL: counted only); len must be its size */
int zs_obj_write(struct zs_pool *pool, int64_t handle, const void *src, int64_t len);
/* the object's bytes copied out to dst (NULL: counted only): its size; counted in
 * bytes_read and page_crossing_copies unless !count (a check's read, not the run's) */
int64_t zs_obj_read(struct zs_pool *pool, int64_t handle, void *dst, int count);

#endif
