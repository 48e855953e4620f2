"""The workload interface: a seeded stream of front-end operations.

A workload never sees page contents.  It is told how many distinct pages the
corpus has (the dump's pages plus any injected same-filled pages) and yields
:class:`Op` records naming a swap offset and a corpus page.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterator, Sequence
from typing import ClassVar, Literal, NamedTuple

from pydantic import Field

from zbench.api.options import PluginOptions


class OpKind(enum.Enum):
    STORE = "store"  # swap-out / zram write of corpus page ``page`` at ``offset``
    LOAD = "load"  # swap-in / zram read of ``offset``
    INVALIDATE = "invalidate"  # swap slot freed / zram discard of ``offset``
    COMPACT = "compact"  # run the allocator's compaction
    MIGRATE = "migrate"  # a migratability experiment named by ``label`` (zbench.sim.experiments)
    PHASE = "phase"  # end of a named phase: the runner snapshots the pool


#: OpKind -> a small integer, for operations in arrays (:class:`OpArrays`)
OP_CODE: dict[OpKind, int] = {kind: i for i, kind in enumerate(OpKind)}


class OpArrays(NamedTuple):
    """:meth:`Workload.operations` in arrays (:meth:`Workload.op_arrays`): operation ``i``
    is of kind ``kinds[i]`` (an :data:`OP_CODE`) at ``offsets[i]`` with corpus page
    ``pages[i]`` (0 where the kind has none), and ``labels[i]`` where its label is not
    empty (a phase's name, ``"clean"``)."""

    kinds: Sequence[int]
    offsets: Sequence[int]
    pages: Sequence[int]
    labels: dict[int, str]


class Op(NamedTuple):
    """One operation.  ``label`` names a PHASE; on a STORE, ``"clean"`` says the page
    is unchanged since it was loaded from ``offset`` (see ``Page.clean``).  A STORE
    with ``size > 0`` stores a stand-in page whose compressed form is exactly ``size``
    bytes (a size trace replayed without pages); ``page`` is then ignored."""

    kind: OpKind
    offset: int = 0
    page: int = 0
    label: str = ""
    size: int = 0


class WorkloadOptions(PluginOptions):
    """Options every workload has: the share of injected same-filled pages.

    Live captures hold < 1 % same-filled pages (docs/dumps.md); fleets report 10–20 %
    in zswap ("zswap: same-filled pages handling", 2017; Meta's fleet, 2024), so the
    share is a parameter, not baked into dumps.
    """

    zero_filled_pct: float = Field(0.0, ge=0, lt=100, description="zero-filled pages, % of corpus")
    same_filled_pct: float = Field(
        0.0, ge=0, lt=100, description="non-zero same-filled pages, % of corpus"
    )
    scale_pages: int | None = Field(
        None, ge=1, le=1 << 26,
        description="corpus size in pages: the dump's pages sampled (seeded, with "
                    "replacement) up to this many, before injected pages are added",
    )
    payload: Literal["bytes", "sizes"] = Field(
        "bytes",
        description="bytes: the real compressed bytes are stored and loads decompress them; "
                    "sizes: stand-ins of the cached compressed sizes are stored and loads "
                    "are not decompressed (same metrics, faster; ignored with --verify)",
    )


class Workload(abc.ABC):
    """Base class of workload plugins."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Options: ClassVar[type[WorkloadOptions]] = WorkloadOptions
    #: True for the one plugin of this kind an ad-hoc ``zbench run`` (no SUITE) uses when
    #: the flags name none (the built-ins: zsmalloc, lz4, fill).
    adhoc_default: ClassVar[bool] = False
    #: True if the workload emits STOREs with an explicit compressed ``size``.
    sized_stores: ClassVar[bool] = False
    #: The kinds of operation :meth:`operations` yields, when the workload declares them:
    #: a sizes-only case of a workload that yields only STORE, LOAD, INVALIDATE and PHASE may
    #: run in one batch on a native engine (:mod:`zbench.api.sized`).  ``None`` (the
    #: default): not declared, the case runs operation by operation.  A workload that
    #: yields a kind it did not declare fails its case.
    op_kinds: ClassVar[frozenset[OpKind] | None] = None

    def __init__(self, options: WorkloadOptions, seed: int) -> None:
        self.options = options
        self.seed = seed

    def check(self, n_pages: int) -> None:
        """Called for every dump before the first case runs, with the size of the corpus
        the workload will get: raise :class:`~zbench.api.errors.UserError` if the workload
        cannot run on it (a trace naming a page beyond it, say).  The default accepts
        any corpus."""
        return None

    @abc.abstractmethod
    def operations(self, n_pages: int) -> Iterator[Op]:
        """Yield the operations for a corpus of ``n_pages`` pages."""

    def op_arrays(self, n_pages: int) -> OpArrays | None:
        """The same operations as :meth:`operations`, in arrays, for a workload that can
        give them so (a million-page sizes-only batch then takes no Python object per
        operation); ``None`` (the default): the run iterates :meth:`operations`.  Both
        must give the same operations; no sized stores here (``Op.size``)."""
        return None
