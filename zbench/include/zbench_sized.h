/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * zbench_sized.h: the C face of an allocator's native engine (zbench.api.sized), so a
 * front end's native batch loop calls the allocator's zs_malloc / zs_free the way
 * drivers/block/zram/zram_drv.c calls mm/zsmalloc.c: directly, no Python in between.
 *
 * An engine that has one offers it as ``engine.capsule``: a PyCapsule named
 * ZBENCH_SIZED_CAPSULE holding a struct zbench_sized_ops that lives as long as the
 * engine.  Each call returns -1 with a Python exception set on failure.
 */
#ifndef ZBENCH_SIZED_H
#define ZBENCH_SIZED_H

#include <stdint.h>

#define ZBENCH_SIZED_CAPSULE "zbench.sized_ops"
#define ZBENCH_SIZED_ABI 1

struct zbench_sized_ops {
	int abi; /* ZBENCH_SIZED_ABI */
	void *pool;
	/* zs_malloc: a handle > 0 */
	int64_t (*malloc)(void *pool, int64_t size);
	/* zs_free */
	int (*free)(void *pool, int64_t handle);
	/* zs_obj_write of the handle's whole object: counted, no bytes kept */
	int (*write)(void *pool, int64_t handle);
	/* zs_obj_read_begin of the handle's whole object: counted, no bytes read */
	int (*read)(void *pool, int64_t handle);
	/* zs_get_total_pages */
	int64_t (*pool_pages)(void *pool);
};

#endif
