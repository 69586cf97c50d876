"""Default data shared by migrations-free setup and ``seed_demo``: the per-tier issue
table of the design, the escalation and SLA policies, and the demo vendor."""

from datetime import timedelta

H = timedelta(hours=1)
M = timedelta(minutes=1)

# (name, slug, entry tier, default priority or "", description)
CATEGORIES = [
    ("Account unlock", "account-unlock", 1, "", "Locked out after too many attempts."),
    ("Password reset", "password-reset", 1, "", "Forgotten or expired passwords."),
    ("Account lifecycle", "account-lifecycle", 1, "", "New starters, leavers, name changes."),
    ("Access rights", "access-rights", 1, "", "Access to shares, apps and groups."),
    (
        "Endpoint management",
        "endpoint-management",
        1,
        "",
        "Laptops, desktops and phones we manage.",
    ),
    ("OS and driver updates", "os-driver-updates", 1, "", "Windows, macOS and driver updates."),
    (
        "Install or uninstall applications",
        "install-applications",
        1,
        "",
        "Software requests and removals.",
    ),
    ("Microsoft 365 basics", "microsoft-365", 1, "", "Outlook, Teams, OneDrive, Office apps."),
    (
        "Follow-up on an earlier ticket",
        "follow-up",
        2,
        "",
        "A problem that came back or was not fully solved.",
    ),
    ("Network and connectivity", "network", 2, "", "Wi-Fi, VPN, slow or dropped connections."),
    (
        "Backend and server faults",
        "backend-server",
        2,
        "",
        "Internal services, databases, file servers.",
    ),
    ("Hardware fault", "hardware-fault", 2, "", "Broken screens, disks, docks, printers."),
    ("Billing and refunds", "billing-refunds", 2, "", "Invoices, licences and refunds."),
    ("Architecture and design", "architecture", 3, "", "Changes to how systems fit together."),
    ("Server maintenance", "server-maintenance", 3, "", "Planned work on servers."),
    (
        "Support procedure documentation",
        "support-documentation",
        3,
        "low",
        "Runbooks and how-tos for the help desk.",
    ),
    (
        "Software bug",
        "software-bug",
        3,
        "",
        "Our product or an internal tool does the wrong thing.",
    ),
    ("Outage or downtime", "downtime", 3, "urgent", "A service is down for many people."),
    (
        "Security incident",
        "security",
        3,
        "urgent",
        "Phishing, malware, suspicious logins, data exposure.",
    ),
    (
        "Externally caused hardware fault",
        "vendor-hardware",
        3,
        "",
        "Faults in equipment under a supplier's warranty.",
    ),
    ("Equipment maintenance", "equipment-maintenance", 3, "", "Maintenance done by the supplier."),
    (
        "Firmware and security updates",
        "firmware-security-updates",
        3,
        "",
        "Supplier firmware and security patches.",
    ),
    (
        "Vendor code fix",
        "vendor-code-fix",
        3,
        "",
        "Bugs in third-party software that the vendor must fix.",
    ),
]
VENDOR_CATEGORY_SLUGS = [
    "vendor-hardware",
    "equipment-maintenance",
    "firmware-security-updates",
    "vendor-code-fix",
]

POLICIES = {
    1: {"urgent": 30 * M, "high": 2 * H, "normal": 8 * H, "low": 24 * H},
    2: {"urgent": 1 * H, "high": 4 * H, "normal": 16 * H, "low": 48 * H},
    3: {"urgent": 2 * H, "high": 8 * H, "normal": 24 * H, "low": 72 * H},
}

# priority: (first response, resolution)
SLA = {
    "urgent": (30 * M, 4 * H),
    "high": (1 * H, 8 * H),
    "normal": (4 * H, 3 * 24 * H),
    "low": (8 * H, 5 * 24 * H),
}

CANNED_RESPONSES = [
    (
        "Password reset instructions",
        1,
        "Hello {{ requester_name }},\n\nYou can reset your password yourself at the sign-in page with "
        "**Forgot password?**. The reset link is valid for one hour. If the link does not arrive within "
        "five minutes, check your spam folder and reply here.\n\nBest regards,\n{{ agent_name }}",
    ),
    (
        "Account unlocked",
        1,
        "Hello {{ requester_name }},\n\nYour account is unlocked. Please sign in again; if it locks "
        "again straight away, a device may still be using your old password (phone mail apps are the "
        "usual suspect).\n\n{{ agent_name }}",
    ),
    (
        "Need more information",
        1,
        "Hello {{ requester_name }},\n\nTo look into {{ reference }} we need a little more: the exact "
        "error message (a screenshot helps), when it started, and whether colleagues see the same.\n\n"
        "{{ agent_name }}",
    ),
]
