"""`newsdesk` command line: ingest, ask, serve, models, info.

Every failure a user can cause or fix prints one line on stderr and exits non-zero; tracebacks
are for bugs only. Reading commands check the store and the model setting before anything
heavy loads, so a mistake costs a fraction of a second, not the model's start-up.
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

from rag.config import Settings, default_data_dir, get_settings
from rag.errors import BadQuestion, NewsdeskError

# Plain click help: rich help reads "[...]" in help texts as markup and cuts long defaults.
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Offline question answering over news articles, with citations you can check.",
)


def _console(stderr: bool = False) -> Console:
    """Word-wrapped to the terminal's width on a terminal; unwrapped into a pipe or file, where
    a line break in the middle of a field would only get in a reader's way."""
    console = Console(stderr=stderr, highlight=False)
    console.soft_wrap = not console.is_terminal
    return console


err = _console(stderr=True)
out = _console()

F = TypeVar("F", bound=Callable[..., Any])


def _default(field: str) -> str:
    return str(Settings.model_fields[field].default)


DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder holding the article store: the same one from every working directory.",
        envvar="NEWSDESK_DATA_DIR",
        show_default=str(default_data_dir()),
    ),
]
DocOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--doc",
        help="Only search this document id, or a prefix naming one (repeatable).",
        show_default="every document",
    ),
]
OutletOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--outlet",
        help="Only search articles from this outlet, any case (repeatable).",
        show_default="every outlet",
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model preset (see `newsdesk models`) or path to a .gguf file.",
        envvar="NEWSDESK_MODEL",
        show_default=_default("model"),
    ),
]
ChromaOpt = Annotated[
    str | None,
    typer.Option(
        "--chroma-url",
        help="Chroma server (http://host:port) holding the vectors.",
        envvar="NEWSDESK_CHROMA_URL",
        show_default="a local store in the data dir",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Report folder.", show_default="eval/reports")
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


def _check_model(settings: Settings) -> None:
    """A bad --model fails here, in well under a second, not after torch and llama.cpp load."""
    from rag.llm.model_files import check_model

    if not settings.llm_url:  # a model server generates; the local setting only tokenizes
        check_model(settings.model, settings.cache_dir)


@app.command()
@friendly_errors
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Article files (.txt, .md, .html) or folders of them.",
            show_default=f"the built-in articles in {_default('seeds_dir')}",
        ),
    ] = None,
    data_dir: DataDir = None,
    quiet: QuietOpt = False,
) -> None:
    """Add or update articles (.txt, .md, .html); unchanged files are skipped, and files gone
    from an ingested folder are deleted from the store."""
    from rag.engine import Engine
    from rag.index.owner import ServerIngest, writer_or_server
    from rag.ingest.loading import find_article_files

    settings = _settings(data_dir)
    targets = list(paths) if paths else [settings.seeds_dir]
    find_article_files(targets)  # bad paths fail here, before any model loads
    # A running server owns a local vector store: write through it (see rag/index/owner.py).
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
    chroma_url: ChromaOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Rebuild the vector store from the document database (lost, short or other embedder)."""
    from rag.ingest.reindex import reindex as run_reindex

    settings = _settings(data_dir, chroma_url=chroma_url)
    report = run_reindex(settings, show_progress=not quiet, console=err)
    err.print(f"reindex: {report.summary()}; vectors match the store's passages")


@app.command()
@friendly_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    as_json: JsonOpt = False,
    model: ModelOpt = None,
    data_dir: DataDir = None,
    doc: DocOpt = None,
    outlet: OutletOpt = None,
) -> None:
    """Answer a question from the ingested articles, citing the passages used."""
    from rag.engine import Engine
    from rag.frontend.terminal import conflict_note, outlet_title
    from rag.index.datadir import require_articles

    settings = _settings(data_dir, model)
    engine = Engine(settings, show_progress=sys.stderr.isatty())
    engine.check_question(question)
    _check_model(settings)
    require_articles(settings)
    # Loading takes seconds and answering more: on a terminal, say which is under way.
    status = err.status("loading the models…") if err.is_terminal else contextlib.nullcontext()
    with status as shown:
        _ = engine.embedder, engine.generator
        if shown is not None:
            shown.update("retrieving, writing and checking the answer…")
        answer = engine.ask(question, doc_ids=doc, outlets=outlet)
    if as_json:
        sys.stdout.write(answer.model_dump_json() + "\n")
        return
    out.print(escape(answer.answer))
    for conflict in answer.conflicts:
        out.print(conflict_note(conflict))
    if answer.citations:
        out.print()
        out.print("[bold]Sources[/bold]")
        for c in answer.citations:
            quote = " ".join(c.quote.split())
            if len(quote) > 160:
                quote = quote[:157] + "…"
            out.print(
                f"[{c.n}] {outlet_title(c.outlet, c.title)} "
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
        bool,
        typer.Option("--json", help="With piped input, print one JSON object per answer."),
    ] = False,
    model: ModelOpt = None,
    data_dir: DataDir = None,
) -> None:
    """Chat about the articles: streamed answers, sources, follow-up questions.

    On a terminal this is interactive (/help lists commands). With piped input each line is one
    question and each answer is printed, so it can be scripted."""
    from rag.engine import Engine
    from rag.frontend.terminal import run_chat
    from rag.index.datadir import require_articles

    settings = _settings(data_dir, model)
    _check_model(settings)
    require_articles(settings)
    engine = Engine(settings, show_progress=sys.stderr.isatty())
    engine.ensure_corpus()
    failures = run_chat(engine, as_json)
    if failures:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in quotes.")],
    as_json: JsonOpt = False,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=50, help="At most this many passages.")
    ] = 8,
    data_dir: DataDir = None,
    doc: DocOpt = None,
    outlet: OutletOpt = None,
) -> None:
    """Ranked passages with scores and offsets, without generating an answer."""
    from rag.engine import Engine
    from rag.frontend.terminal import outlet_title
    from rag.index.datadir import require_articles

    settings = _settings(data_dir)
    engine = Engine(settings)
    engine.check_question(query)
    require_articles(settings)
    response = engine.search(query, limit=limit, doc_ids=doc, outlets=outlet)
    if as_json:
        sys.stdout.write(response.model_dump_json() + "\n")
        return
    if not response.results:
        out.print("no passages found")
    for r in response.results:
        also = f" · also in {', '.join(a.doc_id for a in r.also_in)}" if r.also_in else ""
        out.print(
            f"[bold]{r.rank}.[/bold] {outlet_title(r.outlet, r.title)} "
            f"[dim]({escape(r.doc_id)}, chars {r.start}–{r.end}, score {r.score:.4f}, "
            f"sim {r.similarity:.2f}{also})[/dim]"
        )
        out.print(f"   {escape(' '.join(r.text.split()))}")
    err.print(f"[dim]retrieve {response.retrieve_ms:.0f} ms[/dim]")


@app.command()
@friendly_errors
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (0.0.0.0: every interface).",
            envvar="NEWSDESK_HOST",
            show_default=_default("host"),
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help="TCP port to listen on.", envvar="NEWSDESK_PORT", show_default=_default("port")
        ),
    ] = None,
    model: ModelOpt = None,
    data_dir: DataDir = None,
    ingest_seeds: Annotated[
        bool,
        typer.Option(
            help="Ingest the built-in articles first (unchanged ones are skipped).",
            show_default=True,
        ),
    ] = True,
    chroma_url: ChromaOpt = None,
    llm_url: Annotated[
        str | None,
        typer.Option(
            help="OpenAI-compatible model server (http://host:port/v1) to generate with.",
            envvar="NEWSDESK_LLM_URL",
            show_default="the model runs in this process",
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (POST /v1/ask) and the reading room page at /; loads the model before
    accepting requests."""
    import uvicorn

    from api.app import create_app
    from rag.engine import Engine
    from rag.index.owner import client_url, serving

    settings = _settings(
        data_dir, model, host=host, port=port, chroma_url=chroma_url, llm_url=llm_url
    )
    _check_model(settings)
    err.print(f"data dir {settings.data_dir} (newsdesk info shows what it holds)", soft_wrap=True)
    with contextlib.ExitStack() as owned:
        if not settings.chroma_url:  # one process on a local vector store (rag/index/owner.py)
            url = client_url(settings.host, settings.port)
            owned.enter_context(serving(settings.data_dir, url, on_wait=err.print))
        engine = Engine(settings, show_progress=True)
        if ingest_seeds:
            report = engine.ingest([settings.seeds_dir])
            err.print(f"seeds: {report.summary()}")
        if engine.store.count_chunks() == 0:
            # A new deployment starts empty and is filled over HTTP: questions answer 409
            # until the first upload lands, on every replica sharing the store.
            err.print(
                "[yellow]the store holds no articles yet:[/yellow] upload some (POST "
                "/v1/documents or the reading room) or run `newsdesk ingest`",
                soft_wrap=True,
            )
        if settings.llm_url:
            err.print(f"connecting to the model server at {settings.llm_url} …")
        else:
            err.print(f"loading model {settings.model} …")
        engine.warm_up()
        base = f"http://{settings.host}:{settings.port}"
        auth = "API key required" if settings.api_key else "no API key set"
        err.print(
            f"newsdesk ready on {base} ({auth}): the reading room at {base}/, "
            f"API docs at {base}/docs"
        )
        uvicorn.run(create_app(settings, engine=engine), host=settings.host, port=settings.port)


