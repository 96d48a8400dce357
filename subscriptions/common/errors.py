"""The root of the portal's own errors. Code that wants "anything the portal refused" catches
PortalError; built-in exceptions keep their meaning for Python's own failures."""


class PortalError(Exception):
    """An error the portal raises on purpose (a refused request, a broken invariant)."""


class AppendOnlyViolation(PortalError):
    """An attempt to update or delete a row of the append-only consent history."""
