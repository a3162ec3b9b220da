"""Every path the model gives, confined to one root directory.

A path is checked in three steps, and a step that fails refuses the path with a `PathRefused`
whose message names only the path the model gave (never where a link points):

1. **By its text**: relative, `/`-separated, no `..`, no NUL, no `~`, no drive letter or
   backslash, no hidden component (`.name`) unless hidden files are allowed.
2. **Resolved**: `os.path.realpath` follows every symbolic link; the result must lie inside the
   (resolved) root, and its components are checked by text again (a link may point at `.env`).
3. **Opened one component at a time** from a descriptor of the root, each with `O_NOFOLLOW`
   (directories also with `O_DIRECTORY`), along the resolved components. Step 2 left no link in
   them, so if one appears now, something replaced a directory after step 2 and the open fails
   instead of following it: there is no window between the check and the use (TOCTOU).

The file finally opened is checked with `fstat`: only regular files (no FIFOs, devices or
sockets) with exactly one hard link. A file with another hard link may share its inode with a
file outside the root, and from inside there is no way to tell, so such files are refused.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Generator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

__all__ = ["DIR_FLAGS", "FILE_FLAGS", "MAX_DEPTH", "SUPPORTED", "Opened", "PathRefused", "Root"]

SUPPORTED = (
    hasattr(os, "O_NOFOLLOW")
    and hasattr(os, "O_DIRECTORY")
    and {os.open, os.stat, os.mkdir, os.unlink, os.rename} <= os.supports_dir_fd
)
"""Whether this platform has what confinement needs: `O_NOFOLLOW` and `dir_fd` (POSIX)."""
MAX_DEPTH = 64
"""The most components a path may have (and how deep listings and searches go)."""
_MAX_PATH = 4096
_DRIVE = re.compile(r"^[A-Za-z]:")
FILE_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
DIR_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class PathRefused(Exception):  # noqa: N818 - a refusal, reported to the model as a tool error
    """The model's path cannot be used; the message is safe to show to the model."""


@dataclass(frozen=True, slots=True)
class Opened:
    """A regular file opened inside the root: its descriptor, `fstat` and path from the root."""

    fd: int
    stat: os.stat_result
    path: str


