"""A minute of mixed use against one real `newsdesk serve` (the default model, a CLI ingest
beside it): no 5xx but 503, no stalls, every quote exact, every passage with one vector."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rag.config import PROJECT_ROOT


@pytest.mark.slow
@pytest.mark.long
def test_a_minute_of_mixed_use(tmp_path):
    report_file = tmp_path / "soak.json"
    r = subprocess.run(
        [sys.executable, "scripts/soak.py", "--minutes", "1", "--json", str(report_file)],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=PROJECT_ROOT,
    )
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]
    report = json.loads(report_file.read_text())
    statuses = report["statuses"]
    # The soak did what it claims: answers from the model, documents written and removed, and
    # the CLI ingest ran beside the server; and the checks had something to check.
    answered = statuses.get("ask", {}).get("200", 0) + statuses.get("stream", {}).get("200", 0)
    assert answered >= 1, statuses
    for endpoint in ("search", "upload", "reupload", "delete"):
        assert sum(statuses.get(endpoint, {}).values()) >= 1, (endpoint, statuses)
    assert "cli ingest" in statuses, statuses
    assert report["citations"] >= 1 and report["passages"] >= 1
    assert report["vectors"]["chunks"] > 0 and report["vectors"]["sentences"] > 0
    assert report["server_errors"] == 0
    assert report["citation_mismatches"] == [] and report["vector_mismatches"] == []
