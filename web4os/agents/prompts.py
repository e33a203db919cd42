"""What a specialist is told and what it answers, and the CEO agent's review of it.

Pure functions over plain data (no database): the goal's execution loads the
context, calls these, and saves the results in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from web4os.agents.budget import (
    IMAGE_TOKENS,
    LEFT_OUT,
    Budget,
    Squeeze,
    chars_for,
    closed_object,
    context_window,
    estimate_tokens,
    fit_texts,
    text_field,
)
from web4os.agents.models import Agent
from web4os.agents.providers.base import ModelProvider
from web4os.agents.structured import CallRecord, Fit, ToolBox, ask_structured
from web4os.files.outputs import MAX_OUTPUT_FILES, OUTPUT_FILE_CHARS, OUTPUT_NAME_CHARS

INPUT_LIMIT = 6000  # characters of one input document, however large the window
FILE_LIMIT = 20_000  # characters of one file's text, however large the window
DELIVERABLE_CHARS = 60_000
PROSE_WORDS = 20  # fewer words of prose than this are not a deliverable
ANSWER_FRAME_TOKENS = 30  # an answer's property names and punctuation
# Tokens each answer is given when the window allows, and the least it is given
# (inputs are trimmed to leave that much).
TASK_ANSWER, TASK_LEAST = 3000, 800
REVIEW_ANSWER, REVIEW_LEAST = 500, 150


@dataclass(frozen=True)
class AgentBrief:
    """The parts of an agent a prompt needs."""

    slug: str
    name: str
    role: str
    instructions: str
    model: str = ""


@dataclass(frozen=True)
class InputDoc:
    """The output of a task this one depends on."""

    title: str
    agent: str
    text: str


@dataclass(frozen=True)
class FileDoc:
    """A file's extracted text: attached to the goal, or from the account's knowledge."""

    name: str
    source: str
    text: str


@dataclass(frozen=True)
class ImageDoc:
    """One of the goal's images: the data URL the model is shown, or none and why not."""

    name: str
    url: str = ""
    reason: str = ""


IMAGE_LEFT_OUT = "left out to fit the model's context window"


@dataclass
class TaskContext:
    """Everything a specialist is given to do a task."""

    goal_title: str
    goal_brief: str
    task_title: str
    instructions: str
    inputs: list[InputDoc] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    feedback: str = ""
    context: list[str] = field(default_factory=list)  # other results of the goal (a tool)
    tool_results: list[str] = field(default_factory=list)  # MCP calls made for this card
    files: list[FileDoc] = field(default_factory=list)  # least relevant first
    images: list[ImageDoc] = field(default_factory=list)  # the goal's, oldest first


class DeliverableFile(BaseModel):
    """A file handed over with a deliverable; its name and size are checked when it is
    stored (a bad one is left out, the deliverable kept), not here."""

    name: str = ""
    content: str = ""


class Deliverable(BaseModel):
    """A specialist's answer."""

    deliverable: str = Field(min_length=1, max_length=DELIVERABLE_CHARS,
                             description="The work itself, in markdown.")
    note: str = Field(default="", max_length=500,
                      description="One or two sentences for the operator.")
    files: list[DeliverableFile] = Field(default_factory=list)


class Review(BaseModel):
    """The CEO agent's verdict on a finished task."""

    verdict: Literal["accept", "revise"]
    feedback: str = Field(default="", max_length=2000)


def brief_of(agent: Agent) -> AgentBrief:
    """The parts of an agent row a prompt needs, copied out of the session."""
    return AgentBrief(slug=agent.slug, name=agent.name, role=agent.role,
                      instructions=agent.instructions, model=agent.model)


def system_message(agent: AgentBrief) -> dict[str, str]:
    text = f"You are {agent.name}: {agent.role}.\n{agent.instructions}".strip()
    return {"role": "system", "content": text}


def conversation(agent: AgentBrief, user: str) -> list[dict[str, str]]:
    """The agent's system message, then the one user message it answers."""
    return [system_message(agent), {"role": "user", "content": user}]


def doc_block(title: str, agent: str, text: str) -> str:
    """One document in a prompt; the offline model finds the documents by this header."""
    return f"--- DOC: {title} (by {agent}) ---\n{text}"


def file_block(name: str, source: str, text: str) -> str:
    """One file in a prompt; the offline model finds the files by this header."""
    return f"--- FILE: {name} ({source}) ---\n{text}"


def _task_texts(ctx: TaskContext) -> list[str]:
    """What of a task's prompt may be trimmed, first left out first: the brief, the files
    (least relevant first), the inputs, the goal's other results, the notes, the tool
    results (the instructions and feedback are kept whole)."""
    return [ctx.goal_brief, *(f.text[:FILE_LIMIT] for f in ctx.files),
            *(d.text[:INPUT_LIMIT] for d in ctx.inputs), *ctx.context, *ctx.notes,
            *ctx.tool_results]


