from accounts.roles import ROLE_CAPABILITIES


def roles(request) -> dict:
    """`caps` lets templates show only the links a user may follow."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"caps": frozenset()}
    return {"caps": ROLE_CAPABILITIES.get(user.role, frozenset())}
