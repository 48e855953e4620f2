// SPDX-License-Identifier: GPL-2.0
/*
 * zbench_drv: drive a real compressed-memory allocator from an op stream.
 *
 * Built into a user-mode Linux kernel by `zbench kernel build` (obj-y in mm/).
 * User space writes "OPS_PATH OUT_PATH" to /proc/zbench; the driver reads the
 * op stream from OPS_PATH (a hostfs file), runs every operation against the
 * allocator the stream names, and writes its figures to OUT_PATH (text) and
 * the per-operation timings to OUT_PATH.times (binary).
 *
 * Allocators: zsmalloc through its own API (zs_malloc, zs_map_object,
 * zs_compact, zs_get_total_pages), zbud and z3fold through zpool, the only API
 * they have; with the GFP flags zswap passes (mm/zswap.c, zswap_store /
 * zswap_frontswap_store).  On 6.1 the zbud and z3fold pools are created with
 * an evict callback, as zswap creates them, so zpool_shrink reclaims.
 *
 * Every load is compared with a copy of what was stored; the copy, the
 * comparison and the file I/O are outside the timed regions.  Operations are
 * timed with the host's TSC: UML's clocksource counts in steps of 256 ns
 * (arch/um/kernel/time.c, TIMER_MULTIPLIER); the TSC is converted to ns with
 * the ratio of the two clocks over the whole stream ("clock" line).
 *
 * Stream: a header (struct zb_header), then records (struct zb_record) each
 * followed by `len` payload bytes.  All integers little-endian.
 */
#include <linux/crypto.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/proc_fs.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>
#include <linux/version.h>
#include <linux/vmalloc.h>
#include <linux/xarray.h>
#include <linux/zpool.h>
#include <linux/zsmalloc.h>

#define ZB_MAGIC "ZBOPS01\n"

enum zb_op {
	ZB_STORE = 1,		/* payload: compressed bytes, stored as they are */
	ZB_STORE_PAGE = 2,	/* payload: a page, compressed with the stream's compressor */
	ZB_LOAD = 3,		/* read the slot back and compare */
	ZB_FREE = 4,		/* free the slot's object */
	ZB_COMPACT = 5,		/* zs_compact (zsmalloc); nothing elsewhere */
	ZB_PHASE = 6,		/* payload: a label; write the figures of the phase */
	ZB_SHRINK = 7,		/* payload: u32 pages, u32 slots the model evicted (6.1) */
	ZB_END = 8,
};

/* flags in the header */
#define ZB_SETTLE	1	/* after each free, let queued work run (z3fold's compact_wq) */
#define ZB_TRACE	2	/* after each op, a record of the pool's pages (op | 0x80) */

struct zb_header {
	char magic[8];
	char backend[16];
	char compressor[16];
	__le32 nslots;
	__le32 flags;
} __packed;

struct zb_record {
	u8 op;
	u8 reserved[3];
	__le32 slot;
	__le32 len;
} __packed;

/* one timed operation, in OUT_PATH.times (TSC cycles) */
struct zb_time {
	u8 op;
	u8 failed;
	u8 reserved[2];
	__le32 total;
	__le32 comp;
} __packed;

struct zb_slot {
	unsigned long handle;
	void *copy;		/* what was stored: compressed bytes, or the page */
	u32 len;		/* object size */
	u32 copy_len;
	bool page;		/* stored with STORE_PAGE: load decompresses */
};

struct zb_run {
	/* the allocator */
	struct zs_pool *zs;
	struct zpool *zp;
	char backend[17];
	gfp_t gfp;
	struct crypto_comp *tfm;
	char compressor[17];
	u32 flags;
	/* the slots */
	struct zb_slot *slots;
	u32 nslots;
	struct xarray by_handle;	/* handle -> slot + 1, for the evict callback */
	/* input */
	struct file *in;
	loff_t in_pos;
	/* output */
	struct file *out, *times;
	loff_t out_pos, times_pos;
	struct zb_time *tbuf;
	u32 tcount;
	/* scratch */
	u8 *payload;		/* 2 pages */
	u8 *buf;		/* 2 pages */
	/* counters */
	u64 ops, stores, loads, frees, store_fail, mismatches, compacted;
	u64 evicted, evict_mismatch, objects, object_bytes;
	u32 *kernel_evicted;
	u32 nr_kernel_evicted;
	char error[128];
};

static struct zb_run *zb_current;

/* a timestamp in TSC cycles (see the top of the file) */
static inline u64 zb_now(void)
{
#if defined(__x86_64__)
	unsigned int lo, hi;

	asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((u64)hi << 32) | lo;
#else
	return ktime_get_ns();
#endif
}	/* the run an evict callback belongs to */

