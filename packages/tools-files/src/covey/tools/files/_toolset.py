"""`FileToolset`: read, list and search (and, when enabled, write and delete) files in one root."""

from __future__ import annotations

import fnmatch
import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Annotated, Any, Literal

from pydantic import Field

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.function_toolset import FunctionToolset
from covey.spec.tools import ToolDefinition, ToolResult, Toolset
from covey.tools.files._confine import MAX_DEPTH, SUPPORTED, PathRefused, Root
from covey.tools.files._walk import Entry, WalkLimits, open_entry, walk

__all__ = ["FileToolset"]

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BINARY_SNIFF = 8192
_MAX_LINE_SHOWN = 400
_MAX_QUERY = 1000


class FileToolset(Toolset):
    """Tools to read, list and search files inside one root directory; optionally to write.

    Every path the model gives is relative to `root` and confined to it: it is resolved with
    symbolic links followed and must stay inside the root, then opened one component at a time
    without following links, so a directory swapped for a link meanwhile is refused rather than
    followed. Absolute paths, `..`, `~`, hidden names (unless `allow_hidden`), FIFOs, devices and
    files with more than one hard link are refused. Refusals and missing files come back to the
    model as error results (`ToolResult(is_error=True)`) that never name anything outside the
    root. File I/O runs in worker threads.

    Args:
        root: The directory the tools work in (resolved once, here).
        write: Offer `write_file`. Off by default: a read-only toolset does not even list it.
        delete: Offer `delete_file` (only with `write=True`).
        max_read_bytes: The most text one `read_file` call returns; longer files are read in
            pages (`offset`/`limit`, in lines).
        max_file_bytes: Larger files are neither read nor searched.
        max_write_bytes: The largest content `write_file` accepts (UTF-8 bytes).
        max_results: The most entries `list_files` and matches `search_files` return.
        max_scan_entries: The most directory entries one listing or search examines.
        search_timeout: Seconds one `search_files` call may spend (regular expressions run with
            this as their timeout, so a pattern cannot backtrack for ever).
        allow_hidden: Accept names starting with `.` (`.env`, `.git`): off by default.
        id: The toolset's name, the prefix its tools get when their names clash.

    Raises:
        ConfigurationError: `root` is not a directory, or an option is out of range.

    Example:
        ```python
        toolset = FileToolset("docs")  # read_file, list_files, search_files
        editor = FileToolset("workspace", write=True)  # and write_file
        ```
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = ".",
        *,
        write: bool = False,
        delete: bool = False,
        max_read_bytes: int = 100_000,
        max_file_bytes: int = 10_000_000,
        max_write_bytes: int = 1_000_000,
        max_results: int = 200,
        max_scan_entries: int = 20_000,
        search_timeout: float = 10.0,
        allow_hidden: bool = False,
        id: str = "files",
    ) -> None:
        for name, value in (
            ("max_read_bytes", max_read_bytes),
            ("max_file_bytes", max_file_bytes),
            ("max_write_bytes", max_write_bytes),
            ("max_results", max_results),
            ("max_scan_entries", max_scan_entries),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ConfigurationError(
                    f"FileToolset: {name} must be a positive int, got {value!r}."
                )
        if not search_timeout > 0:
            raise ConfigurationError(
                f"FileToolset: search_timeout must be a positive number of seconds, got "
                f"{search_timeout!r}."
            )
        if delete and not write:
            raise ConfigurationError("FileToolset: delete=True needs write=True as well.")
        if not _ID.fullmatch(id):
            raise ConfigurationError(
                f"FileToolset: id {id!r} must be 1-64 letters, digits, '_' or '-'."
            )
        if not SUPPORTED:
            raise ConfigurationError(
                "FileToolset needs O_NOFOLLOW and dir_fd support (Linux, macOS, other POSIX "
                "systems) to confine paths; this platform has not got them."
            )
        try:
            self._root = Root(root, allow_hidden=allow_hidden)
        except (OSError, ValueError) as e:
            raise ConfigurationError(
                f"FileToolset: the root {os.fspath(root)!r} is not an existing directory ({e})."
            ) from None
        self.id = id
        self.write = write
        self.delete = delete
        self.max_read_bytes = max_read_bytes
        self.max_file_bytes = max_file_bytes
        self.max_write_bytes = max_write_bytes
        self.max_results = max_results
        self.max_scan_entries = max_scan_entries
        self.search_timeout = search_timeout
        tools: list[Callable[..., Any]] = [self.read_file, self.list_files, self.search_files]
        if write:
            tools.append(self.write_file)
        if delete:
            tools.append(self.delete_file)
        self._tools = FunctionToolset(tools, id=id)

    @property
    def root(self) -> str:
        """The resolved root directory."""
        return self._root.real

    def __repr__(self) -> str:
        mode = "read-write" if self.write else "read-only"
        return f"FileToolset({self._root.real!r}, {mode}, id={self.id!r})"

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        """`read_file`, `list_files`, `search_files`; `write_file` and `delete_file` if enabled."""
        return await self._tools.list_tools(ctx)

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        """Run one tool (in a worker thread). Refused paths are error results, not exceptions."""
        return await self._tools.call_tool(name, args, ctx)

    # --- the tools (sync: `FunctionToolset` runs them in worker threads) ----------------------

    def read_file(
        self,
        path: str,
        offset: Annotated[int, Field(ge=0)] = 0,
        limit: Annotated[int | None, Field(ge=1)] = None,
    ) -> ToolResult:
        """Read a text file. Long files come back in pages: the result then ends with a note
        giving the `offset` to continue from.

        Args:
            path: The file's path relative to the root directory, e.g. `src/app.py`.
            offset: How many lines to skip from the start (0 reads from the first line).
            limit: The most lines to return; all that fit by default.
        """
        try:
            opened = self._root.open_file(path)
        except PathRefused as e:
            return _error(str(e))
        except OSError as e:  # the root itself went away, say
            return _error(_os_message(path, e))
        try:
            if opened.stat.st_size > self.max_file_bytes:
                return _error(
                    f"{path!r} is {opened.stat.st_size} bytes, more than the "
                    f"{self.max_file_bytes} bytes this toolset reads."
                )
            data = _read_all(opened.fd, self.max_file_bytes)
        except OSError as e:
            return _error(_os_message(path, e))
        finally:
            os.close(opened.fd)
        if data is None:
            return _error(f"{path!r} grew past {self.max_file_bytes} bytes while being read.")
        if b"\x00" in data[:_BINARY_SNIFF]:
            return _error(f"{path!r} is a binary file; only text files can be read.")
        return self._page(opened.path, data.decode("utf-8", errors="replace"), offset, limit)

    def _page(self, shown: str, text: str, offset: int, limit: int | None) -> ToolResult:
        lines = text.splitlines(keepends=True)
        total = len(lines)
        if offset and offset >= total:
            return _error(f"{shown!r} has {total} lines; offset {offset} is past its end.")
        end = total if limit is None else min(total, offset + limit)
        parts: list[str] = []
        size = 0
        stop = offset
        cut = False
        for line in lines[offset:end]:
            encoded = len(line.encode("utf-8"))
            if size + encoded > self.max_read_bytes:
                if not parts:  # one line longer than a page: show its start
                    parts.append(_cut_utf8(line, self.max_read_bytes) + "\n")
                    stop += 1
                    cut = True
                break
            parts.append(line)
            size += encoded
            stop += 1
        content = "".join(parts)
        metadata: dict[str, Any] = {"path": shown, "total_lines": total}
        if offset == 0 and stop == total and not cut:
            return ToolResult(content=content, metadata=metadata)
        metadata.update(start_line=offset + 1, end_line=stop)
        note = f"[lines {offset + 1}-{stop} of {total}"
        if cut:
            note += f"; line {stop} was cut at {self.max_read_bytes} bytes"
        if stop < total:
            metadata["next_offset"] = stop
            note += f"; call read_file with offset={stop} to continue"
        if content and not content.endswith("\n"):
            content += "\n"
        return ToolResult(content=content + note + "]", metadata=metadata)

    def list_files(
        self,
        path: str = ".",
        pattern: str | None = None,
        recursive: bool = False,
    ) -> ToolResult:
        """List a directory: each entry's path from the root, its type (`file`, `dir`,
        `symlink`, `other`) and a file's size in bytes. Symbolic links are listed, never
        entered.

        Args:
            path: The directory, relative to the root directory; `.` is the root.
            pattern: Only entries whose name matches this glob, e.g. `*.py`.
            recursive: Also list every subdirectory's entries.
        """
        try:
            resolved = self._root.resolve(path, self._root.parts(path))
            limits = WalkLimits(self.max_scan_entries, MAX_DEPTH)
            entries: list[dict[str, Any]] = []
            truncated = False
            with self._root.directory(path, resolved) as fd:
                prefix = "/".join(resolved)
                for entry in walk(
                    fd,
                    prefix,
                    recursive=recursive,
                    allow_hidden=self._root.allow_hidden,
                    limits=limits,
                ):
                    if pattern is not None and not fnmatch.fnmatchcase(entry.name, pattern):
                        continue
                    if len(entries) >= self.max_results:
                        truncated = True
                        break
                    item: dict[str, Any] = {"path": entry.path, "type": entry.kind}
                    if entry.kind == "file":
                        item["size"] = entry.size
                    entries.append(item)
        except PathRefused as e:
            return _error(str(e))
        except OSError as e:
            return _error(_os_message(path, e))
        truncated = truncated or limits.exhausted
        return ToolResult(
            content={
                "path": self._root.display(resolved),
                "entries": entries,
                "truncated": truncated,
            }
        )

    def search_files(
        self,
        query: str,
        path: str = ".",
        glob: str | None = None,
        regex: bool = False,
        case_sensitive: bool = False,
    ) -> ToolResult:
        """Search the text files under a directory for lines containing `query`; returns each
        match's file, line number (from 1) and line. Binary, very large and hidden files are
        skipped.

        Args:
            query: The text to look for, or a regular expression if `regex` is true.
            path: The directory to search, relative to the root directory; `.` is the root.
            glob: Only files whose name (or path below `path`) matches this glob, e.g. `*.md`.
            regex: Treat `query` as a regular expression (Python syntax).
            case_sensitive: Match letter case exactly.
        """
        if not query:
            return _error("The query is empty; give the text to look for.")
        if len(query) > _MAX_QUERY:
            return _error(f"The query is longer than {_MAX_QUERY} characters.")
        try:
            match = self._matcher(query, regex=regex, case_sensitive=case_sensitive)
        except ValueError as e:
            return _error(str(e))
        deadline = time.monotonic() + self.search_timeout
        matches: list[dict[str, Any]] = []
        searched = 0
        stopped: Literal["results", "entries", "timeout"] | None = None
        try:
            resolved = self._root.resolve(path, self._root.parts(path))
            limits = WalkLimits(self.max_scan_entries, MAX_DEPTH)
            base = "/".join(resolved)
            with self._root.directory(path, resolved) as fd:
                for entry in walk(
                    fd, base, recursive=True, allow_hidden=self._root.allow_hidden, limits=limits
                ):
                    if entry.kind != "file" or entry.size > self.max_file_bytes:
                        continue
                    below = entry.path[len(base) + 1 :] if base else entry.path
                    if glob is not None and not (
                        fnmatch.fnmatchcase(entry.name, glob) or fnmatch.fnmatchcase(below, glob)
                    ):
                        continue
                    searched += 1
                    stopped = self._search_one(entry, match, matches, deadline)
                    if stopped:
                        break
                if stopped is None and limits.exhausted:
                    stopped = "entries"
        except PathRefused as e:
            return _error(str(e))
        except OSError as e:
            return _error(_os_message(path, e))
        content: dict[str, Any] = {
            "matches": matches,
            "files_searched": searched,
            "truncated": stopped is not None,
        }
        if stopped == "timeout":
            content["note"] = f"The search stopped after {self.search_timeout:g} s."
        elif stopped == "entries":
            content["note"] = f"The search stopped after {self.max_scan_entries} entries."
        return ToolResult(content=content)

    def _matcher(
        self, query: str, *, regex: bool, case_sensitive: bool
    ) -> Callable[[str, float], bool]:
        if not regex:
            if case_sensitive:
                return lambda line, _deadline: query in line
            folded = query.casefold()
            return lambda line, _deadline: folded in line.casefold()
        import regex as re2  # lazily: only regular-expression searches need it

        try:
            compiled = re2.compile(query, 0 if case_sensitive else re2.IGNORECASE)
        except re2.error as e:
            raise ValueError(f"The regular expression does not compile: {e}.") from None

        def search(line: str, deadline: float) -> bool:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            return compiled.search(line, timeout=left, concurrent=True) is not None

        return search

    def _search_one(
        self,
        entry: Entry,
        match: Callable[[str, float], bool],
        matches: list[dict[str, Any]],
        deadline: float,
    ) -> Literal["results", "timeout"] | None:
        opened = open_entry(entry)
        if opened is None:
            return None
        fd, _ = opened
        try:
            data = _read_all(fd, self.max_file_bytes)
        except OSError:
            return None
        finally:
            os.close(fd)
        if data is None or b"\x00" in data[:_BINARY_SNIFF]:
            return None
        for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            try:
                found = match(line, deadline)
            except TimeoutError:
                return "timeout"
            if found:
                if len(matches) >= self.max_results:
                    return "results"
                matches.append({"path": entry.path, "line": number, "text": line[:_MAX_LINE_SHOWN]})
        if time.monotonic() > deadline:
            return "timeout"
        return None

    def write_file(self, path: str, content: str, overwrite: bool = False) -> ToolResult:
        """Write a text file (UTF-8), creating missing parent directories. An existing file is
        replaced only with `overwrite` true, and then atomically.

        Args:
            path: The file's path relative to the root directory, e.g. `notes/todo.md`.
            content: The whole new content of the file.
            overwrite: Replace the file if it exists.
        """
        try:
            data = content.encode("utf-8")
        except UnicodeEncodeError:
            return _error("The content is not valid text (it has unpaired surrogates).")
        if len(data) > self.max_write_bytes:
            return _error(
                f"The content is {len(data)} bytes, more than the {self.max_write_bytes} bytes "
                "this toolset writes."
            )
        try:
            parts = self._root.parts(path)
            if not parts:
                return _error(f"{path!r} is the root directory; give a file name.")
            parent = self._root.resolve(path, parts[:-1], missing_ok=True)
            with self._root.directory(path, parent, create=True) as dir_fd:
                created = _write(dir_fd, path, parts[-1], data, overwrite=overwrite)
        except PathRefused as e:
            return _error(str(e))
        except OSError as e:
            return _error(_os_message(path, e))
        shown = "/".join((*parent, parts[-1]))
        verb = "Created" if created else "Replaced"
        return ToolResult(
            content=f"{verb} {shown} ({len(data)} bytes).",
            metadata={"path": shown, "bytes": len(data), "created": created},
        )

    def delete_file(self, path: str) -> ToolResult:
        """Delete one file (not a directory, not a symbolic link).

        Args:
            path: The file's path relative to the root directory.
        """
        try:
            parts = self._root.parts(path)
            if not parts:
                return _error(f"{path!r} is the root directory; give a file name.")
            parent = self._root.resolve(path, parts[:-1])
            with self._root.directory(path, parent) as dir_fd:
                try:
                    st = os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False)
                except FileNotFoundError:
                    return _error(f"{path!r}: no such file.")
                if not stat.S_ISREG(st.st_mode):
                    return _error(f"{path!r} is not a regular file; only files are deleted.")
                os.unlink(parts[-1], dir_fd=dir_fd)
        except PathRefused as e:
            return _error(str(e))
        except OSError as e:
            return _error(_os_message(path, e))
        return ToolResult(content=f"Deleted {'/'.join((*parent, parts[-1]))}.")


def _write(dir_fd: int, path: str, name: str, data: bytes, *, overwrite: bool) -> bool:
    """Write `data` to `name` in the open directory; returns whether the file was created.

    A new file is made with `O_CREAT | O_EXCL | O_NOFOLLOW` (never through a link, never over a
    file made meanwhile). An existing one is replaced by renaming a finished temporary file over
    it: the rename replaces the directory entry, so a link put there meanwhile is replaced, not
    followed, and the old inode (which may be shared) is left as it was.
    """
    try:
        st: os.stat_result | None = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise PathRefused(f"{path!r} is a symbolic link; files are not written through links.")
        if stat.S_ISDIR(st.st_mode):
            raise PathRefused(f"{path!r} is a directory.")
        if not stat.S_ISREG(st.st_mode):
            raise PathRefused(f"{path!r} is not a regular file (a FIFO, socket or device).")
        if st.st_nlink > 1:
            raise PathRefused(
                f"{path!r} has more than one hard link, which may lead outside the root "
                "directory; such files are not written."
            )
        if not overwrite:
            raise PathRefused(f"{path!r} already exists; pass overwrite=true to replace it.")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    if st is None:
        try:
            fd = os.open(name, flags, 0o666, dir_fd=dir_fd)
        except FileExistsError:
            raise PathRefused(f"{path!r} was created meanwhile; try again.") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except BaseException:
            with suppress(OSError):  # no half-written new file left behind (a full disk...)
                os.unlink(name, dir_fd=dir_fd)
            raise
        return True
    temp = f".{name[:100]}.{secrets.token_hex(6)}.tmp"
    fd = os.open(temp, flags, 0o600, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), stat.S_IMODE(st.st_mode))
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    return False


def _read_all(fd: int, limit: int) -> bytes | None:
    """Up to `limit` bytes of the open file, or `None` if it holds more."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None


def _cut_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore").rstrip("\r\n")


def _os_message(path: str, error: OSError) -> str:
    """An `OSError` as the model sees it: the model's own path and the reason, no other path."""
    reason = os.strerror(error.errno) if error.errno else "the file system refused the operation"
    return f"{path!r}: {reason}."


def _error(message: str) -> ToolResult:
    return ToolResult(content=message, is_error=True)
