"""The plugin registry, against the real `covey-plugin-fixture` and `covey-plugin-fixture-dup`.

The fixture distributions are never installed (so no `covey plugins` of a dev environment lists
them). Each one is laid out under `tests/fixtures/<name>/src/` as an installed distribution is
in site-packages: its package next to its `<name>-<version>.dist-info` (`METADATA` and
`entry_points.txt`). Every test here puts those folders on `sys.path` (and on `PYTHONPATH`, for
the interpreters it starts), so `importlib.metadata` discovers them; nothing patches
`entry_points`. After editing a fixture's `[project.entry-points]`, copy them into its
`entry_points.txt` (`test_fixture_metadata_matches_its_pyproject` says so).
"""

from __future__ import annotations

import configparser
import dataclasses
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from covey.spec import plugins
from covey.spec.embeddings import Embedder
from covey.spec.errors import ConfigurationError, DuplicatePluginError, PluginNotFoundError
from covey.spec.messages import ModelRequest, ModelResponse
from covey.spec.models import ChatModel, ModelRequestParams
from covey.spec.store import Store

FIXTURE = "covey-plugin-fixture"
FIXTURE_DUP = "covey-plugin-fixture-dup"
FIXTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures"
FIXTURE_DIRS = (FIXTURES / "plugin-fixture", FIXTURES / "plugin-fixture-dup")
FIXTURE_SITES = tuple(folder / "src" for folder in FIXTURE_DIRS)
"""Folders laid out like site-packages: each fixture's package and its dist-info."""