def text_of(message: dict[str, Any]) -> str:
    """A message's text, without its image parts."""
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
    return str(content or "")


def files_used(ctx: TaskContext, messages: list[dict[str, Any]]) -> list[str]:
    """The files whose text reached the prompt (not left out to fit the window)."""
    prompt = text_of(messages[-1]) if messages else ""
    return [f.name for f in ctx.files
            if f"{file_block(f.name, f.source, '')}{LEFT_OUT}" not in prompt
            and file_block(f.name, f.source, "") in prompt]


def _image_lines(ctx: TaskContext, shown: int) -> tuple[list[str], list[str]]:
    """The FILES lines naming the goal's images, and the data URLs of the first ``shown``
    the model is given (the rest are named, with why not)."""
    lines: list[str] = []
    urls: list[str] = []
    for image in ctx.images:
        if image.url and len(urls) < shown:
            urls.append(image.url)
            lines.append(f"- {image.name} (image {len(urls)} after this text)")
        else:
            lines.append(f"- {image.name} (image: {image.reason or IMAGE_LEFT_OUT})")
    return lines, urls


def _render_task(agent: AgentBrief, ctx: TaskContext, texts: list[str],
                 note: str, shown: int = 0) -> list[dict[str, Any]]:
    brief, rest = texts[0], texts[1:]
    files, rest = rest[:len(ctx.files)], rest[len(ctx.files):]
    docs, rest = rest[:len(ctx.inputs)], rest[len(ctx.inputs):]
    context, rest = rest[:len(ctx.context)], rest[len(ctx.context):]
    notes, results = rest[:len(ctx.notes)], rest[len(ctx.notes):]
    parts = [
        f"GOAL: {ctx.goal_title}",
        f"BRIEF: {brief or '(none)'}",
        f"TASK: {ctx.task_title}",
        f"INSTRUCTIONS: {ctx.instructions or '(none)'}",
    ]
    images, urls = _image_lines(ctx, shown)
    if ctx.files or images:
        blocks = [file_block(f.name, f.source, text)
                  for f, text in zip(ctx.files, files, strict=True)]
        if images:
            blocks.append("\n".join(images))
        parts.append("FILES: The operator's files for this work; cite a file by its name "
                     "where you use it.\n" + "\n\n".join(blocks))
    if ctx.inputs:
        parts.append("INPUTS:\n" + "\n\n".join(
            doc_block(d.title, d.agent, text) for d, text in zip(ctx.inputs, docs, strict=True)))
    if ctx.context:
        parts.append("CONTEXT: Other results already delivered for this goal:\n"
                     + "\n\n".join(context))
    if ctx.notes:
        parts.append("NOTES:\n" + "\n".join(f"- {n}" for n in notes))
    if ctx.tool_results:
        parts.append("TOOL RESULTS: What your tool calls returned:\n"
                     + "\n".join(f"- {r}" for r in results))
    if ctx.feedback:
        parts.append(
            "FEEDBACK: A previous version was sent back with this feedback. Address it:\n"
            + ctx.feedback
        )
    # The closing words have a header of their own, like every part above: a reader of
    # sections (the offline model) then ends the last section where they begin.
    parts.append(
        "ANSWER: " + (f"{note} " if note else "")
        + 'Answer with a JSON object: {"deliverable": markdown text of the work itself, '
        '"note": one or two sentences for the operator, "files": files to hand over '
        'besides it, such as a CSV table ([{"name": "suppliers.csv", "content": its text}]; '
        f'at most {MAX_OUTPUT_FILES}), or [] when there are none}}.'
    )
    text = "\n\n".join(parts)
    if not urls:
        return conversation(agent, text)
    content = [{"type": "text", "text": text},
               *({"type": "image_url", "image_url": {"url": url}} for url in urls)]
    return [system_message(agent), {"role": "user", "content": content}]