#define ZB_TBUF 4096

static int zb_out(struct zb_run *r, const char *fmt, ...)
{
	char line[256];
	va_list args;
	int n;

	va_start(args, fmt);
	n = vscnprintf(line, sizeof(line), fmt, args);
	va_end(args);
	return kernel_write(r->out, line, n, &r->out_pos) == n ? 0 : -EIO;
}

static void zb_flush_times(struct zb_run *r)
{
	if (r->tcount)
		kernel_write(r->times, r->tbuf, r->tcount * sizeof(*r->tbuf), &r->times_pos);
	r->tcount = 0;
}

static void zb_time(struct zb_run *r, u8 op, bool failed, u64 total, u64 comp)
{
	struct zb_time *t = &r->tbuf[r->tcount++];

	t->op = op;
	t->failed = failed;
	t->total = cpu_to_le32(min_t(u64, total, U32_MAX));
	t->comp = cpu_to_le32(min_t(u64, comp, U32_MAX));
	if (r->tcount == ZB_TBUF)
		zb_flush_times(r);
}

static int zb_read(struct zb_run *r, void *dst, size_t len)
{
	ssize_t n = kernel_read(r->in, dst, len, &r->in_pos);

	return n == len ? 0 : -EIO;
}

/* -- the allocator ------------------------------------------------------ */

static unsigned long zb_pool_pages(struct zb_run *r)
{
	if (r->zs)
		return zs_get_total_pages(r->zs);
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
	return zpool_get_total_pages(r->zp);
#else
	return zpool_get_total_size(r->zp) >> PAGE_SHIFT;
#endif
}

static int zb_malloc(struct zb_run *r, size_t size, unsigned long *handle)
{
	if (r->zs) {
		*handle = zs_malloc(r->zs, size, r->gfp);
		return IS_ERR_VALUE(*handle) ? (int)*handle : 0;
	}
	return zpool_malloc(r->zp, size, r->gfp, handle);
}

static void *zb_map(struct zb_run *r, unsigned long handle, bool write)
{
	if (r->zs)
		return zs_map_object(r->zs, handle, write ? ZS_MM_WO : ZS_MM_RO);
	return zpool_map_handle(r->zp, handle, write ? ZPOOL_MM_WO : ZPOOL_MM_RO);
}

static void zb_unmap(struct zb_run *r, unsigned long handle)
{
	if (r->zs)
		zs_unmap_object(r->zs, handle);
	else
		zpool_unmap_handle(r->zp, handle);
}

static void zb_free_handle(struct zb_run *r, unsigned long handle)
{
	if (r->zs)
		zs_free(r->zs, handle);
	else
		zpool_free(r->zp, handle);
}

static void zb_drop_slot(struct zb_run *r, struct zb_slot *s)
{
	xa_erase(&r->by_handle, s->handle);
	kvfree(s->copy);
	r->objects--;
	r->object_bytes -= s->len;
	memset(s, 0, sizeof(*s));
}

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
/* zpool_ops.evict, as zswap_writeback_entry is for zswap: read the object, free it */
static int zb_evict(struct zpool *pool, unsigned long handle)
{
	struct zb_run *r = zb_current;
	void *slotp = xa_load(&r->by_handle, handle);
	struct zb_slot *s;
	u32 slot;
	void *src;

	if (!slotp)
		return -ENOENT;
	slot = xa_to_value(slotp);
	s = &r->slots[slot];
	src = zb_map(r, handle, false);
	if (!s->page && memcmp(src, s->copy, s->len))
		r->mismatches++;
	zb_unmap(r, handle);
	zb_free_handle(r, handle);
	if (r->nr_kernel_evicted < r->nslots)
		r->kernel_evicted[r->nr_kernel_evicted++] = slot;
	zb_drop_slot(r, s);
	r->evicted++;
	return 0;
}

static const struct zpool_ops zb_zpool_ops = { .evict = zb_evict };
#endif

static int zb_create_pool(struct zb_run *r)
{
	/* zswap's flags; movable where the allocator migrates (zswap_store) */
	r->gfp = __GFP_NORETRY | __GFP_NOWARN | __GFP_KSWAPD_RECLAIM;
	if (!strcmp(r->backend, "zsmalloc")) {
		r->zs = zs_create_pool("zbench");
		r->gfp |= __GFP_HIGHMEM | __GFP_MOVABLE;
		return r->zs ? 0 : -ENOMEM;
	}
	if (!zpool_has_pool(r->backend)) {
		snprintf(r->error, sizeof(r->error), "backend %s is not in this kernel", r->backend);
		return -ENOENT;
	}
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
	r->zp = zpool_create_pool(r->backend, "zbench", r->gfp, &zb_zpool_ops);
#else
	r->zp = zpool_create_pool(r->backend, "zbench", r->gfp);
#endif
	if (!r->zp)
		return -ENOMEM;
	if (zpool_malloc_support_movable(r->zp))
		r->gfp |= __GFP_HIGHMEM | __GFP_MOVABLE;
	return 0;
}