@pytest.fixture(autouse=True)
def fixture_plugins_on_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fixture distributions are importable and discoverable for this test only.

    Each test starts from an empty cache, as a new process would, and leaves an empty one, so
    no other test sees the fixtures in the cached scan.
    """
    for site in reversed(FIXTURE_SITES):
        monkeypatch.syspath_prepend(str(site))
    inherited = [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([*map(str, FIXTURE_SITES), *inherited]))
    plugins.refresh()
    yield
    plugins.refresh()


@pytest.mark.parametrize("folder", FIXTURE_DIRS, ids=lambda f: f.name)
def test_fixture_metadata_matches_its_pyproject(folder: Path) -> None:
    """Fails if a fixture's committed `entry_points.txt` drifts from its `pyproject.toml`.

    Fix: copy the `[project.entry-points]` tables into `entry_points.txt` (or build the wheel,
    `uv build --wheel tests/fixtures/<name>`, and copy its dist-info's `entry_points.txt`).
    """
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    [dist_info] = (folder / "src").glob("*.dist-info")
    assert dist_info.name == f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # names are case-sensitive
    parser.read_string((dist_info / "entry_points.txt").read_text())
    written = {group: dict(parser[group]) for group in parser.sections()}
    assert written == project["entry-points"]


def test_fixtures_are_not_installed_in_the_environment() -> None:
    """Fails if the test-only plugins are installed (they would show in every `covey plugins`)."""
    out = subprocess.run(
        [sys.executable, "-c", "from covey.spec import plugins; print(plugins.describe())"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    ).stdout
    assert "fixture" not in out
    assert "covey-core" in out  # the listing works, and lists what is installed


def run_python(code: str) -> str:
    """Run `code` in a fresh interpreter of this environment; return its stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"subprocess failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


# --- listing -------------------------------------------------------------------------------------


def test_available_records_distribution_and_version() -> None:
    """Fails if listing loses the entry point's metadata (distribution, version, target)."""
    infos = {info.name: info for info in plugins.available("models")}
    assert infos["fixture"] == plugins.PluginInfo(
        kind="models",
        name="fixture",
        value="covey_plugin_fixture.models:echo",
        distribution=FIXTURE,
        version="0.1.0",
    )
    assert infos["fixture"].group == "covey.models"


def test_available_is_sorted_by_name() -> None:
    names = [info.name for info in plugins.available("models")]
    assert names == sorted(names)
    assert {"broken", "fixture", "not-callable", "wrong-type"} <= set(names)


@pytest.mark.parametrize(
    ("kind", "name"),
    [("tools", "fixture-tools"), ("db", "fixturedb"), ("embedders", "fixture")],
)
def test_available_per_kind(kind: str, name: str) -> None:
    """Other installed plugins may be listed too; the fixture's must be, with its metadata."""
    infos = {info.name: info for info in plugins.available(kind)}
    assert infos[name].distribution == FIXTURE
    assert infos[name].kind == kind


def test_plugin_info_is_frozen() -> None:
    info = plugins.available("tools")[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "other"  # type: ignore[misc]


def test_listing_imports_no_plugin_code() -> None:
    """Fails if `available`/`describe` import plugin modules instead of reading metadata.

    Runs in a fresh process so nothing imported by other tests can hide an import; the same
    process then loads a plugin, proving the check does see imports.
    """
    out = run_python(
        """
        import json, sys
        from covey.spec import plugins

        def fixture_modules():
            return sorted(m for m in sys.modules if m.startswith("covey_plugin_fixture"))

        listed = [i.name for kind in ("models", "embedders", "tools", "db") for i in plugins.available(kind)]
        described = plugins.describe()
        targets = {i.value.partition(":")[0] for infos in described.values() for i in infos}
        after_listing = fixture_modules() + sorted(targets & set(sys.modules))
        plugins.load("models", "fixture")
        print(json.dumps({"listed": listed, "after_listing": after_listing,
                          "after_load": fixture_modules()}))
        """
    )
    result = json.loads(out)
    assert "fixture" in result["listed"]
    assert result["after_listing"] == []
    assert "covey_plugin_fixture.models" in result["after_load"]
    assert "covey_plugin_fixture.tools" not in result["after_load"]


def test_importing_the_registry_does_not_scan() -> None:
    """Fails if `import covey.spec.plugins` pulls in `importlib.metadata` (a slow import + scan)."""
    out = run_python(
        """
        import sys
        import covey.spec.plugins
        print("importlib.metadata" in sys.modules)
        """
    )
    assert out.strip() == "False"


def test_describe_lists_every_kind() -> None:
    described = plugins.describe()
    assert list(described) == list(plugins.KINDS)
    assert plugins.KINDS == ("models", "embedders", "tools", "vectordb", "db", "runtime")
    assert "fixture-tools" in [i.name for i in described["tools"]]
    assert all(i.kind == kind for kind, infos in described.items() for i in infos)


# --- loading -------------------------------------------------------------------------------------


def test_load_returns_the_registered_object_and_caches_it() -> None:
    from covey_plugin_fixture.models import echo

    first = plugins.load("models", "fixture")
    assert first is echo
    assert plugins.load("models", "fixture") is first


def test_load_imports_once_then_serves_from_cache() -> None:
    """Fails if `load` goes back to the entry point (re-importing) instead of its cache.

    Removing the module from `sys.modules` would make a second `EntryPoint.load()` import it
    again; the registry must hand back the object it already loaded. `refresh` forgets it.
    """
    out = run_python(
        """
        import json, sys
        from covey.spec import plugins
        import covey_plugin_fixture

        first = plugins.load("models", "fixture")
        del sys.modules["covey_plugin_fixture.models"]
        second = plugins.load("models", "fixture")
        imports_before_refresh = list(covey_plugin_fixture.IMPORTED)
        plugins.refresh()
        third = plugins.load("models", "fixture")
        print(json.dumps({
            "same": second is first,
            "imports_before_refresh": imports_before_refresh,
            "fresh_after_refresh": third is not first,
            "imports_after_refresh": covey_plugin_fixture.IMPORTED,
        }))
        """
    )
    result = json.loads(out)
    assert result["same"] is True
    assert result["imports_before_refresh"] == ["covey_plugin_fixture.models"]
    assert result["fresh_after_refresh"] is True
    assert result["imports_after_refresh"] == ["covey_plugin_fixture.models"] * 2


def test_concurrent_loads_share_one_object() -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        loaded = list(pool.map(lambda _: plugins.load("tools", "fixture-tools"), range(64)))
    assert all(obj is loaded[0] for obj in loaded)
    assert loaded[0].__name__ == "from_reference"


def test_broken_plugin_names_its_distribution_and_chains_the_cause() -> None:
    """Fails if an import error inside a plugin escapes raw or loses the original exception."""
    with pytest.raises(ConfigurationError) as info:
        plugins.load("models", "broken")
    error = info.value
    assert not isinstance(error, PluginNotFoundError)
    assert FIXTURE in str(error)
    assert "broken" in str(error)
    assert isinstance(error.__cause__, ImportError)
    assert "on purpose" in str(error.__cause__)
    # A failure is not cached: asking again tries again (and fails again).
    with pytest.raises(ConfigurationError):
        plugins.load("models", "broken")


@pytest.mark.parametrize(
    ("kind", "line"),
    [
        ("models", "pip install covey-models-nope"),
        ("embedders", "pip install covey-models-nope"),
        ("tools", "pip install covey-tools-nope"),
        ("vectordb", "pip install covey-vectordb-nope"),
        ("db", "pip install covey-db-nope"),
        ("runtime", "pip install covey-runtime-nope"),
    ],
)
def test_missing_plugin_gives_the_install_line(kind: str, line: str) -> None:
    with pytest.raises(PluginNotFoundError) as info:
        plugins.load(kind, "nope")
    assert line in str(info.value)
    assert info.value.name == "nope"


def test_missing_plugin_lists_what_is_installed() -> None:
    with pytest.raises(PluginNotFoundError) as info:
        plugins.load("tools", "nope")
    assert "fixture-tools" in info.value.available
    assert "fixture-tools" in str(info.value)


# --- duplicates ----------------------------------------------------------------------------------


def test_duplicate_name_names_both_distributions() -> None:
    """Fails if a name registered by two distributions is silently resolved to one of them."""
    with pytest.raises(DuplicatePluginError) as info:
        plugins.available("vectordb")
    assert info.value.distributions == (FIXTURE, FIXTURE_DUP)
    assert info.value.group == "covey.vectordb"
    assert info.value.name == "fixture-dup"
    assert FIXTURE in str(info.value)
    assert FIXTURE_DUP in str(info.value)

    with pytest.raises(DuplicatePluginError):
        plugins.load("vectordb", "fixture-dup")


@pytest.mark.parametrize(
    "copy_name",
    [
        "covey_plugin_fixture-0.1.0.dist-info",
        # A directory name the standard library does not recognise as the same distribution,
        # with the name spelled differently in METADATA: the registry must still see one.
        "stale_copy.dist-info",
    ],
)
def test_one_distribution_seen_twice_is_not_a_duplicate(tmp_path: Path, copy_name: str) -> None:
    """Fails if stale metadata of the same distribution (a second copy of its dist-info further
    along `sys.path`, as an editable install over an old one leaves) counts as a name clash."""
    dist = importlib.metadata.distribution(FIXTURE)
    site = Path(str(dist.locate_file("")))
    copy = tmp_path / copy_name
    shutil.copytree(site / "covey_plugin_fixture-0.1.0.dist-info", copy)
    text = (copy / "METADATA").read_text()
    (copy / "METADATA").write_text(text.replace(f"Name: {FIXTURE}", "Name: Covey_Plugin.Fixture"))
    out = run_python(
        f"""
        import sys
        sys.path.append({str(tmp_path)!r})
        from covey.spec import plugins
        infos = [i for i in plugins.available("models") if i.name == "fixture"]
        print(len(infos), infos[0].distribution)
        """
    )
    assert out.split() == ["1", FIXTURE]


def test_duplicate_only_breaks_its_own_group() -> None:
    """Other groups still list and load while `covey.vectordb` has a clash."""
    assert "fixture-tools" in [i.name for i in plugins.available("tools")]
    assert callable(plugins.load("models", "fixture"))


def test_describe_shows_both_registrations_of_a_duplicate() -> None:
    infos = [i for i in plugins.describe()["vectordb"] if i.name == "fixture-dup"]
    assert [i.distribution for i in infos] == [FIXTURE, FIXTURE_DUP]
    assert [i.value for i in infos] == [
        "covey_plugin_fixture.vectordb:FixtureVectorStore",
        "covey_plugin_fixture_dup:DupVectorStore",
    ]


# --- kinds ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("call", [plugins.available, lambda kind: plugins.load(kind, "fixture")])
@pytest.mark.parametrize("kind", ["model", "covey.models", "", "vectordbs"])
def test_unknown_kind_lists_the_valid_ones(call: object, kind: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        call(kind)  # type: ignore[operator]
    assert not isinstance(info.value, PluginNotFoundError)
    assert "models, embedders, tools, vectordb, db, runtime" in str(info.value)


# --- models --------------------------------------------------------------------------------------


async def test_resolve_model_builds_the_model() -> None:
    model = plugins.resolve_model("fixture:echo-1")
    assert isinstance(model, ChatModel)
    assert model.model_name == "echo-1"
    assert model.provider == "fixture"
    response = await model.request([ModelRequest.user("hello")], None, ModelRequestParams())
    assert isinstance(response, ModelResponse)
    assert response.text() == "hello"


def test_resolve_model_splits_on_the_first_colon_only() -> None:
    assert plugins.resolve_model("fixture:llama3.2:3b").model_name == "llama3.2:3b"


def test_resolve_model_returns_a_model_instance_unchanged() -> None:
    model = plugins.resolve_model("fixture:echo-1")
    assert plugins.resolve_model(model) is model


@pytest.mark.parametrize("spec", ["gpt-4.1", "", "   ", ":gpt-4.1", "fixture:", "fixture"])
def test_resolve_model_rejects_strings_without_provider_and_model(spec: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        plugins.resolve_model(spec)
    assert not isinstance(info.value, PluginNotFoundError)
    assert "'openai:gpt-4.1'" in str(info.value)
    assert "<provider>:<model name>" in str(info.value)


def test_resolve_model_rejects_other_types() -> None:
    with pytest.raises(ConfigurationError, match=re.escape("'openai:gpt-4.1'")):
        plugins.resolve_model(42)  # type: ignore[arg-type]


def test_resolve_model_unknown_provider_gives_the_install_line() -> None:
    with pytest.raises(PluginNotFoundError, match="pip install covey-models-nope-provider"):
        plugins.resolve_model("nope-provider:gpt-4.1")


def test_resolve_model_broken_plugin() -> None:
    with pytest.raises(ConfigurationError, match=FIXTURE) as info:
        plugins.resolve_model("broken:x")
    assert isinstance(info.value.__cause__, ImportError)


def test_resolve_model_rejects_a_factory_that_returns_something_else() -> None:
    with pytest.raises(ConfigurationError, match="not a ChatModel") as info:
        plugins.resolve_model("wrong-type:x")
    assert FIXTURE in str(info.value)


def test_resolve_model_rejects_a_target_that_is_not_callable() -> None:
    with pytest.raises(ConfigurationError, match="not callable") as info:
        plugins.resolve_model("not-callable:x")
    assert "covey_plugin_fixture.models:NOT_CALLABLE" in str(info.value)


# --- tools ---------------------------------------------------------------------------------------


async def test_resolve_toolset_calls_the_factory_with_the_argument() -> None:
    from covey.spec.context import RunContext
    from covey.spec.tools import Toolset

    ctx = RunContext[None](run_id="r")
    plain = plugins.resolve_toolset("fixture-tools")
    greeting = plugins.resolve_toolset("fixture-tools:hello: world")
    assert isinstance(plain, Toolset) and isinstance(greeting, Toolset)
    assert (await plain.call_tool("echo", {"text": "x"}, ctx)).content == "x"
    # Only the first `:` splits: the plugin gets the rest whole.
    assert (await greeting.call_tool("echo", {"text": "x"}, ctx)).content == "hello: world x"


def test_resolve_toolset_errors_name_the_plugin_or_the_install_line() -> None:
    with pytest.raises(ConfigurationError, match="not a Toolset") as info:
        plugins.resolve_toolset("wrong-type:x")
    assert FIXTURE in str(info.value)
    with pytest.raises(PluginNotFoundError, match="pip install covey-tools-nope"):
        plugins.resolve_toolset("nope:arg")
    with pytest.raises(ConfigurationError, match="'files' or 'mcp:everything'"):
        plugins.resolve_toolset(" :x")


# --- embedders -----------------------------------------------------------------------------------


async def test_resolve_embedder_builds_the_embedder() -> None:
    embedder = plugins.resolve_embedder("fixture:hash-8")
    assert isinstance(embedder, Embedder)
    assert type(embedder).__name__ == "HashEmbedder"
    assert embedder.model_name == "hash-8"
    assert embedder.name == "fixture:hash-8"
    vectors = await embedder.embed(["a", "b", "a"])
    assert len(vectors) == 3
    assert vectors[0] == vectors[2] != vectors[1]


def test_resolve_embedder_rejects_a_factory_that_returns_something_else() -> None:
    """Fails if a factory's wrong result is handed to the caller instead of naming the plugin."""
    with pytest.raises(ConfigurationError, match="not an Embedder") as info:
        plugins.resolve_embedder("wrong-type:x")
    assert not isinstance(info.value, PluginNotFoundError)
    assert FIXTURE in str(info.value)
    assert "returned str" in str(info.value)


@pytest.mark.parametrize("spec", ["text-embedding-3-small", ":x", "fixture:"])
def test_resolve_embedder_rejects_malformed_strings(spec: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape("openai:text-embedding-3-small")):
        plugins.resolve_embedder(spec)


def test_resolve_embedder_unknown_provider_points_at_the_models_distribution() -> None:
    with pytest.raises(PluginNotFoundError, match="pip install covey-models-nope-provider"):
        plugins.resolve_embedder("nope-provider:voyage-3")


# --- stores --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["fixturedb:///x", "fixturedb+aiodriver://user@host:5432/db?x=1", "FixtureDB:///x"]
)
def test_resolve_store_loads_the_scheme_and_passes_the_whole_url(url: str) -> None:
    from covey_plugin_fixture.store import FixtureStore

    store = plugins.resolve_store(url)
    assert isinstance(store, Store)
    assert isinstance(store, FixtureStore)
    assert store.url == url


def test_resolve_store_rejects_a_factory_that_returns_something_else() -> None:
    """Fails if a factory's wrong result is handed to the caller instead of naming the plugin."""
    with pytest.raises(ConfigurationError, match="not a Store") as info:
        plugins.resolve_store("wrong-type:///x")
    assert not isinstance(info.value, PluginNotFoundError)
    assert FIXTURE in str(info.value)
    assert "returned str" in str(info.value)


def test_resolving_imports_the_result_types_only_when_called() -> None:
    """Fails if `import covey.spec.plugins` imports the store or embedder interfaces eagerly."""
    out = run_python(
        """
        import json, sys
        import covey.spec.plugins as plugins
        before = sorted(m for m in ("covey.spec.store", "covey.spec.embeddings") if m in sys.modules)
        plugins.resolve_store("fixturedb:///x")
        after = "covey.spec.store" in sys.modules
        print(json.dumps({"before": before, "after": after}))
        """
    )
    assert json.loads(out) == {"before": [], "after": True}


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("mysql:///covey.db", "mysql"),
        ("mysql+aiomysql:///covey.db", "mysql"),
        ("cockroachdb+asyncpg://user@localhost/covey", "cockroachdb"),
        ("cockroachdb://user@localhost/covey", "cockroachdb"),
    ],
)
def test_resolve_store_parses_the_scheme(url: str, scheme: str) -> None:
    """No plugin handles these schemes, so the scheme shows in the not-found error."""
    with pytest.raises(PluginNotFoundError) as info:
        plugins.resolve_store(url)
    assert info.value.name == scheme


@pytest.mark.parametrize("url", ["covey.db", "", "://x", "/tmp/covey.db", "sqlite:covey.db"])
def test_resolve_store_rejects_urls_without_a_scheme(url: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape("sqlite:///covey.db")) as info:
        plugins.resolve_store(url)
    assert not isinstance(info.value, PluginNotFoundError)


def test_an_alias_names_the_distribution_that_really_provides_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        plugins.KNOWN_PROVIDERS, ("models", "not-installed-alias"), "covey-models-somewhere"
    )
    with pytest.raises(PluginNotFoundError) as info:
        plugins.resolve_model("not-installed-alias:m")
    assert "pip install covey-models-somewhere" in str(info.value)
    assert info.value.kind == "models"


