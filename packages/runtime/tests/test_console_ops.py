"""The console's operations screens in a real Chromium against a real runtime on loopback:
knowledge (upload with progress, ingestion, search), memories, schedules, evals, plugins and
workflow diagrams. Each test acts through the page and checks the API agrees."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from console_helpers import (
    console_page,
    console_registry,
    console_token,
    jwt_settings,
    launch,
    shot,
    sign_in,
)
from knowledge_helpers import knowledge_base

from covey.core import Step, Workflow
from covey.core.workflow import Loop, Parallel
from covey.evals import CaseResult, EvalReport, save_report
from covey.evals.judge import JudgeResult
from covey.evals.report import ThresholdCheck
from covey.runtime import Registry
from covey.spec.store import Learning, Memory, Scope, UserProfile
from covey.testing import InMemoryStore, InMemoryVectorStore

OTTERS = (
    "# Otters\n\nSea otters hold hands while they sleep so they do not drift apart.\n\n"
    "## Food\n\nThey eat sea urchins, crabs and clams, and use stones as tools.\n"
)
BEES = "Honey bees dance to tell the hive where the flowers are.\n"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


def _registry(**extra: Any) -> Registry:
    """The console registry's agents, team and workflows, plus `extra` (knowledge=...)."""
    base = console_registry()
    items = [*base.items("agent"), *base.items("team"), *base.items("workflow")]
    return Registry([*items, *extra.pop("more", [])], **extra)


def test_upload_documents_through_the_page_and_search_them(
    serve, browser: Any, tmp_path: Path, vectors: InMemoryVectorStore
) -> None:
    """Fails if the page cannot upload several files (a progress bar each), does not show each
    document's ingestion reaching `completed`, or its search does not find a file's text."""
    kb = knowledge_base(vectors)
    server, api = serve(
        registry=_registry(knowledge=[kb]), data_dir=tmp_path / "data", poll_interval=0.05
    )
    (tmp_path / "otters.md").write_text(OTTERS)
    (tmp_path / "bees.txt").write_text(BEES)
    with console_page(browser, server.url, "knowledge") as page:
        page.get_by_role("link", name="docs").click()
        page.get_by_role("heading", name="docs").wait_for()
        page.get_by_text("No documents yet").wait_for()
        page.get_by_label("Add documents").set_input_files(
            [str(tmp_path / "otters.md"), str(tmp_path / "bees.txt")]
        )
        uploads = page.get_by_role("list", name="Uploads")
        documents = page.get_by_role("table", name="Documents of docs")
        for name in ("otters.md", "bees.txt"):
            line = uploads.get_by_role("listitem").filter(has_text=name)
            line.get_by_text("completed").wait_for()
            progress = line.get_by_role("progressbar", name=f"Upload of {name}")
            assert progress.get_attribute("value") == progress.get_attribute("max")
            documents.get_by_role("row").filter(has_text=name).get_by_text("completed").wait_for()
        contents = api.get("/v1/knowledge/docs/contents").json()["items"]
        assert sorted(c["name"] for c in contents) == ["bees.txt", "otters.md"]
        assert all(c["status"] == "completed" and c["chunk_count"] >= 1 for c in contents)

        page.get_by_role("searchbox", name="Search").fill("otters sleep holding hands")
        page.get_by_role("button", name="Search").click()
        results = page.get_by_role("list", name="Results")
        hit = results.get_by_role("listitem").filter(has_text="hold hands while they sleep")
        hit.first.wait_for()
        assert "otters.md" in hit.first.inner_text()
        assert re.search(r"score \d\.\d{3}", hit.first.inner_text())
        shot(page, "knowledge")

        # Delete one from the page: the API no longer lists it, and still lists the other.
        row = documents.get_by_role("row").filter(has_text="otters.md")
        row.get_by_role("button", name="Delete otters.md").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        row.wait_for(state="detached")
        left = api.get("/v1/knowledge/docs/contents").json()["items"]
        assert [c["name"] for c in left] == ["bees.txt"]


