"""The LLM planner: an OpenAI-compatible tool-calling loop over the tools the engine offers.

Reads run through the engine's `call_tool` (policy, cache and redaction already applied) and their bounded
results go back to the model; anything that mutates is only proposed (`AgentTurn.proposed`) for the approval
path; a call with required arguments missing becomes `AgentTurn.incomplete` for slot filling. Nothing the model
makes up is executed: unknown tools, invalid arguments and wrong names come back to it as errors. Every failure
of the LLM itself (timeout, 429, 5xx, refused connection, garbage) ends in `AgentTurn.failed` with a reason in
the user's language, so the engine can fall back to the rule parser; `run` never raises.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import jsonschema
import openai

from bot.agent.budget import PER_RESULT_CHARS, TOTAL_CHARS, OutputBudget, cut, dumps
from bot.agent.port import AgentTurn, CallTool, OnProgress
from bot.agent.prompt import context_message, history_messages, system_prompt, user_message
from bot.agent.schema import HIDDEN_PARAMS, ToolIndex
from bot.core.i18n import Lang, tr
from bot.settings import Settings
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome

log = logging.getLogger(__name__)

MAX_UNKNOWN_TOOL_STRIKES = 1  # told once; a second made-up tool ends the turn
ANSWER_CHARS = 6_000
STREAM_MAX_SECONDS = 600.0  # one streamed completion, however steadily it produces text
READ_CONCURRENCY = 4  # reads of one step run together, a few at a time


class LLMFailure(Exception):
    """The endpoint failed us; carries the user-facing reason in both languages."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh = zh
        self.en = en

    def reason(self, lang: Lang) -> str:
        return tr(lang, self.zh, self.en)


@dataclass
class _RawCall:
    id: str
    name: str = ""
    arguments: str = ""


@dataclass
class _Completion:
    content: str = ""
    tool_calls: list[_RawCall] = field(default_factory=list)