static void zb_destroy_pool(struct zb_run *r)
{
	if (r->zs)
		zs_destroy_pool(r->zs);
	if (r->zp)
		zpool_destroy_pool(r->zp);
}

/* -- operations ---------------------------------------------------------- */

/*
 * Let the work an operation queued run before the next one: z3fold_free queues
 * the page's compaction (compact_page_work) on the pool's workqueue.  UML has
 * one CPU, so the worker runs only when this thread gives the CPU up; a worker
 * that has to be woken or created may need more than one turn, and 6.1's CFS
 * may pass over it on yield() (the skip buddy), so the thread also sleeps
 * briefly: then every runnable task runs.
 */
static void zb_settle(void)
{
	int i;

	for (i = 0; i < 8; i++)
		yield();
	usleep_range(20, 40);
}

static void zb_free_slot(struct zb_run *r, struct zb_slot *s)
{
	zb_free_handle(r, s->handle);
	zb_drop_slot(r, s);
	r->frees++;
	if (r->flags & ZB_SETTLE)
		zb_settle();
}

static int zb_store(struct zb_run *r, struct zb_slot *s, u8 op, u32 len)
{
	const u8 *src = r->payload;
	unsigned int dlen = PAGE_SIZE * 2;
	u64 t0, t1, comp = 0;
	unsigned long handle;
	void *dst;
	int err;

	if (s->copy)
		zb_free_slot(r, s);
	t0 = zb_now();
	if (op == ZB_STORE_PAGE) {
		err = crypto_comp_compress(r->tfm, r->payload, len, r->buf, &dlen);
		t1 = zb_now();
		comp = t1 - t0;
		if (err)
			return err;
		src = r->buf;
	} else {
		dlen = len;
	}
	err = zb_malloc(r, dlen, &handle);
	if (!err) {
		dst = zb_map(r, handle, true);
		memcpy(dst, src, dlen);
		zb_unmap(r, handle);
	}
	t1 = zb_now();
	zb_time(r, op, err != 0, t1 - t0, comp);
	if (err) {
		r->store_fail++;
		return 0;	/* a refused store is a result, not an error */
	}
	s->copy = kvmalloc(len, GFP_KERNEL);
	if (!s->copy)
		return -ENOMEM;
	memcpy(s->copy, r->payload, len);
	s->copy_len = len;
	s->handle = handle;
	s->len = dlen;
	s->page = op == ZB_STORE_PAGE;
	xa_store(&r->by_handle, handle, xa_mk_value(s - r->slots), GFP_KERNEL);
	r->objects++;
	r->object_bytes += dlen;
	r->stores++;
	return 0;
}

static int zb_load(struct zb_run *r, struct zb_slot *s)
{
	unsigned int dlen = PAGE_SIZE;
	u64 t0, t1, comp = 0;
	void *src;
	int err = 0;

	if (!s->copy)
		return 0;
	t0 = zb_now();
	src = zb_map(r, s->handle, false);
	if (s->page) {
		t1 = zb_now();
		err = crypto_comp_decompress(r->tfm, src, s->len, r->buf, &dlen);
		comp = zb_now() - t1;
	} else {
		memcpy(r->buf, src, s->len);
		dlen = s->len;
	}
	zb_unmap(r, s->handle);
	t1 = zb_now();
	zb_time(r, ZB_LOAD, err != 0, t1 - t0, comp);
	if (err || dlen != s->copy_len || memcmp(r->buf, s->copy, dlen))
		r->mismatches++;
	r->loads++;
	return 0;
}

static int zb_shrink(struct zb_run *r, u32 len)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
	u32 pages = le32_to_cpu(*(__le32 *)r->payload);
	u32 n = (len - 4) / 4, i, j, reclaimed = 0;
	const __le32 *model = (const __le32 *)(r->payload + 4);
	int err;

	if (!r->zp) {
		strscpy(r->error, "shrink: this backend has no zpool_shrink", sizeof(r->error));
		return -EINVAL;
	}
	r->nr_kernel_evicted = 0;
	err = zpool_shrink(r->zp, pages, &reclaimed);
	/* the kernel chose its victims by its own LRU: the model must have chosen the same */
	if (n != r->nr_kernel_evicted)
		r->evict_mismatch++;
	else
		for (i = 0; i < n; i++) {
			for (j = 0; j < n && r->kernel_evicted[j] != le32_to_cpu(model[i]); j++)
				;
			if (j == n) {
				r->evict_mismatch++;
				break;
			}
		}
	return zb_out(r, "shrink pages=%u reclaimed=%u err=%d evicted=%u model_evicted=%u\n",
		      pages, reclaimed, err, r->nr_kernel_evicted, n);
