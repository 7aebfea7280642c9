"""The primitives a procedure sees, installed into a sandbox for one execution."""

from __future__ import annotations

from importlib import resources
from typing import Any

from runtime.context import ExecutionContext
from runtime.primitives.human import HumanPrimitive
from runtime.primitives.values import (
    RecordedClock,
    StagePrimitive,
    StatePrimitive,
    alert,
    json_decode,
    json_encode,
    log,
)
from runtime.procedure import Procedure
from runtime.sandbox import Sandbox

PRELUDE = resources.files(__package__).joinpath("prelude.lua").read_text(encoding="utf-8")

__all__ = ["HumanPrimitive", "Primitives", "install_primitives"]


class Primitives:
    """The Python side of one execution's primitives (kept so the engine can read them back)."""

    def __init__(self, ctx: ExecutionContext, procedure: Procedure) -> None:
        self.ctx = ctx
        # Notifications are durable run events; hosts that keep a chat session record them
        # from there (or call `human.flush_recordings()` with a recorder of their own).
        self.human = HumanPrimitive(None, ctx, procedure.hitl)
        self.state = StatePrimitive(ctx, {k: f.default for k, f in procedure.state.items()})
        self.stage = StagePrimitive(ctx, procedure.stages)
        self.clock = RecordedClock(ctx)

    def host_functions(self) -> dict[str, Any]:
        ctx, state, stage, clock = self.ctx, self.state, self.stage, self.clock
        return {
            "human_call": self.human.call,
            "human_notify": self.human.notify,
            "state_get": state.get,
            "state_set": state.set,
            "state_increment": state.increment,
            "state_append": state.append,
            "state_all": state.all,
            "state_clear": state.clear,
            "state_delete": state.delete,
            "log": lambda level, message, context=None: log(ctx, level, message, context),
            "stage_set": stage.set,
            "stage_current": lambda: stage.current,
            "stage_advance": stage.advance,
            "stage_history": lambda: list(stage.history),
            "stage_count": lambda: len(stage.history),
            "stage_clear_history": stage.clear_history,
            "json_encode": json_encode,
            "json_decode": json_decode,
            "alert": lambda opts: alert(ctx, opts),
            "checkpoint_begin": self.checkpoint_begin,
            "checkpoint_end": self.checkpoint_end,
            "next_position": ctx.next_position,
            "os_time": clock.time,
            "os_date": clock.date,
            "os_clock": clock.clock,
        }

    def checkpoint_begin(self) -> tuple[int, bool, Any]:
        """Reserve the position of a `checkpoint(fn)`; report a recorded result if there is one."""
        entry = self.ctx.recorded("explicit_checkpoint", None, None)
        if entry is not None:
            return entry.position, True, self.ctx.skip_recorded(entry)
        position = self.ctx.cursor
        self.ctx.cursor += 1  # calls inside fn take the positions after this one
        return position, False, None

    def checkpoint_end(self, position: int, result: Any = None) -> Any:
        self.ctx.record(
            "explicit_checkpoint", result, position=position, next_position=self.ctx.cursor
        )
        return result


def install_primitives(sandbox: Sandbox, primitives: Primitives) -> None:
    """Define the host functions in a private table and run the Lua facades over them."""
    for name, fn in primitives.host_functions().items():
        sandbox.define(f"__host.{name}", fn)
    host = sandbox.get_global("__host")
    sandbox.set_global("__host", None)
    sandbox.run_trusted(PRELUDE, host)
