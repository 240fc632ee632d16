"""wabalink: a self-hostable, wire-compatible AWS End User Messaging Social (WhatsApp) with a Meta simulator."""

__version__ = "0.1.0"