def test_a_refused_upload_says_why_on_its_line(
    serve, browser: Any, tmp_path: Path, vectors: InMemoryVectorStore
) -> None:
    """A file whose bytes are not what its extension says is refused (415) with the server's
    reason on its upload line; nothing is stored."""
    server, api = serve(
        registry=_registry(knowledge=[knowledge_base(vectors)]), data_dir=tmp_path / "data"
    )
    fake = tmp_path / "report.pdf"
    fake.write_text("not a pdf at all")
    with console_page(browser, server.url, "knowledge/docs") as page:
        page.get_by_label("Add documents").set_input_files(str(fake))
        line = page.get_by_role("list", name="Uploads").get_by_role("listitem")
        line.get_by_text("its bytes do not match its extension").wait_for()
        assert "failed" in line.inner_text()
        assert api.get("/v1/knowledge/docs/contents").json()["items"] == []


def test_a_file_dropped_on_the_upload_area_is_uploaded(
    serve, browser: Any, tmp_path: Path, vectors: InMemoryVectorStore
) -> None:
    server, api = serve(
        registry=_registry(knowledge=[knowledge_base(vectors)]), data_dir=tmp_path / "data"
    )
    with console_page(browser, server.url, "knowledge/docs") as page:
        zone = page.get_by_text("Drop files here, or choose them.").locator("..")
        dropped = page.evaluate_handle(
            """text => {
                const data = new DataTransfer();
                data.items.add(new File([text], "bees.txt", { type: "text/plain" }));
                return data;
            }""",
            BEES,
        )
        zone.dispatch_event("dragover", {"dataTransfer": dropped})
        zone.dispatch_event("drop", {"dataTransfer": dropped})
        line = page.get_by_role("list", name="Uploads").get_by_role("listitem")
        line.get_by_text("completed").wait_for()
        [content] = api.get("/v1/knowledge/docs/contents").json()["items"]
        assert content["name"] == "bees.txt" and content["size"] == len(BEES)


def test_a_users_upload_is_theirs_and_another_tenant_never_sees_it(
    serve, browser: Any, tmp_path: Path, vectors: InMemoryVectorStore
) -> None:
    """Signed in with a token of tenant acme, alice uploads a document (hers, not shared); a
    user of tenant globex signed in on the same screen neither lists nor finds it."""
    server, _ = serve(
        registry=_registry(knowledge=[knowledge_base(vectors)]),
        data_dir=tmp_path / "data",
        **jwt_settings(),
    )
    (tmp_path / "otters.md").write_text(OTTERS)
    with console_page(browser, server.url, "knowledge/docs") as page:
        sign_in(page, console_token("alice", tenant="acme"))
        assert page.get_by_label("Share with the whole tenant").count() == 0  # admins only
        page.get_by_label("Add documents").set_input_files(str(tmp_path / "otters.md"))
        row = page.get_by_role("table", name="Documents of docs").get_by_role("row")
        row.filter(has_text="otters.md").get_by_text("completed").wait_for()
        assert "alice" in row.filter(has_text="otters.md").inner_text()
    with console_page(browser, server.url, "knowledge/docs") as page:
        sign_in(page, console_token("eve", tenant="globex"))
        page.get_by_text("No documents yet").wait_for()
        page.get_by_role("searchbox", name="Search").fill("otters sleep holding hands")
        page.get_by_role("button", name="Search").click()
        page.get_by_text("Nothing found.").wait_for()


def test_knowledge_screen_says_when_nothing_is_served(serve, browser: Any) -> None:
    server, _ = serve(registry=console_registry())
    with console_page(browser, server.url, "knowledge") as page:
        page.get_by_text("This server serves no knowledge base").wait_for()


