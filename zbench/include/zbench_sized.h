/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * zbench_sized.h: the C face of an allocator's native engine (zbench.api.sized), so a
 * front end's native batch loop calls the allocator's zs_malloc / zs_free the way
 * drivers/block/zram/zram_drv.c calls mm/zsmalloc.c: directly, no Python in between.
 *
 * An engine that has one offers it as ``engine.capsule``: a PyCapsule named
 * ZBENCH_SIZED_CAPSULE holding a struct zbench_sized_ops that lives as long as the
 * engine.  Each call returns -1 with a Python exception set on failure.
 *
 * ABI 1: the sizes-only calls.  ABI 2 adds an engine that keeps the objects' bytes in
 * its frames (payload != 0) and copies them in and out, and its compaction (compact,
 * NULL when it has none); a loop checks abi >= 2 before it calls any of them.
 */
#ifndef ZBENCH_SIZED_H
#define ZBENCH_SIZED_H

#include <stdint.h>

#define ZBENCH_SIZED_CAPSULE "zbench.sized_ops"
#define ZBENCH_SIZED_ABI 2
/* an allocator's refusal of a size (the kernel's -ENOSPC, -EINVAL) */
#define ZBENCH_ENOSPC (-28)
#define ZBENCH_EINVAL (-22)

struct zbench_sized_ops {
	int abi; /* ZBENCH_SIZED_ABI */
	void *pool;
	/* zs_malloc: a handle > 0; ZBENCH_ENOSPC / ZBENCH_EINVAL (ABI 2) when the allocator
	 * refuses the size, no exception set (zpool_malloc's errors, counted by zswap) */
	int64_t (*malloc)(void *pool, int64_t size);
	/* zs_free */
	int (*free)(void *pool, int64_t handle);
	/* zs_obj_write of the handle's whole object: counted, no bytes kept */
	int (*write)(void *pool, int64_t handle);
	/* zs_obj_read_begin of the handle's whole object: counted, no bytes read */
	int (*read)(void *pool, int64_t handle);
	/* zs_get_total_pages */
	int64_t (*pool_pages)(void *pool);
	/* ABI 2: the frames keep the objects' bytes */
	int payload;
	/* zs_obj_write of len bytes (the object's size) from src */
	int (*write_bytes)(void *pool, int64_t handle, const void *src, int64_t len);
	/* zs_obj_read_begin into dst: the object's size; counted unless !count (a check's
	 * read, not the workload's) */
	int64_t (*read_bytes)(void *pool, int64_t handle, void *dst, int count);
	/* the allocator's compaction (zs_compact): the pages freed; NULL: none */
	int64_t (*compact)(void *pool);
};

/*
 * A compressor's C face (zbench.api.sized.NativeCodec): a PyCapsule named
 * ZBENCH_CODEC_CAPSULE holding a struct zbench_codec_ops that lives as long as the
 * capsule.  compress must give exactly the bytes the compressor's Python compress gives
 * and returns their length (<= 0: did not fit); decompress returns the decompressed
 * length (< 0: corrupt input).  Neither sets a Python exception.
 */
#define ZBENCH_CODEC_CAPSULE "zbench.codec_ops"
#define ZBENCH_CODEC_ABI 1

struct zbench_codec_ops {
	int abi; /* ZBENCH_CODEC_ABI */
	void *ctx;
	int (*compress)(void *ctx, const char *src, char *dst, int src_size, int dst_capacity);
	int (*decompress)(void *ctx, const char *src, char *dst, int src_size,
			  int dst_capacity);
};

#endif
