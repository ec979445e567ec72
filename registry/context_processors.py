def navigation(request):
    """What the page header needs to know about the signed-in user."""
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    from registry.scoping import can_write

    return {"user_can_write": can_write(user)}
