"""Roles are Django groups; this table is the single source of what each role may do."""

from __future__ import annotations

from decimal import Decimal

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.utils.translation import gettext_lazy as _

AGENT = "agent"
TEAM_LEAD = "team_lead"
MANAGER = "manager"
WAREHOUSE = "warehouse"
FINANCE = "finance"
QA = "qa"
ADMIN = "admin"
INTEGRATION = "integration"

ROLE_LABELS = {
    AGENT: _("Agent"),
    TEAM_LEAD: _("Team lead"),
    MANAGER: _("Manager"),
    WAREHOUSE: _("Warehouse"),
    FINANCE: _("Finance"),
    QA: _("QA reviewer"),
    ADMIN: _("Administrator"),
    INTEGRATION: _("Integration"),
}

# Escalation goes up this ladder; an appeal or a timeout moves a case one rung higher.
ESCALATION_LADDER = [AGENT, TEAM_LEAD, MANAGER]

_READ_ORDERS = ["channels.view_channel", "channels.view_order", "catalog.view_product"]
_WRITE_ORDERS = ["channels.add_order", "channels.change_order"]
_WRITE_PRODUCTS = ["catalog.add_product", "catalog.change_product"]
_CASE_BASE = ["cases.view_case", "cases.add_case", "cases.act_comment", "cases.act_add_evidence"]
_CUSTOMER_SIDE = ["cases.act_provide_info", "cases.act_cancel", "cases.act_appeal"]
_AGENT_ACTIONS = [
    "cases.act_approve",
    "cases.act_reject",
    "cases.act_request_info",
    "cases.act_record_return",
    "cases.act_refund",
    "cases.act_escalate",
    "cases.act_complete",
    "cases.act_intercept",
    "cases.act_compensate",
]
_LEAD_ACTIONS = ["cases.act_assign", "cases.act_close", "cases.act_process", "cases.act_ship"]
_WAREHOUSE_ACTIONS = [
    "cases.act_record_return",
    "cases.act_receive",
    "cases.act_inspect",
    "cases.act_factory_send",
    "cases.act_factory_receive",
    "cases.act_process",
    "cases.act_ship",
    "cases.act_complete",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    AGENT: _READ_ORDERS + _WRITE_ORDERS + _CASE_BASE + _CUSTOMER_SIDE + _AGENT_ACTIONS,
    TEAM_LEAD: _READ_ORDERS
    + _WRITE_ORDERS
    + _CASE_BASE
    + _CUSTOMER_SIDE
    + _AGENT_ACTIONS
    + _LEAD_ACTIONS
    + ["cases.act_receive", "cases.act_inspect", "ledger.approve_compensation"],
    WAREHOUSE: _READ_ORDERS
    + ["cases.view_case", "cases.act_comment", "cases.act_add_evidence"]
    + _WAREHOUSE_ACTIONS,
    FINANCE: _READ_ORDERS
    + ["cases.view_case", "cases.act_comment", "cases.act_refund", "cases.act_complete"]
    # Finance confirms refunds paid by hand (with proof) or records that one failed.
    + ["cases.act_refund_settled", "cases.act_refund_failed"]
    + ["ledger.view_account", "ledger.view_journalentry", "ledger.view_refund"]
    # What suppliers owe back, and whether they paid it.
    + ["logistics.view_supplierclaim", "logistics.change_supplierclaim"]
    + ["ledger.record_penalty"],
    QA: _READ_ORDERS + ["cases.view_case", "cases.act_comment"],
    INTEGRATION: _READ_ORDERS
    + _WRITE_ORDERS
    + _WRITE_PRODUCTS
    + _CASE_BASE
    + _CUSTOMER_SIDE
    + ["cases.act_record_return"],
}
_READ_POLICIES = ["policies.view_policy", "policies.view_policyversion"]
_WRITE_POLICIES = ["policies.add_policyversion", "policies.change_policyversion"]
for _role in (AGENT, TEAM_LEAD, FINANCE, QA):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _READ_POLICIES
# A manager may do everything an agent, lead and the warehouse may, and edits the policy;
# an admin also configures shops, channels, the catalog and people.
ROLE_PERMISSIONS[MANAGER] = sorted(
    set(
        ROLE_PERMISSIONS[TEAM_LEAD]
        + ROLE_PERMISSIONS[WAREHOUSE]
        + ROLE_PERMISSIONS[FINANCE]
        + _WRITE_PRODUCTS
        + _READ_POLICIES
        + _WRITE_POLICIES
    )
)
ROLE_PERMISSIONS[ADMIN] = sorted(
    set(
        ROLE_PERMISSIONS[MANAGER]
        + [
            "channels.add_channel",
            "channels.change_channel",
            "channels.view_shop",
            "channels.change_shop",
            "catalog.view_category",
            "catalog.add_category",
            "catalog.change_category",
            "catalog.view_part",
            "catalog.add_part",
            "catalog.change_part",
            "accounts.view_team",
            "accounts.add_team",
            "accounts.change_team",
            "accounts.view_membership",
            "accounts.add_membership",
            "accounts.change_membership",
            "accounts.delete_membership",
        ]
    )
)