class OpenAIPlanner:
    """`bot.agent.port.Planner` over any OpenAI-compatible chat-completions endpoint (OpenRouter by default)."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_retries: int = 1,
        progress_interval: float = 0.2,  # pushes are cheap: the card stream paces them to the platform
        per_result_chars: int = PER_RESULT_CHARS,
        total_chars: int = TOTAL_CHARS,
        temperature: float | None = 0.1,
    ) -> None:
        self._settings = settings
        self._model = settings.llm_model
        self._timeout = settings.llm_timeout_seconds
        self._max_steps = max(1, settings.llm_max_steps)
        self._max_retries = max_retries
        self._progress_interval = progress_interval
        self._per_result = per_result_chars
        self._total = total_chars
        self._temperature = temperature
        self._host = urlsplit(settings.llm_base_url).netloc or settings.llm_base_url
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else ""
        headers = {}
        if "openrouter.ai" in self._host:
            # OpenRouter's app attribution; harmless, and only sent there.
            headers = {"HTTP-Referer": "https://github.com/kubeduty/kubeduty", "X-Title": "KubeDuty"}
        self._client = openai.AsyncOpenAI(
            base_url=settings.llm_base_url,
            api_key=key or "unset",
            timeout=settings.llm_timeout_seconds,
            max_retries=max_retries,
            default_headers=headers or None,
        )

    async def aclose(self) -> None:
        await self._client.close()

    # ------------------------------------------------------------------ the loop
    async def run(
        self,
        *,
        text: str,
        lang: Lang,
        tools: list[ToolInfo],
        call_tool: CallTool,
        history: list[dict[str, Any]],
        context: dict[str, str],
        on_progress: OnProgress | None = None,
    ) -> AgentTurn:
        turn = AgentTurn()
        if not self._settings.llm_enabled:
            turn.failed = tr(lang, "未配置大模型（LLM_API_KEY 为空）。", "No LLM is configured (LLM_API_KEY is empty).")
            return turn
        try:
            await self._loop(turn, text, lang, tools, call_tool, history, context, on_progress)
        except LLMFailure as exc:
            turn.failed = exc.reason(lang)
        except Exception:  # the contract is "never raise": the engine falls back to the rule parser
            log.exception("planner failed unexpectedly")
            turn.failed = tr(lang, "大模型处理出错。", "The LLM step failed unexpectedly.")
        return turn

    async def _loop(
        self,
        turn: AgentTurn,
        text: str,
        lang: Lang,
        tools: list[ToolInfo],
        call_tool: CallTool,
        history: list[dict[str, Any]],
        context: dict[str, str],
        on_progress: OnProgress | None,
    ) -> None:
        index = ToolIndex(tools)
        offered = index.openai_tools()
        messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt(lang)}]
        note = context_message(context)
        if note:
            messages.append({"role": "system", "content": note})
        messages.extend(history_messages(history))
        messages.append({"role": "user", "content": user_message(text)})
        budget = OutputBudget(per_result=self._per_result, total=self._total)
        validators: dict[str, jsonschema.protocols.Validator | None] = {}
        strikes = 0

        for step in range(self._max_steps):
            turn.steps = step + 1
            last = step == self._max_steps - 1
            # On the last step the model must answer with what it has: tool_choice "none".
            completion = await self._complete(messages, offered, last=last, on_progress=on_progress)
            if not completion.tool_calls or last:
                answer = completion.content.strip()
                if completion.tool_calls and not answer:
                    answer = self._step_cap_answer(turn, lang)
                if not answer:
                    raise LLMFailure("大模型返回了空回答。", "The LLM returned an empty answer.")
                turn.answer = cut(answer, ANSWER_CHARS)
                return

            messages.append(_assistant_message(completion))
            prepared = [self._prepare(raw, index, context, turn, validators) for raw in completion.tool_calls]
            reads = [p for p in prepared if isinstance(p, ToolCall)]
            # Reads of one step are independent: run them together (bounded), report them in the model's order.
            outcomes = iter(await _run_reads(call_tool, reads))
            pending = len(reads)
            for raw, prep in zip(completion.tool_calls, prepared, strict=True):
                if isinstance(prep, ToolCall):
                    outcome = next(outcomes)
                    turn.executed.append((prep, outcome))
                    reply = budget.take(prep.tool, outcome, pending)
                    pending -= 1
                elif prep is None:  # a made-up tool: never run, the model is told once
                    strikes += 1
                    reply = _error(
                        "unknown_tool",
                        cut(f"There is no tool named {raw.name!r}. Use only: {', '.join(index.names())}.", 2_000),
                    )
                else:
                    reply = prep
                messages.append({"role": "tool", "tool_call_id": raw.id, "content": reply})

            if turn.incomplete is not None or turn.proposed:
                turn.answer = self._handoff_answer(turn, index, lang, completion.content)
                return
            if strikes > MAX_UNKNOWN_TOOL_STRIKES:
                raise LLMFailure(
                    "大模型反复调用不存在的工具，已停止。", "The LLM kept calling tools that do not exist; stopped."
                )

    def _prepare(
        self,
        raw: _RawCall,
        index: ToolIndex,
        context: dict[str, str],
        turn: AgentTurn,
        validators: dict[str, jsonschema.protocols.Validator | None],
    ) -> ToolCall | str | None:
        """Check one call of the model: a read to run, the text to feed back instead, or None (unknown tool).

        Mutations are recorded in `turn.proposed`, calls missing required arguments in `turn.incomplete`.
        """
        info = index.get(raw.name)
        if info is None:
            log.info("model called unknown tool %r", raw.name)
            return None
        args, problem = _parse_arguments(raw.arguments)
        if args is None:
            return _error("invalid_arguments", f"Arguments are not a JSON object: {problem}. Send valid JSON.")
        for hidden in HIDDEN_PARAMS:
            args.pop(hidden, None)
        if "cluster" in info.properties and context.get("cluster"):
            args["cluster"] = context["cluster"]

        missing = [r for r in info.required if r not in HIDDEN_PARAMS and args.get(r) in (None, "")]
        if missing:
            if turn.incomplete is None:
                turn.incomplete = ToolCall(info.name, {k: v for k, v in args.items() if v not in (None, "")})
            return _error("missing_arguments", f"Missing {', '.join(missing)}: the user will be asked.")

        invalid = _validate(info, args, validators)
        if invalid:
            return _error("invalid_arguments", invalid)

        call = ToolCall(info.name, args)
        if info.mutates:
            if all(p.digest() != call.digest() for p in turn.proposed):  # the same change asked twice is one
                turn.proposed.append(call)
            return dumps({"ok": True, "status": "proposed", "note": "Not executed: waiting for a human approval."})
        return call

    # ------------------------------------------------------------------ answers the planner writes itself
    def _handoff_answer(self, turn: AgentTurn, index: ToolIndex, lang: Lang, content: str) -> str:
        lines = [content.strip()] if content.strip() else []
        by_name = {i.name: i for i in index.tools}
        if turn.proposed:
            lines.append(tr(lang, "以下变更需要确认后才会执行：", "These changes need confirmation before they run:"))
            for call in turn.proposed:
                lines.append("- " + _describe(call, by_name.get(call.tool), lang))
        if turn.incomplete is not None:
            info = by_name.get(turn.incomplete.tool)
            missing = [r for r in (info.required if info else ()) if r not in turn.incomplete.args]
            lines.append(
                tr(
                    lang,
                    "还需要补充：{fields}（{tool}）",
                    "I still need: {fields} (for {tool})",
                    fields=", ".join(missing),
                    tool=info.title(lang) if info else turn.incomplete.tool,
                )
            )
        return cut("\n".join(lines), ANSWER_CHARS)

    def _step_cap_answer(self, turn: AgentTurn, lang: Lang) -> str:
        if not turn.executed:
            return ""
        done = ", ".join(call.tool for call, _ in turn.executed)
        return tr(
            lang,
            "已达到步数上限（{n} 步），尚未得出结论。已查询：{done}。请把问题说得更具体一些。",
            "Reached the step limit ({n} steps) without a conclusion. Looked at: {done}. Please narrow the question.",
            n=self._max_steps,
            done=done,
        )

    # ------------------------------------------------------------------ one request
    async def _complete(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        last: bool,
        on_progress: OnProgress | None,
    ) -> _Completion:
        kwargs: dict[str, Any] = {"model": self._model, "messages": messages}
        if tools:
            kwargs["tools"] = tools
            kwargs["tool_choice"] = "none" if last else "auto"
        if self._temperature is not None:
            kwargs["temperature"] = self._temperature
        # The client's own timeout bounds each attempt; this bounds attempts plus a slow trickle of a stream.
        # A stream that keeps producing text moves the deadline on (a long answer is streamed, not cut), up to
        # STREAM_MAX_SECONDS in all; one that stalls for the timeout fails as before.
        deadline = self._timeout * (self._max_retries + 1) + 5
        try:
            async with asyncio.timeout(deadline) as budget:
                if on_progress is not None:
                    return await self._stream(kwargs, on_progress, budget)
                response = await self._client.chat.completions.create(**kwargs)
                return _from_response(response)
        except LLMFailure:
            raise
        except TimeoutError as exc:
            raise self._timeout_failure() from exc
        except openai.APITimeoutError as exc:
            raise self._timeout_failure() from exc
        except openai.APIConnectionError as exc:
            raise LLMFailure(
                f"无法连接大模型服务 {self._host}。", f"Cannot reach the LLM endpoint {self._host}."
            ) from exc
        except openai.RateLimitError as exc:
            raise LLMFailure(
                "大模型服务限流（HTTP 429），请稍后再试。",
                "The LLM endpoint is rate-limiting (HTTP 429); try again shortly.",
            ) from exc
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise LLMFailure(
                f"大模型服务拒绝了密钥（HTTP {exc.status_code}），请检查 LLM_API_KEY。",
                f"The LLM endpoint rejected the API key (HTTP {exc.status_code}); check LLM_API_KEY.",
            ) from exc
        except openai.APIStatusError as exc:
            detail = cut(_status_message(exc), 200)
            if exc.status_code >= 500:
                raise LLMFailure(
                    f"大模型服务出错（HTTP {exc.status_code}）。", f"The LLM endpoint failed (HTTP {exc.status_code})."
                ) from exc
            raise LLMFailure(
                f"大模型服务拒绝了请求（HTTP {exc.status_code}）：{detail}",
                f"The LLM endpoint refused the request (HTTP {exc.status_code}): {detail}",
            ) from exc
        except (openai.APIError, ValueError, TypeError, AttributeError, KeyError) as exc:
            # APIResponseValidationError, undecodable JSON, a body without choices ...
            log.warning("malformed LLM response: %r", exc)
            raise LLMFailure(
                "大模型返回了无法解析的响应。", "The LLM returned a response that could not be parsed."
            ) from exc

    def _timeout_failure(self) -> LLMFailure:
        s = f"{self._timeout:g}"
        return LLMFailure(f"大模型 {s} 秒内没有响应。", f"The LLM did not answer within {s}s.")

    async def _stream(
        self, kwargs: dict[str, Any], on_progress: OnProgress, budget: asyncio.Timeout | None = None
    ) -> _Completion:
        loop = asyncio.get_running_loop()
        hard_end = loop.time() + STREAM_MAX_SECONDS
        stream = await self._client.chat.completions.create(**kwargs, stream=True)
        text_parts: list[str] = []
        calls: dict[int, _RawCall] = {}
        sent, last_sent_at = "", float("-inf")
        try:
            async for chunk in stream:
                if budget is not None:  # still producing: the deadline is the timeout from now, within the cap
                    budget.reschedule(min(hard_end, loop.time() + self._timeout + 5))
                for choice in chunk.choices or []:
                    delta = choice.delta
                    if delta is None:
                        continue
                    if delta.content:
                        text_parts.append(delta.content)
                    for frag in delta.tool_calls or []:
                        # Fragments of one call share its index; only the first carries id and name.
                        call = calls.setdefault(frag.index, _RawCall(id=""))
                        if frag.id:
                            call.id = frag.id
                        if frag.function is not None:
                            call.name += frag.function.name or ""
                            call.arguments += frag.function.arguments or ""
                so_far = "".join(text_parts)
                if (
                    not calls
                    and so_far.strip()
                    and so_far != sent
                    and loop.time() - last_sent_at >= self._progress_interval
                ):
                    sent, last_sent_at = so_far, loop.time()
                    await _notify(on_progress, so_far)
        finally:
            await stream.close()
        content = "".join(text_parts)
        if not calls and content.strip() and content != sent:
            await _notify(on_progress, content)  # the final text, whatever the throttle said
        raws = [calls[i] for i in sorted(calls)]
        for raw in raws:
            raw.id = raw.id or f"call_{uuid.uuid4().hex[:12]}"
        return _Completion(content=content, tool_calls=raws)


# ---------------------------------------------------------------------- helpers
def _from_response(response: Any) -> _Completion:
    choices = response.choices
    if not choices:
        raise ValueError("no choices in the response")
    message = choices[0].message
    if message is None:
        raise ValueError("no message in the first choice")
    raws = [
        _RawCall(
            id=tc.id or f"call_{uuid.uuid4().hex[:12]}",
            name=getattr(getattr(tc, "function", None), "name", "") or "",
            arguments=getattr(getattr(tc, "function", None), "arguments", "") or "",
        )
        for tc in message.tool_calls or []
    ]
    return _Completion(content=message.content or "", tool_calls=raws)


def _assistant_message(completion: _Completion) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": completion.content or None,
        "tool_calls": [
            {"id": raw.id, "type": "function", "function": {"name": raw.name, "arguments": raw.arguments or "{}"}}
            for raw in completion.tool_calls
        ],
    }


def _parse_arguments(text: str) -> tuple[dict[str, Any] | None, str]:
    if not text.strip():
        return {}, ""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON ({exc.msg} at char {exc.pos})"
    if not isinstance(value, dict):
        return None, f"got {type(value).__name__}"
    return value, ""


def _validate(info: ToolInfo, args: dict[str, Any], cache: dict[str, jsonschema.protocols.Validator | None]) -> str:
    """The schema's complaints about `args` (not about missing ones: those go to slot filling), or ""."""
    if info.name not in cache:
        try:
            cls = jsonschema.validators.validator_for(info.input_schema)
            cls.check_schema(info.input_schema)
            cache[info.name] = cls(info.input_schema)
        except jsonschema.SchemaError:
            cache[info.name] = None  # a source with a broken schema: let the tool itself judge
    validator = cache[info.name]
    if validator is None:
        return ""
    problems = []
    for err in validator.iter_errors(args):
        if err.validator == "required":
            continue
        where = ".".join(str(p) for p in err.absolute_path) or "arguments"
        problems.append(f"{where}: {cut(err.message, 200)}")
        if len(problems) >= 3:
            break
    return "; ".join(problems)


