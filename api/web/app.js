// The reading room: a client of newsdesk's public API (/v1/ask/stream, /v1/search,
// /v1/documents, /v1/jobs). Everything that comes from an article or an answer is put on the
// page as text (textContent, Text nodes, attributes), never parsed as HTML: an article holding
// "<script>" shows those characters and runs nothing.
"use strict";

(() => {
  const KEY_STORE = "newsdesk.apiKey";
  const $ = (id) => document.getElementById(id);

  const ABSTAIN_REASONS = {
    no_relevant_passages:
      "Nothing in the articles is close enough to the question, so the model was not asked.",
    unsupported_answer:
      "The model wrote an answer, but no sentence of it was backed by the passages it cited.",
    model_declined: "The model read the passages and said they do not answer the question.",
    not_an_answer:
      "Every sentence the model wrote is in the passages, but none of it answers the question.",
  };
  const ORIGIN_NOTES = {
    conflict: "Written by newsdesk: the reports disagree; the sides are below.",
  };

  const state = {
    sources: new Map(), // the stream's passage number -> passage
    citations: new Map(), // the answer's [n] -> citation
    running: null, // the AbortController of the question in flight
  };

  // ---- building the page from data, as text only ----------------------------------------------

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function sourceLabel(item) {
    return [item.title, item.outlet].filter(Boolean).join(" · ");
  }

  function show(node, visible = true) {
    node.hidden = !visible;
  }

  // ---- the API, with the key in a header and never in an address -----------------------------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function apiKey() {
    return sessionStorage.getItem(KEY_STORE) || "";
  }

  function authHeaders(extra = {}) {
    const headers = { ...extra };
    const key = apiKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    return headers;
  }

  async function errorOf(response) {
    let code = `http_${response.status}`;
    let message = `${response.status} ${response.statusText}`.trim();
    try {
      const body = await response.json();
      if (body && body.error) ({ code, message } = body.error);
    } catch (_) {
      // Not our error shape (a proxy's page): the status line says what there is to say.
    }
    return new ApiError(response.status, code, message);
  }

  async function request(path, { method = "GET", json, signal } = {}) {
    const init = { method, signal, headers: authHeaders() };
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    const response = await fetch(path, init);
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  // Runs `attempt`; on 401 asks for the key and tries again, until it is accepted or the
  // person cancels.
  async function withKey(attempt) {
    let refused = null;
    for (;;) {
      if (refused) await promptForKey(refused);
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 401) throw error;
        refused = apiKey()
          ? "The server refused that key. Check it and try again."
          : "This server needs an API key.";
      }
    }
  }

  let keyWaiters = [];

  function promptForKey(message) {
    const dialog = $("key-dialog");
    $("key-error").textContent = message;
    $("key-input").value = "";
    if (!dialog.open) dialog.showModal();
    $("key-input").focus();
    return new Promise((resolve, reject) => keyWaiters.push({ resolve, reject }));
  }

  function settleKey(accepted) {
    const waiters = keyWaiters;
    keyWaiters = [];
    for (const w of waiters) {
      if (accepted) w.resolve();
      else w.reject(new ApiError(401, "unauthorized", "No API key given."));
    }
  }

  function setUpKeyDialog() {
    const dialog = $("key-dialog");
    $("key-form").addEventListener("submit", (event) => {
      const key = $("key-input").value.trim();
      if (!key) {
        event.preventDefault();
        $("key-error").textContent = "Enter the key, or cancel.";
        return;
      }
      sessionStorage.setItem(KEY_STORE, key);
      show($("key-button"));
      settleKey(true);
    });
    $("key-cancel").addEventListener("click", () => dialog.close("cancel"));
    dialog.addEventListener("close", () => {
      if (keyWaiters.length) settleKey(dialog.returnValue !== "cancel" && Boolean(apiKey()));
    });
    dialog.addEventListener("cancel", () => {
      dialog.returnValue = "cancel";
    });
    $("key-button").addEventListener("click", () => {
      sessionStorage.removeItem(KEY_STORE);
      promptForKey("Enter the new key.").then(loadLibrary, () => {});
    });
    show($("key-button"), Boolean(apiKey()));
  }

  function confirmDialog(text) {
    const dialog = $("confirm-dialog");
    $("confirm-text").textContent = text;
    dialog.returnValue = "";
    dialog.showModal();
    $("confirm-cancel").focus();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), {
        once: true,
      });
    });
  }

  // ---- server-sent events over fetch (EventSource can neither POST nor send a header) --------

  async function* serverEvents(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let cut;
      while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, "");
        let name = "message";
        const data = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) yield { name, data: JSON.parse(data.join("\n")) };
      }
    }
  }

  // ---- asking ---------------------------------------------------------------------------------

  function setStatus(id, text, isError = false) {
    const node = $(id);
    node.textContent = text;
    node.classList.toggle("error", isError);
  }

  function resetAnswer() {
    state.sources.clear();
    state.citations.clear();
    for (const id of ["checked", "draft", "conflict-list", "citation-list", "dropped-list"]) {
      $(id).replaceChildren();
    }
    for (const id of ["draft-box", "abstain", "conflicts", "citations", "dropped"]) {
      show($(id), false);
    }
    show($("cached-note"), false);
    show($("origin-legend"), false);
    $("answer").dataset.state = "idle";
    $("timings").replaceChildren();
  }

  function setRunning(controller) {
    state.running = controller;
    $("ask-button").disabled = Boolean(controller);
    show($("stop-button"), Boolean(controller));
  }

  function seconds(ms) {
    return `${(ms / 1000).toFixed(1)} s`;
  }

  function noteTiming(kind, ms) {
    const box = $("timings");
    box.dataset[`${kind}Ms`] = String(Math.round(ms));
    const parts = [];
    if (box.dataset.sourcesMs) parts.push(`sources after ${seconds(+box.dataset.sourcesMs)}`);
    if (box.dataset.answerMs) parts.push(`checked answer after ${seconds(+box.dataset.answerMs)}`);
    box.textContent = parts.join(" · ");
  }

  async function ask(question) {
    if (state.running) state.running.abort();
    const controller = new AbortController();
    setRunning(controller);
    resetAnswer();
    show($("answer"));
    $("answer").dataset.state = "waiting";
    setStatus("ask-status", "Reading the articles…");
    const started = performance.now();
    try {
      const response = await withKey(() =>
        request("/v1/ask/stream", { method: "POST", json: { question }, signal: controller.signal }),
      );
      for await (const event of serverEvents(response)) {
        if (controller.signal.aborted) break;
        if (event.name === "sources") {
          showSources(event.data.passages, "Passages read");
          noteTiming("sources", performance.now() - started);
          setStatus("ask-status", "The model is writing; each sentence is checked as it ends…");
        } else if (event.name === "token") {
          addDraft(event.data.text);
        } else if (event.name === "redraft") {
          $("draft").replaceChildren();
          setStatus("ask-status", "The model declined; it is writing another draft under a plainer prompt…");
        } else if (event.name === "sentence") {
          addCheckedSentence(event.data);
        } else if (event.name === "answer") {
          showAnswer(event.data);
          noteTiming("answer", performance.now() - started);
        } else if (event.name === "error") {
          throw new ApiError(event.data.error.status || 500, event.data.error.code, event.data.error.message);
        }
      }
    } catch (error) {
      if (state.running !== controller) return; // a newer question or a search took over
      if (error.name === "AbortError") {
        setStatus("ask-status", "Stopped.");
      } else {
        setStatus("ask-status", `Error: ${error.message}`, true);
      }
      $("answer").dataset.state = "failed";
      show($("draft-box"), false);
    } finally {
      if (state.running === controller) setRunning(null);
    }
  }

  function showSources(passages, title) {
    const list = $("source-list");
    $("sources-title").textContent = title;
    list.replaceChildren();
    for (const p of passages) {
      state.sources.set(p.n, p);
      const span = { doc_id: p.doc_id, title: p.title, outlet: p.outlet, start: p.start, end: p.end };
      const alsoIn = p.also_in ? [span, ...p.also_in] : [span];
      list.append(
        el(
          "li",
          { class: "passage", dataset: { n: String(p.n) } },
          el(
            "p",
            { class: "meta" },
            el("span", { class: "marker-sample", text: `[${p.n}]` }),
            " ",
            sourceLabel(p),
          ),
          el("blockquote", { class: "quote", text: p.quote ?? p.text }),
          el("button", {
            type: "button",
            class: "quiet small",
            text: "Read in the article",
            "aria-label": `Read passage ${p.n} in ${p.title}`,
            onclick: () => openArticle(span, alsoIn),
          }),
        ),
      );
    }
    show($("sources"), passages.length > 0);
  }

  function addDraft(text) {
    show($("draft-box"));
    $("draft").append(text);
  }

  // The text of a sentence with each [n] made a button that opens what it cites.
  function sentenceNodes(text, open) {
    const nodes = [];
    let last = 0;
    for (const match of text.matchAll(/\[(\d+)\]/g)) {
      if (match.index > last) nodes.push(text.slice(last, match.index));
      const n = Number(match[1]);
      nodes.push(
        el("button", {
          type: "button",
          class: "cite",
          text: match[0],
          dataset: { n: String(n) },
          "aria-label": `Citation ${n}: read it in its article`,
          onclick: () => open(n),
        }),
      );
      last = match.index + match[0].length;
    }
    if (last < text.length) nodes.push(text.slice(last));
    return nodes;
  }

  function addCheckedSentence(sentence) {
    // Until the answer arrives, a marker opens the passage the sentence cites.
    const byN = new Map(sentence.citations.map((c) => [c.n, c.passage]));
    const open = (n) => {
      const p = state.sources.get(byN.get(n));
      if (p) openArticle(p, [p]);
    };
    const box = $("checked");
    if (box.childNodes.length) box.append(" ");
    box.append(el("span", { class: "sentence", dataset: { origin: "model" } }, ...sentenceNodes(sentence.text, open)));
  }

  function showAnswer(answer) {
    const box = $("checked");
    box.replaceChildren();
    $("draft").replaceChildren();
    show($("draft-box"), false);
    show($("cached-note"), Boolean(answer.cached));
    for (const c of answer.citations) state.citations.set(c.n, c);

    const sentences = answer.sentences && answer.sentences.length
      ? answer.sentences
      : answer.answer
        ? [{ text: answer.answer, origin: "model" }]
        : [];
    let notes = 0;
    for (const s of sentences) {
      if (box.childNodes.length) box.append(" ");
      const note = s.origin !== "model" ? ORIGIN_NOTES[s.origin] || `Written by newsdesk (${s.origin}).` : null;
      if (note) notes += 1;
      box.append(
        el(
          "span",
          { class: "sentence", dataset: { origin: s.origin }, title: note },
          ...sentenceNodes(s.text, openCitation),
          note ? el("span", { class: "visually-hidden", text: ` (${note})` }) : null,
        ),
      );
    }
    show($("origin-legend"), notes > 0);

    if (!answer.answerable) {
      show($("abstain"));
      $("abstain-reason").textContent =
        ABSTAIN_REASONS[answer.abstain_reason] || answer.abstain_reason || "";
    }
    showConflicts(answer.conflicts || []);
    showCitations(answer.citations || []);
    showDropped(answer.dropped || []);
    $("answer").dataset.state = "done";
    setStatus(
      "ask-status",
      answer.answerable ? "Checked answer ready." : "Checked: the articles don't say.",
    );
  }

  function showCitations(citations) {
    const list = $("citation-list");
    for (const c of citations) {
      const group = citationGroup(c);
      list.append(
        el(
          "li",
          { class: "citation", dataset: { n: String(c.n), ...spanData(c) } },
          el(
            "p",
            { class: "meta" },
            el("button", {
              type: "button",
              class: "cite",
              text: `[${c.n}]`,
              dataset: { n: String(c.n) },
              "aria-label": `Citation ${c.n}: read it in ${c.title}`,
              onclick: () => openCitation(c.n),
            }),
            " ",
            sourceLabel(c),
            c.supported === true ? el("span", { class: "badge", text: "checked" }) : null,
          ),
          el("blockquote", { class: "quote", text: c.quote }),
          c.also_in && c.also_in.length
            ? el(
                "p",
                { class: "also" },
                "Also stated in: ",
                ...c.also_in.flatMap((span, i) => [
                  i ? ", " : "",
                  el("button", {
                    type: "button",
                    class: "link",
                    text: span.outlet || span.title,
                    dataset: spanData(span),
                    "aria-label": `Read citation ${c.n} as stated in ${sourceLabel(span)}`,
                    onclick: () => openArticle(span, group),
                  }),
                ]),
              )
            : null,
        ),
      );
    }
    show($("citations"), citations.length > 0);
  }

  // Where a span is, on its element: for people inspecting the page, and for its tests.
  function spanData(span) {
    return { docId: span.doc_id, start: String(span.start), end: String(span.end) };
  }

  function citationGroup(c) {
    const own = { doc_id: c.doc_id, title: c.title, outlet: c.outlet, start: c.start, end: c.end };
    return [own, ...(c.also_in || [])];
  }

  function openCitation(n) {
    const c = state.citations.get(n);
    if (c) openArticle(citationGroup(c)[0], citationGroup(c), `[${n}]`);
  }

  function showConflicts(conflicts) {
    const list = $("conflict-list");
    for (const conflict of conflicts) {
      list.append(
        el(
          "div",
          { class: "conflict" },
          el("p", { class: "topic", text: `On ${conflict.topic}:` }),
          el(
            "div",
            { class: "sides" },
            ...conflict.claims.map((claim) =>
              el(
                "div",
                { class: "side" },
                el("p", { class: "meta", text: claim.outlet || claim.doc_id }),
                el("p", { class: "value", text: claim.value }),
                el("blockquote", { class: "quote", text: claim.quote }),
                el("button", {
                  type: "button",
                  class: "quiet small",
                  text: `[${claim.n}] Read in the article`,
                  "aria-label": `Read what ${claim.outlet || claim.doc_id} says, in its article`,
                  onclick: () =>
                    openArticle(
                      { doc_id: claim.doc_id, outlet: claim.outlet, start: claim.start, end: claim.end },
                      [],
                    ),
                }),
              ),
            ),
          ),
        ),
      );
    }
    show($("conflicts"), conflicts.length > 0);
  }

  function showDropped(dropped) {
    const list = $("dropped-list");
    for (const sentence of dropped) {
      list.append(
        el(
          "li",
          { class: "dropped" },
          el("del", { text: sentence }),
          el("span", { class: "reason", text: "no cited passage supports it" }),
        ),
      );
    }
    show($("dropped"), dropped.length > 0);
  }

  async function search(query) {
    if (state.running) state.running.abort();
    setRunning(null);
    resetAnswer();
    show($("answer"), false);
    setStatus("ask-status", "Searching…");
    try {
      const response = await withKey(() =>
        request("/v1/search", { method: "POST", json: { query, limit: 8 } }),
      );
      const body = await response.json();
      const passages = body.results.map((r) => ({ ...r, n: r.rank, quote: r.text }));
      showSources(passages, "Passages found");
      setStatus(
        "ask-status",
        passages.length ? `${passages.length} passages found.` : "No passages found.",
      );
    } catch (error) {
      setStatus("ask-status", `Error: ${error.message}`, true);
    }
  }

  // ---- reading --------------------------------------------------------------------------------

  // Offsets count Unicode code points (Python's str); JavaScript strings count UTF-16 units.
  function unitIndex(text, codePoints, fast) {
    if (fast) return codePoints;
    let units = 0;
    for (let seen = 0; seen < codePoints && units < text.length; seen += 1) {
      const c = text.charCodeAt(units);
      units += c >= 0xd800 && c <= 0xdbff && units + 1 < text.length ? 2 : 1;
    }
    return units;
  }

  let reading = 0;

  async function openArticle(span, group = [], label = "") {
    const ticket = ++reading;
    const reader = $("reader");
    reader.dataset.state = "loading";
    try {
      const response = await withKey(() =>
        request(`/v1/documents/${encodeURIComponent(span.doc_id)}`),
      );
      const doc = await response.json();
      if (ticket !== reading) return;
      const text = doc.text;
      const fast = !/[\ud800-\udfff]/.test(text);
      const hasSpan = Number.isInteger(span.start) && Number.isInteger(span.end);
      $("reader-title").textContent = doc.title;
      $("reader-meta").textContent = [doc.outlet, doc.doc_id].filter(Boolean).join(" · ");
      show($("reader-hint"), false);
      const body = $("reader-text");
      if (hasSpan) {
        const a = unitIndex(text, span.start, fast);
        const b = unitIndex(text, span.end, fast);
        const mark = el("mark", {
          id: "highlight",
          tabindex: "-1",
          "aria-label": label ? `Cited ${label}` : "Cited passage",
        });
        mark.textContent = text.slice(a, b);
        body.replaceChildren(text.slice(0, a), mark, text.slice(b));
      } else {
        body.replaceChildren(text);
      }
      const others = group.filter(
        (g) => !(g.doc_id === span.doc_id && g.start === span.start && g.end === span.end),
      );
      const also = $("reader-also-list");
      also.replaceChildren(
        ...others.map((g) =>
          el(
            "li",
            {},
            el("button", {
              type: "button",
              class: "quiet small",
              text: sourceLabel(g) || g.doc_id,
              dataset: spanData(g),
              "aria-label": `Read the same claim in ${sourceLabel(g) || g.doc_id}`,
              onclick: () => openArticle(g, group, label),
            }),
          ),
        ),
      );
      show($("reader-also"), others.length > 0);
      reader.dataset.state = "ready";
      reader.dataset.docId = doc.doc_id;
      reader.dataset.opened = String(Number(reader.dataset.opened || 0) + 1);
      $("reader-title").focus({ preventScroll: true });
      reveal($("highlight"), body);
    } catch (error) {
      if (ticket !== reading) return;
      reader.dataset.state = "failed";
      $("reader-meta").textContent = `Error: ${error.message}`;
    }
  }

  // Bring the highlight to the middle of the article. Beside the answer only the article
  // scrolls, so the answer stays where it was; on a narrow screen the page scrolls to it.
  function reveal(mark, body) {
    const reader = $("reader");
    if (getComputedStyle(body).overflowY === "visible") {
      (mark || reader).scrollIntoView({ block: mark ? "center" : "start" });
      return;
    }
    const box = reader.getBoundingClientRect();
    if (box.top < 0 || box.top > window.innerHeight) reader.scrollIntoView({ block: "start" });
    if (!mark) {
      body.scrollTop = 0;
      return;
    }
    const m = mark.getBoundingClientRect();
    const b = body.getBoundingClientRect();
    const room = b.height - m.height;
    body.scrollTop += m.top - b.top - (room > 0 ? room / 2 : 8);
  }

  function clearReader() {
    $("reader-title").textContent = "Article";
    $("reader-meta").textContent = "";
    $("reader-text").replaceChildren();
    show($("reader-also"), false);
    show($("reader-hint"));
    delete $("reader").dataset.docId;
    $("reader").dataset.state = "idle";
  }

  // ---- the library ----------------------------------------------------------------------------

  async function loadLibrary() {
    try {
      const response = await withKey(() => request("/v1/documents"));
      const { documents } = await response.json();
      $("doc-list").replaceChildren(...documents.map(documentItem));
      setStatus("library-status", `${documents.length} articles.`);
    } catch (error) {
      setStatus("library-status", `Error: ${error.message}`, true);
    }
  }

  function documentItem(doc) {
    return el(
      "li",
      { class: "doc", dataset: { docId: doc.doc_id } },
      el("p", { class: "doc-title", text: doc.title }),
      el(
        "p",
        { class: "meta" },
        [doc.outlet || "no outlet", `${doc.chunks} passage${doc.chunks === 1 ? "" : "s"}`, doc.doc_id].join(" · "),
      ),
      el(
        "div",
        { class: "row" },
        el("button", {
          type: "button",
          class: "quiet small",
          text: "Read",
          "aria-label": `Read ${doc.title}`,
          onclick: () => openArticle({ doc_id: doc.doc_id }),
        }),
        el("button", {
          type: "button",
          class: "danger small",
          text: "Delete",
          "aria-label": `Delete ${doc.title}`,
          onclick: () => deleteDocument(doc),
        }),
      ),
    );
  }

  async function deleteDocument(doc) {
    const sure = await confirmDialog(
      `Delete “${doc.title}” (${doc.doc_id})? Its passages leave the index and answers stop citing it.`,
    );
    if (!sure) return;
    try {
      await withKey(() =>
        request(`/v1/documents/${encodeURIComponent(doc.doc_id)}`, { method: "DELETE" }),
      );
      setStatus("library-status", `Deleted “${doc.title}”.`);
      if ($("reader").dataset.docId === doc.doc_id) clearReader();
      await loadLibrary();
      setStatus("library-status", `Deleted “${doc.title}”.`);
    } catch (error) {
      setStatus("library-status", `Error: ${error.message}`, true);
    }
  }

  function sendFile(file, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest(); // fetch cannot report upload progress
      xhr.open("POST", "/v1/documents");
      for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
      xhr.responseType = "json";
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total, "Sending");
      };
      xhr.onload = () => {
        const body = xhr.response;
        if (xhr.status >= 200 && xhr.status < 300) resolve({ status: xhr.status, body });
        else {
          const error = body && body.error;
          reject(
            new ApiError(
              xhr.status,
              error ? error.code : `http_${xhr.status}`,
              error ? error.message : `${xhr.status} ${xhr.statusText}`,
            ),
          );
        }
      };
      xhr.onerror = () => reject(new ApiError(0, "network", "The server could not be reached."));
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    });
  }

  async function followJob(accepted, onProgress) {
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      const response = await withKey(() => request(accepted.url));
      const job = await response.json();
      const { stage, done, total } = job.progress;
      if (job.status === "done") return { status: job.result_status, body: job.result };
      if (job.status === "failed") throw new ApiError(422, job.error.code, job.error.message);
      onProgress(total ? done / total : null, stage === "queued" ? "Queued" : `Indexing (${stage})`);
    }
  }

  const UPLOAD_OUTCOME = { added: "Added", replaced: "Replaced", unchanged: "Already there" };

  async function upload(file) {
    const bar = el("progress", { max: "1", value: "0", "aria-label": `Upload of ${file.name}` });
    const note = el("span", { class: "upload-note", text: "Waiting" });
    const item = el("li", { class: "upload" }, el("span", { class: "upload-name", text: file.name }), bar, note);
    $("uploads").prepend(item);
    const progress = (fraction, what) => {
      if (fraction === null) bar.removeAttribute("value");
      else bar.value = fraction;
      note.textContent = what;
    };
    try {
      let result = await withKey(() => sendFile(file, progress));
      if (result.status === 202) result = await followJob(result.body, progress);
      const { status, document: doc, chunks_written: written } = result.body;
      bar.value = 1;
      item.dataset.state = "done";
      note.textContent = `${UPLOAD_OUTCOME[status] || status}: “${doc.title}”, ${doc.chunks} passages (${written} written)`;
    } catch (error) {
      item.dataset.state = "failed";
      item.classList.add("error");
      bar.value = 0;
      note.textContent = `Error: ${error.message}`;
    }
  }

  async function uploadAll(files) {
    for (const file of files) await upload(file);
    await loadLibrary();
  }

  function setUpLibrary() {
    const zone = $("drop-zone");
    $("upload").addEventListener("change", (e) => {
      const files = [...e.target.files];
      e.target.value = "";
      uploadAll(files);
    });
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      zone.classList.add("over");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      uploadAll([...e.dataTransfer.files]);
    });
    // A file dropped beside the zone would make the browser leave the page for it.
    window.addEventListener("dragover", (e) => e.preventDefault());
    window.addEventListener("drop", (e) => e.preventDefault());
  }

  // ---- start ----------------------------------------------------------------------------------

  function start() {
    setUpKeyDialog();
    setUpLibrary();
    $("ask-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const question = $("question").value.trim();
      if (!question) {
        setStatus("ask-status", "Type a question first.", true);
        $("question").focus();
        return;
      }
      ask(question);
    });
    $("stop-button").addEventListener("click", () => state.running && state.running.abort());
    $("search-button").addEventListener("click", () => {
      const query = $("question").value.trim();
      if (query) search(query);
      else setStatus("ask-status", "Type what to search for first.", true);
    });
    loadLibrary();
  }

  start();
})();
