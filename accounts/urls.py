from django.urls import path

from . import views

urlpatterns = [
    path("", views.account, name="account"),
    path("two-factor/", views.two_factor_setup, name="two-factor-setup"),
    path("two-factor/verify/", views.two_factor_verify, name="two-factor-verify"),
]
