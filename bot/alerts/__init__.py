"""The on-call loop: Alertmanager webhooks become one card per alert group, updated in place, with an incident
timeline in the store and buttons to claim, diagnose and silence (issue #14)."""
