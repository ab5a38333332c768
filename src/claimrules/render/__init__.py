"""Renderers: functions of a Decision (or a policy), never side effects of evaluating."""
