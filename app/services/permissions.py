"""Who may do what in a workspace. Checked in handlers and endpoints, never only in the UI."""

from __future__ import annotations

from enum import StrEnum

from app.models import Role


class Action(StrEnum):
    manage_keys = "manage_keys"
    manage_credentials = "manage_credentials"
    manage_members = "manage_members"
    manage_billing = "manage_billing"
    delete_workspace = "delete_workspace"
    rename_workspace = "rename_workspace"
    manage_hours = "manage_hours"
    manage_webhooks = "manage_webhooks"
    view_audit = "view_audit"
    manage_sso = "manage_sso"
    manage_actions = "manage_actions"


# Members run the workspace's content (widgets, knowledge, conversations) but not its
# keys, credentials, people or money. Only the owner deletes the workspace.
_ALLOWED: dict[Action, frozenset[Role]] = {
    Action.manage_keys: frozenset({Role.owner, Role.admin}),
    Action.manage_credentials: frozenset({Role.owner, Role.admin}),
    Action.manage_members: frozenset({Role.owner, Role.admin}),
    Action.manage_billing: frozenset({Role.owner, Role.admin}),
    Action.delete_workspace: frozenset({Role.owner}),
    Action.rename_workspace: frozenset({Role.owner, Role.admin}),
    # Members work the inbox; the workspace's opening hours are an admin decision.
    Action.manage_hours: frozenset({Role.owner, Role.admin}),
    Action.manage_webhooks: frozenset({Role.owner, Role.admin}),
    Action.view_audit: frozenset({Role.owner, Role.admin}),
    Action.manage_sso: frozenset({Role.owner}),
    # Actions call the shop's systems with stored secrets: an admin decision, like webhooks.
    Action.manage_actions: frozenset({Role.owner, Role.admin}),
}


class PermissionDeniedError(PermissionError):
    status_code = 403

    def __init__(self, action: Action) -> None:
        super().__init__(f"Your role cannot {action.value.replace('_', ' ')}.")
        self.action = action


def can(role: Role | str, action: Action) -> bool:
    try:
        return Role(role) in _ALLOWED[action]
    except ValueError:
        return False


def require(role: Role | str, action: Action) -> None:
    if not can(role, action):
        raise PermissionDeniedError(action)
