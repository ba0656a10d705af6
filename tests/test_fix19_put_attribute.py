"""Item 8 of fix19 (fix13's leftover): ``PUT /v1/attribute`` with a form body answered 415
(send it as JSON), and the same request as JSON then 405: the method is the first thing
wrong. A body sent with a method no route of the path takes is the router's answer (405
naming the path's methods, in the Allow header and the message; 404 for no such path),
whatever its media type; a form body to a route that takes it stays 415."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service import Settings, create_app

KEY = "k-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}
BODY = {"models": ["linear"], "journeys": []}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("put")
    settings = Settings(api_keys=(KEY,), data_dir=folder, runs_dir=Path(folder) / "runs")
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_form_body_with_another_method_is_the_same_405_as_json(
    client: TestClient, method: str
) -> None:
    form = client.request(method, "/v1/attribute", headers=AUTH, data={"journeys": "x"})
    json = client.request(method, "/v1/attribute", headers=AUTH, json=BODY)
    assert (form.status_code, json.status_code) == (405, 405)
    assert form.json() == json.json()
    assert form.headers["allow"] == json.headers["allow"] == "POST"
    error = form.json()["error"]
    assert error["type"] == "method_not_allowed"
    assert error["message"] == f"{method} is not a method of /v1/attribute: send it as POST"


def test_a_form_body_where_it_is_taken_or_nowhere(client: TestClient) -> None:
    posted = client.post("/v1/attribute", headers=AUTH, data={"journeys": "x"})
    assert posted.status_code == 415
    assert posted.json()["error"]["field"] == "Content-Type"
    nowhere = client.put("/v1/nothing", headers=AUTH, data={"a": "b"})
    assert nowhere.status_code == 404
