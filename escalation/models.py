"""Flags and escalation prompts arrive with the checks issue; the app exists so the layout is stable."""
