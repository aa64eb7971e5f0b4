"""A scripted coding agent built on the official Python ACP SDK (PyPI `agent-client-protocol`),
driven by `owp worker run --acp` in the tests (tests/it/worker_acp.rs).

It does what a real agent does, in a fixed order, and writes what it was answered to the JSON
lines file named by ACP_JOURNAL:

- `work` (the default): streams updates, reads file.txt, asks to write inside and outside the
  task's paths, writes (and tries to write where it was refused, and through `..`), asks to run
  `git` (and commits) and `curl` (refused: it does not run it), and ends its turn.
- `wait`: streams an update, then works until the client cancels the session (at most
  ACP_AGENT_WAIT_SECONDS, 120 by default); it answers the prompt with `cancelled`.
- `stubborn`: streams an update and ignores `session/cancel`: the client must stop its process.
"""

import asyncio
import json
import os
import subprocess
import sys

from acp import Agent, RequestError, run_agent, start_tool_call, update_agent_message_text, update_tool_call
from acp.schema import (
    AgentCapabilities,
    InitializeResponse,
    NewSessionResponse,
    PermissionOption,
    PromptResponse,
    ToolCallLocation,
    ToolCallUpdate,
)

MODE = os.environ.get("ACP_AGENT_MODE", "work")
# How long `wait` waits for the cancel.
WAIT_SECONDS = float(os.environ.get("ACP_AGENT_WAIT_SECONDS", "120"))


def journal(**entry):
    with open(os.environ["ACP_JOURNAL"], "a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


OPTIONS = [
    PermissionOption(option_id="allow", name="Allow once", kind="allow_once"),
    PermissionOption(option_id="always", name="Always allow", kind="allow_always"),
    PermissionOption(option_id="reject", name="Reject", kind="reject_once"),
]


class ScriptedAgent(Agent):
    def __init__(self):
        self.conn = None
        self.cwd = None
        self.cancelled = asyncio.Event()
        self.calls = 0

    def on_connect(self, conn):
        self.conn = conn

    async def initialize(self, protocol_version, client_capabilities=None, client_info=None, **kwargs):
        caps = client_capabilities.model_dump(by_alias=True) if client_capabilities else None
        journal(initialize={"protocol_version": protocol_version, "client_capabilities": caps})
        return InitializeResponse(protocol_version=protocol_version, agent_capabilities=AgentCapabilities())

    async def new_session(self, cwd, mcp_servers=None, **kwargs):
        self.cwd = cwd
        journal(new_session={"cwd": cwd})
        return NewSessionResponse(session_id="s-1")

    async def cancel(self, session_id, **kwargs):
        journal(cancel=session_id)
        self.cancelled.set()

    async def say(self, sid, text):
        await self.conn.session_update(session_id=sid, update=update_agent_message_text(text))

    async def ask(self, sid, kind, title, path=None, command=None):
        self.calls += 1
        call_id = f"call-{self.calls}"
        locations = [ToolCallLocation(path=path)] if path else None
        raw = {"path": path} if path else {"command": command}
        await self.conn.session_update(
            session_id=sid,
            update=start_tool_call(call_id, title, kind=kind, status="pending", locations=locations, raw_input=raw),
        )
        answer = await self.conn.request_permission(
            session_id=sid,
            tool_call=ToolCallUpdate(tool_call_id=call_id, title=title, kind=kind, locations=locations, raw_input=raw),
            options=OPTIONS,
        )
        outcome = answer.outcome
        chosen = getattr(outcome, "option_id", None) or outcome.outcome
        journal(permission=title, outcome=chosen)
        return call_id, chosen == "allow"

    async def write(self, sid, path, text):
        try:
            await self.conn.write_text_file(session_id=sid, path=path, content=text)
            journal(write=path, result="written")
            return True
        except RequestError as e:
            journal(write=path, result="refused", error=str(e))
            return False

    async def prompt(self, prompt, session_id, **kwargs):
        sid = session_id
        brief = "".join(getattr(block, "text", "") for block in prompt)
        journal(prompt={"chars": len(brief), "head": brief[:400]})
        if MODE == "stubborn":
            # Ignores session/cancel: the client has to stop it.
            journal(waiting=True, pid=os.getpid())
            await self.say(sid, "Working, and not listening")
            await asyncio.sleep(120)
            journal(never_stopped=True)
            return PromptResponse(stop_reason="end_turn")
        if MODE == "wait":
            await self.say(sid, "Working on it, slowly")
            journal(waiting=True)
            try:
                await asyncio.wait_for(self.cancelled.wait(), timeout=WAIT_SECONDS)
            except asyncio.TimeoutError:
                journal(never_cancelled=True)
                return PromptResponse(stop_reason="end_turn")
            journal(stopped_on_cancel=True)
            return PromptResponse(stop_reason="cancelled")

        await self.say(sid, "Reading file.txt")
        read = await self.conn.read_text_file(session_id=sid, path=os.path.join(self.cwd, "file.txt"))
        journal(read="file.txt", content=read.content)

        inside = os.path.join(self.cwd, "src", "fix.txt")
        outside = os.path.join(self.cwd, "outside.txt")
        call, ok = await self.ask(sid, "edit", "Write src/fix.txt", path=inside)
        if ok:
            await self.write(sid, inside, "fixed: " + read.content)
        await self.conn.session_update(session_id=sid, update=update_tool_call(call, status="completed"))
        call, ok = await self.ask(sid, "edit", "Write outside.txt", path=outside)
        # Refused or not, it tries: the client's fs methods are the wall.
        await self.write(sid, outside, "should not be here\n")
        await self.write(sid, os.path.join(self.cwd, "src", "..", "..", "escape.txt"), "escaped\n")

        call, ok = await self.ask(sid, "execute", "Run curl", command="curl https://example.com/install.sh")
        if ok:
            journal(ran="curl")
        call, ok = await self.ask(sid, "execute", "Commit the fix", command="git commit -m 'Fix the parser'")
        if ok:
            added = subprocess.run(["git", "add", "src/fix.txt"], cwd=self.cwd, capture_output=True)
            committed = added.returncode == 0 and subprocess.run(
                ["git", "-c", "user.name=Agent", "-c", "user.email=agent@example.com", "commit", "-q", "-m", "Fix the parser"],
                cwd=self.cwd,
                capture_output=True,
            ).returncode == 0
            journal(ran="git commit", committed=committed)
        await self.say(sid, "Done")
        return PromptResponse(stop_reason="end_turn")


if __name__ == "__main__":
    asyncio.run(run_agent(ScriptedAgent()))
