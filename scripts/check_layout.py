"""Enforce the naming and layering rules of DESIGN §1-3 on every package. Exit 1 on a violation."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from workspace import ROOT, Package, packages

# The interface package may depend on these and nothing else (DESIGN §3).
SPEC_DEPENDENCIES = {"pydantic", "typing-extensions", "anyio"}
# Packages that compose plugins; everything with a kind is a plugin.
COMPOSERS = {"core", "runtime", "learn", "conformance"}
# What a plugin may bring in through an optional extra: its fake server (`<plugin>.testing`) is
# built on covey-testing, which only its tests need.
PLUGIN_EXTRA_COVEY_DEPENDENCIES = {"covey-spec", "covey-testing"}
# A models package may ship chat models, embedders or both: its name in either group will do.
ALSO_ACCEPTED_GROUPS = {"models": ("covey.embedders",)}


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    if match is None:
        raise ValueError(f"cannot parse requirement {requirement!r}")
    return match.group(0).lower().replace("_", "-")


def check(package: Package) -> list[str]:
    errors: list[str] = []
    where = f"packages/{package.folder.name}"
    project = package.pyproject.get("project", {})
    if project.get("name") != package.distribution:
        errors.append(
            f"{where}: distribution is {project.get('name')!r}, the rule wants "
            f"{package.distribution!r}"
        )
    src = package.folder / "src"
    if (src / "covey" / "__init__.py").exists():
        errors.append(f"{where}: src/covey/__init__.py must not exist (PEP 420 namespace)")
    if package.kind and (src / "covey" / package.kind / "__init__.py").exists():
        errors.append(f"{where}: src/covey/{package.kind}/__init__.py must not exist (namespace)")
    if not (package.source_dir / "__init__.py").is_file():
        errors.append(f"{where}: missing {package.source_dir.relative_to(ROOT)}/__init__.py")
    if not (package.source_dir / "py.typed").is_file():
        errors.append(f"{where}: missing py.typed in {package.source_dir.relative_to(ROOT)}")
    for required in ("README.md", "CHANGELOG.md"):
        if not (package.folder / required).is_file():
            errors.append(f"{where}: missing {required}")
    if not (package.folder / "tests").is_dir():
        errors.append(f"{where}: missing tests/")
    if not project.get("version"):
        errors.append(f"{where}: missing its own version")

    backend = package.pyproject.get("build-system", {}).get("build-backend")
    if backend != "hatchling.build":
        errors.append(f"{where}: build backend must be hatchling, not {backend!r}")

    deps = {requirement_name(r) for r in project.get("dependencies", [])}
    covey_deps = {d for d in deps if d.startswith("covey-")}
    if package.name == "spec" and package.kind is None:
        extra = deps - SPEC_DEPENDENCIES
        if extra:
            errors.append(f"{where}: covey-spec may depend only on {sorted(SPEC_DEPENDENCIES)}")
    elif package.name == "testing" and package.kind is None:
        forbidden = covey_deps - {"covey-spec"}
        if forbidden:
            errors.append(
                f"{where}: covey-testing depends on covey-spec only, not {sorted(forbidden)}"
            )
    elif package.kind:
        forbidden = covey_deps - {"covey-spec"}
        if forbidden:
            errors.append(
                f"{where}: a plugin depends on covey-spec only, not on {sorted(forbidden)}"
            )
        extras: dict[str, list[str]] = project.get("optional-dependencies", {})
        for extra_name, requirements in extras.items():
            extra_covey = {
                name for name in map(requirement_name, requirements) if name.startswith("covey-")
            }
            forbidden = extra_covey - PLUGIN_EXTRA_COVEY_DEPENDENCIES
            if forbidden:
                errors.append(
                    f"{where}: extra {extra_name!r} of a plugin may bring covey-spec and "
                    f"covey-testing only, not {sorted(forbidden)}"
                )

    entry_points: dict[str, dict[str, str]] = project.get("entry-points", {})
    for group, names in entry_points.items():
        if not group.startswith("covey."):
            continue
        for name, value in names.items():
            module = value.split(":", 1)[0]
            if not (module == package.import_path or module.startswith(package.import_path + ".")):
                errors.append(
                    f"{where}: entry point {name!r} in {group} points at {module!r}, outside "
                    f"{package.import_path}"
                )
    group = package.entry_point_group
    if group and package.kind not in COMPOSERS:
        groups = (group, *ALSO_ACCEPTED_GROUPS.get(package.kind or "", ()))
        registered = any(package.name in entry_points.get(g, {}) for g in groups)
        if not registered and any(g.startswith("covey.") for g in entry_points):
            errors.append(
                f"{where}: must register entry point {package.name!r} in {' or '.join(groups)}"
            )
    return errors


def check_import_contracts(found: list[Package]) -> list[str]:
    """Every package is a root of the import-linter contracts, or its imports go unchecked."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    roots = set(config.get("tool", {}).get("importlinter", {}).get("root_packages", []))
    return [
        f"packages/{p.folder.name}: add {p.import_path!r} to [tool.importlinter] root_packages "
        "in the root pyproject.toml (and to the contracts of its layer)"
        for p in found
        if p.import_path not in roots
    ]


def main() -> int:
    found = packages()
    errors = [e for package in found for e in check(package)]
    errors += check_import_contracts(found)
    for stray in sorted(ROOT.glob("packages/*/src/covey/__init__.py")):
        errors.append(f"{stray.relative_to(ROOT)}: must not exist (PEP 420 namespace)")
    if errors:
        print("Layout check failed:", file=sys.stderr)
        for error in errors:
            print(f"  - {error}", file=sys.stderr)
        return 1
    print(f"Layout check passed for {len(found)} packages.")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