def test_embedders_are_installed_with_their_model_package() -> None:
    with pytest.raises(PluginNotFoundError) as info:
        plugins.resolve_embedder("nowhere:embed-1")
    assert info.value.kind == "embedders"
    assert "pip install covey-models-nowhere" in str(info.value)


# --- vector stores -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["fixturevec:///x", "FixtureVec://host:1/x", "fixturevec+unknown://user@host/db"]
)
def test_resolve_vector_store_loads_the_scheme_and_passes_the_whole_url(url: str) -> None:
    from covey_plugin_fixture.vectordb import OpenedVectorStore

    store = plugins.resolve_vector_store(url)
    assert isinstance(store, OpenedVectorStore)
    assert store.url == url


def test_resolve_vector_store_names_the_plugin_by_its_driver_when_one_is_installed() -> None:
    """`postgresql+pgvector://` must load `pgvector`, not the `postgresql` scheme's plugin."""
    with pytest.raises(PluginNotFoundError) as info:
        plugins.resolve_vector_store("nosuchdb+nosuchdriver://h/db")
    assert info.value.name == "nosuchdb"
    store = plugins.resolve_vector_store("nosuchdb+fixturedriver://h/db")
    assert store.url == "nosuchdb+fixturedriver://h/db"  # pyright: ignore[reportAttributeAccessIssue]


