"""The corpus bench_knowledge searches: real English text found on this machine, nothing generated.

Documents, in this order: the docstrings of Python's standard library (module, class and function
docstrings of at least 200 characters, read with `ast`, nothing imported), then those of a fixed
list of libraries in Covey's environment (`LIBRARIES`), one document per module, sorted by
module. The corpus is the same for the same Python and the same versions of those libraries
(`uv.lock`), whatever else is installed. It is built once (about half a minute) and kept in
`bench/.cache/knowledge/` (gitignored), as are the tier's vectors.

`tier_chunks` packs paragraphs into chunks of at most `size` characters; `noisy_tier` makes a
larger tier from the embedded chunks: copy `c` (1, 2, …) of chunk `i` drops every tenth word
starting at word `(c - 1) mod 10` and moves its vector by Gaussian noise (σ = `NOISE` per
dimension, seeded by `c`), renormalised — cosine ≈ 0.98 to the original.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
import json
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CACHE = Path(__file__).parent / ".cache" / "knowledge"
MIN_DOCSTRING = 200
NOISE = 0.01
# (import name, distribution): libraries Covey's own packages depend on, so always installed.
LIBRARIES = (
    ("sqlalchemy", "sqlalchemy"),
    ("pydantic", "pydantic"),
    ("litestar", "litestar"),
    ("httpx", "httpx"),
    ("anyio", "anyio"),
)
_SKIP = {
    "test",
    "tests",
    "idlelib",
    "lib2to3",
    "turtledemo",
    "tkinter",
    "ensurepip",
    "site-packages",
}


def _docstrings(path: Path) -> str:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
        return ""
    parts: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc and len(doc) >= MIN_DOCSTRING:
                parts.append(doc)
    return "\n\n".join(parts)


def _tree_docs(root: Path, prefix: str) -> Iterator[tuple[str, str]]:
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if _SKIP & set(relative.parts[:-1]) or relative.parts[0].endswith(".dist-info"):
            continue
        text = _docstrings(path)
        if text:
            yield f"{prefix}{'.'.join(relative.with_suffix('').parts)}", text


def _build() -> list[tuple[str, str]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    documents = list(_tree_docs(stdlib, "python/"))
    for package, _ in LIBRARIES:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            root = Path(next(iter(spec.submodule_search_locations)))
            documents.extend(_tree_docs(root, f"{package}/"))
    return documents


def _key() -> str:
    versions: list[str] = []
    for _, dist in LIBRARIES:
        try:
            versions.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{dist} missing")
    return hashlib.sha256(f"{sys.version}\n{'|'.join(versions)}".encode()).hexdigest()[:16]


def documents() -> list[tuple[str, str]]:
    """(name, text) of every document of the corpus, built once and cached."""
    path = CACHE / f"corpus-{_key()}.json"
    if path.exists():
        return [tuple(d) for d in json.loads(path.read_text())]  # type: ignore[misc]
    built = _build()
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(built))
    return built


def write_folder(docs: list[tuple[str, str]], folder: Path, chars: int) -> int:
    """Write the first documents, one `.txt` file each, until `chars` characters; returns how
    many files."""
    folder.mkdir(parents=True, exist_ok=True)
    total = files = 0
    for name, text in docs:
        if total >= chars:
            break
        (folder / f"{name.replace('/', '__')}.txt").write_text(text, encoding="utf-8")
        total += len(text)
        files += 1
    return files


def tier_chunks(docs: list[tuple[str, str]], count: int, size: int) -> list[tuple[str, str]]:
    """(document name, chunk) pairs: each document's paragraphs packed into chunks of at most
    `size` characters (a longer paragraph is cut at `size`), until `count` chunks."""
    chunks: list[tuple[str, str]] = []
    for name, text in docs:
        current = ""
        for paragraph in (p.strip() for p in text.split("\n\n")):
            while len(paragraph) > size:
                chunks.append((name, paragraph[:size]))
                paragraph = paragraph[size:]
            if current and len(current) + 2 + len(paragraph) > size:
                chunks.append((name, current))
                current = ""
            current = f"{current}\n\n{paragraph}" if current else paragraph
        if current.strip():
            chunks.append((name, current))
        if len(chunks) >= count:
            return chunks[:count]
    return chunks


def vectors_path(texts: list[str], embedder_name: str) -> Path:
    """Where the vectors of `texts` by `embedder_name` are cached (`.npy`)."""
    digest = hashlib.sha256(embedder_name.encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return CACHE / f"vectors-{digest.hexdigest()[:16]}.npy"


def noisy_tier(texts: list[str], vectors: Any, copies: int) -> tuple[list[str], Any]:
    """`copies` times the tier: copy 0 as it is, the others with the noise the module names."""
    import numpy as np

    out_texts = list(texts)
    blocks = [vectors]
    for c in range(1, copies):
        for text in texts:
            words = text.split(" ")
            out_texts.append(" ".join(w for i, w in enumerate(words) if i % 10 != (c - 1) % 10))
        rng = np.random.default_rng(c)
        moved = vectors + rng.normal(0.0, NOISE, size=vectors.shape).astype(np.float32)
        blocks.append(moved / np.linalg.norm(moved, axis=1, keepdims=True))
    return out_texts, np.concatenate(blocks).astype(np.float32)
