"""`covey new tool-package NAME`: start a third-party tool package from the shipped template.

```text
covey new tool-package NAME [--into DIR]
```

Writes `DIR/covey-tools-NAME/` (DIR defaults to the current folder): pyproject.toml (hatchling,
the `covey.tools` entry point, a `test` extra), `src/covey/tools/NAME/` (an example
`FunctionToolset`, `from_reference`, `py.typed`), tests running Covey's `ToolsetSuite`, README,
CHANGELOG and .gitignore. The template is package data of covey-runtime
(`covey/runtime/templates/tool_package/`), rendered with `string.Template`: files end in
`.tmpl`, a folder named `__module__` takes the import name, and only `${name}` placeholders are
replaced, so Python's `{...}` needs no escaping.
"""

from __future__ import annotations

import argparse
import keyword
import re
import shutil
import string
import sys
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TextIO

from covey.spec.errors import ConfigurationError

__all__ = [
    "RESERVED_TOOL_NAMES",
    "ToolPackageNames",
    "add_new_parser",
    "new_command",
    "new_tool_package",
]

EXIT_USAGE = 2

KINDS = ("tool-package",)
"""What `covey new` can make."""

RESERVED_TOOL_NAMES = frozenset({"mcp", "files", "calculator", "shell", "web", "sql", "reasoning"})
"""The names of Covey's own toolkits: a second `covey-tools-files` would clash with the first
(two distributions registering one entry point is an error wherever both are installed)."""

_NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_MAX_NAME = 40
_MODULE_DIR = "__module__"
_SUFFIX = ".tmpl"
_RENAMED = {"gitignore": ".gitignore"}


class _Template(string.Template):
    # Only `${name}` is a placeholder (a bare `$word` is an error, `$$` a dollar sign), so the
    # templates' Python f-strings and dict literals need no escaping.
    idpattern = r"(?!)"
    braceidpattern = r"[a-z_]+"


@dataclass(frozen=True, slots=True)
class ToolPackageNames:
    """Every name a tool package derives from the one its author chose.

    Attributes:
        name: As given, validated (`weather-api`).
        module: The import name, entry-point name and toolset id (`weather_api`).
        distribution: The distribution and folder name (`covey-tools-weather-api`).
        class_name: The example toolset's class (`WeatherApiToolset`).
    """

    name: str
    module: str
    distribution: str
    class_name: str

    @classmethod
    def from_name(cls, name: str) -> ToolPackageNames:
        """Validate `name` and derive the others.

        Raises:
            ConfigurationError: the name is not lowercase letters, digits and single `-`/`_`
                between them, is too long, is a Python keyword, or is one of Covey's own
                toolkits.
        """
        if len(name) > _MAX_NAME or not _NAME.fullmatch(name):
            raise ConfigurationError(
                f"Invalid tool package name {name[:60]!r}: use {_MAX_NAME} characters at most, "
                "lowercase letters and digits, starting with a letter, words joined by single "
                "'-' or '_' (e.g. 'weather' or 'weather-api')."
            )
        module = name.replace("-", "_")
        if keyword.iskeyword(module):
            raise ConfigurationError(
                f"Invalid tool package name {name!r}: covey.tools.{module} cannot be imported "
                "(a Python keyword). Choose another name."
            )
        if module in RESERVED_TOOL_NAMES:
            raise ConfigurationError(
                f"The tool name {name!r} is taken by Covey's own covey-tools-{module}; two "
                "packages registering one name cannot be installed together. Choose another "
                f"name (e.g. '{module}-plus' or your organisation's prefix)."
            )
        words = [w for w in re.split(r"[-_]", name) if w]
        return cls(
            name=name,
            module=module,
            distribution=f"covey-tools-{name.replace('_', '-')}",
            class_name="".join(w[:1].upper() + w[1:] for w in words) + "Toolset",
        )


def _requirement(distribution: str) -> str:
    """`covey-spec>=0.1,<1` from the installed version: the API this template was written for."""
    try:
        major, minor = (int(x) for x in version(distribution).split(".")[:2])
    except (PackageNotFoundError, ValueError):
        major, minor = 0, 1
    upper = major + 1
    return f"{distribution}>={major}.{minor},<{upper}"


def _template_root() -> Traversable:
    return resources.files("covey.runtime").joinpath("templates", "tool_package")


