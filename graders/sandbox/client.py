"""The grader's side of a sandboxed kernel's connection: what a kernel may make the grader hold.

A kernel is hostile: it runs student code and holds the session key, so it can
send as much, and as large, as it likes. :class:`SandboxedKernelClient` bounds
it before nbclient stores it: its sockets drop any message bigger than
``max_message_bytes``, and its iopub channel passes output through an
:class:`OutputBudget` (per cell and per kernel, with errors and results
shortened rather than lost, since they decide a grade). The manager
(:mod:`graders.sandbox.manager`) hands each client the limits it was given.
"""

from __future__ import annotations

import asyncio
import copy
import json
import queue
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import ClassVar

import zmq
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.connect import channel_socket_types
from traitlets import Integer, Type

from .limits import MB, SandboxLimits

_DEFAULTS = SandboxLimits()

OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "update_display_data", "error"})


@dataclass
class _CellOutput:
    used: int = 0
    noticed: bool = False
    kept_over: set[str] = field(default_factory=set)


@dataclass
class OutputBudget:
    """How much output a kernel may make the grader hold.

    Each cell (execute request) may produce ``limit`` bytes and the kernel as
    a whole ``total_limit`` (by default ``4 * limit``). Past that, output is
    dropped with one notice per cell, except that one shortened error and one
    shortened result per cell are still kept: they decide the cell's grade.
    Those share ``SHORTENED_ALLOWANCE``; past it they are cut to a few hundred
    bytes, so many cells that each fail with a huge error cannot make the
    grader keep more than ``total_limit`` + 1 MB + a little per cell. Memory
    stays bounded even if the kernel forges messages (it holds the session
    key): at most ``MAX_CELLS`` cells are tracked.
    """

    limit: int
    total_limit: int | None = None
    used: int = 0
    shortened: int = 0  # bytes of the shortened errors and results kept past the limits
    cells: OrderedDict[str, _CellOutput] = field(default_factory=OrderedDict)

    MAX_CELLS: ClassVar[int] = 1000
    SHORTENED_ALLOWANCE: ClassVar[int] = MB

    def __post_init__(self) -> None:
        if self.total_limit is None:
            self.total_limit = 4 * self.limit

    def admit(self, msg: dict) -> dict | None:
        kind = msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        if kind not in OUTPUT_TYPES:
            return msg
        cell = self._cell((msg.get("parent_header") or {}).get("msg_id", ""))
        size = _message_size(msg)
        if cell.used + size <= self.limit and self.used + size <= self.total_limit:
            cell.used += size
            self.used += size
            return msg
        if kind in ("error", "execute_result") and kind not in cell.kept_over:
            cell.kept_over.add(kind)
            # The name of an error and a short number are all a grade needs; roomier text while it fits.
            sizes = _ROOMY if self.shortened < self.SHORTENED_ALLOWANCE else _TIGHT
            short = _short_error(msg, sizes) if kind == "error" else _short_result(msg, sizes)
            self.shortened += _message_size(short)
            return short
        if cell.noticed:
            return None
        cell.noticed = True
        # ipykernel sends a fast cell's prints as one big stream message: keep what fits of it.
        kept = self._head_that_fits(msg, cell) if kind == "stream" else ""
        notice = copy.copy(msg)
        notice["msg_type"] = "stream"
        notice["header"] = dict(msg.get("header", {}), msg_type="stream")
        notice["content"] = {
            "name": "stdout",
            "text": kept + f"\n[paceline sandbox: output passed the limit ({self.limit // MB} MB per cell, "
                           f"{self.total_limit // MB} MB per notebook); the rest is not kept]\n",
        }
        notice["buffers"] = []
        return notice

    def _head_that_fits(self, msg: dict, cell: _CellOutput) -> str:
        text = str((msg.get("content") or {}).get("text", ""))
        room = min(self.limit - cell.used, self.total_limit - self.used) - 200  # the notice and JSON
        head = text[:max(room, 0)]
        while head and (over := len(json.dumps(head)) - 2 - room) > 0:  # non-ASCII takes more room escaped
            head = head[:len(head) - over]
        cell.used += len(head)
        self.used += len(head)
        return head

    def _cell(self, parent: str) -> _CellOutput:
        cell = self.cells.get(parent)
        if cell is None:
            cell = self.cells[parent] = _CellOutput()
            while len(self.cells) > self.MAX_CELLS:
                self.cells.popitem(last=False)
        return cell