def test_a_memory_is_added_corrected_and_deleted_through_the_page(serve, browser: Any) -> None:
    """Fails if a memory added, edited or deleted in the page is not so in the API."""
    server, api = serve(registry=console_registry())
    with console_page(browser, server.url, "memories") as page:
        # With auth off a memory needs its user: the server's refusal is shown, nothing stored.
        page.get_by_label("Memory", exact=True).fill("Nobody's memory")
        page.get_by_role("button", name="Add memory").click()
        page.get_by_role("alert").get_by_text("user_id").first.wait_for()
        assert api.get("/v1/memories").json()["items"] == []
        page.get_by_label("User id").fill("alice")
        page.get_by_role("button", name="Show", exact=True).click()
        page.get_by_text("No memories.").wait_for()
        page.get_by_label("Memory", exact=True).fill("Alice prefers window seats")
        page.get_by_label("Topics").fill("travel, seats")
        page.get_by_role("button", name="Add memory").click()
        table = page.get_by_role("table", name="Memories")
        table.get_by_text("Alice prefers window seats").wait_for()
        [memory] = api.get("/v1/memories", params={"user_id": "alice"}).json()["items"]
        assert memory["memory"] == "Alice prefers window seats"
        assert memory["topics"] == ["travel", "seats"] and memory["user_id"] == "alice"
        shot(page, "memories")

        table.get_by_role("button", name=re.compile("^Edit memory")).click()
        page.get_by_label("Memory text").fill("Alice prefers aisle seats")
        table.get_by_role("button", name="Save").click()
        table.get_by_text("Alice prefers aisle seats").wait_for()
        [memory] = api.get("/v1/memories", params={"user_id": "alice"}).json()["items"]
        assert memory["memory"] == "Alice prefers aisle seats"

        table.get_by_role("button", name=re.compile("^Delete memory")).click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        page.get_by_text("No memories.").wait_for()
        assert api.get("/v1/memories", params={"user_id": "alice"}).json()["items"] == []

        # The profile: saved as JSON through the page, read back by the API, then deleted.
        page.get_by_role("tab", name="Profile").click()
        page.get_by_text("No profile for alice yet.").wait_for()
        page.get_by_label("Profile (JSON object)").fill('{"city": "Lyon"}')
        page.get_by_role("button", name="Save profile").click()
        page.get_by_role("button", name="Delete profile").wait_for()
        assert api.get("/v1/users/alice/profile").json()["data"] == {"city": "Lyon"}
        page.get_by_label("Profile (JSON object)").fill("[1, 2]")
        page.get_by_role("button", name="Save profile").click()
        page.get_by_role("alert").get_by_text("JSON object").wait_for()
        page.get_by_role("button", name="Delete profile").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        page.get_by_text("No profile for alice yet.").wait_for()
        assert api.get("/v1/users/alice/profile").status_code == 404


def test_a_user_sees_only_their_own_memories(serve, browser: Any) -> None:
    """Fails if a non-admin gets a user box or sees another user's memory."""
    server, api = serve(registry=console_registry(), **jwt_settings())
    for who, text in (("alice", "Alice likes tea"), ("bob", "Bob likes coffee")):
        headers = {"Authorization": f"Bearer {console_token(who)}"}
        assert api.post("/v1/memories", json={"memory": text}, headers=headers).status_code == 201
    with console_page(browser, server.url, "memories") as page:
        sign_in(page, console_token("alice"))
        page.get_by_role("table", name="Memories").get_by_text("Alice likes tea").wait_for()
        assert page.get_by_text("Bob likes coffee").count() == 0
        assert page.get_by_label("User id").count() == 0
        assert page.get_by_role("table", name="Users").count() == 0


