"""`newsdesk` command line: ingest, ask, serve, models.

Every failure a user can cause or fix prints one line on stderr and exits non-zero; tracebacks
are for bugs only.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from rag.config import Settings, get_settings
from rag.errors import BadQuestion, NewsdeskError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Offline question answering over news articles, with citations you can check.",
)
err = Console(stderr=True)
out = Console()

F = TypeVar("F", bound=Callable[..., Any])

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Store location [env NEWSDESK_DATA_DIR].")
]
DocOpt = Annotated[
    list[str] | None, typer.Option("--doc", help="Only search this doc_id (repeatable).")
]
OutletOpt = Annotated[
    list[str] | None,
    typer.Option("--outlet", help="Only search articles from this outlet (repeatable)."),
]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Preset name or .gguf path [env NEWSDESK_MODEL]."),
]


def friendly_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BadQuestion as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from None
        except NewsdeskError as exc:
            err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _settings(data_dir: Path | None = None, model: str | None = None, **kw: Any) -> Settings:
    return get_settings(data_dir=data_dir, model=model, **kw)


@app.command()
@friendly_errors
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders (default: the built-in seeds).")
    ] = None,
    data_dir: DataDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Add or update articles (.txt/.md); unchanged files are skipped, removed ones deleted."""
    from rag.engine import Engine
    from rag.loading import find_article_files
    from rag.owner import ServerIngest, writer_or_server

    settings = _settings(data_dir)
    targets = list(paths) if paths else [settings.seeds_dir]
    find_article_files(targets)  # bad paths fail here, before any model loads
    # A running server owns a local vector store: write through it (see rag/owner.py).
    with writer_or_server(settings.data_dir, settings.chroma_url) as server:
        if server is not None:
            key = settings.api_key.get_secret_value() if settings.api_key else None
            client = ServerIngest(server, api_key=key)
            try:
                client.wait_until_up(on_wait=err.print)
                report, chunks = client.ingest(targets, show_progress=not quiet, console=err)
            finally:
                client.close()
            err.print(
                f"ingest (through the server at {server.url}): {report.summary()}; "
                f"store has {chunks} chunks",
                soft_wrap=True,
            )
            return
        engine = Engine(settings, show_progress=not quiet)
        report = engine.ingest(targets)
        err.print(f"ingest: {report.summary()}; store has {engine.store.count_chunks()} chunks")