def test_resolve_vector_store_rejects_a_factory_that_returns_something_else() -> None:
    with pytest.raises(ConfigurationError, match="not a VectorStore"):
        plugins.resolve_vector_store("wrong-type:///x")


@pytest.mark.parametrize("url", ["lancedb", "", "/tmp/lance", "qdrant:localhost"])
def test_resolve_vector_store_rejects_urls_without_a_scheme(url: str) -> None:
    with pytest.raises(ConfigurationError, match="lancedb:///") as info:
        plugins.resolve_vector_store(url)
    assert not isinstance(info.value, PluginNotFoundError)


def test_a_missing_pgvector_store_names_its_distribution() -> None:
    with pytest.raises(PluginNotFoundError, match="pip install covey-vectordb-pgvector"):
        plugins.resolve_vector_store("postgresql+asyncpg://u@h/db")


@pytest.mark.parametrize(
    "url", ["user:hunter2@db:5432/covey", "postgresql:user:hunter2@db/covey", "x:y:hunter2@h"]
)
def test_a_malformed_url_never_shows_its_password(url: str) -> None:
    """Fails if the 'invalid URL' error echoes the URL with its password."""
    for resolve in (plugins.resolve_store, plugins.resolve_vector_store):
        with pytest.raises(ConfigurationError) as info:
            resolve(url)
        assert "hunter2" not in str(info.value)
        assert "***" in str(info.value)