# Broadcasts warn many customers at once: managers and admins; admins also set up the
# templates, webhook endpoints and SMS / WeChat accounts.
_BROADCASTS = ["notify.view_broadcast", "notify.add_broadcast"]
ROLE_PERMISSIONS[MANAGER] = sorted(set(ROLE_PERMISSIONS[MANAGER] + _BROADCASTS))
ROLE_PERMISSIONS[ADMIN] = sorted(
    set(
        ROLE_PERMISSIONS[ADMIN]
        + _BROADCASTS
        + [
            f"notify.{op}_{model}"
            for op in ("view", "add", "change")
            for model in ("messagetemplate", "webhookendpoint", "smsaccount", "wechataccount")
        ]
        + ["notify.view_outbox", "notify.change_outbox"]
    )
)

# Shifts: agents and leads see the rota; managers and admins plan it and deactivate people
# who leave (their open cases go back to the queue).
_SHIFTS_READ = ["accounts.view_shift"]
_PEOPLE_WRITE = [
    "accounts.add_shift",
    "accounts.change_shift",
    "accounts.delete_shift",
    "accounts.deactivate_member",
]
for _role in (AGENT, TEAM_LEAD):
    ROLE_PERMISSIONS[_role] = ROLE_PERMISSIONS[_role] + _SHIFTS_READ
for _role in (MANAGER, ADMIN):
    ROLE_PERMISSIONS[_role] = sorted(set(ROLE_PERMISSIONS[_role] + _SHIFTS_READ + _PEOPLE_WRITE))

# Channel sync: leads, managers, admins and integrations import channels' exports; admins
# also link channels (webhook secrets, the reconciliation connector) and read their events.
_IMPORTS = ["sync.view_importrun", "sync.add_importrun"]
for _role in (TEAM_LEAD, MANAGER, ADMIN, INTEGRATION):
    ROLE_PERMISSIONS[_role] = sorted(set(ROLE_PERMISSIONS[_role] + _IMPORTS))
ROLE_PERMISSIONS[ADMIN] = sorted(
    set(
        ROLE_PERMISSIONS[ADMIN]
        + [
            "sync.view_channellink",
            "sync.add_channellink",
            "sync.change_channellink",
            "sync.view_channelevent",
        ]
    )
)

# Money a role may move on its own (DESIGN §5: ≤ 200 needs no approval, ≤ 2,000 a team
# lead, above that a manager). None means no limit.
APPROVAL_LIMITS: dict[str, Decimal | None] = {
    AGENT: Decimal("200.00"),
    FINANCE: Decimal("200.00"),
    INTEGRATION: Decimal("200.00"),
    TEAM_LEAD: Decimal("2000.00"),
    MANAGER: None,
    ADMIN: None,
}


def roles_sync(apps=global_apps) -> None:
    """Create the role groups and give each exactly the permissions in ROLE_PERMISSIONS."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=apps)
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = []
        for perm in sorted(set(perms)):
            app_label, codename = perm.split(".", 1)
            wanted.append(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)


def roles_sync_after_migrate(sender, apps=global_apps, **kwargs) -> None:
    # Run once per migrate, after the last of our apps has its permissions.
    if sender.label == "policies":
        roles_sync(apps)