def _error(code: str, message: str) -> str:
    return dumps({"ok": False, "error_code": code, "error": message})


def _describe(call: ToolCall, info: ToolInfo | None, lang: Lang) -> str:
    title = info.title(lang) if info else call.tool
    args = ", ".join(f"{k}={v}" for k, v in call.args.items() if k != "dry_run")
    return cut(f"{title} ({args})", 300)


def _status_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return cast(str, err["message"])
    return exc.message


async def _run_reads(call_tool: CallTool, calls: list[ToolCall]) -> list[ToolOutcome]:
    gate = asyncio.Semaphore(READ_CONCURRENCY)

    async def one(call: ToolCall) -> ToolOutcome:
        async with gate:
            return await _safe_call(call_tool, call)

    return list(await asyncio.gather(*(one(c) for c in calls)))


async def _safe_call(call_tool: CallTool, call: ToolCall) -> ToolOutcome:
    try:
        return await call_tool(call)
    except Exception as exc:  # a broken tool source must not end the turn: the model hears about it
        log.exception("call_tool raised for %s", call.tool)
        return ToolOutcome(ok=False, error_code="failed", error=f"{type(exc).__name__}: {cut(str(exc), 300)}")


async def _notify(on_progress: OnProgress, text: str) -> None:
    try:
        await on_progress(text)
    except Exception:  # a card that fails to update must not kill the answer
        log.exception("on_progress failed")