@app.command()
@friendly_errors
def models(
    prepare: Annotated[
        str | None,
        typer.Option(
            help="Assemble and verify this preset now.", show_default="only list the presets"
        ),
    ] = None,
) -> None:
    """List model presets and whether each is ready; assemble one with --prepare (which also
    readies the embedder: its one-time ONNX export)."""
    from rag.index.embedding import Embedder
    from rag.llm.model_files import PRESETS, resolve_model

    settings = get_settings()
    if prepare:
        path = resolve_model(prepare, settings.cache_dir, show_progress=True)
        out.print(f"{prepare}: ready at {path}", soft_wrap=True)
        embedder = Embedder.from_settings(settings)
        out.print(f"embedder {embedder.name}: ready ({embedder.backend})", soft_wrap=True)
        return
    for name, preset in PRESETS.items():
        target = settings.cache_dir / preset.filename
        state = "assembled" if target.exists() else "not assembled"
        default = " (default)" if name == settings.model else ""
        out.print(
            f"{name}{default}: {preset.size / 1e9:.2f} GB, {state} — {target}", soft_wrap=True
        )


@app.command()
@friendly_errors
def info(
    data_dir: DataDir = None,
    model: ModelOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Where the store is and what it holds, the model, and the server settings.

    Reads only: creates nothing and loads no model."""
    import json
    import os

    from rag.index.datadir import ingest_hint, store_counts
    from rag.index.owner import process_alive, read_record
    from rag.index.postgres import shown_url
    from rag.llm.model_files import PRESETS, check_model, local_model_file

    settings = _settings(data_dir, model)
    if data_dir is not None and os.environ.get("NEWSDESK_DATA_DIR") != str(data_dir):
        source = "--data-dir"
    elif os.environ.get("NEWSDESK_DATA_DIR"):
        source = "NEWSDESK_DATA_DIR"
    elif settings.data_dir == default_data_dir():
        source = "default"
    else:
        source = ".env"
    try:
        counts = store_counts(settings.data_dir, settings.database_url)
        store_problem = None
    except NewsdeskError as exc:  # an unreachable database
        counts, store_problem = None, str(exc)
    try:
        check_model(settings.model, settings.cache_dir)
        model_problem = None
    except NewsdeskError as exc:
        model_problem = str(exc)
    model_file = local_model_file(settings.model, settings.cache_dir)
    record = read_record(settings.data_dir)
    running = record is not None and process_alive(record.pid)
    report: dict[str, Any] = {
        "data_dir": str(settings.data_dir.expanduser().resolve()),
        "data_dir_source": source,
        "database_url": shown_url(settings.database_url) if settings.database_url else None,
        "store": None if counts is None else vars(counts),
        "store_problem": store_problem,
        "ingest_hint": None if counts and counts.chunks else ingest_hint(settings),
        "model": settings.model,
        "model_kind": "preset" if settings.model in PRESETS else "file",
        "model_file": str(model_file) if model_file else None,
        "model_problem": model_problem,
        "cache_dir": str(settings.cache_dir),
        "llm_url": settings.llm_url,
        "chroma_url": settings.chroma_url,
        "host": settings.host,
        "port": settings.port,
        "api_key_set": settings.api_key is not None,
        "queue_size": settings.queue_size,
        "server_running": record.url if running and record else None,
    }
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    rows = [("data dir", f"{report['data_dir']} ({source})")]
    if report["database_url"]:
        rows.append(("documents", f"{report['database_url']} (NEWSDESK_DATABASE_URL)"))
    if store_problem:
        rows.append(("store", store_problem))
    elif counts is None:
        rows.append(("store", f"none yet: {report['ingest_hint']}"))
    else:
        store = f"{counts.documents} articles, {counts.chunks} passages"
        store += f", {counts.sentences} sentences"
        if not counts.chunks:
            store += f"; {report['ingest_hint']}"
        rows.append(("store", store))
    rows.append(("vectors", settings.chroma_url or "local, in the data dir"))
    if model_problem:
        state = model_problem
    elif model_file:
        state = str(model_file)
    else:
        state = "installed, assembled into the cache dir on first use"
    rows.append(("model", f"{settings.model}: {state}"))
    if settings.llm_url:
        rows.append(("model server", settings.llm_url))
    rows.append(("cache dir", str(settings.cache_dir)))
    key = "API key required" if settings.api_key else "no API key"
    rows.append(
        ("serve", f"http://{settings.host}:{settings.port} ({key}, queue {settings.queue_size})")
    )
    rows.append(("server", f"running at {record.url}" if running and record else "not running"))
    for name, value in rows:
        out.print(f"[bold]{name:<12}[/bold] {escape(value)}")


@app.command(name="eval")
@friendly_errors
def eval_cmd(
    subset: Annotated[
        int | None,
        typer.Option(
            help="Only N questions, spread across categories.", show_default="every question"
        ),
    ] = None,
    fast: Annotated[
        bool, typer.Option("--fast", help="Only the fast regression subset of each corpus.")
    ] = False,
    model: ModelOpt = None,
    compare_baseline: Annotated[
        bool,
        typer.Option(
            "--baseline/--no-baseline",
            help="Run the plain pipeline on the same questions.",
            show_default=True,
        ),
    ] = True,
    corpus: Annotated[
        str,
        typer.Option(
            help="Which corpus: seeds, bbc-dev or all (each in its own store).",
            show_default=True,
        ),
    ] = "all",
    ids: Annotated[
        str | None,
        typer.Option(
            help="Only these question ids, comma-separated (q001,d12).",
            show_default="every question",
        ),
    ] = None,
    questions: Annotated[
        Path | None,
        typer.Option(
            help="Gold questions to score instead of the corpus's own, in its JSONL format, "
            "about the articles of the one corpus named by --corpus.",
            exists=True,
            dir_okay=False,
            show_default="the corpus's own",
        ),
    ] = None,
    out_dir: OutOpt = None,
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
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Keep each corpus's documents in a scratch database on this PostgreSQL server"
            " (the role needs CREATEDB; dropped after), to score its lexical search.",
            show_default="SQLite in a temporary folder",
        ),
    ] = None,
) -> None:
    """Score the gold questions of both corpora offline, the plain pipeline beside newsdesk;
    writes one JSON, markdown and PNG report per corpus and model."""
    from eval.corpora import CORPORA
    from eval.harness import run_cli_eval, run_retrieval_eval

    if corpus != "all" and corpus not in CORPORA:
        raise typer.BadParameter(f"unknown corpus {corpus!r}: use {', '.join(CORPORA)} or all")
    if questions and (corpus == "all" or judge or retrieval_only or fast):
        raise typer.BadParameter(
            "--questions asks about one corpus's articles: name it with --corpus; it scores "
            "answers only (not the fast subset, retrieval alone or the labelled pairs)"
        )
    settings = _settings(model=model)
    _check_model(settings)
    if judge and database_url:
        raise typer.BadParameter("--judge reads labelled pairs, no store: leave out --database-url")
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
        _, base = run_retrieval_eval(
            settings, subset, fast, out_dir, console=err, corpus=corpus, admin_url=database_url
        )
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
        admin_url=database_url,
        questions=questions,
    )
    for base in bases:
        out.print(f"report: {base}.md / .json / .png")


@app.command()
@friendly_errors
def bench(
    questions: Annotated[
        int,
        typer.Option(min=1, max=40, help="How many fixed questions to time.", show_default=True),
    ] = 8,
    corpus: Annotated[
        str,
        typer.Option(
            help="Which corpus to time: seeds or bbc-dev (in a private store).",
            show_default=True,
        ),
    ] = "seeds",
    model: ModelOpt = None,
    baseline: Annotated[
        bool,
        typer.Option(
            help="Also time the naive baseline pipeline (for the speed-up).", show_default=True
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
    out_dir: OutOpt = None,
    deploy: Annotated[
        bool,
        typer.Option(
            "--deploy",
            help="Compare embedded vs server mode (chroma run, llama_cpp.server, 2 replicas).",
        ),
    ] = False,
) -> None:
    """Time cold start, ingest, retrieval, answers stage by stage, first token, raw llama.cpp
    and the baseline."""
    import json

    from eval.bench import REPORTS, print_bench, run_bench, write_bench
    from eval.corpora import CORPORA

    if corpus not in CORPORA:
        raise typer.BadParameter(f"unknown corpus {corpus!r}: use {' or '.join(CORPORA)}")
    if deploy and corpus != "seeds":
        raise typer.BadParameter("--deploy times the seeds only: leave out --corpus")
    settings = _settings(model=model)
    _check_model(settings)
    if deploy:
        from eval.deploy_bench import print_deploy, run_deploy_bench

        report = run_deploy_bench(settings, n_questions=questions, console=err)
        kind = "deploy"
    else:
        report = run_bench(
            settings, n_questions=questions, baseline=baseline, console=err, corpus=corpus
        )
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
