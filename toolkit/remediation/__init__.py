"""Remediation: plan, apply, undo (spec: Remediation)."""