@dataclass(frozen=True)
class _Shortened:
    """How much of an error or result survives past the output limits."""

    value_chars: int  # an error's evalue
    result_chars: int  # a result's text/plain
    traceback_lines: int
    line_chars: int


_ROOMY = _Shortened(value_chars=2000, result_chars=10_000, traceback_lines=20, line_chars=2000)
_TIGHT = _Shortened(value_chars=200, result_chars=200, traceback_lines=3, line_chars=200)


def _short_result(msg: dict, sizes: _Shortened) -> dict:
    content = msg.get("content") or {}
    text = (content.get("data") or {}).get("text/plain", "")
    short = copy.copy(msg)
    short["content"] = {
        "execution_count": content.get("execution_count"),
        "data": {"text/plain": str(text)[:sizes.result_chars]},
        "metadata": {},
    }
    short["buffers"] = []
    return short


def _message_size(msg: dict) -> int:
    size = sum(len(buffer) for buffer in msg.get("buffers") or [])
    try:
        return size + len(json.dumps(msg.get("content"), default=str))
    except (TypeError, ValueError):
        return size + len(str(msg.get("content")))


def _short_error(msg: dict, sizes: _Shortened) -> dict:
    content = msg.get("content") or {}
    short = copy.copy(msg)
    short["content"] = {
        "ename": str(content.get("ename", "Error"))[:200],
        "evalue": str(content.get("evalue", ""))[:sizes.value_chars],
        "traceback": [str(line)[:sizes.line_chars] for line in (content.get("traceback") or [])[-sizes.traceback_lines:]],
    }
    short["buffers"] = []
    return short


class BudgetedIOPubChannel(AsyncZMQSocketChannel):
    budget: OutputBudget | None = None

    async def get_msg(self, timeout: float | None = None) -> dict:  # type: ignore[override]
        while True:
            msg = await super().get_msg(timeout=timeout)
            if self.budget is None:
                return msg
            kept = self.budget.admit(msg)
            if kept is not None:
                return kept

    async def get_msgs(self) -> list[dict]:  # type: ignore[override]
        msgs = []
        while True:
            try:
                msgs.append(await self.get_msg(timeout=0))
            except queue.Empty:
                return msgs


class SandboxedKernelClient(AsyncKernelClient):
    """Client whose sockets refuse huge messages and whose iopub output is budgeted."""

    output_bytes = Integer(_DEFAULTS.output_bytes)
    total_output_bytes = Integer(_DEFAULTS.total_output_bytes)
    iopub_channel_class = Type(BudgetedIOPubChannel)  # type: ignore[assignment]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._budget = OutputBudget(self.output_bytes, total_limit=self.total_output_bytes)

    async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
        """jupyter_client's wait: kernel_info answered and iopub connected, without its last 0.2 s.

        jupyter_client ends by reading iopub until it has been quiet for 0.2 s, on every kernel start.
        What is already there is read here; a status message that arrives later answers a request that
        is not a cell's, and nbclient reads only the messages of the request it sent.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout if timeout is not None else float("inf"))
        while True:
            self.kernel_info()
            try:
                msg = await self.shell_channel.get_msg(timeout=1)
            except queue.Empty:
                pass
            else:
                if msg["msg_type"] == "kernel_info_reply":
                    try:
                        await self.iopub_channel.get_msg(timeout=0.2)  # iopub is connected, or ask again
                    except queue.Empty:
                        pass
                    else:
                        self._handle_kernel_info_reply(msg)
                        break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if loop.time() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:g} seconds")
        await self.iopub_channel.get_msgs()

    # AsyncKernelClient binds wait_for_ready to the base coroutine function itself (as SandboxedKernelManager.cleanup_resources).
    wait_for_ready = _async_wait_for_ready

    @property
    def max_message_bytes(self) -> int:
        return max(64 * MB, 2 * self.output_bytes)

    def _create_connected_socket(self, channel: str, identity: bytes | None = None) -> zmq.Socket:
        url = self._make_url(channel)
        sock = self.context.socket(channel_socket_types[channel])
        sock.linger = 1000
        # A bigger message makes zmq drop the connection instead of the grader holding it in memory.
        sock.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        if identity:
            sock.identity = identity
        if self.curve_publickey is not None:
            sock.curve_secretkey = self.curve_secretkey
            sock.curve_publickey = self.curve_publickey
            sock.curve_serverkey = self.curve_publickey
        sock.connect(url)
        return sock

    @property
    def iopub_channel(self):
        channel = super().iopub_channel
        if isinstance(channel, BudgetedIOPubChannel) and channel.budget is None:
            channel.budget = self._budget
        return channel