def _seed(coroutine: Any) -> Any:
    """Await `coroutine` on its own loop: Playwright's sync API runs a loop in this thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


MARKUP = '<img src="x" onerror="window.__pwned = 1"><script>window.__pwned = 2</script>'
STEP_MARKUP = "<img src=x onerror=alert(3)>"
"""Step names may not hold '.', '[' or ']'."""


def test_learnings_are_listed_by_namespace_and_deleted(serve, browser: Any) -> None:
    """Fails if the page does not offer the namespaces the server lists (never Covey's own),
    does not list a namespace's learnings of one kind, or its delete does not reach the API."""
    store = InMemoryStore()
    rows = [
        ("travel", "Alice books trains, not planes", "preference"),
        ("travel", "Be brief", "rule"),
        ("billing", "Alice pays by card", "preference"),
        ("covey.learn.calls", "7", "counter"),
    ]
    for namespace, content, kind in rows:
        _seed(
            store.add_learning(
                Scope("default", "alice"),
                Learning(namespace=namespace, kind=kind, content=content, user_id="alice"),
            )
        )
    server, api = serve(registry=console_registry(), store=store)
    with console_page(browser, server.url, "memories?user=alice&tab=learnings") as page:
        namespaces = page.get_by_label("Namespace")
        # The first namespace is shown at once; no id to type.
        page.get_by_role("table", name="Learnings").get_by_text("Alice pays by card").wait_for()
        offered = namespaces.locator("option").all_inner_texts()
        assert offered == ["billing (1)", "travel (2)"]
        namespaces.select_option("travel")
        page.get_by_role("table", name="Learnings").get_by_text("Be brief").wait_for()
        assert page.get_by_label("Kind").locator("option").all_inner_texts() == [
            "any",
            "preference",
            "rule",
        ]
        page.get_by_label("Kind").select_option("preference")
        learnings = page.get_by_role("table", name="Learnings")
        learnings.get_by_text("Be brief").wait_for(state="detached")
        learnings.get_by_text("Alice books trains, not planes").wait_for()
        assert learnings.get_by_text("Be brief").count() == 0
        learnings.get_by_role("button", name=re.compile("^Delete learning")).click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        page.get_by_text("No learnings in this namespace.").wait_for()
        left = api.get("/v1/learnings", params={"namespace": "travel", "user_id": "alice"})
        assert [x["content"] for x in left.json()["items"]] == ["Be brief"]


def test_an_admin_picks_a_user_from_the_users_the_server_lists(serve, browser: Any) -> None:
    """Fails if the page does not list the tenant's users (page after page), a user cannot be
    opened from the list, or typing an id stops working."""
    store = InMemoryStore()
    tenant = Scope("default")
    for n in range(52):  # more than one page of users (the page asks for 50)
        _seed(store.save_user_profile(tenant, UserProfile(user_id=f"user-{n:02d}")))
    _seed(store.add_memory(tenant, Memory(user_id="bob", memory="Bob flies on Fridays")))
    server, _ = serve(registry=console_registry(), store=store)
    with console_page(browser, server.url, "memories") as page:
        users = page.get_by_role("table", name="Users")
        users.get_by_role("row").nth(50).wait_for()  # a header and 50 users
        first = users.get_by_role("row").nth(1)
        assert "bob" in first.inner_text() and "1" in first.inner_text()  # latest change first
        assert users.get_by_role("row").count() == 51
        page.get_by_role("button", name="Load more").click()
        users.get_by_role("row").nth(53).wait_for()
        assert users.get_by_role("row").count() == 54
        assert page.get_by_role("button", name="Load more").count() == 0
        options = page.locator("#mem-known-users option")
        assert options.count() == 53
        users.get_by_role("link", name="bob", exact=True).click()
        page.wait_for_url(re.compile(r"memories\?user=bob$"))
        page.get_by_role("table", name="Memories").get_by_text("Bob flies on Fridays").wait_for()
        # Typing an id still works, also one the list does not hold.
        page.get_by_label("User id").fill("nobody")
        page.get_by_role("button", name="Show", exact=True).click()
        page.wait_for_url(re.compile(r"memories\?user=nobody$"))
        page.get_by_text("No memories.").wait_for()


def test_markup_in_user_data_stays_text(serve, browser: Any) -> None:
    """An attacker's memory, topic or workflow step name is shown as text, never run as markup."""
    server, api = serve(
        registry=_registry(
            more=[
                Workflow(
                    name="evil", steps=[Step(console_registry().find("weather"), name=STEP_MARKUP)]
                )
            ]
        )
    )
    added = api.post(
        "/v1/memories", json={"memory": MARKUP, "topics": ["<b>x</b>"], "user_id": "mallory"}
    )
    assert added.status_code == 201, added.text
    with console_page(browser, server.url, "memories?user=mallory") as page:
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.get_by_role("table", name="Memories").get_by_text(MARKUP).wait_for()
        page.get_by_text("<b>x</b>").wait_for()
        assert page.locator("main img, main script, main b").count() == 0
        page.goto(f"{server.url}/console/workflows/evil")
        diagram = page.get_by_role("img", name=re.compile("^Workflow evil"))
        diagram.wait_for()
        assert STEP_MARKUP in diagram.locator("text").all_text_contents()
        assert page.locator("main img:not([role]), main script").count() == 0
        assert page.evaluate("window.__pwned") is None
        assert dialogs == []


def test_a_schedule_is_created_paused_and_deleted_through_the_page(serve, browser: Any) -> None:
    """Fails if the form does not create the interval schedule it shows, or pause and delete
    in the page do not reach the API."""
    server, api = serve(registry=console_registry())
    with console_page(browser, server.url, "schedules") as page:
        sent: list[str] = []
        page.on(
            "request", lambda r: sent.append(f"{r.method} {r.url}") if "/v1/" in r.url else None
        )
        page.get_by_text("No schedules yet.").wait_for()
        page.get_by_text("New schedule").first.click()
        page.get_by_label("Name").fill("morning weather")
        page.get_by_label("Target kind").select_option("agent")
        page.get_by_label("Target", exact=True).select_option("weather")
        page.get_by_label("Interval (seconds)").fill("7200")
        page.get_by_label("Input").fill("Weather in Paris?")
        page.get_by_role("button", name="Create schedule").click()
        row = (
            page.get_by_role("table", name="Schedules")
            .get_by_role("row")
            .filter(has_text="morning weather")
        )
        row.get_by_text("every 2 h").wait_for()
        [saved] = api.get("/v1/schedules").json()["items"]
        assert saved["name"] == "morning weather" and saved["interval"] == 7200
        assert saved["target_kind"] == "agent" and saved["target_id"] == "weather"
        assert saved["input"] == "Weather in Paris?" and saved["enabled"] is True
        shot(page, "schedules")

        row.get_by_role("button", name="Pause morning weather").click()
        row.get_by_text("paused").wait_for()
        listed = api.get("/v1/schedules").json()["items"]
        assert listed[0]["enabled"] is False, (listed, row.inner_text(), sent)

        row.get_by_role("link", name="morning weather").click()
        page.get_by_role("heading", name="Schedule morning weather").wait_for()
        page.get_by_text("It has not fired yet.").wait_for()
        page.get_by_role("button", name="Resume morning weather").click()
        page.get_by_role("button", name="Pause morning weather").wait_for()
        assert api.get("/v1/schedules").json()["items"][0]["enabled"] is True
        page.get_by_role("button", name="Delete morning weather").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        page.get_by_text("No schedules yet.").wait_for()
        assert api.get("/v1/schedules").json()["items"] == []


def test_a_schedules_firings_show_up_in_its_history(serve, browser: Any) -> None:
    """Fails if a firing of an active schedule does not appear in its run history (without a
    reload) with its run's status and a link to the run."""
    server, api = serve(registry=console_registry(), schedule_poll=0.2)
    body = {"name": "often", "target_id": "weather", "interval": 1, "input": "Weather in Paris?"}
    created = api.post("/v1/schedules", json=body)
    assert created.status_code == 201, created.text
    schedule_id = created.json()["schedule_id"]
    with console_page(browser, server.url, f"schedules/{schedule_id}") as page:
        history = page.get_by_role("table", name="Run history")
        history.get_by_text("completed").first.wait_for()
        page.get_by_role("button", name="Pause often").click()
        page.get_by_role("button", name="Resume often").wait_for()
        runs = api.get(f"/v1/schedules/{schedule_id}/runs").json()["items"]
        first = history.get_by_role("link").first
        assert first.get_attribute("href") in {f"/console/runs/{r['run_id']}" for r in runs}
        assert api.get(f"/v1/runs/{runs[-1]['run_id']}").json()["agent_id"] == "weather"


def test_a_schedule_form_error_is_shown_not_swallowed(serve, browser: Any) -> None:
    server, api = serve(registry=console_registry())
    with console_page(browser, server.url, "schedules") as page:
        page.get_by_text("New schedule").first.click()
        page.get_by_label("Name").fill("bad zone")
        page.get_by_label("Target", exact=True).select_option("weather")
        page.get_by_label("Timezone").fill("Mars/Olympus")
        page.get_by_label("Input").fill("hello")
        page.get_by_role("button", name="Create schedule").click()
        page.get_by_role("alert").wait_for()
        assert api.get("/v1/schedules").json()["items"] == []


def test_plugins_lists_the_installed_distributions_with_versions(serve, browser: Any) -> None:
    server, _ = serve(registry=console_registry())
    with console_page(browser, server.url, "plugins") as page:
        db = page.get_by_role("region", name="db")
        row = db.get_by_role("row").filter(has_text="covey-db-memory")
        row.wait_for()
        assert version("covey-db-memory") in row.inner_text()
        models = page.get_by_role("region", name="models")
        test_row = models.get_by_role("row").filter(has_text="covey-core")
        assert version("covey-core") in test_row.first.inner_text()
        shot(page, "plugins")
        page.get_by_label("Filter").fill("memory")
        page.get_by_role("region", name="models").wait_for(state="detached")
        assert page.get_by_role("region", name="db").is_visible()


def test_the_workflow_diagram_draws_every_step(serve, browser: Any) -> None:
    """Fails if a step name is missing from the SVG, the Mermaid text is not there, or the
    "Run it" link does not lead to the workflow's chat."""
    server, api = serve(registry=console_registry())
    with console_page(browser, server.url, "workflows/briefing") as page:
        diagram = page.get_by_role("img", name=re.compile("^Workflow briefing"))
        diagram.wait_for()
        texts = diagram.locator("text").all_text_contents()
        assert "forecast" in texts and "recap" in texts
        assert texts.index("forecast") < texts.index("recap")
        assert page.get_by_role("link", name="Run it").get_attribute("href") == (
            "/console/chat/workflow/briefing"
        )
        page.get_by_text("Mermaid", exact=True).click()
        mermaid = api.get("/v1/workflows/briefing").json()["mermaid"]
        assert page.get_by_label("Mermaid text").inner_text().strip() == mermaid.strip()
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        page.get_by_role("button", name="Copy the Mermaid text").click()
        page.get_by_text("Mermaid text copied.").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == mermaid
        shot(page, "workflow")


def test_a_nested_workflow_draws_branches_and_the_loop_limit(serve, browser: Any) -> None:
    base = console_registry()
    weather = base.find("weather")
    nested = Workflow(
        name="nested",
        steps=[
            Parallel(Step(weather, name="north"), Step(weather, name="south"), name="both"),
            Loop(Step(weather, name="retry"), max_iterations=3, name="again"),
        ],
    )
    server, _ = serve(registry=_registry(more=[nested]))
    with console_page(browser, server.url, "workflows/nested") as page:
        diagram = page.get_by_role("img", name=re.compile("^Workflow nested"))
        diagram.wait_for()
        texts = diagram.locator("text").all_text_contents()
        assert {"north", "south", "retry"} <= set(texts)
        assert any("at most 3×" in t for t in texts)
        north = diagram.locator("text", has_text="north").bounding_box()
        south = diagram.locator("text", has_text="south").bounding_box()
        assert north and south and abs(north["y"] - south["y"]) < 1  # side by side
        assert north["x"] != south["x"]
        page.goto(f"{server.url}/console/workflows/nope")
        page.get_by_role("alert").get_by_text("nope").first.wait_for()


def test_eval_reports_list_and_open(serve, browser: Any) -> None:
    store = InMemoryStore()
    now = datetime.now(UTC)
    report = EvalReport(
        id="rep-1",
        suite="weather-suite",
        agent="weather",
        started_at=now,
        finished_at=now,
        cases=[
            CaseResult(
                id="paris",
                input="Weather in Paris?",
                output="sunny, 21 °C",
                status="completed",
                passed=True,
                accuracy=JudgeResult(score=9, reason="right city, right weather"),
            ),
            CaseResult(
                id="oslo",
                input="Weather in Oslo?",
                output="rain",
                status="completed",
                passed=False,
                accuracy=JudgeResult(score=3, reason="wrong"),
            ),
        ],
        accuracy=6.0,
        pass_rate=0.5,
        thresholds=[ThresholdCheck(name="accuracy", threshold=7, value=6.0, passed=False)],
        passed=False,
    )
    _seed(save_report(store, Scope("default"), report))
    server, _ = serve(registry=console_registry(), store=store)
    with console_page(browser, server.url, "evals") as page:
        row = (
            page.get_by_role("table", name="Eval reports")
            .get_by_role("row")
            .filter(has_text="weather-suite")
        )
        row.get_by_text("1 / 2").wait_for()
        row.focus()  # rows open from the keyboard too
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Eval weather-suite").wait_for()
        cases = page.get_by_role("table", name="Cases")
        oslo = cases.get_by_role("row").filter(has_text="oslo")
        assert "failed" in oslo.inner_text() and "3.0 / 10" in oslo.inner_text()
        thresholds = page.get_by_role("table", name="Thresholds")
        assert "6.000" in thresholds.inner_text() and "failed" in thresholds.inner_text()
        shot(page, "evals")


def test_a_running_eval_shows_its_progress_then_its_result(
    serve, browser: Any, gates: Path
) -> None:
    """POST /v1/evals answers at once; the list shows the report running with its progress,
    and its page polls until the result, with no reload."""
    server, client = serve()  # the runtime tests' registry: `gated` waits on a gate file
    suite = {
        "name": "slow-suite",
        "agent": "gated",
        "cases": [
            {"id": gate, "input": gate, "tool_calls": [{"name": "gate"}]} for gate in ("e1", "e2")
        ],
    }
    started = client.post("/v1/evals", json={"suite": suite, "concurrency": 1})
    assert started.status_code == 202, started.text
    report_id = started.json()["id"]
    with console_page(browser, server.url, "evals") as page:
        row = (
            page.get_by_role("table", name="Eval reports")
            .get_by_role("row")
            .filter(has_text="slow-suite")
        )
        row.get_by_text("0 of 2 cases done").wait_for()
        assert "running" in row.inner_text()
        (gates / "e1").touch()
        row.get_by_text("1 of 2 cases done").wait_for()  # the list refreshes while one runs
        page.goto(f"{server.url}/console/evals/{report_id}")
        progress = page.get_by_role("progressbar", name=re.compile("Eval progress"))
        assert progress.get_attribute("value") == "1"
        page.get_by_role("button", name="Cancel eval slow-suite").wait_for()
        (gates / "e2").touch()
        page.get_by_text("2 of 2 cases passed").wait_for()
        assert page.get_by_role("progressbar").count() == 0
        assert page.get_by_role("button", name="Cancel eval slow-suite").count() == 0
        cases = page.get_by_role("table", name="Cases")
        assert "e2" in cases.inner_text() and "done: gate e2 opened" in cases.inner_text()
    assert client.get(f"/v1/evals/{report_id}").json()["status"] == "completed"


def test_a_running_eval_can_be_cancelled_from_its_page(serve, browser: Any) -> None:
    server, client = serve()
    suite = {"name": "stop-me", "agent": "gated", "cases": [{"id": "s1", "input": "never-s1"}]}
    report_id = client.post("/v1/evals", json={"suite": suite}).json()["id"]
    with console_page(browser, server.url, f"evals/{report_id}") as page:
        page.get_by_role("button", name="Cancel eval stop-me").click()
        page.get_by_text("cancelled", exact=True).first.wait_for()
        assert page.get_by_role("progressbar").count() == 0
    assert client.get(f"/v1/evals/{report_id}").json()["status"] == "cancelled"


def test_evals_say_so_when_the_server_has_no_covey_evals(serve, browser: Any) -> None:
    """A server without covey-evals answers `features.evals: false` in `/v1/me` (this test
    environment has it installed, so the real answer is edited on its way to the page)."""
    server, _ = serve(registry=console_registry())

    def without_evals(route: Any) -> None:
        response = route.fetch()
        me = response.json()
        assert me["features"]["evals"] is True
        me["features"]["evals"] = False
        route.fulfill(response=response, json=me)

    with console_page(browser, server.url) as page:
        page.route("**/v1/me", without_evals)
        page.goto(f"{server.url}/console/evals")
        page.get_by_text("Evals are not available on this server").wait_for()
        nav = page.get_by_role("navigation", name="Console")
        assert nav.get_by_role("link", name="Evals").count() == 0
