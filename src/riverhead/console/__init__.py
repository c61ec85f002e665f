"""The Riverhead web console (``riverhead console``): see :mod:`riverhead.console.app`."""

from riverhead.console.app import ConsoleConfig, create_app

__all__ = ["ConsoleConfig", "create_app"]
