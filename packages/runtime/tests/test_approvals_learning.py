"""A learning proposal (a `LearningMachine` in propose mode) waits in `/v1/approvals` like any
approval: described for a person, decided there, and the profile change is kept only once
approved."""

from __future__ import annotations

import httpx
import pytest

pytest.importorskip("covey.learn", reason="covey-learn provides the LearningMachine")

from runtime_helpers import wait_for
from test_learning_proposals import ANN, BOB, api, propose  # noqa: F401 - `api` is a fixture


def test_a_learning_proposal_is_decided_in_the_inbox(api: httpx.Client) -> None:  # noqa: F811
    run = propose(api, ANN, "Lyon")
    [item] = api.get("/v1/approvals", headers=ANN).json()["items"]
    assert (item["run_id"], item["tool_name"], item["kind"]) == (
        run["run_id"],
        "update_profile",
        "agent",
    )
    assert item["description"] == "Save to the user's profile: city = 'Lyon'"
    assert api.get("/v1/approvals", headers=BOB).json()["items"] == []
    assert api.get("/v1/users/ann/profile", headers=ANN).status_code == 404

    decided = api.post(
        f"/v1/approvals/{item['approval_id']}", json={"approved": True}, headers=ANN
    ).json()
    assert (decided["resolved_by"], decided["run_status"]) == ("ann", "running")
    profile = wait_for(
        lambda: (r := api.get("/v1/users/ann/profile", headers=ANN)).status_code == 200 and r
    )
    assert profile.json()["data"] == {"city": "Lyon"}
