"""`newsdesk chat`: the terminal way in.

Interactive on a terminal (prompt_toolkit for input and persistent history, rich for output):
a spinner names the stage, each answer sentence appears as soon as it passes the check, then
what the check removed, where the sources disagree, and the numbered sources. Piped, each input
line is one question and each answer is printed (or one JSON object per line with --json), so
it can be scripted.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from rag.engine import Engine
from rag.errors import NewsdeskError
from rag.frontend.chat import Conversation, needs_rewrite
from rag.schemas import Answer, Conflict

HELP = """Ask a question about the articles; follow-ups may refer to earlier answers.
  /sources N   print the full passage behind citation [N] of the last answer
  /reset       forget the conversation (follow-ups start fresh)
  /model       show the model and data directory in use
  /help        this text
  /quit        leave (or Ctrl-D); Ctrl-C stops an answer without leaving"""


def outlet_title(outlet: str | None, title: str) -> str:
    """A source's heading: "Outlet — Title", or the title alone when the article names none."""
    return f"{escape(outlet)} — {escape(title)}" if outlet else escape(title)


def conflict_note(conflict: Conflict) -> str:
    """A disagreement as a note beside the answer: each report's value with its citation."""
    sides = "; ".join(
        f"{escape(c.value)} [{c.n}]" + (f" ({escape(c.outlet)})" if c.outlet else "")
        for c in conflict.claims
    )
    return f"[yellow]⚠ the reports disagree on {escape(conflict.topic)}:[/yellow] {sides}"