@app.command()
@friendly_errors
def reindex(
    data_dir: DataDir = None,
    chroma_url: Annotated[
        str | None,
        typer.Option(help="Chroma server for the vectors [env NEWSDESK_CHROMA_URL]."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Rebuild the vector store from the document database (lost, short or other embedder)."""
    from rag.reindex import reindex as run_reindex

    settings = _settings(data_dir, chroma_url=chroma_url)
    report = run_reindex(settings, show_progress=not quiet, console=err)
    err.print(f"reindex: {report.summary()}; vectors match the store's passages")


@app.command()
@friendly_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    model: ModelOpt = None,
    data_dir: DataDir = None,
    doc: DocOpt = None,
    outlet: OutletOpt = None,
) -> None:
    """Answer a question from the ingested articles, citing the passages used."""
    from rag.engine import Engine

    engine = Engine(_settings(data_dir, model), show_progress=sys.stderr.isatty())
    engine.check_question(question)
    answer = engine.ask(question, doc_ids=doc, outlets=outlet)
    if as_json:
        sys.stdout.write(answer.model_dump_json() + "\n")
        return
    out.print(escape(answer.answer))
    if answer.citations:
        out.print()
        out.print("[bold]Sources[/bold]")
        for c in answer.citations:
            quote = " ".join(c.quote.split())
            if len(quote) > 160:
                quote = quote[:157] + "…"
            out.print(
                f"[{c.n}] {escape(c.outlet or 'unknown outlet')} — {escape(c.title)} "
                f"[dim]({escape(c.source_file)}, chars {c.start}–{c.end})[/dim]"
            )
            out.print(f"    [dim]“{escape(quote)}”[/dim]")
    t = answer.timings
    err.print(
        f"[dim]{answer.model} · retrieve {t.retrieve_ms:.0f} ms · generate "
        f"{t.generate_ms / 1000:.1f} s · total {t.total_ms / 1000:.1f} s[/dim]"
    )


@app.command()
@friendly_errors
def chat(
    as_json: Annotated[
        bool, typer.Option("--json", help="Piped input: print one JSON object per answer.")
    ] = False,
    model: ModelOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Chat about the articles: streamed answers, sources, follow-up questions.

    On a terminal this is interactive (/help lists commands). With piped input each line is one
    question and each answer is printed, so it can be scripted."""
    from rag.engine import Engine
    from rag.terminal import run_chat

    engine = Engine(_settings(data_dir, model), show_progress=sys.stderr.isatty())
    engine.ensure_corpus()
    failures = run_chat(engine, as_json)
    if failures:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in quotes.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=50)] = 8,
    data_dir: DataDir = None,
    doc: DocOpt = None,
    outlet: OutletOpt = None,
) -> None:
    """Ranked passages with scores and offsets, without generating an answer."""
    from rag.engine import Engine

    engine = Engine(_settings(data_dir))
    engine.check_question(query)
    response = engine.search(query, limit=limit, doc_ids=doc, outlets=outlet)
    if as_json:
        sys.stdout.write(response.model_dump_json() + "\n")
        return
    if not response.results:
        out.print("no passages found")
    for r in response.results:
        also = f" · also in {', '.join(a.doc_id for a in r.also_in)}" if r.also_in else ""
        out.print(
            f"[bold]{r.rank}.[/bold] {escape(r.outlet or 'unknown outlet')} — {escape(r.title)} "
            f"[dim]({escape(r.doc_id)}, chars {r.start}–{r.end}, score {r.score:.4f}, "
            f"sim {r.similarity:.2f}{also})[/dim]"
        )
        out.print(f"   {escape(' '.join(r.text.split()))}")
    err.print(f"[dim]retrieve {response.retrieve_ms:.0f} ms[/dim]")


@app.command()
@friendly_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [env NEWSDESK_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [env NEWSDESK_PORT].")] = None,
    model: ModelOpt = None,
    data_dir: DataDir = None,
    ingest_seeds: Annotated[
        bool, typer.Option(help="Ingest the built-in seeds first (skipped when unchanged).")
    ] = True,
    chroma_url: Annotated[
        str | None,
        typer.Option(help="Chroma server for the vectors [env NEWSDESK_CHROMA_URL]."),
    ] = None,
    llm_url: Annotated[
        str | None,
        typer.Option(help="OpenAI-compatible model server [env NEWSDESK_LLM_URL]."),
    ] = None,
) -> None:
    """Serve the HTTP API (POST /v1/ask); loads the model before accepting requests."""
    import uvicorn

    from api.app import create_app
    from rag.engine import Engine
    from rag.owner import client_url, serving

    settings = _settings(
        data_dir, model, host=host, port=port, chroma_url=chroma_url, llm_url=llm_url
    )
    with contextlib.ExitStack() as owned:
        if not settings.chroma_url:  # one process on a local vector store (rag/owner.py)
            url = client_url(settings.host, settings.port)
            owned.enter_context(serving(settings.data_dir, url, on_wait=err.print))
        engine = Engine(settings, show_progress=True)
        if ingest_seeds:
            report = engine.ingest([settings.seeds_dir])
            err.print(f"seeds: {report.summary()}")
        engine.ensure_corpus()
        if settings.llm_url:
            err.print(f"connecting to the model server at {settings.llm_url} …")
        else:
            err.print(f"loading model {settings.model} …")
        engine.warm_up()
        base = f"http://{settings.host}:{settings.port}"
        auth = "API key required" if settings.api_key else "no API key set"
        err.print(f"newsdesk ready on {base} ({auth}; API docs at {base}/docs)")
        uvicorn.run(create_app(settings, engine=engine), host=settings.host, port=settings.port)


