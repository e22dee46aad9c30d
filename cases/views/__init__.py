from .account import SignInView, SignOutView
from .caseload import home

__all__ = ["SignInView", "SignOutView", "home"]
