from __future__ import annotations

from dataclasses import dataclass, field

from jobs.sandbox.config import SandboxConfig
from jobs.sandbox.faults import FaultState, Stats
from jobs.sandbox.world import World


@dataclass
class LightBlueInbox:
    # (ID or Reference, Source) pairs already received: Light Blue's duplicate rule.
    keys: set[tuple[str, str]] = field(default_factory=set)
    contacts: list[dict[str, str]] = field(default_factory=list)


@dataclass
class SandboxState:
    config: SandboxConfig
    world: World
    faults: FaultState
    stats: Stats
    inbox: LightBlueInbox

    @classmethod
    def create(cls, config: SandboxConfig) -> SandboxState:
        return cls(config, World(config), FaultState(config.faults, config.seed), Stats(), LightBlueInbox())
