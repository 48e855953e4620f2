"""``zbench dict train``: a zstd dictionary from half of a dump's pages.

zram (Linux 6.12) takes a pre-trained dictionary through ``algorithm_params``; the
way to make one is zstd's trainer (``zstd --train``, ZDICT) over sample pages.  Half
the dump trains, the other half is what the dictionary should be measured on: pages
it has not seen, as a device's later pages are.  Same-filled pages are left out of
the samples, because zram never compresses them (``page_same_filled`` in
drivers/block/zram/zram_drv.c stores the fill word instead).
"""

from __future__ import annotations

from pathlib import Path

import click
import zstandard

from zbench import UserError, load_dump, same_filled_word, write_atomic

#: the halves a dump splits into: the trainer gets one, a measurement the other
HALVES = ("first", "even")


def training_pages(n_pages: int, half: str) -> range:
    """Indexes of the pages that train: the first half, or the even-indexed pages (which
    spreads the samples over every source of a dump made of runs, as the shipped one)."""
    return range(n_pages // 2) if half == "first" else range(0, n_pages, 2)


def held_out_pages(n_pages: int, half: str) -> range:
    """Indexes of the other half: the pages a dictionary trained on ``half`` never saw."""
    return range(n_pages // 2, n_pages) if half == "first" else range(1, n_pages, 2)


@click.group("dict")
def dict_group() -> None:
    """Compression dictionaries for the zstd and lz4 compressors' dictionary option."""


@dict_group.command("train")
@click.argument("dump", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the dictionary (atomically).")
@click.option("--size", type=click.IntRange(256, 1 << 20), default=16384, show_default=True,
              help="Dictionary size in bytes (ZDICT's dictBufferCapacity).")
@click.option("--half", type=click.Choice(HALVES), default="first", show_default=True,
              help="Pages to train on: the first half, or the even-indexed pages.")
def train_cmd(dump: Path, out: Path, size: int, half: str) -> None:
    """Train a zstd dictionary from one half of DUMP's pages (python-zstandard's
    train_dictionary, zstd's ZDICT) and write it to --out; measure it on the other half."""
    d = load_dump(dump)
    picked = training_pages(d.n_pages, half)
    samples: list[bytes | bytearray | memoryview] = [
        p for p in (d.page(i) for i in picked) if same_filled_word(p) is None]
    if not samples:
        raise UserError(f"{dump}: no page of the {half} half to train on "
                               "(every one is same-filled)")
    try:
        trained = zstandard.train_dictionary(size, samples)
    except zstandard.ZstdError as exc:
        raise UserError(f"{dump}: zstd cannot train a {size}-byte dictionary from "
                               f"{len(samples)} pages ({exc})") from None
    data = trained.as_bytes()
    write_atomic(out, data, mode=0o644)  # a dictionary is no secret: zram reads it
    click.echo(f"{out}: {len(data)}-byte zstd dictionary (id {trained.dict_id()}) from "
               f"{len(samples)} of {d.n_pages} pages ({half} half, "
               f"{len(picked) - len(samples)} same-filled left out)")
