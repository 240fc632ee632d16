"""The web console served at `/` (pages under `/console`): sign-up through Meta's embedded sign-up,
linked accounts, the inbox, the event log, templates and flows. Every action runs the API's own
operations (see actions.py)."""