class Root:
    """A directory every path is confined to.

    Args:
        path: The root directory; resolved (symbolic links followed) once, here.
        allow_hidden: Accept components starting with `.` (`.env`, `.git`...).

    Raises:
        NotADirectoryError: `path` is not an existing directory.
    """

    def __init__(self, path: str | os.PathLike[str], *, allow_hidden: bool = False) -> None:
        real: str = os.path.realpath(os.fspath(path))
        if not os.path.isdir(real):
            raise NotADirectoryError(f"{os.fspath(path)!r} is not a directory")
        self.real = real
        self.allow_hidden = allow_hidden

    # --- step 1 and 2 ----------------------------------------------------------------------

    def parts(self, path: str) -> tuple[str, ...]:
        """The components of `path` after checking its text (step 1); `()` is the root itself."""
        if not isinstance(path, str):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise PathRefused("A path must be a string.")
        if "\x00" in path:
            raise PathRefused("A path cannot contain a NUL character.")
        try:
            os.fsencode(path)
        except UnicodeError:
            raise PathRefused("A path must be valid text (it has unpaired surrogates).") from None
        if "\\" in path or _DRIVE.match(path):
            raise PathRefused(
                f"{path!r}: use a relative path with '/' as the separator (no drive letter or "
                "backslash)."
            )
        if path.startswith("/"):
            raise PathRefused(
                f"{path!r} is absolute; paths are relative to the root directory (use 'a/b.txt', "
                "or '.' for the root)."
            )
        if len(path) > _MAX_PATH:
            raise PathRefused(f"The path is longer than {_MAX_PATH} characters.")
        parts = tuple(p for p in path.split("/") if p not in ("", "."))
        if len(parts) > MAX_DEPTH:
            raise PathRefused(f"The path has more than {MAX_DEPTH} components.")
        for part in parts:
            if part == "..":
                raise PathRefused(f"{path!r} contains '..'; paths cannot leave the root directory.")
            if part.startswith("~"):
                raise PathRefused(
                    f"{path!r}: '~' is not expanded; paths are relative to the root directory."
                )
            if part.startswith(".") and not self.allow_hidden:
                raise PathRefused(f"{path!r}: hidden files and directories are not accessible.")
        return parts

    def resolve(
        self, path: str, parts: tuple[str, ...], *, missing_ok: bool = False
    ) -> tuple[str, ...]:
        """Step 2: the components of the real path of `parts`, relative to the root.

        Symbolic links are followed; the result must stay inside the root and pass the text
        check again. With `missing_ok` (a file or folder about to be made), missing trailing
        components are kept as they are; otherwise a missing one refuses the path.
        """
        joined = os.path.join(self.real, *parts)
        try:
            real = os.path.realpath(joined, strict=True)
        except OSError as e:
            if e.errno == errno.ELOOP:
                # Without `strict`, realpath would stop at the loop and collapse the rest of the
                # link's target lexically (`loop/../x` as `x`), where the kernel fails.
                raise PathRefused(f"{path!r} goes through a symbolic link that loops.") from None
            if not missing_ok or e.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise _refusal(path, e) from None
            real = os.path.realpath(joined)  # a missing tail (a file or folder to create)
        if real == self.real:
            return ()
        rel = os.path.relpath(real, self.real)
        if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
            raise PathRefused(f"{path!r} leads outside the root directory.")
        resolved = tuple(rel.split(os.sep))
        # The walk descends by these names from the root's descriptor: plain names only.
        if any(p in ("", ".", "..") for p in resolved):
            raise PathRefused(f"{path!r} leads outside the root directory.")
        if not self.allow_hidden and any(p.startswith(".") for p in resolved):
            raise PathRefused(
                f"{path!r} leads to a hidden file or directory, which is not accessible."
            )
        return resolved

    # --- step 3 ------------------------------------------------------------------------------

    @contextmanager
    def directory(
        self, path: str, parts: tuple[str, ...], *, create: bool = False
    ) -> Generator[int]:
        """A descriptor of the directory at resolved `parts`, opened without following links.

        With `create`, missing directories are made (each made, then opened with `O_NOFOLLOW`).
        """
        fd = os.open(self.real, DIR_FLAGS)
        try:
            for part in parts:
                try:
                    child = os.open(part, DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise PathRefused(f"{path!r}: no such directory.") from None
                    with suppress(FileExistsError):  # made meanwhile: the open checks it
                        os.mkdir(part, 0o777, dir_fd=fd)
                    child = _open_dir_step(path, part, fd)
                except OSError as e:
                    raise _refusal(path, e, _is_link(part, fd)) from None
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def open_file(self, path: str, *, resolved: tuple[str, ...] | None = None) -> Opened:
        """Open the regular file at `path` for reading; the caller closes `Opened.fd`."""
        if resolved is None:
            resolved = self.resolve(path, self.parts(path))
        if not resolved:
            raise PathRefused(f"{path!r} is the root directory, not a file.")
        with self.directory(path, resolved[:-1]) as parent:
            name = resolved[-1]
            try:
                # Not opened at all unless a regular file: opening a FIFO or a device can block
                # or act on the device. The fstat below is the check that counts.
                before = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                raise PathRefused(f"{path!r}: no such file.") from None
            except OSError as e:
                raise _refusal(path, e) from None
            _check_regular(path, before)
            try:
                fd = os.open(name, FILE_FLAGS, dir_fd=parent)
            except OSError as e:
                raise _refusal(path, e) from None
        try:
            st = os.fstat(fd)
            _check_regular(path, st)
        except BaseException:
            os.close(fd)
            raise
        return Opened(fd, st, "/".join(resolved))

    def display(self, resolved: tuple[str, ...]) -> str:
        """How a resolved path is shown to the model: relative to the root, `/`-separated."""
        return "/".join(resolved) or "."


def _open_dir_step(path: str, part: str, fd: int) -> int:
    try:
        return os.open(part, DIR_FLAGS, dir_fd=fd)
    except OSError as e:
        raise _refusal(path, e, _is_link(part, fd)) from None


def _is_link(part: str, fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _check_regular(path: str, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise PathRefused(f"{path!r} is a directory; use list_files for directories.")
    if stat.S_ISLNK(st.st_mode):
        raise PathRefused(f"{path!r} is a symbolic link that changed while it was being opened.")
    if not stat.S_ISREG(st.st_mode):
        raise PathRefused(f"{path!r} is not a regular file (a FIFO, socket or device).")
    if st.st_nlink > 1:
        raise PathRefused(
            f"{path!r} has more than one hard link, which may lead outside the root directory; "
            "such files are not accessible."
        )


def _refusal(path: str, error: OSError, link: bool = False) -> PathRefused:
    """The model-safe message of an `OSError` met while opening `path` (no other path in it).

    `link`: the component that failed is a symbolic link (step 2 resolved every link, so one
    there now was put there after the check, or loops).
    """
    if link or error.errno == errno.ELOOP:
        return PathRefused(
            f"{path!r} goes through a symbolic link that loops or changed while it was being "
            "opened."
        )
    if error.errno == errno.ENOTDIR:
        return PathRefused(f"{path!r}: a component of the path is not a directory.")
    if error.errno == errno.ENOENT:
        return PathRefused(f"{path!r}: no such file or directory.")
    if error.errno in (errno.EACCES, errno.EPERM):
        return PathRefused(f"{path!r}: permission denied.")
    if error.errno == errno.ENAMETOOLONG:
        return PathRefused(f"{path!r}: the name is too long.")
    return PathRefused(f"{path!r}: {os.strerror(error.errno or 0) or 'cannot be opened'}.")
