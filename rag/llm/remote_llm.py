"""Generation on an OpenAI-compatible server (llama.cpp's, llama-cpp-python's, vLLM, …).

The same interface as `rag.llm.generation.Generator`, so the engine does not care where the model
runs. The server serialises (or batches) requests itself, so no process-wide lock is taken here:
replicas of the API share one model server. Greedy settings match the in-process model, so the
same GGUF behind `python -m llama_cpp.server` gives the same answers.

Token counts (for the passage budget) use the model's own tokenizer when its GGUF is on this
machine (the vocabulary only, a few MB); otherwise a words-based estimate.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from rag.errors import ModelError
from rag.llm.generation import Generation, generation_from_response, record_usage


def estimate_tokens(text: str) -> int:
    """About 4/3 tokens per English word: what BPE vocabularies give on news prose."""
    return len(text.split()) * 4 // 3 + 1


def vocab_counter(model_path: Path) -> Callable[[str], int]:
    """Exact token counts from a GGUF's vocabulary, without loading its weights."""
    from llama_cpp import Llama

    vocab = Llama(model_path=str(model_path), vocab_only=True, verbose=False)

    def count(text: str) -> int:
        return len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    return count


class RemoteGenerator:
    """A model behind `POST {url}/chat/completions`; `url` ends in `/v1` (added if missing)."""

    # The server runs one request at a time: no support check while this client's stream is
    # still being read (`Engine.generate` checks its sentences once the draft is complete).
    judges_mid_stream = False

    def answer_turn(self) -> contextlib.AbstractContextManager[object]:
        """No turn kept here: the server decides what runs when (one that batches, such as
        vLLM, answers several questions at once, and replicas share it anyway)."""
        return contextlib.nullcontext()

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = 300.0,
        counter: Callable[[str], int] | None = None,
    ) -> None:
        base = url.rstrip("/")
        self.url = base if base.endswith("/v1") else base + "/v1"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=10.0),
        )
        self._model = model
        self._counter = counter or estimate_tokens
        self._lock = threading.Lock()  # only guards the lazy model-name lookup

    @property
    def model_path(self) -> str:
        """Where the model runs, for `/model` in the chat and for logs."""
        return f"{self.url} (model {self.name})"

    @property
    def name(self) -> str:
        """NEWSDESK_LLM_MODEL, or the first model the server lists (asked once)."""
        with self._lock:
            if self._model is None:
                models = self._request("GET", "/models").get("data") or []
                if not models:
                    raise ModelError(f"the model server at {self.url} lists no models")
                self._model = str(models[0]["id"])
            return self._model

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - one generator per process
    def count_tokens(self, text: str) -> int:
        return self._counter(text)

    def _body(self, messages: list[dict[str, str]], max_tokens: int, stream: bool) -> dict:
        return {
            "model": self.name,
            "messages": messages,
            "temperature": 0.0,
            "top_p": 1.0,
            "max_tokens": max_tokens,
            "seed": 0,
            "stream": stream,
            # llama.cpp extensions (vLLM reads top_k too): the server defaults differ from the
            # in-process call (its repeat penalty is 1.1), which changes greedy answers.
            "top_k": 1,
            "repeat_penalty": 1.0,
        }

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ModelError(f"cannot reach the model server at {self.url}: {exc}") from exc
        _raise_for_status(response, self.url)
        try:
            return response.json()
        except ValueError as exc:
            raise ModelError(f"the model server at {self.url} sent a non-JSON body") from exc

    def judge(self, prompts: list[list[dict[str, str]]]) -> list[float] | None:
        """An OpenAI-compatible server need not give next-token logits, so the verdict is
        read from the greedy reply's first word: 1.0 for yes, 0.0 for no (0.5 otherwise)."""
        scores = []
        for messages in prompts:
            reply = self._complete(messages, max_tokens=2).text.strip().lower()
            scores.append(
                1.0 if reply.startswith("yes") else 0.0 if reply.startswith("no") else 0.5
            )
        return scores

    def chat(self, messages: list[dict[str, str]], max_tokens: int = 256) -> Generation:
        generation = self._complete(messages, max_tokens)
        record_usage(generation.prompt_tokens, generation.completion_tokens)
        return generation

    def _complete(self, messages: list[dict[str, str]], max_tokens: int) -> Generation:
        """One reply, not counted as a generation (the judge's readings use this directly)."""
        started = time.perf_counter()
        result = self._request(
            "POST", "/chat/completions", self._body(messages, max_tokens, stream=False)
        )
        try:
            return generation_from_response(result, started)
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise ModelError(f"the model server at {self.url} sent no answer: {exc}") from exc

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int = 256,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Text pieces as the server sends them; `cancel` closes the connection, which stops
        the server's generation too (llama.cpp's servers watch for the disconnect)."""
        if cancel is not None and cancel.is_set():
            return
        body = self._body(messages, max_tokens, stream=True)
        pieces: list[str] = []
        try:
            with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_status(response, self.url)
                for line in response.iter_lines():
                    if cancel is not None and cancel.is_set():
                        return
                    piece = _sse_piece(line)
                    if piece is None:
                        break
                    if piece:
                        pieces.append(piece)
                        yield piece
        except httpx.ConnectError as exc:
            raise ModelError(f"cannot reach the model server at {self.url}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ModelError(f"the model server at {self.url} failed mid-answer: {exc}") from exc
        # Servers send usage in a stream only when asked, and not all of them can: count the
        # texts with the model's tokenizer (the chat template's few tokens are left out).
        prompt = sum(self.count_tokens(m["content"]) for m in messages)
        record_usage(prompt, self.count_tokens("".join(pieces)))


def _sse_piece(line: str) -> str | None:
    """The text in one server-sent-events line: '' for keep-alives and role chunks, None at the
    end of the stream."""
    if not line.startswith("data:"):
        return ""
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    try:
        chunk = json.loads(data)
    except ValueError:
        return ""
    if "error" in chunk:
        message = chunk["error"].get("message") if isinstance(chunk["error"], dict) else None
        raise ModelError(f"the model server failed mid-answer: {message or chunk['error']}")
    choices = chunk.get("choices") or []
    if not choices:
        return ""
    return (choices[0].get("delta") or {}).get("content") or ""


def _raise_for_status(response: httpx.Response, url: str) -> None:
    if response.status_code < 400:
        return
    try:
        detail = response.json().get("error", {})
        message = detail.get("message") if isinstance(detail, dict) else str(detail)
    except ValueError:
        message = response.text[:200]
    if response.status_code in (401, 403):
        raise ModelError(f"the model server at {url} refused the key (NEWSDESK_LLM_API_KEY)")
    raise ModelError(
        f"the model server at {url} answered {response.status_code}: {message or 'no detail'}"
    )


_remote: dict[tuple[str, str | None, str | None], RemoteGenerator] = {}
_remote_lock = threading.Lock()


def load_remote_generator(
    url: str,
    api_key: str | None,
    model: str | None,
    timeout: float,
    tokenizer_gguf: Path | None,
) -> RemoteGenerator:
    """One client per server and process (it pools connections); the tokenizer loads once."""
    key = (url, api_key, model)
    with _remote_lock:
        if key not in _remote:
            counter = vocab_counter(tokenizer_gguf) if tokenizer_gguf else None
            _remote[key] = RemoteGenerator(url, api_key, model, timeout, counter)
        return _remote[key]
