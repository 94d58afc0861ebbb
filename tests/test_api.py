"""HTTP tests of the real FastAPI app over the real engine and model."""

import pytest
from fastapi.testclient import TestClient

from api.app import create_app

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(seeded_engine):
    with TestClient(create_app(engine=seeded_engine)) as c:
        yield c


def test_ask_returns_the_answer_contract(client):
    r = client.post(
        "/v1/ask", json={"question": "Which countries refused to send troops to Ukraine?"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"question", "answer", "answerable", "citations", "timings", "model"}
    assert body["answerable"] is True
    assert "italy" in body["answer"].lower()
    assert set(body["timings"]) >= {"retrieve_ms", "generate_ms", "total_ms"}
    for c in body["citations"]:
        assert set(c) >= {
            "n",
            "doc_id",
            "source_file",
            "title",
            "outlet",
            "chunk_id",
            "start",
            "end",
            "quote",
            "score",
        }


@pytest.mark.parametrize(
    "payload",
    [{"question": ""}, {"question": "   "}, {"question": "x" * 2001}, {}, {"question": 5}],
)
def test_bad_questions_get_422_json(client, payload):
    r = client.post("/v1/ask", json=payload)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
    assert r.json()["error"]["message"]


def test_malformed_json_is_422(client):
    r = client.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_health_and_readiness(client, seeded_engine):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert seeded_engine.generator is not None  # make sure the model is loaded
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["chunks"] > 0


def test_unknown_route_uses_error_shape(client):
    r = client.get("/v1/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