def _files(folder: Traversable, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """(relative path parts, text) of every template file under `folder`, sorted."""
    found: list[tuple[tuple[str, ...], str]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        parts = (*prefix, entry.name)
        if entry.is_dir():
            found.extend(_files(entry, parts))
        elif entry.name.endswith(_SUFFIX):
            found.append((parts, entry.read_text(encoding="utf-8")))
    return found


def render_tool_package(names: ToolPackageNames) -> dict[str, str]:
    """The files of a new tool package: relative POSIX path → text. Writes nothing.

    Raises:
        ConfigurationError: the template is missing from this installation of covey-runtime
            or names a placeholder it does not know.
    """
    values = {
        "name": names.name,
        "module": names.module,
        "distribution": names.distribution,
        "class_name": names.class_name,
        "spec_requirement": _requirement("covey-spec"),
        "conformance_requirement": _requirement("covey-conformance"),
    }
    files = _files(_template_root())
    if not files:
        raise ConfigurationError(
            "The tool package template is missing from this covey-runtime installation "
            "(covey/runtime/templates/tool_package); reinstall covey-runtime."
        )
    rendered: dict[str, str] = {}
    for parts, text in files:
        out = [names.module if p == _MODULE_DIR else p for p in parts]
        leaf = out[-1].removesuffix(_SUFFIX)
        out[-1] = _RENAMED.get(leaf, leaf)
        try:
            rendered["/".join(out)] = _Template(text).substitute(values)
        except (KeyError, ValueError) as exc:
            raise ConfigurationError(
                f"The tool package template {'/'.join(parts)} is broken ({exc!r}); "
                "reinstall covey-runtime."
            ) from exc
    return rendered


def new_tool_package(name: str, into: Path | str = ".") -> Path:
    """Write a new tool package `covey-tools-NAME/` inside `into` and return its folder.

    The folder is created exclusively (an existing one is never touched) and removed again if
    writing fails, so a failure leaves nothing half-written.

    Raises:
        ConfigurationError: the name is invalid, `into` is not a folder, the package folder
            already exists (nothing is overwritten), or it cannot be written.
    """
    names = ToolPackageNames.from_name(name)
    parent = Path(into)
    if not parent.is_dir():
        raise ConfigurationError(f"{parent} is not a folder; create it or pass another --into.")
    target = parent / names.distribution
    if target.exists() or target.is_symlink():
        raise ConfigurationError(
            f"{target} already exists; nothing was written. Remove it or choose another "
            "name or --into folder."
        )
    files = render_tool_package(names)
    try:
        # Exclusive: fails if the folder appeared since the check, so nothing is overwritten.
        target.mkdir()
    except FileExistsError:
        raise ConfigurationError(f"{target} already exists; nothing was written.") from None
    except OSError as exc:
        raise ConfigurationError(f"Cannot create {target}: {exc.strerror or exc}.") from exc
    try:
        for relative, text in files.items():
            path = target.joinpath(*relative.split("/"))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except BaseException as exc:
        shutil.rmtree(target, ignore_errors=True)
        if isinstance(exc, OSError):
            raise ConfigurationError(f"Cannot write {target}: {exc.strerror or exc}.") from exc
        raise
    return target


def add_new_parser(commands: Any) -> None:
    """Add `covey new KIND ...` to the `covey` parser's subcommands."""
    new = commands.add_parser(
        "new",
        help="start a new package from a template (covey new tool-package NAME)",
        description="Start a new package from a template.",
        allow_abbrev=False,
    )
    kinds = new.add_subparsers(dest="kind", required=True, metavar="KIND")
    package = kinds.add_parser(
        "tool-package",
        help="a covey-tools-NAME package: an example toolset, its entry point, ToolsetSuite tests",
        description=(
            "Write covey-tools-NAME/: pyproject.toml with the covey.tools entry point, "
            "src/covey/tools/NAME/ with an example toolset and from_reference, tests running "
            "Covey's ToolsetSuite, README and CHANGELOG."
        ),
        allow_abbrev=False,
    )
    package.add_argument(
        "name",
        metavar="NAME",
        help="lowercase letters, digits, '-' or '_' (the import name uses '_')",
    )
    package.add_argument(
        "--into", metavar="DIR", default=".", help="the folder to create it in (default: .)"
    )


def new_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run `covey new`; returns the exit status (2 on a bad name or an existing folder)."""
    stream = sys.stdout if out is None else out
    try:
        folder = new_tool_package(args.name, args.into)
    except ConfigurationError as exc:
        print(f"covey new: {exc}", file=sys.stderr)
        return EXIT_USAGE
    names = ToolPackageNames.from_name(args.name)
    stream.write(
        f"Created {folder}\n"
        f"  distribution  {names.distribution}\n"
        f"  import        covey.tools.{names.module}  (class {names.class_name})\n"
        f'  entry point   {names.module} = "covey.tools.{names.module}:from_reference" '
        "in covey.tools\n"
        f"Next: cd {folder} && pip install -e '.[test]' && pytest\n"
    )
    return 0
