"""Walking a directory tree inside the root without ever following a symbolic link.

Each directory is opened from its parent's descriptor with `O_NOFOLLOW | O_DIRECTORY` and listed
with `os.scandir(fd)`, so the walk cannot leave the directory it started in: a link is reported
as a link, never entered. Files are opened the same way (`open_entry`) and checked with `fstat`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Entry", "WalkLimits", "open_entry", "walk"]

from covey.tools.files._confine import DIR_FLAGS, FILE_FLAGS


@dataclass(frozen=True, slots=True)
class Entry:
    """One directory entry met by `walk`."""

    dir_fd: int
    """The open directory it is in (valid only until the walk moves on)."""
    name: str
    path: str
    """Its path from the root, `/`-separated."""
    kind: str
    """`file`, `dir`, `symlink` or `other` (FIFO, socket, device), from `lstat`."""
    size: int


@dataclass(slots=True)
class WalkLimits:
    """How far a walk may go; `examined` counts the entries seen so far."""

    max_entries: int
    max_depth: int
    examined: int = 0

    @property
    def exhausted(self) -> bool:
        return self.examined >= self.max_entries


def walk(
    dir_fd: int,
    prefix: str,
    *,
    recursive: bool,
    allow_hidden: bool,
    limits: WalkLimits,
    depth: int = 0,
) -> Iterator[Entry]:
    """Entries under the open directory `dir_fd` (whose path from the root is `prefix`), sorted
    by name, depth first. Hidden entries are skipped unless `allow_hidden`; unreadable
    subdirectories are skipped."""
    try:
        with os.scandir(dir_fd) as it:
            found = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    for item in found:
        if limits.exhausted:
            return
        if item.name.startswith(".") and not allow_hidden:
            continue
        limits.examined += 1
        try:
            st = item.stat(follow_symlinks=False)
        except OSError:
            continue
        path = f"{prefix}/{item.name}" if prefix else item.name
        kind = _kind(st.st_mode)
        yield Entry(dir_fd, item.name, path, kind, st.st_size if kind == "file" else 0)
        if recursive and kind == "dir" and depth + 1 < limits.max_depth:
            try:
                child = os.open(item.name, DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                continue  # replaced by a link meanwhile, or unreadable: not entered
            try:
                yield from walk(
                    child,
                    path,
                    recursive=True,
                    allow_hidden=allow_hidden,
                    limits=limits,
                    depth=depth + 1,
                )
            finally:
                os.close(child)


def open_entry(entry: Entry) -> tuple[int, os.stat_result] | None:
    """Open a `file` entry for reading, or `None` if it is no longer a regular file with one
    link (the same rule as `Root.open_file`)."""
    try:
        fd = os.open(entry.name, FILE_FLAGS, dir_fd=entry.dir_fd)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_nlink > 1:
        os.close(fd)
        return None
    return fd, st


def _kind(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"
