"""The request bodies of a generative run: prompts from a JSONL file, or synthetic prompts with a stated
spread of input tokens and of `max_tokens`, seeded so that runs repeat. Made once, before the load starts
(a bounded count), and used in turn by every load model. What a configuration asks for is read by the
composer (moetui.session.compose.config_bodies): the engine sees a workload, never a Config."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from moetui.config.files import BODIES_MAX_BYTES, read_named_text
from moetui.config.schema import TokenSpread, WorkloadConfig
from moetui.errors import ConfigError

#: Words of the synthetic prompts: short, common English words, about one token each in the tokenizers
#: of GPT-style models, so a prompt of N words is about N input tokens.
_WORDS_TEXT = (
    "the of and to in is was for on that with as by at from it his an were are which this be or has had "
    "not but one their all first new two they her been its who also after time more other into years "
    "over city can some would there only most made many when world she may up out these then about than "
    "part"
)
WORDS = tuple(_WORDS_TEXT.split())


def draw(spread: TokenSpread, rng: random.Random) -> int:
    """A token count from `spread`: normal, rounded, at least 1."""
    if spread.stddev == 0:
        return max(1, round(spread.mean))
    return max(1, round(rng.gauss(spread.mean, spread.stddev)))


def synthetic_prompts(workload: WorkloadConfig) -> list[dict[str, Any]]:
    """`workload.prompts` requests: {"messages": [...], "max_tokens": N}, the same for the same seed."""
    rng = random.Random(workload.seed)
    requests = []
    for _ in range(workload.prompts):
        words = draw(workload.input_tokens, rng)
        text = " ".join(rng.choice(WORDS) for _ in range(words))
        requests.append(
            {"messages": [{"role": "user", "content": text}], "max_tokens": draw(workload.output_tokens, rng)}
        )
    return requests


def file_prompts(workload: WorkloadConfig, base_dir: Path) -> list[dict[str, Any]]:
    """The prompts of workload.prompts_file, one JSON object a line: {"messages": [...]} or {"prompt": "..."},
    optionally with "max_tokens" (else drawn from workload.output_tokens, seeded).

    Raises:
        ConfigError: The file cannot be read, a line is not such an object (its number is named), or the
            file holds none.
    """
    assert workload.prompts_file is not None
    path = (base_dir / Path(workload.prompts_file).expanduser()).resolve()
    lines = read_named_text(path, "workload.prompts_file", max_bytes=BODIES_MAX_BYTES).splitlines()
    rng = random.Random(workload.seed)
    requests = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            item = None
        messages = None
        if isinstance(item, dict):
            if isinstance(item.get("messages"), list) and item["messages"]:
                messages = item["messages"]
            elif isinstance(item.get("prompt"), str):
                messages = [{"role": "user", "content": item["prompt"]}]
        if messages is None:
            raise ConfigError(
                f'workload.prompts_file: {path} line {number} is not {{"messages": [...]}} or {{"prompt": "..."}}'
            )
        max_tokens = item.get("max_tokens") if isinstance(item, dict) else None
        if not isinstance(max_tokens, int) or max_tokens < 1:
            max_tokens = draw(workload.output_tokens, rng)
        requests.append({"messages": messages, "max_tokens": max_tokens})
    if not requests:
        raise ConfigError(f"workload.prompts_file: {path} holds no prompt (one JSON object per line)")
    return requests


def workload_bodies(workload: WorkloadConfig, api: str, stream: bool, base_dir: Path) -> tuple[bytes, ...]:
    """The request bodies: chat completions (`model` when set, `stream: true` with
    `stream_options.include_usage` when streaming), or for a scorer the same fields without the OpenAI-only
    ones.

    Raises:
        ConfigError: See file_prompts.
    """
    requests = file_prompts(workload, base_dir) if workload.prompts_file else synthetic_prompts(workload)
    bodies = []
    for request in requests:
        body: dict[str, Any] = {}
        if workload.model is not None:
            body["model"] = workload.model
        body.update(request)
        if stream:
            body["stream"] = True
            if api == "chat":
                body["stream_options"] = {"include_usage": True}
        bodies.append(json.dumps(body, separators=(",", ":")).encode())
    return tuple(bodies)
