"""Plugin discovery and containment.

Plugins are found through the entry-point group ``zbench``.  Each is loaded
on its own: an import error, a misspelt hook or an exception in a
``register_*`` hook marks that plugin *broken* (with its cause) and nothing
else.  ``ZBENCH_LOAD_PLUGINS`` (comma-separated entry-point or distribution
names) allow-lists plugins; ``ZBENCH_DISABLE_PLUGINS`` blocks them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal, overload

import pluggy

from zbench.api import hookspecs
from zbench.api.allocator import Allocator
from zbench.api.compressor import Compressor
from zbench.api.errors import PluginError
from zbench.api.frontend import FrontEnd
from zbench.api.metrics import BY_NAME as CORE_METRICS
from zbench.api.metrics import MetricDef, merged
from zbench.api.reporter import Reporter, ReportTable
from zbench.api.workload import Workload

GROUP = "zbench"
LOAD_ENV = "ZBENCH_LOAD_PLUGINS"
DISABLE_ENV = "ZBENCH_DISABLE_PLUGINS"
IMPORT_TIMEOUT_ENV = "ZBENCH_IMPORT_TIMEOUT"
DEFAULT_IMPORT_TIMEOUT = 10.0

#: kind -> (registration hook, required base class)
KINDS: dict[str, tuple[str, type]] = {
    "allocator": ("register_allocators", Allocator),
    "frontend": ("register_frontends", FrontEnd),
    "compressor": ("register_compressors", Compressor),
    "workload": ("register_workloads", Workload),
    "reporter": ("register_reporters", Reporter),
    "table": ("register_tables", ReportTable),
}


@dataclass
class PluginRecord:
    """One plugin as ``zbench plugins`` shows it."""

    name: str
    module: str
    dist: str
    version: str
    status: str = "ok"  # ok | broken | blocked
    error: str = ""
    provides: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.dist,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "provides": [{"kind": k, "name": n} for k, n in self.provides],
        }


@dataclass
class Registered:
    cls: type
    plugin: PluginRecord


def _env_names(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None:
        return None
    return {n.strip() for n in raw.split(",") if n.strip()}


def describe_exc(exc: BaseException) -> str:
    """``Type: first line of the message``: an exception as one line."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def import_timeout() -> float:
    """Seconds a plugin may take to import: ``$ZBENCH_IMPORT_TIMEOUT``, else 10."""
    raw = os.environ.get(IMPORT_TIMEOUT_ENV)
    try:
        value = float(raw) if raw is not None else DEFAULT_IMPORT_TIMEOUT
    except ValueError:
        value = DEFAULT_IMPORT_TIMEOUT
    return value if value > 0 else DEFAULT_IMPORT_TIMEOUT


class _ImportTimedOut(Exception):
    pass


