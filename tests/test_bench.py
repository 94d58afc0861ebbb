"""`newsdesk bench` runs end to end and reports every measure the performance issue asks for."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.long]


def test_bench_reports_all_measures(tmp_path: Path):
    cli = Path(sys.executable).with_name("newsdesk")
    run = subprocess.run(
        [str(cli), "bench", "--questions", "2", "--json", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["questions"] == 2 and report["corpus"] == "seeds"
    assert report["ingest"]["chunks"] > 0 and report["ingest"]["embed_texts_per_s"] > 0
    assert report["cold_start_s"] > 0
    assert report["retrieval_ms"]["p50"] > 0
    assert report["ask_s"]["p50"] >= report["first_token_s"]["p50"] > 0
    assert report["sources_event_ms"]["p50"] > 0
    assert report["raw_llama_s"]["p50"] > 0 and report["baseline_ask_s"]["p50"] > 0
    assert report["prompt_tokens"]["p50"] > 100
    assert report["generation_tokens_per_s"] > 0
    assert report["peak_rss_mb"] > 500
    assert report["answered"] >= 1
    # A question that was answered showed its first checked sentence before the answer ended.
    checked = report["first_checked_sentence_s"]["p50"]
    assert 0 < checked <= report["ask_s"]["p95"] * 1.5
    assert report["openai_first_content_s"]["p50"] > 0
    # Each answer split into its stages, from the timings the answer carries.
    stages = report["stages_ms"]
    assert stages["retrieval"]["p50"] > 0 and stages["prompt_eval"]["p50"] > 0
    assert stages["generation"]["p50"] > 0 and stages["support_check"]["p50"] > 0
    assert stages["first_draft_token"]["p50"] > 0
    for stage in ("retrieval", "prompt_eval", "generation", "support_check"):
        assert stages[stage]["p50"] <= stages["total"]["p50"]
    assert stages["prompt_eval"]["p50"] < stages["first_draft_token"]["p50"]
    written = list(tmp_path.glob("bench-*.json"))
    assert [p.name for p in written] == [f"bench-seeds-{report['model']}.json"]
    assert json.loads(written[0].read_text()) == report
