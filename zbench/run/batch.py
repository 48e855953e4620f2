"""A case in one batch (:mod:`zbench.api.sized`): the workload's operations turned into a
:class:`~zbench.api.sized.SizedBatch` and handed to the front end; for a case that keeps
the pages' bytes, with the pages and their cached compressed forms
(:class:`~zbench.api.sized.PayloadPages`).

Only the operations a batch can carry are taken: stores (of corpus pages, clean or not),
loads, invalidations, compactions and phases.  Whether a case can run this way is known before its
first operation: the workload declares its kinds (``Workload.op_kinds``) and the front
end answers for itself and its allocator (``FrontEnd.sizes_engine``)."""

from __future__ import annotations

from array import array
from itertools import islice

from zbench.api.errors import PluginError
from zbench.api.pagefill import same_filled_word
from zbench.api.sized import (
    NOT_FILLED,
    PHASE,
    STORE,
    STORE_CLEAN,
    WORD_FILLED,
    ZERO_FILLED,
    PayloadPages,
    SizedBatch,
    native_allowed,
)
from zbench.api.workload import OP_CODE, OpArrays, OpKind, Workload
from zbench.input.compcache import CompressedPages
from zbench.input.corpus import Corpus

#: what a batch carries
BATCH_KINDS = frozenset({OpKind.STORE, OpKind.LOAD, OpKind.INVALIDATE, OpKind.COMPACT,
                         OpKind.PHASE})
_CODES = frozenset(OP_CODE[k] for k in BATCH_KINDS)
#: operations taken from a workload's generator at a time
_CHUNK = 1 << 16


def batchable(workload: type[Workload]) -> bool:
    """A workload that declares only batch kinds, no sized stores (the front end answers
    for the rest: ``FrontEnd.sizes_engine``)."""
    kinds = workload.op_kinds
    return (native_allowed() and kinds is not None and kinds <= BATCH_KINDS
            and not workload.sized_stores)


def _fill_code(data: bytes) -> int:
    word = same_filled_word(data)
    return NOT_FILLED if word is None else ZERO_FILLED if word == 0 else WORD_FILLED


def _from_generator(workload: Workload, n_pages: int) -> OpArrays:
    """``operations()`` gathered into arrays, a chunk of operations at a time."""
    kinds, offsets, pages = array("b"), array("q"), array("q")
    labels: dict[int, str] = {}
    it = workload.operations(n_pages)
    while chunk := list(islice(it, _CHUNK)):
        k, off, pg, lab, size = zip(*chunk, strict=True)
        if any(size):
            raise PluginError(f"workload {workload.name}: a sized store in a case run as "
                              "one batch (it does not declare sized_stores)")
        base = len(kinds)
        kinds.extend([OP_CODE[x] for x in k])
        offsets.extend(off)
        pages.extend(pg)
        labels.update({base + j: x for j, x in enumerate(lab) if x})
    return OpArrays(kinds, offsets, pages, labels)


def build_batch(workload: Workload, corpus: Corpus, comp: CompressedPages,
                payload: bool = False, verify: bool = False) -> SizedBatch:
    """Every operation of the workload (``op_arrays``, else ``operations``), and for each
    store its page's fill code (taken once per dump page) and compressed size
    (``CompressedPages.source_sizes``: what the sizes-only page's ``compressed`` is); a
    kind the workload did not declare fails the case.  With ``payload`` the pages'
    bytes too (:func:`_payload`)."""
    ops = workload.op_arrays(corpus.n_pages) or _from_generator(workload, corpus.n_pages)
    declared = {OP_CODE[k] for k in type(workload).op_kinds or ()}
    bad = set(ops.kinds) - (declared & _CODES)
    if bad:
        names = sorted(k.name for k, c in OP_CODE.items() if c in bad)
        raise PluginError(f"workload {workload.name}: yielded {', '.join(names)}, which "
                          "its op_kinds do not declare")
    dump = corpus.dump
    fills = [_fill_code(dump.page(s)) for s in range(dump.n_pages)]
    fills += [ZERO_FILLED if w == 0 else WORD_FILLED for w in reversed(corpus.injected_words())]
    sizes = comp.source_sizes()
    order = corpus.order
    srcs = [order[p] for p in ops.pages]  # a phase's or an invalidation's page is 0: unused
    kinds = array("b", ops.kinds)
    for i, label in ops.labels.items():
        if label == "clean" and kinds[i] == STORE:
            kinds[i] = STORE_CLEAN
    return SizedBatch(kinds=kinds, offsets=ops.offsets,
                      sizes=array("i", [sizes[s] for s in srcs]),
                      fill=array("b", [fills[s] for s in srcs]),
                      labels={i: x for i, x in ops.labels.items() if kinds[i] == PHASE},
                      payload=_payload(corpus, comp, srcs, verify) if payload else None)


def _payload(corpus: Corpus, comp: CompressedPages, srcs: list[int],
             verify: bool) -> PayloadPages:
    """The source pages once each (the dump's own buffer, then one page per injected
    fill word: a million-page corpus of a small dump holds a few thousand), each store's
    source among them, and the cached compressed pages (``CompressedPages.source_blobs``)
    in the same order."""
    dump, words = corpus.dump, corpus.injected_words()
    n_dump = dump.n_pages
    distinct = sorted(set(words))
    at = {w: n_dump + k for k, w in enumerate(distinct)}
    # source table entry -> its page: ``srcs`` index the dump (>= 0) or, from the end,
    # the injected pages (source_sizes' order: words reversed)
    tail = [at[w] for w in reversed(words)]
    sources = array("q", [s if s >= 0 else tail[s] for s in srcs])
    blobs_by_src = comp.source_blobs()
    fills = [w.to_bytes(8, "little") * (corpus.page_size // 8) for w in distinct]
    pages = getattr(dump, "data", None)  # a Dump's pages back to back: no copy
    if not isinstance(pages, bytes) or len(pages) != n_dump * corpus.page_size:
        pages = b"".join(dump.page(s) for s in range(n_dump))
    order = [*blobs_by_src[:n_dump],
             *(blobs_by_src[len(blobs_by_src) - 1 - words.index(w)] for w in distinct)]
    offs = array("q", [0])
    for b in order:
        offs.append(offs[-1] + len(b))
    return PayloadPages(pages=pages, extra=b"".join(fills), sources=sources,
                        blobs=b"".join(order), blob_offs=offs, verify=verify)