def _load_watched(ep: EntryPoint, timeout: float) -> object:
    """``ep.load()`` in a daemon thread, given up after ``timeout`` seconds (the thread is
    left behind, blocked in the plugin's import, and dies with the process)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["obj"] = ep.load()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["exc"] = exc

    t = threading.Thread(target=target, name=f"zbench-import-{ep.name}", daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise _ImportTimedOut(f"import timed out after {timeout:g} s")
    if "exc" in box:
        raise box["exc"]
    return box["obj"]


class Registry:
    """Name -> class tables for every plugin kind, plus the plugin list."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginRecord] = []
        self._by_kind: dict[str, dict[str, Registered]] = {k: {} for k in KINDS}
        #: metric definitions plugins registered (``register_metrics``), in order
        self._metrics: dict[str, tuple[MetricDef, PluginRecord]] = {}

    # -- loading ----------------------------------------------------------
    def load_entry_points(self, eps: Iterable[EntryPoint] | None = None) -> None:
        """Load every plugin of the ``zbench`` group, each contained on its own."""
        allow = _env_names(LOAD_ENV)
        block = _env_names(DISABLE_ENV) or set()
        if eps is None:
            eps = entry_points(group=GROUP)
        timeout = import_timeout()
        for ep in sorted(eps, key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else "?"
            version = ep.dist.version if ep.dist is not None else "?"
            rec = PluginRecord(ep.name, ep.value, dist, version)
            self.plugins.append(rec)
            names = {ep.name, dist}
            if (allow is not None and not names & allow) or names & block:
                rec.status = "blocked"
                by_allow = allow is not None and not names & allow
                rec.error = f"blocked by {LOAD_ENV if by_allow else DISABLE_ENV}"
                continue
            try:
                obj = _load_watched(ep, timeout)
            except _ImportTimedOut as exc:
                rec.status, rec.error = "broken", str(exc)
                continue
            except BaseException as exc:  # noqa: BLE001 - any failure is contained
                if isinstance(exc, KeyboardInterrupt):
                    raise
                rec.status, rec.error = "broken", f"import failed: {describe_exc(exc)}"
                continue
            self._register(obj, rec)

    def register_plugin(
        self, obj: object, name: str, dist: str = "(local)", version: str = "0"
    ) -> PluginRecord:
        """Register a plugin object directly (tests, ``zbench.testing``)."""
        rec = PluginRecord(name, getattr(obj, "__name__", repr(obj)), dist, version)
        self.plugins.append(rec)
        self._register(obj, rec)
        return rec

    def _register(self, obj: object, rec: PluginRecord) -> None:
        added: list[tuple[str, str]] = []
        metrics: list[str] = []
        try:
            self.pm.register(obj, name=rec.name)
            self.pm.check_pending()  # a hook no spec knows: misspelt
            for kind, (hook, _base) in KINDS.items():
                for hi in getattr(self.pm.hook, hook).get_hookimpls():
                    if hi.plugin is obj:
                        hi.function(register=self._registrar(kind, rec, added))
            self._register_metrics(obj, rec, metrics)
        except BaseException as exc:  # noqa: BLE001
            if isinstance(exc, KeyboardInterrupt):
                raise
            for kind, name in added:
                self._by_kind[kind].pop(name, None)
            for name in metrics:
                self._metrics.pop(name, None)
            if self.pm.is_registered(obj):
                self.pm.unregister(obj)
            rec.status, rec.error = "broken", f"registration failed: {describe_exc(exc)}"
            rec.provides = []
            return
        rec.provides = added

    def _registrar(
        self, kind: str, rec: PluginRecord, added: list[tuple[str, str]]
    ) -> Callable[[type], None]:
        base = KINDS[kind][1]

        def register(cls: type) -> None:
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise PluginError(f"{kind} {cls!r} is not a subclass of zbench.{base.__name__}")
            name = getattr(cls, "name", None)
            if not isinstance(name, str) or not name:
                raise PluginError(f"{kind} class {cls.__name__} has no 'name'")
            have = self._by_kind[kind].get(name)
            if have is not None:
                raise PluginError(
                    f"{kind} {name!r} is already provided by plugin {have.plugin.name} "
                    f"({have.plugin.dist} {have.plugin.version})"
                )
            self._by_kind[kind][name] = Registered(cls, rec)
            added.append((kind, name))

        return register

    def _register_metrics(self, obj: object, rec: PluginRecord, added: list[str]) -> None:
        """Call ``obj``'s ``register_metrics``: each definition once, a name the core or
        another plugin defines is refused (the plugin is then broken)."""
        def register(d: MetricDef) -> None:
            if not isinstance(d, MetricDef):
                raise PluginError(f"metric {d!r} is not a zbench.MetricDef")
            if d.name in self._metrics or d.name in CORE_METRICS:
                raise PluginError(f"metric {d.name!r} is already defined")
            self._metrics[d.name] = (d, rec)
            added.append(d.name)

        for hi in self.pm.hook.register_metrics.get_hookimpls():
            if hi.plugin is obj:
                hi.function(register=register)

    def metrics(self) -> tuple[MetricDef, ...]:
        """Every metric definition, the core's and the healthy plugins', in table order
        (:func:`zbench.api.metrics.merged`)."""
        return merged(d for d, _rec in self._metrics.values())

    # -- lookup -----------------------------------------------------------
    def names(self, kind: str) -> list[str]:
        return sorted(self._by_kind[kind])

    @overload
    def get(self, kind: Literal["allocator"], name: str) -> type[Allocator]: ...
    @overload
    def get(self, kind: Literal["frontend"], name: str) -> type[FrontEnd]: ...
    @overload
    def get(self, kind: Literal["reporter"], name: str) -> type[Reporter]: ...
    @overload
    def get(self, kind: str, name: str) -> type: ...

    def get(self, kind: str, name: str) -> type:
        """The class registered as ``name`` (typed by ``kind``: ``get("allocator", n)`` is a
        ``type[Allocator]``); a clear PluginError otherwise."""
        reg = self._by_kind[kind].get(name)
        if reg is not None:
            return reg.cls
        for rec in self.plugins:
            if rec.status != "ok" and name in (rec.name, rec.dist):
                raise PluginError(
                    f"{kind} {name!r} is provided by plugin {rec.name} ({rec.dist} "
                    f"{rec.version}), which is {rec.status}: {rec.error}"
                )
        known = ", ".join(self.names(kind)) or "none"
        broken = [r for r in self.plugins if r.status == "broken"]
        hint = ""
        if broken:
            hint = "; broken plugins: " + "; ".join(f"{r.name} ({r.error})" for r in broken)
        raise PluginError(f"unknown {kind} {name!r} (known: {known}){hint}")

    def engines(self) -> dict[str, list[dict[str, str]]]:
        """Per plugin name, its allocators' native engines and its compressors' C faces
        (``engine_status`` of each: which runs a batch, or why the Python model does)."""
        out: dict[str, list[dict[str, str]]] = {}
        for kind in ("allocator", "compressor"):
            for name in self.names(kind):
                cls: type[Allocator] | type[Compressor] = self.get(kind, name)
                try:
                    status = cls.engine_status()
                except Exception as exc:  # noqa: BLE001 - a broken plugin's class says so
                    status = f"engine status failed: {describe_exc(exc)}"
                if status:
                    out.setdefault(self.provider(kind, name).name, []).append(
                        {"kind": kind, "name": name, "status": status})
        return out

    def provider(self, kind: str, name: str) -> PluginRecord:
        return self._by_kind[kind][name].plugin

    def register_commands(self, cli: Any) -> None:
        """Let each healthy plugin add click commands; a failing one is marked broken."""
        for hi in self.pm.hook.register_commands.get_hookimpls():
            rec = next((r for r in self.plugins if r.name == hi.plugin_name), None)
            try:
                hi.function(cli=cli)
            except Exception as exc:  # noqa: BLE001
                if rec is not None:
                    rec.status, rec.error = "broken", f"register_commands: {describe_exc(exc)}"


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded from entry points on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        reg = Registry()
        reg.load_entry_points()
        _REGISTRY = reg
    return _REGISTRY


def reset_registry(registry: Registry | None = None) -> None:
    """Replace (or drop) the process-wide registry (for tests)."""
    global _REGISTRY
    _REGISTRY = registry
