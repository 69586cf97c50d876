"""The escalation engine: timer promotions, warnings, the customer SLA clock and the
Tier 4 vendor hand-off.

Guarantees (``design.md``, "Escalation engine"):

* The database holds every deadline; the broker only triggers ``escalation_sweep``.
  A sweep after an outage promotes everything that came due meanwhile.
* A ticket is promoted at most once per deadline, whatever runs concurrently: rows are
  taken with ``SELECT … FOR NO KEY UPDATE SKIP LOCKED`` in short batches, each move is a
  compare-and-set ``UPDATE … WHERE id = … AND tier = … AND escalate_at <= now``, and
  the event carries ``dedupe_key = promote:<id>:<tier>:<deadline>`` (a unique index),
  so a retry, a second sweep or a manual ``ticket_escalate(expected_tier=…)`` either
  sees the new tier or fails the compare-and-set; none writes a second promotion.
* Each batch commits on its own: a worker killed mid-sweep loses only its current
  batch's uncommitted work, which the next sweep redoes.

Alerts that leave the building (vendor e-mail, manager alerts) are written as events
first and sent after commit by ``tiers.tasks.escalation_alert_send``; ``notified_at``
marks them sent and ``vendor_followup_sweep`` resends any whose task was lost.

The engine, by seam: ``sweep`` (promotions, tier warnings), ``sla`` (customer SLA
checkpoints), ``vendor`` (Tier 4 hand-offs), ``alerts`` (what leaves the building),
``common`` (what they share). Callers import from ``tiers.services``.
"""

from .alerts import (
    FollowupReport,
    alerts_pending_ids,
    escalation_alert_send,
    events_notify,
    vendor_chase_send,
    vendor_followup_sweep,
)
from .common import (
    ALERT_KINDS,
    RUNNING,
    TIMER,
    VENDOR_CHASE_AT,
    EscalationError,
    SweepReport,
    explain,
    promote_dedupe_key,
)
from .sla import sla_checkpoints, sla_clock_label, sla_event
from .sweep import escalation_sweep, promotion, tier_warning
from .vendor import (
    vendor_handoff,
    vendor_handoff_for_reply,
    vendor_handoff_revoke,
    vendor_mark_done,
    vendor_post_update,
)

__all__ = [
    "ALERT_KINDS",
    "RUNNING",
    "TIMER",
    "VENDOR_CHASE_AT",
    "EscalationError",
    "FollowupReport",
    "SweepReport",
    "alerts_pending_ids",
    "escalation_alert_send",
    "escalation_sweep",
    "events_notify",
    "explain",
    "promote_dedupe_key",
    "promotion",
    "sla_checkpoints",
    "sla_clock_label",
    "sla_event",
    "tier_warning",
    "vendor_chase_send",
    "vendor_followup_sweep",
    "vendor_handoff",
    "vendor_handoff_for_reply",
    "vendor_handoff_revoke",
    "vendor_mark_done",
    "vendor_post_update",
]
