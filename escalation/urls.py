from django.urls import path

from . import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/export.csv", views.dashboard_export, name="dashboard-export"),
    path("prompts/<int:prompt_id>/", views.prompt_detail, name="prompt-detail"),
    path("prompts/<int:prompt_id>/acknowledge/", views.prompt_acknowledge_view, name="prompt-acknowledge"),
    path("prompts/<int:prompt_id>/action/", views.prompt_action_view, name="prompt-action"),
    path("prompts/<int:prompt_id>/escalate/", views.prompt_escalate_view, name="prompt-escalate"),
]