def task_prompt(agent: AgentBrief, ctx: TaskContext,
                budget: Budget | None = None) -> list[dict[str, Any]]:
    """The messages a specialist gets for a task (tests assert on this), trimmed to the
    ``budget`` if there is one. Images, ``IMAGE_TOKENS`` each, take the room the text
    inputs leave, yet at most half of it while the text wants more; those that do not fit
    are named only."""
    texts = _task_texts(ctx)
    shown = sum(1 for image in ctx.images if image.url)
    if budget is None:
        return _render_task(agent, ctx, texts, "", shown)
    if shown:
        room = budget.room_for_inputs(_render_task(agent, ctx, ["" for _ in texts], ""))
        text = min(sum(estimate_tokens(t) for t in texts), room // 2)
        shown = min(shown, (room - text) // IMAGE_TOKENS)
    return fit_texts(budget, lambda kept, note: _render_task(agent, ctx, kept, note, shown),
                     texts)


PROSE_NOTE = ("The model answered in prose instead of the JSON it was asked for; its text "
              "is kept as the deliverable.")


def prose_deliverable(text: str) -> tuple[Deliverable, str] | None:
    """A prose answer kept as the deliverable, marked as such (none for a few words:
    that is a refusal or an apology, not work)."""
    if len(text.split()) < PROSE_WORDS:
        return None
    return Deliverable(deliverable=text.strip()[:DELIVERABLE_CHARS], note=PROSE_NOTE), PROSE_NOTE


def deliverable_schema(answer_tokens: int) -> dict[str, Any]:
    """A deliverable whose JSON fits ``answer_tokens``: the note gets a tenth, at most 300."""
    note = min(300, max(60, chars_for(answer_tokens) // 10))
    body = max(40, chars_for(answer_tokens - ANSWER_FRAME_TOKENS) - note)
    return closed_object({
        "deliverable": text_field(min(body, DELIVERABLE_CHARS), min_chars=1,
                                  about="The work itself, in markdown."),
        "note": text_field(note, about="One or two sentences for the operator."),
        "files": {"type": "array", "maxItems": MAX_OUTPUT_FILES,
                  "description": "Files to hand over besides the deliverable (CSV, Markdown "
                                 "or text), or none.",
                  "items": closed_object({
                      "name": text_field(OUTPUT_NAME_CHARS, about="e.g. suppliers.csv"),
                      "content": text_field(min(body, OUTPUT_FILE_CHARS))})},
    })


def do_task(
    provider: ModelProvider, agent: AgentBrief, ctx: TaskContext, calls: list[CallRecord],
    tools: ToolBox | None = None, used: list[str] | None = None,
) -> Deliverable:
    """A specialist does a task (calling its tools first if the endpoint offers functions);
    ``used`` gets the names of the files whose text the last prompt carried."""
    def fit(squeeze: Squeeze) -> Fit:
        budget = Budget(context_window(provider), TASK_ANSWER, TASK_LEAST, squeeze)
        messages = task_prompt(agent, ctx, budget)
        if used is not None:
            used[:] = files_used(ctx, messages)
        max_tokens = budget.max_tokens(messages)
        return Fit(messages, deliverable_schema(int(max_tokens * squeeze.answer)), max_tokens)

    return ask_structured(provider, fit, Deliverable, purpose="task", agent_slug=agent.slug,
                          calls=calls, model=agent.model, tools=tools, salvage=prose_deliverable)


def _review_messages(ceo: AgentBrief, ctx: TaskContext, deliverable: str,
                     note: str) -> list[dict[str, str]]:
    user = (
        f"GOAL: {ctx.goal_title}\n\nTASK: {ctx.task_title}\n\n"
        f"INSTRUCTIONS: {ctx.instructions or '(none)'}\n\n"
        f"DELIVERABLE:\n{deliverable}\n\n" + "ANSWER: " + (f"{note} " if note else "")
        + 'Does the deliverable do what the task asked? Answer with a JSON object: '
        '{"verdict": "accept" or "revise", "feedback": what to change if revise}.'
    )
    return [system_message(ceo), {"role": "user", "content": user}]


def review_schema(answer_tokens: int) -> dict[str, Any]:
    return closed_object({
        "verdict": {"type": "string", "enum": ["accept", "revise"]},
        "feedback": text_field(min(600, max(40, chars_for(answer_tokens - ANSWER_FRAME_TOKENS)))),
    })


def review_task(
    provider: ModelProvider, ceo: AgentBrief, ctx: TaskContext, deliverable: str,
    calls: list[CallRecord],
) -> Review:
    """The CEO agent accepts a deliverable or sends it back with feedback."""
    def fit(squeeze: Squeeze) -> Fit:
        budget = Budget(context_window(provider), REVIEW_ANSWER, REVIEW_LEAST, squeeze)
        messages = fit_texts(budget, lambda kept, note: _review_messages(ceo, ctx, kept[0], note),
                             [deliverable[:INPUT_LIMIT]])
        max_tokens = budget.max_tokens(messages)
        return Fit(messages, review_schema(int(max_tokens * squeeze.answer)), max_tokens)

    return ask_structured(provider, fit, Review, purpose="review", agent_slug=ceo.slug,
                          calls=calls, model=ceo.model)
