"""Teams: a leader model delegating to member agents (or teams) on the one run engine."""

from covey.core.team.definition import Member, Team, TeamMode

__all__ = ["Member", "Team", "TeamMode"]