class ChatUI:
    def __init__(self, engine: Engine, console: Console) -> None:
        self.engine = engine
        self.console = console
        self.conversation = Conversation(engine)
        self.last: Answer | None = None

    # ---- commands -------------------------------------------------------------------------------

    def command(self, line: str) -> bool:
        """Run a /command; False means leave."""
        name, _, arg = line[1:].partition(" ")
        name = name.lower()
        if name in {"quit", "exit", "q"}:
            return False
        if name == "help":
            self.console.print(escape(HELP))
        elif name == "reset":
            self.conversation.reset()
            self.last = None
            self.console.print("[dim]conversation cleared[/dim]")
        elif name == "model":
            s = self.engine.settings
            self.console.print(
                f"model [bold]{escape(self.engine.model_name)}[/bold] "
                f"({escape(str(self.engine.generator.model_path))}), "
                f"data dir {escape(str(s.data_dir))}, retrieval {s.retrieval_mode}"
            )
        elif name == "sources":
            self.show_source(arg.strip())
        else:
            self.console.print(f"[red]unknown command /{escape(name)}[/red] — try /help")
        return True

    def show_source(self, arg: str) -> None:
        if self.last is None or not self.last.citations:
            self.console.print("[yellow]no sources yet: ask a question first[/yellow]")
            return
        numbers = [c.n for c in self.last.citations]
        if not arg.isdigit() or int(arg) not in numbers:
            shown = ", ".join(str(n) for n in numbers)
            self.console.print(f"[red]usage: /sources N[/red] where N is one of {shown}")
            return
        c = next(c for c in self.last.citations if c.n == int(arg))
        self.console.print(
            f"[bold][{c.n}] {outlet_title(c.outlet, c.title)}[/bold]\n"
            f"[dim]{escape(c.source_file)}, characters {c.start}–{c.end}[/dim]"
        )
        self.console.print(escape(c.quote))
        for other in c.also_in:
            self.console.print(
                f"[dim]also reported by {escape(other.outlet or other.doc_id)} "
                f"({escape(other.source_file)}, characters {other.start}–{other.end})[/dim]"
            )

    # ---- questions ------------------------------------------------------------------------------

    def ask(self, question: str) -> None:
        """A spinner names the stage until the first checked sentence; then each sentence is
        printed once, as it passes the check, while the model writes the next. The unchecked
        draft is never printed, so nothing appears twice and numbers never change. Ctrl-C
        stops the answer at whatever stage it is in, and the session goes on."""
        shown: list[str] = []
        answer: Answer | None = None
        with stop_on_ctrl_c() as cancel:
            with self.console.status("reading the question…", spinner="dots") as status:
                if self.conversation.turns and needs_rewrite(question):
                    status.update("reading the question with the conversation so far…")
                standalone = self.conversation.standalone(question)
                if standalone != question and not cancel.is_set():
                    self.console.print(f"[dim]searching: {escape(standalone)}[/dim]")
                status.update("retrieving passages…")
                events = self.engine.ask_stream(standalone, cancel=cancel)
                for event in events:
                    if cancel.is_set():
                        break
                    if event.kind == "sources":
                        n = len(event.passages)
                        status.update(f"reading {n} passage{'s' if n != 1 else ''}…")
                    elif event.kind == "token" and not shown:
                        status.update("writing…")
                    elif event.kind == "redraft":
                        status.update("the model declined; writing another draft…")
                    elif event.kind == "sentence":
                        self.console.print(f"[bold]{escape(event.text)}[/bold]")
                        shown.append(event.text)
                        status.update("writing…")
                    elif event.kind == "answer":
                        answer = event.answer
                events.close()
            if cancel.is_set():
                self.console.print("[yellow]stopped[/yellow]")
                return
        if answer is None:
            return
        self.render(answer, shown=" ".join(shown))
        self.last = answer
        self.conversation.record(question, standalone, answer)

    def render(self, answer: Answer, shown: str = "") -> None:
        """The answer (unless its sentences were `shown` as they streamed), what the check
        removed, where the sources disagree, and the numbered sources."""
        con = self.console
        if not answer.answerable:
            reason = (answer.abstain_reason or "").replace("_", " ")
            if shown:
                reason += "; the sentences above are withdrawn"
            con.print(f"[bold]{escape(answer.answer)}[/bold] [dim]({reason})[/dim]")
        elif answer.answer != shown:
            con.print(f"[bold]{escape(answer.answer)}[/bold]")
        for sentence in answer.dropped:
            con.print(f"[red]✗ removed, not supported by the sources:[/red] {escape(sentence)}")
        for conflict in answer.conflicts:
            con.print(conflict_note(conflict))
        for c in answer.citations:
            quote = " ".join(c.quote.split())
            if len(quote) > 140:
                quote = quote[:137] + "…"
            mark = {True: "[green]✓[/green]", False: "[red]✗[/red]", None: " "}[c.supported]
            also = f" [dim]+{len(c.also_in)} more[/dim]" if c.also_in else ""
            con.print(
                f"{mark} [{c.n}] {outlet_title(c.outlet, c.title)}{also}\n"
                f"    [dim]“{escape(quote)}”[/dim]"
            )

    # ---- loops ----------------------------------------------------------------------------------

    def interactive(self, history_file: Path) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        history_file.parent.mkdir(parents=True, exist_ok=True)
        session: PromptSession[str] = PromptSession(history=FileHistory(str(history_file)))
        self.console.print(
            f"[bold]newsdesk chat[/bold] · {escape(self.engine.model_name)} · /help for commands"
        )
        while True:
            try:
                line = session.prompt("you> ").strip()
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line, as in a shell
            except EOFError:
                break
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    break
                continue
            try:
                self.ask(line)
            except NewsdeskError as exc:
                self.console.print(f"[red]error:[/red] {escape(str(exc))}")

    def piped(self, lines: Iterable[str], as_json: bool, out: TextIO) -> int:
        """One question per line; returns how many lines failed."""
        failures = 0
        for raw in lines:
            line = raw.strip()
            if not line:
                continue
            if line.startswith("/"):
                if not self.command(line):
                    break
                continue
            try:
                standalone = self.conversation.standalone(line)
                answer = self.engine.ask(standalone)
            except NewsdeskError as exc:
                failures += 1
                if as_json:
                    error = {"code": exc.code, "message": str(exc)}
                    out.write(json.dumps({"question": line, "error": error}) + "\n")
                else:
                    self.console.print(f"[red]error:[/red] {escape(str(exc))}")
                out.flush()
                continue
            self.last = answer
            self.conversation.record(line, standalone, answer)
            if as_json:
                record = answer.model_dump(mode="json")
                record["question"] = line  # what the user typed; the search used standalone
                record["standalone_question"] = standalone
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                out.flush()
            else:
                self.console.print(f"[bold]Q: {escape(line)}[/bold]")
                if standalone != line:
                    self.console.print(f"[dim]searching: {escape(standalone)}[/dim]")
                self.render(answer)
                self.console.print()
        return failures


def run_chat(engine: Engine, as_json: bool, stdin: TextIO = sys.stdin) -> int:
    # With --json, stdout carries only JSON lines; everything else goes to stderr.
    console = Console(highlight=False, stderr=as_json)
    console.soft_wrap = not console.is_terminal  # wrap at words on a terminal, not into a pipe
    ui = ChatUI(engine, console)
    if stdin.isatty() and sys.stdout.isatty():
        ui.interactive(engine.settings.data_dir / "chat_history")
        return 0
    return ui.piped(stdin, as_json, sys.stdout)


@contextlib.contextmanager
def stop_on_ctrl_c() -> Iterator[threading.Event]:
    """An event that Ctrl-C sets, for as long as the block runs.

    A KeyboardInterrupt raised wherever the signal lands could be lost in native code: now
    and then an answer went on to the end after Ctrl-C. An event that is set cannot be lost;
    generation reads it between prompt slices and between tokens, and `ask` between events."""
    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield cancel  # only the main thread receives signals
        return
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)