#else
	strscpy(r->error, "shrink: zpool_shrink was removed in 6.5", sizeof(r->error));
	return -EINVAL;
#endif
}

static int zb_phase(struct zb_run *r, u32 len)
{
	r->payload[min_t(u32, len, 63)] = 0;
	if (r->flags & ZB_SETTLE)
		zb_settle();
	return zb_out(r, "phase %s ops=%llu pool_pages=%lu objects=%llu object_bytes=%llu "
		      "store_fail=%llu evicted=%llu evict_mismatch=%llu compacted=%llu\n",
		      r->payload, r->ops, zb_pool_pages(r), r->objects, r->object_bytes,
		      r->store_fail, r->evicted, r->evict_mismatch, r->compacted);
}

static int zb_step(struct zb_run *r, const struct zb_record *rec)
{
	u32 slot = le32_to_cpu(rec->slot), len = le32_to_cpu(rec->len);
	struct zb_slot *s;
	int err;

	if (len > PAGE_SIZE * 2 || (rec->op != ZB_PHASE && rec->op != ZB_SHRINK &&
				    rec->op != ZB_COMPACT && slot >= r->nslots)) {
		snprintf(r->error, sizeof(r->error), "record %llu: slot %u or length %u out of range",
			 r->ops, slot, len);
		return -EINVAL;
	}
	if (len && zb_read(r, r->payload, len)) {
		snprintf(r->error, sizeof(r->error), "record %llu: payload cut short", r->ops);
		return -EIO;
	}
	s = slot < r->nslots ? &r->slots[slot] : NULL;
	switch (rec->op) {
	case ZB_STORE:
	case ZB_STORE_PAGE:
		if (rec->op == ZB_STORE_PAGE && (len != PAGE_SIZE || !r->tfm)) {
			snprintf(r->error, sizeof(r->error), "record %llu: a page store needs "
				 "%lu bytes and a compressor", r->ops, PAGE_SIZE);
			return -EINVAL;
		}
		err = zb_store(r, s, rec->op, len);
		break;
	case ZB_LOAD:
		err = zb_load(r, s);
		break;
	case ZB_FREE:
		if (s->copy)
			zb_free_slot(r, s);
		err = 0;
		break;
	case ZB_COMPACT:
		if (r->zs)
			r->compacted += zs_compact(r->zs);
		err = 0;
		break;
	case ZB_PHASE:
		err = zb_phase(r, len);
		break;
	case ZB_SHRINK:
		err = zb_shrink(r, len);
		break;
	default:
		snprintf(r->error, sizeof(r->error), "record %llu: unknown op %u", r->ops, rec->op);
		return -EINVAL;
	}
	r->ops++;
	if (r->flags & ZB_TRACE)
		zb_time(r, rec->op | 0x80, false, 0, zb_pool_pages(r));
	return err;
}

