"""The two staff groups and what they may do. Migration 0006 creates them. When GROUPS grows
(a new model), add a migration that calls `sync_groups` again; 0006 itself grants only the
permissions that exist at its point in the migration history (strict=False)."""

APP = "subscriptions"
MODELS = [
    "provideraccount",
    "shortcode",
    "keyword",
    "contact",
    "subscription",
    "shortcodestop",
    "inboundreceipt",
    "subscriptionevent",
    "providersync",
    "outboundmessage",
    "providercall",
    "importjob",
    "importrowerror",
    "webhookendpoint",
    "webhookevent",
    "webhookdelivery",
    "unmatchedpostback",
    "revocation",
    "revocationdecision",
    # Reconciliation runs and the drift they found: the dashboard's "Drift found" links there.
    "reconciliation",
    "reconciliationbatch",
    "drift",
]
VIEW_ALL = [f"view_{model}" for model in MODELS]

GROUPS = {
    # Runs the SMS programs: manages short codes and keywords, imports, opts numbers out,
    # retries provider syncs. Cannot touch provider credentials.
    "Marketing": [
        *VIEW_ALL,
        "add_shortcode",
        "change_shortcode",
        "add_keyword",
        "change_keyword",
        "add_importjob",
        "import_subscriptions",
        "change_consent",
        "change_providersync",
        # FCC 24-24: record revocations made by phone, mail or in person, and decide those
        # under review.
        "add_revocation",
        "decide_revocation",
    ],
    # Proves consent: reads everything and exports evidence; changes nothing.
    "Compliance": [*VIEW_ALL, "export_evidence"],
}


def sync_groups(apps, strict=True):
    """Create or update the groups to hold exactly GROUPS' permissions; with `strict` a
    permission that does not exist (a typo) is an error."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        permissions = list(
            Permission.objects.filter(content_type__app_label=APP, codename__in=codenames)
        )
        missing = set(codenames) - {p.codename for p in permissions}
        if missing and strict:
            raise LookupError(f"{name}: no such permission(s) {sorted(missing)}")
        group.permissions.set(permissions)
