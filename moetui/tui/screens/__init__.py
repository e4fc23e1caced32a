"""Screens, in the order a user meets them: target, run setup, live run, report."""