static int zb_open(struct zb_run *r, const char *ops_path, const char *out_path)
{
	char times_path[256];
	struct zb_header h;

	r->in = filp_open(ops_path, O_RDONLY, 0);
	if (IS_ERR(r->in)) {
		snprintf(r->error, sizeof(r->error), "cannot open %s", ops_path);
		return PTR_ERR(r->in);
	}
	r->out = filp_open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (IS_ERR(r->out))
		return PTR_ERR(r->out);
	snprintf(times_path, sizeof(times_path), "%s.times", out_path);
	r->times = filp_open(times_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (IS_ERR(r->times))
		return PTR_ERR(r->times);
	if (zb_read(r, &h, sizeof(h)) || memcmp(h.magic, ZB_MAGIC, 8)) {
		strscpy(r->error, "not a zbench op stream (bad header)", sizeof(r->error));
		return -EINVAL;
	}
	memcpy(r->backend, h.backend, 16);
	memcpy(r->compressor, h.compressor, 16);
	r->nslots = le32_to_cpu(h.nslots);
	r->flags = le32_to_cpu(h.flags);
	if (r->nslots == 0 || r->nslots > (1U << 24)) {
		strscpy(r->error, "slot count out of range", sizeof(r->error));
		return -EINVAL;
	}
	r->slots = kvcalloc(r->nslots, sizeof(*r->slots), GFP_KERNEL);
	r->kernel_evicted = kvcalloc(r->nslots, sizeof(u32), GFP_KERNEL);
	r->tbuf = kvcalloc(ZB_TBUF, sizeof(*r->tbuf), GFP_KERNEL);
	r->payload = kvmalloc(PAGE_SIZE * 2 + 1, GFP_KERNEL);
	r->buf = kvmalloc(PAGE_SIZE * 2, GFP_KERNEL);
	if (!r->slots || !r->kernel_evicted || !r->tbuf || !r->payload || !r->buf)
		return -ENOMEM;
	if (r->compressor[0]) {
		r->tfm = crypto_alloc_comp(r->compressor, 0, 0);
		if (IS_ERR(r->tfm)) {
			snprintf(r->error, sizeof(r->error), "compressor %s is not in this kernel",
				 r->compressor);
			r->tfm = NULL;
			return -ENOENT;
		}
	}
	return zb_create_pool(r);
}

static void zb_close(struct zb_run *r)
{
	u32 i;

	if (r->slots)
		for (i = 0; i < r->nslots; i++)
			if (r->slots[i].copy)
				zb_free_slot(r, &r->slots[i]);
	zb_destroy_pool(r);
	if (r->tfm)
		crypto_free_comp(r->tfm);
	if (!IS_ERR_OR_NULL(r->times)) {
		zb_flush_times(r);
		filp_close(r->times, NULL);
	}
	if (!IS_ERR_OR_NULL(r->out))
		filp_close(r->out, NULL);
	if (!IS_ERR_OR_NULL(r->in))
		filp_close(r->in, NULL);
	xa_destroy(&r->by_handle);
	kvfree(r->slots);
	kvfree(r->kernel_evicted);
	kvfree(r->tbuf);
	kvfree(r->payload);
	kvfree(r->buf);
}

static int zb_run_stream(const char *ops_path, const char *out_path)
{
	struct zb_run *r = kzalloc(sizeof(*r), GFP_KERNEL);
	struct zb_record rec;
	u64 c0, n0;
	int err;

	if (!r)
		return -ENOMEM;
	c0 = zb_now();
	n0 = ktime_get_ns();
	xa_init(&r->by_handle);
	zb_current = r;
	err = zb_open(r, ops_path, out_path);
	if (!err)
		err = zb_out(r, "zbench-uml 1\nrelease %s\nbackend %s\ncompressor %s\n",
			     utsname()->release, r->backend, r->compressor);
	while (!err) {
		if (zb_read(r, &rec, sizeof(rec))) {
			strscpy(r->error, "op stream ends without an END record", sizeof(r->error));
			err = -EIO;
			break;
		}
		if (rec.op == ZB_END)
			break;
		err = zb_step(r, &rec);
		if (!(r->ops & 1023))
			cond_resched();
	}
	if (!IS_ERR_OR_NULL(r->out)) {
		zb_out(r, "summary ops=%llu stores=%llu loads=%llu frees=%llu store_fail=%llu "
		       "mismatches=%llu evicted=%llu evict_mismatch=%llu compacted=%llu\n",
		       r->ops, r->stores, r->loads, r->frees, r->store_fail, r->mismatches,
		       r->evicted, r->evict_mismatch, r->compacted);
		zb_out(r, "clock cycles=%llu ns=%llu\n", zb_now() - c0, ktime_get_ns() - n0);
		zb_out(r, "status %s %d %s\n", err ? "error" : "ok", err,
		       r->error[0] ? r->error : "-");
	}
	zb_close(r);
	zb_current = NULL;
	kfree(r);
	return err;
}

/* "OPS_PATH OUT_PATH" written to /proc/zbench runs one stream */
static ssize_t zb_proc_write(struct file *file, const char __user *ubuf, size_t count,
			     loff_t *ppos)
{
	char cmd[512], *ops, *out;
	int err;

	if (count >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, count))
		return -EFAULT;
	cmd[count] = 0;
	out = strim(cmd);
	ops = strsep(&out, " ");
	if (!out || !*ops)
		return -EINVAL;
	out = strim(out);
	err = zb_run_stream(ops, out);
	pr_info("zbench: %s -> %s: %d\n", ops, out, err);
	return err ? err : count;
}

static const struct proc_ops zb_proc_ops = {
	.proc_write = zb_proc_write,
};

static int __init zbench_drv_init(void)
{
	return proc_create("zbench", 0200, NULL, &zb_proc_ops) ? 0 : -ENOMEM;
}
late_initcall(zbench_drv_init);