@app.command()
@friendly_errors
def models(
    prepare: Annotated[
        str | None, typer.Option(help="Assemble and verify this preset now.")
    ] = None,
) -> None:
    """List model presets and whether each is ready; assemble one with --prepare."""
    from rag.model_files import PRESETS, resolve_model

    settings = get_settings()
    if prepare:
        path = resolve_model(prepare, settings.cache_dir, show_progress=True)
        out.print(f"{prepare}: ready at {path}", soft_wrap=True)
        return
    for name, preset in PRESETS.items():
        target = settings.cache_dir / preset.filename
        state = "assembled" if target.exists() else "not assembled"
        default = " (default)" if name == settings.model else ""
        out.print(
            f"{name}{default}: {preset.size / 1e9:.2f} GB, {state} — {target}", soft_wrap=True
        )


@app.command(name="eval")
@friendly_errors
def eval_cmd(
    subset: Annotated[
        int | None, typer.Option(help="Only N questions, spread across categories.")
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="The fast regression subset.")] = False,
    model: ModelOpt = None,
    compare_baseline: Annotated[
        bool,
        typer.Option(
            "--baseline/--no-baseline", help="Run the plain pipeline on the same questions."
        ),
    ] = True,
    corpus: Annotated[
        str, typer.Option(help="Which corpus: seeds, bbc-dev or all (each in its own store).")
    ] = "all",
    ids: Annotated[
        str | None, typer.Option(help="Only these question ids, comma-separated (q001,d12).")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default eval/reports).")
    ] = None,
    retrieval_only: Annotated[
        bool,
        typer.Option("--retrieval-only", help="Score retrieval and context only; no generation."),
    ] = False,
    judge: Annotated[
        bool,
        typer.Option(
            "--judge", help="Score the support check on eval/support_pairs.jsonl instead."
        ),
    ] = False,
) -> None:
    """Score the gold questions of both corpora offline, the plain pipeline beside newsdesk;
    writes one JSON, markdown and PNG report per corpus and model."""
    from eval.corpora import CORPORA
    from eval.harness import run_cli_eval, run_retrieval_eval

    if corpus != "all" and corpus not in CORPORA:
        raise typer.BadParameter(f"unknown corpus {corpus!r}: use {', '.join(CORPORA)} or all")
    settings = _settings(model=model)
    if judge:
        import json

        from eval.judge_eval import evaluate_judge, print_judge
        from eval.runner import REPORTS
        from rag.engine import Engine

        engine = Engine(settings)
        report = evaluate_judge(engine)
        print_judge(report, err)
        path = (out_dir or REPORTS) / f"support-pairs-{engine.model_name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1), encoding="utf-8")
        out.print(f"report: {path}")
        return
    if retrieval_only:
        _, base = run_retrieval_eval(settings, subset, fast, out_dir, console=err, corpus=corpus)
        out.print(f"report: {base}.json")
        return
    _, bases = run_cli_eval(
        settings,
        subset=subset,
        fast=fast,
        compare_baseline=compare_baseline,
        out_dir=out_dir,
        console=err,
        corpus=corpus,
        ids=[i.strip() for i in ids.split(",") if i.strip()] if ids else None,
    )
    for base in bases:
        out.print(f"report: {base}.md / .json / .png")


@app.command()
@friendly_errors
def bench(
    questions: Annotated[
        int, typer.Option(min=1, max=40, help="How many fixed questions to time.")
    ] = 8,
    model: ModelOpt = None,
    baseline: Annotated[
        bool, typer.Option(help="Also time the naive baseline pipeline (for the speed-up).")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default eval/reports).")
    ] = None,
    deploy: Annotated[
        bool,
        typer.Option(
            "--deploy",
            help="Compare embedded vs server mode (chroma run, llama_cpp.server, 2 replicas).",
        ),
    ] = False,
) -> None:
    """Time cold start, ingest, retrieval, answers, first token, raw llama.cpp and the baseline."""
    import json

    from eval.bench import REPORTS, print_bench, run_bench, write_bench

    settings = _settings(model=model)
    if deploy:
        from eval.deploy_bench import print_deploy, run_deploy_bench

        report = run_deploy_bench(settings, n_questions=questions, console=err)
        kind = "deploy"
    else:
        report = run_bench(settings, n_questions=questions, baseline=baseline, console=err)
        kind = "bench"
    path = write_bench(report, out_dir or REPORTS, kind=kind)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    elif deploy:
        print_deploy(report, out)
    else:
        print_bench(report, out)
    err.print(f"report: {path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
